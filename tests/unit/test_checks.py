"""Every check kind in ``KINDS``: marker validation (one line per problem), evaluation at and
around the limit, headroom and limit texts, shadowing of farther markers, growth against a
baseline, and the JSON document the outcomes end up in."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_imagesize import baseline
from pytest_imagesize.baseline import BaselineEntry, BaselineLayer
from pytest_imagesize.checks import (
    KINDS,
    Check,
    Context,
    Outcome,
    check_from_marker,
    closest_checks,
    evaluate,
    resolve_image,
)
from pytest_imagesize.errors import MarkerError
from pytest_imagesize.measure.image import Image
from pytest_imagesize.reports.json_report import document

from ..support.fake_engine import FakeImage, measured

SIZE = 12_000
WASTED = 10_000
EFFICIENCY = 1 - WASTED / SIZE  # 1 - wasted / written, as documented
DOCKER = {"name": "docker", "version": "27.0.0", "storage_driver": "overlay2", "arch": "amd64"}
PODMAN = {"name": "podman", "version": "4.3.1", "storage_driver": "overlay", "arch": "amd64"}


def fake() -> FakeImage:
    """12,000 bytes in 3 layers; the 10,000-byte file is deleted again (wasted)."""
    return FakeImage.from_layers(
        [{"big": b"x" * 10_000}, {"small": b"y" * 2_000}, {"big": ("whiteout",)}],
        compression="gzip",
        created_by=["COPY big /big", "COPY small /small", "RUN /bin/sh -c rm /big"],
    )


COMPRESSED = fake().stored_size


@pytest.fixture
def image() -> Image:
    return measured(fake(), name="app")[0]


def check(kind: str, *args: Any, **kwargs: Any) -> Check:
    """A check from a marker, resolved to the image ``app``."""
    return resolve_image(check_from_marker(kind, args, kwargs), ["app"])


def run(
    image: Image, kind: str, *args: Any, entries: Mapping[str, BaselineEntry] | None = None, **kwargs: Any
) -> Outcome:
    return evaluate(check(kind, *args, **kwargs), image, "tests/test_x.py::test_x", Context(entries or {}))


# ---------------------------------------------------------------------------- validation

BAD_MARKERS: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = [
    ("max_image_size", ("5 XB",), {}, "'5 XB' is not a size: use units B, kB, MB"),
    ("max_image_size", (0,), {}, "0 is not a usable limit"),
    ("max_image_size", (-1,), {}, "-1 is negative"),
    ("max_image_size", (1.5,), {}, "1.5 is not a size"),
    ("max_image_size", (True,), {}, "True is not a size"),
    ("max_image_size", ("0.5",), {}, "is a fraction of a byte"),
    ("max_image_size", (2**63,), {}, "is too large: sizes go up to 9,223,372,036,854,775,807 bytes"),
    ("max_image_size", ("10000PB",), {}, "'10000PB' is too large"),
    ("max_image_size", ("5MB",), {"warn": "6MB"}, "warn='6MB' (6 MB) must be below the limit (5 MB)"),
    ("max_image_size", ("5MB",), {"warn": "5MB"}, "must be below the limit"),
    ("max_image_size", ("5MB",), {"compressed": "yes"}, "compressed= must be True or False, got 'yes'"),
    ("max_image_size", ("5MB",), {"floor": 1}, "unknown argument floor (allowed: compressed, image, warn)"),
    ("max_image_size", ("5MB",), {"compresed": True}, "unknown argument compresed (allowed: "),
    ("max_image_size", ("5MB", "6MB"), {}, "takes exactly one limit, got 2"),
    ("max_image_size", (), {}, "takes exactly one limit, got 0"),
    ("max_image_size", ("5MB",), {"image": "not-a-name"}, "image= must name an image fixture"),
    ("max_image_layers", (0,), {}, "0 is not a layer count"),
    ("max_image_layers", (2.0,), {}, "2.0 is not a layer count"),
    ("max_image_layers", (True,), {}, "True is not a layer count"),
    ("max_image_layers", ("3",), {}, "'3' is not a layer count"),
    ("max_image_layers", (3,), {"compressed": True}, "unknown argument compressed (allowed: image)"),
    ("max_wasted_bytes", ("lots",), {}, "'lots' is not a size"),
    ("max_wasted_bytes", (-5,), {}, "-5 is negative"),
    ("min_image_efficiency", (0,), {}, "0 is not a ratio"),
    ("min_image_efficiency", (1.01,), {}, "1.01 is not a ratio"),
    ("min_image_efficiency", (1.5,), {}, "1.5 is not a ratio"),
    ("min_image_efficiency", (float("nan"),), {}, "nan is not a ratio"),
    ("min_image_efficiency", ("0.9",), {}, "'0.9' is not a ratio"),
    ("min_image_efficiency", (True,), {}, "True is not a ratio"),
    ("max_image_growth", ("five",), {}, "'five' is not a percentage"),
    ("max_image_growth", (-1,), {}, "-1 is not a percentage >= 0"),
    ("max_image_growth", ("nan%",), {}, "is not a percentage >= 0"),
    ("max_image_growth", (float("inf"),), {}, "is not a percentage >= 0"),
    ("max_image_growth", (2**70,), {}, "is too large for a percentage"),
    ("max_image_growth", ("5%",), {"floor": "1 XB"}, "'1 XB' is not a size"),
    ("max_image_growth", ("5%",), {"compressed": 1}, "compressed= must be True or False, got 1"),
    ("max_image_growth", ("5%",), {"warn": "1MB"}, "unknown argument warn"),
    ("go_build_hygiene", ("strict",), {}, "takes no positional argument, got 1"),
    ("go_build_hygiene", (), {"allow": "bogus"}, "'bogus',): name rules among 'test-binary', "),
    ("go_build_hygiene", (), {"allow": 3}, "allow=3: name rules among"),
    ("go_build_hygiene", (), {"floor": 1}, "unknown argument floor (allowed: allow, image)"),
    ("forbid_packages", (), {}, "give the forbidden package names as globs"),
    ("forbid_packages", ("gcc*", 3), {}, "give the forbidden package names as globs"),
    ("forbid_packages", ("gcc*",), {"ecosystem": "dpkg"}, "ecosystem='dpkg': name one or a tuple of 'deb'"),
    ("forbid_packages", ("gcc*",), {"allow": 3}, "allow=3: give package name globs"),
    ("forbid_packages", ("gcc*",), {"strict": "yes"}, "strict= must be True or False"),
]


# the Go hygiene kind arrives with the Go reader: its rows apply where KINDS has it
HYGIENE = "go_build_hygiene" in KINDS
BAD_MARKERS = [row for row in BAD_MARKERS if row[0] in KINDS]


def test_every_kind_is_validated_and_evaluated_here() -> None:
    assert {kind for kind, *_ in BAD_MARKERS} == set(KINDS)
    assert {kind for kind, *_ in GOOD_MARKERS} == set(KINDS)
    # growth needs a baseline (test_growth_at_and_around_the_limit_and_floor); Go hygiene has no
    # limit (test_go_hygiene_of_an_image_without_go_binaries)
    no_limit = {"max_image_growth", "forbid_packages"} | ({"go_build_hygiene"} if HYGIENE else set())
    assert {kind for kind, *_ in AROUND_THE_LIMIT} | no_limit == set(KINDS)


@pytest.mark.parametrize(("kind", "args", "kwargs", "problem"), BAD_MARKERS)
def test_bad_markers_are_one_line_errors(
    kind: str, args: tuple[Any, ...], kwargs: dict[str, Any], problem: str
) -> None:
    with pytest.raises(MarkerError) as info:
        check_from_marker(kind, args, kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"@pytest.mark.{kind}(")
    assert problem in message


@pytest.mark.parametrize(
    ("kind", "args", "kwargs"),
    [
        ("max_image_size", ("\n" + "9" * 30,), {}),
        ("max_image_size", ("5MB",), {"warn": "\n" + "9" * 30}),
        ("max_image_growth", (5,), {"floor": "\n" + "9" * 30}),
    ],
)
def test_too_large_values_with_a_newline_are_one_line_errors(
    kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(MarkerError) as info:
        check_from_marker(kind, args, kwargs)
    assert "is too large" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value", ["10000PB", "99999999999 GB"])
def test_too_large_sizes_with_units_say_they_are_too_large(value: str) -> None:
    with pytest.raises(MarkerError, match="is too large: sizes go up to 9,223,372,036,854,775,807 bytes"):
        check_from_marker("max_image_size", (value,), {})


GOOD_MARKERS: list[tuple[str, tuple[Any, ...], dict[str, Any], dict[str, Any]]] = [
    ("max_image_size", ("5MB",), {}, {"limit": 5_000_000, "compressed": False, "warn": None}),
    ("max_image_size", ("4.5MiB",), {"compressed": True}, {"limit": 4_718_592, "compressed": True}),
    ("max_image_size", (3_000_000,), {"warn": "2MB"}, {"limit": 3_000_000, "warn": 2_000_000}),
    ("max_image_size", (2**63 - 1,), {}, {"limit": 2**63 - 1}),
    ("max_image_layers", (4,), {}, {"limit": 4}),
    ("max_wasted_bytes", ("1kB",), {}, {"limit": 1_000}),
    ("max_wasted_bytes", (0,), {}, {"limit": 0}),
    ("min_image_efficiency", (0.95,), {}, {"limit": 0.95}),
    ("min_image_efficiency", (1,), {}, {"limit": 1.0}),
    ("max_image_growth", ("5%",), {}, {"limit": 5.0, "floor": 0, "compressed": False}),
    ("max_image_growth", (2.5,), {"floor": "1MB", "compressed": True}, {"limit": 2.5, "floor": 1_000_000}),
    ("go_build_hygiene", (), {}, {"limit": None, "allow": ()}),
    ("go_build_hygiene", (), {"allow": ["trimpath", "static"]}, {"allow": ("static", "trimpath")}),
    ("forbid_packages", ("gcc*", "*-dev"), {}, {"patterns": ("gcc*", "*-dev"), "ecosystems": ()}),
    (
        "forbid_packages",
        ("apt",),
        {"ecosystem": "deb", "allow": "apt"},
        {"ecosystems": ("deb",), "allow": ("apt",)},
    ),
]


GOOD_MARKERS = [row for row in GOOD_MARKERS if row[0] in KINDS]


@pytest.mark.parametrize(("kind", "args", "kwargs", "fields"), GOOD_MARKERS)
def test_good_markers_parse(
    kind: str, args: tuple[Any, ...], kwargs: dict[str, Any], fields: dict[str, Any]
) -> None:
    parsed = check_from_marker(kind, args, {**kwargs, "image": "app"})
    assert parsed.kind == kind and parsed.image == "app"
    assert {name: getattr(parsed, name) for name in fields} == fields
    assert parsed.marker.startswith(f"@pytest.mark.{kind}(")


# ---------------------------------------------------------------------------- evaluation

# kind, marker args, kwargs -> verdict, headroom, headroom text, limit text
AROUND_THE_LIMIT: list[tuple[str, tuple[Any, ...], dict[str, Any], str, Any, str, str]] = [
    ("max_image_size", (SIZE,), {}, "passed", 0, "0 B", "12 KB"),
    ("max_image_size", (SIZE - 1,), {}, "failed", -1, "1 B over", "12 KB"),
    ("max_image_size", (SIZE + 1_000,), {}, "passed", 1_000, "1 KB", "13 KB"),
    ("max_image_size", (SIZE + 1,), {"warn": SIZE - 1}, "warned", 1, "1 B", "12 KB"),
    ("max_image_size", (SIZE + 1,), {"warn": SIZE}, "passed", 1, "1 B", "12 KB"),
    ("max_image_size", (SIZE - 1,), {"warn": SIZE - 2}, "failed", -1, "1 B over", "12 KB"),
    ("max_image_size", (COMPRESSED,), {"compressed": True}, "passed", 0, "0 B", f"{COMPRESSED} B (c)"),
    (
        "max_image_size",
        (COMPRESSED - 1,),
        {"compressed": True},
        "failed",
        -1,
        "1 B over",
        f"{COMPRESSED - 1} B (c)",
    ),
    ("max_image_layers", (3,), {}, "passed", 0, "0 layers", "3 layers"),
    ("max_image_layers", (2,), {}, "failed", -1, "1 layers over", "2 layers"),
    ("max_image_layers", (10,), {}, "passed", 7, "7 layers", "10 layers"),
    ("max_wasted_bytes", (WASTED,), {}, "passed", 0, "0 B", "10 KB waste"),
    ("max_wasted_bytes", (WASTED - 1,), {}, "failed", -1, "1 B over", "10 KB waste"),
    ("max_wasted_bytes", (0,), {}, "failed", -WASTED, "10 KB over", "0 B waste"),
    ("min_image_efficiency", (EFFICIENCY,), {}, "passed", 0, "0.000", "eff 0.17"),
    ("min_image_efficiency", (0.1,), {}, "passed", pytest.approx(EFFICIENCY - 0.1), "0.067", "eff 0.10"),
    ("min_image_efficiency", (0.5,), {}, "failed", pytest.approx(EFFICIENCY - 0.5), "0.333 over", "eff 0.50"),
]


@pytest.mark.parametrize(
    ("kind", "args", "kwargs", "verdict", "room", "room_text", "limit_text"), AROUND_THE_LIMIT
)
def test_evaluation_at_and_around_the_limit(
    image: Image,
    kind: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    verdict: str,
    room: float,
    room_text: str,
    limit_text: str,
) -> None:
    outcome = run(image, kind, *args, **kwargs)
    assert (outcome.outcome, outcome.headroom, outcome.headroom_text, outcome.limit_text) == (
        verdict,
        room,
        room_text,
        limit_text,
    )
    assert outcome.image == "app" and outcome.kind == kind and outcome.test == "tests/test_x.py::test_x"
    assert (outcome.message != "") == (verdict != "passed")
    assert outcome.junit_properties() == [
        ("image", "app"),
        (f"image_{kind}_limit", outcome.limit),
        (f"image_{kind}_outcome", verdict),
    ]


def test_size_failure_message(image: Image) -> None:
    outcome = run(image, "max_image_size", SIZE - 1)
    first, *rest = outcome.message.splitlines()
    assert first == (
        f"image {image.label} size is 12,000 B (12 KB), over the limit of 11,999 B (12 KB) by 1 B (1 B) "
        "(@pytest.mark.max_image_size(11999))"
    )
    assert rest[0] == "  largest layers:"
    assert rest[1].split() == ["10,000", "B", "(10", "KB)", "COPY", "big", "/big"]
    assert rest[3].split()[-3:] == ["RUN", "rm", "/big"]
    assert outcome.actual == SIZE


def test_compressed_size_failure_lists_compressed_layer_sizes(image: Image) -> None:
    outcome = run(image, "max_image_size", COMPRESSED - 1, compressed=True)
    assert f"compressed size is {COMPRESSED:,} B" in outcome.message
    assert outcome.actual == COMPRESSED and outcome.compressed
    largest = max(fake().layers, key=lambda layer: layer.portable_size)
    assert f"{len(largest.blob):,} B" in outcome.message.splitlines()[2]


@pytest.mark.parametrize(("limit", "warn"), [(SIZE, None), (SIZE + 1, SIZE - 1), ("1MB", "900kB")])
def test_passing_and_warned_size_checks_read_no_archive(limit: object, warn: object) -> None:
    """The fast path: on Docker's graph-driver store a size check that passes (warned or not)
    needs no archive; only a failure's details may read it."""
    image, engine = measured(fake(), name="app")
    for kind, args in [("max_image_size", (limit,)), ("max_image_layers", (3,))]:
        kwargs: dict[str, Any] = {"warn": warn} if warn is not None and kind == "max_image_size" else {}
        assert run(image, kind, *args, **kwargs).outcome in ("passed", "warned")
    assert engine.saves[image.id] == 0 and not image.analysed


def test_warned_message(image: Image) -> None:
    outcome = run(image, "max_image_size", "20KB", warn="11KB")
    assert outcome.outcome == "warned" and outcome.warn == 11_000
    assert outcome.message == (
        f"image {image.label} size is 12,000 B (12 KB), above the warning threshold of 11,000 B (11 KB) "
        "(limit 20 KB)"
    )


def test_layer_and_waste_and_efficiency_messages(image: Image) -> None:
    layers = run(image, "max_image_layers", 2).message
    assert layers.startswith(
        f"image {image.label} has 3 layers, 1 over the limit of 2 (@pytest.mark.max_image_layers(2))"
    )
    waste = run(image, "max_wasted_bytes", "9kB").message
    assert waste == (
        f"image {image.label} wasted bytes is 10,000 B (10 KB), over the limit of 9,000 B (9 KB) by "
        "1,000 B (1 KB) (@pytest.mark.max_wasted_bytes('9kB'))"
    )
    efficiency = run(image, "min_image_efficiency", 0.5).message
    assert efficiency == (
        f"image {image.label} has efficiency 0.1667, below @pytest.mark.min_image_efficiency(0.5)'s 0.5000; "
        "10,000 B (10 KB) of files are hidden or deleted by later layers"
    )


@pytest.mark.skipif(not HYGIENE, reason="no go_build_hygiene kind in this tree")
def test_go_hygiene_of_an_image_without_go_binaries(image: Image) -> None:
    outcome = run(image, "go_build_hygiene", allow="stripped")
    assert (outcome.outcome, outcome.message, outcome.actual, outcome.limit) == ("passed", "", None, None)
    assert (outcome.limit_text, outcome.headroom, outcome.headroom_text) == ("Go hygiene", None, "-")


# ---------------------------------------------------------------------------- growth


def entry(
    size: int | None, compressed: int | None = None, engine: Mapping[str, Any] = DOCKER, version: int = 2
) -> BaselineEntry:
    layers = (
        BaselineLayer("COPY big /big", 10_000),
        BaselineLayer("COPY small /small", 1_000),
        BaselineLayer("RUN rm", 0),
    )
    return BaselineEntry(size, compressed, layers, engine, "2026-11-01", "abc123", version)


def test_growth_of_a_new_image_passes_as_new(image: Image) -> None:
    outcome = run(image, "max_image_growth", "5%", entries={"other": entry(1)})
    assert (outcome.outcome, outcome.actual, outcome.note) == ("passed", None, "new")
    assert (outcome.baseline, outcome.delta, outcome.headroom, outcome.headroom_text) == (
        None,
        None,
        None,
        "new",
    )
    assert outcome.limit_text == "growth 5 %"


@pytest.mark.parametrize(
    ("limit", "floor", "verdict"),
    [
        (20, None, "passed"),  # +20 % exactly: equal passes
        (19.9, None, "failed"),
        (19.9, 2_000, "passed"),  # +2,000 B is not above the floor
        (19.9, 1_999, "failed"),
        (50, None, "passed"),
    ],
)
def test_growth_at_and_around_the_limit_and_floor(
    image: Image, limit: float, floor: int | None, verdict: str
) -> None:
    kwargs = {} if floor is None else {"floor": floor}
    outcome = run(image, "max_image_growth", limit, entries={"app": entry(10_000)}, **kwargs)
    assert (outcome.outcome, outcome.actual, outcome.baseline, outcome.delta) == (
        verdict,
        20.0,
        10_000,
        2_000,
    )
    assert outcome.headroom == pytest.approx(limit - 20.0)
    assert outcome.headroom_text == f"{abs(limit - 20):.1f} %" + (" over" if limit < 20 else "")


def test_growth_failure_message_names_the_layers_that_changed(image: Image) -> None:
    outcome = run(image, "max_image_growth", "10%", entries={"app": entry(10_000)}, floor="1kB")
    lines = outcome.message.splitlines()
    assert lines[0] == (
        f"image {image.label} size grew from 10,000 B (10 KB) to 12,000 B (12 KB): +2,000 B (2 KB) "
        "(+20.00 %), over both the 10 % limit and the 1 KB floor "
        "(@pytest.mark.max_image_growth('10%', floor='1kB'))"
    )
    assert "COPY small /small" in "\n".join(lines[1:])  # the layer that grew is named


def test_growth_from_a_zero_baseline(image: Image) -> None:
    failed = run(image, "max_image_growth", 5, entries={"app": entry(0)})
    assert (failed.outcome, failed.actual, failed.delta, failed.baseline) == ("failed", None, SIZE, 0)
    assert "+12,000 B (12 KB) (from nothing)" in failed.message
    assert (failed.headroom, failed.headroom_text) == (None, "-")
    passed = run(image, "max_image_growth", 5, entries={"app": entry(0)}, floor=SIZE)
    assert (passed.outcome, passed.actual, passed.delta) == ("passed", None, SIZE)


def test_shrinking_passes_with_a_negative_percent(image: Image) -> None:
    outcome = run(image, "max_image_growth", 0, entries={"app": entry(24_000)})
    assert (outcome.outcome, outcome.actual, outcome.delta) == ("passed", -50.0, -12_000)
    assert outcome.headroom_text == "50.0 %"


def test_compressed_growth(image: Image) -> None:
    unmeasured = run(image, "max_image_growth", 5, entries={"app": entry(SIZE)}, compressed=True)
    assert (unmeasured.outcome, unmeasured.note, unmeasured.actual) == ("passed", "new", None)
    grown = run(image, "max_image_growth", 5, entries={"app": entry(SIZE, COMPRESSED // 2)}, compressed=True)
    assert grown.outcome == "failed" and grown.baseline == COMPRESSED // 2
    assert grown.delta == COMPRESSED - COMPRESSED // 2
    assert "compressed size grew from" in grown.message and "layers that changed" not in grown.message
    assert grown.limit_text == "growth 5 % (c)"


V1_FILE = textwrap.dedent(
    """\
    {"version": 1, "images": {
      "app": {"size": 15000, "compressed_size": %d, "layers": [],
              "engine": %s, "date": "2025-01-01", "commit": "old"}}}
    """
)


def v1_entries(engine: Mapping[str, Any], compressed: int) -> dict[str, BaselineEntry]:
    return baseline.parse(Path("image-sizes.json"), V1_FILE % (compressed, json.dumps(engine)))


def test_a_version_1_entry_from_podman_is_not_comparable(image: Image) -> None:
    entries = v1_entries(PODMAN, COMPRESSED)
    assert entries["app"].version == 1 and not entries["app"].size_comparable
    outcome = run(image, "max_image_growth", 0, entries=entries)
    assert (outcome.outcome, outcome.note, outcome.actual, outcome.delta) == (
        "passed",
        "not comparable",
        None,
        None,
    )
    assert outcome.headroom_text == "not comparable"
    # compressed sizes do not depend on the engine: they are compared
    compressed = run(
        image, "max_image_growth", 0, entries=v1_entries(PODMAN, COMPRESSED - 1), compressed=True
    )
    assert (compressed.outcome, compressed.delta) == ("failed", 1)


def test_a_version_1_entry_from_docker_overlay2_is_compared(image: Image) -> None:
    entries = v1_entries(DOCKER, COMPRESSED)
    outcome = run(image, "max_image_growth", 0, entries=entries)
    assert (outcome.outcome, outcome.baseline, outcome.delta) == ("passed", 15_000, -3_000)


# ---------------------------------------------------------------------------- shadowing


def marker(name: str, *args: Any, **kwargs: Any) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    return name, args, kwargs


def test_the_closest_marker_of_each_measure_wins() -> None:
    checks = closest_checks(
        [  # closest first: function, then class, then module
            marker("max_image_size", "5MB"),
            marker("max_image_size", "3MB", compressed=True),
            marker("max_image_size", "10MB", warn="8MB"),  # shadowed by the 5MB one (warn= does not count)
            marker("max_image_size", "2MB", compressed=True),  # shadowed
            marker("max_image_size", "9MB", image="other"),  # another image: kept
            marker("max_image_layers", 4),
            marker("max_image_layers", 9),  # shadowed
            marker("max_wasted_bytes", "1MB"),
            marker("max_wasted_bytes", 0),  # shadowed
            marker("min_image_efficiency", 0.9),
            marker("min_image_efficiency", 0.5),  # shadowed
            marker("max_image_growth", "5%"),
            marker("max_image_growth", "1%", floor="1MB"),  # shadowed (floor= does not count)
            marker("max_image_growth", "2%", compressed=True),
        ]
        + (
            [marker("go_build_hygiene", allow="static"), marker("go_build_hygiene")]  # the 2nd is shadowed
            if HYGIENE
            else []
        )
        + [
            marker("forbid_packages", "gcc*", "*-dev"),
            marker("forbid_packages", "apt", ecosystem="deb"),  # shadowed (globs and ecosystem= do not count)
        ]
    )
    assert [(c.kind, c.limit, c.compressed, c.image) for c in checks] == [
        ("max_image_size", 5_000_000, False, None),
        ("max_image_size", 3_000_000, True, None),
        ("max_image_size", 9_000_000, False, "other"),
        ("max_image_layers", 4, False, None),
        ("max_wasted_bytes", 1_000_000, False, None),
        ("min_image_efficiency", 0.9, False, None),
        ("max_image_growth", 5.0, False, None),
        ("max_image_growth", 2.0, True, None),
    ] + ([("go_build_hygiene", None, False, None)] if HYGIENE else []) + [
        ("forbid_packages", None, False, None)
    ]
    if HYGIENE:
        assert checks[-2].allow == ("static",)
    assert {kind for kind, _, _ in (marker(k) for k in KINDS)} == {c.kind for c in checks}


def test_distinct_by_names_check_fields() -> None:
    for kind in KINDS.values():
        assert set(kind.distinct_by) <= set(Check.__dataclass_fields__) - {"limit", "marker", "image"}
        assert set(kind.distinct_by) <= kind.options


def test_a_closer_marker_shadows_a_farther_one_that_names_the_same_image(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_shadow="""
        import pytest
        from pytest_imagesize import existing_image

        app = existing_image("app:1")
        pytestmark = pytest.mark.max_image_size("5MB", image="app")

        @pytest.mark.max_image_size("10MB")
        def test_app(app):
            pass
        """
    )
    from pytest_imagesize.glue.collection import checks_for_item

    (item,) = pytester.getitems(pytester.path / "test_shadow.py")
    checks = checks_for_item(item, None)
    assert [(c.limit, c.image) for c in checks] == [(10_000_000, "app")]


def test_resolving_the_image_of_a_check() -> None:
    bare = check_from_marker("max_image_size", ("5MB",), {})
    assert resolve_image(bare, ["slim"]).image == "slim"
    for fixtures, problem in [
        (["a", "b"], "the test uses several images (a, b); say which with image='...'"),
        ([], "the test uses no image fixture"),
    ]:
        with pytest.raises(MarkerError, match=r"^@pytest\.mark\.max_image_size\('5MB'\): ") as info:
            resolve_image(bare, fixtures)
        assert problem in str(info.value) and "\n" not in str(info.value)
    named = check_from_marker("max_image_size", ("5MB",), {"image": "c"})
    with pytest.raises(
        MarkerError, match=r"does not use an image fixture named 'c' \(image fixtures it uses: a, b\)"
    ):
        resolve_image(named, ["a", "b"])
    assert resolve_image(named, ["b", "c"]).image == "c"


# ---------------------------------------------------------------------------- the JSON document


def test_the_json_document_of_every_kind_is_strict_json(image: Image) -> None:
    entries = {"app": entry(0, COMPRESSED)}
    outcomes = [
        run(image, "max_image_size", SIZE - 1),
        run(image, "max_image_size", SIZE + 1, warn=SIZE - 1),
        run(image, "max_image_size", COMPRESSED, compressed=True),
        run(image, "max_image_layers", 3),
        run(image, "max_wasted_bytes", 0),
        run(image, "min_image_efficiency", 1),
        run(image, "max_image_growth", 5, entries=entries),  # from a 0 baseline: percent None
        run(image, "max_image_growth", 5, entries=entries, compressed=True),
        run(image, "max_image_growth", 5),  # new
    ]
    if HYGIENE:
        outcomes.append(run(image, "go_build_hygiene"))
    outcomes.append(run(image, "forbid_packages", "gcc*"))  # no package database: warned
    empty, _ = measured(FakeImage.from_layers([{"etc": ("dir",)}]), name="empty")
    doc = document(image.engine, {"app": image, "empty": empty}, outcomes, entries)
    text = json.dumps(doc, allow_nan=False)
    assert json.loads(text) == doc
    checks = doc["checks"]
    assert {c["kind"] for c in checks} == set(KINDS)
    assert [c["outcome"] for c in checks] == [
        "failed", "warned", "passed", "passed", "failed", "failed", "failed", "passed", "passed",
    ] + ["passed"] * HYGIENE + ["warned"]  # fmt: skip
    growth = checks[6]
    assert (growth["actual"], growth["baseline"], growth["delta"], growth["note"]) == (None, 0, SIZE, "")
    assert (checks[8]["actual"], checks[8]["note"], checks[8]["delta"]) == (None, "new", None)
    assert "note" not in checks[0] and checks[1]["warn"] == SIZE - 1
    app, empty_json = doc["images"]
    assert (app["size"], app["compressed_size"], app["wasted_bytes"]) == (SIZE, COMPRESSED, WASTED)
    assert app["efficiency"] == pytest.approx(EFFICIENCY)
    assert app["baseline"]["delta"] == SIZE and app["baseline"]["compressed_delta"] == 0
    assert (empty_json["efficiency"], empty_json["compressed_size"], empty_json["baseline"]) == (
        None,
        None,
        None,
    )
    assert doc["engine"] == {
        "name": "docker",
        "version": "27.0.0-fake",
        "storage_driver": "overlay2",
        "arch": "amd64",
        "image_store": "graphdriver",
    }


def test_outcomes_survive_a_json_round_trip(image: Image) -> None:
    outcomes = [
        run(image, "max_image_growth", 5, entries={"app": entry(0)}),
        run(image, "min_image_efficiency", 0.5),
        run(image, "max_image_size", SIZE + 1, warn=SIZE - 1),
    ]
    for outcome in outcomes:
        data = json.loads(json.dumps(outcome.to_json() | {"message": outcome.message}, allow_nan=False))
        assert Outcome.from_json(data) == outcome
