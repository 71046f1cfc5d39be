"""Markers on multi-platform images: every platform checked (one outcome each, named
``app[linux/arm64]``), ``platform=`` picking one, a dict of limits per platform (``"*"`` for the
rest), and the one-line errors for a platform the image lacks or a dict lacks; on a plain image
nothing changes, and ``platform=`` must match the engine's platform. Every kind goes through the
same code: each is run here on an index."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_imagesize.checks import (
    KINDS,
    Check,
    Context,
    check_from_marker,
    closest_checks,
    evaluate,
    evaluate_all,
    resolve_image,
)
from pytest_imagesize.errors import ImageSizeError, MarkerError
from pytest_imagesize.measure.image import Image
from pytest_imagesize.measure.index import ImageIndex, member_name, platform_of, split_member_name

from ..support.fake_engine import FakeEngine, measured
from ..support.platforms import index_of, sized

TEST = "tests/test_x.py::test_x"


def check(kind: str, *args: Any, **kwargs: Any) -> Check:
    return resolve_image(check_from_marker(kind, args, kwargs), ["app"])


@pytest.fixture
def app() -> ImageIndex:
    """amd64 9,000 bytes, arm64 7,000, arm/v7 9,500; two layers each."""
    return index_of("app", {"linux/amd64": 9_000, "linux/arm64/v8": 7_000, "linux/arm": 9_500})


def test_the_index_names_each_platform_in_brackets(app: ImageIndex) -> None:
    assert app.platforms == ["linux/amd64", "linux/arm64", "linux/arm/v7"]  # normalised
    assert [image.name for image in app] == ["app[linux/amd64]", "app[linux/arm64]", "app[linux/arm/v7]"]
    assert app["linux/arm64"].label.startswith("app[linux/arm64] (")
    assert split_member_name("app[linux/arm/v7]") == ("app", "linux/arm/v7")
    assert split_member_name("app") == ("app", None)
    assert split_member_name(member_name("a", "linux/amd64")) == ("a", "linux/amd64")


def test_a_marker_without_platform_checks_every_platform(app: ImageIndex) -> None:
    outcomes = evaluate_all(check("max_image_size", "8kB"), app, TEST)
    assert [(o.image, o.platform, o.actual, o.outcome) for o in outcomes] == [
        ("app[linux/amd64]", "linux/amd64", 9_000, "failed"),
        ("app[linux/arm64]", "linux/arm64", 7_000, "passed"),
        ("app[linux/arm/v7]", "linux/arm/v7", 9_500, "failed"),
    ]
    amd, arm, arm7 = outcomes
    assert amd.message.startswith("image app[linux/amd64] (") and "over the limit of 8,000 B" in amd.message
    assert arm7.message.startswith("image app[linux/arm/v7] (") and "by 1,500 B" in arm7.message
    assert arm.message == ""


def test_platform_picks_one_platform_normalised(app: ImageIndex) -> None:
    (outcome,) = evaluate_all(check("max_image_size", "8kB", platform="linux/arm64/v8"), app, TEST)
    assert (outcome.image, outcome.platform, outcome.outcome) == ("app[linux/arm64]", "linux/arm64", "passed")
    (arm7,) = evaluate_all(check("max_image_size", "8kB", platform="linux/arm"), app, TEST)
    assert (arm7.image, arm7.outcome) == ("app[linux/arm/v7]", "failed")


def test_a_platform_the_image_lacks_is_one_line_naming_its_platforms(app: ImageIndex) -> None:
    with pytest.raises(ImageSizeError) as info:
        evaluate_all(check("max_image_size", "8kB", platform="linux/s390x"), app, TEST)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("@pytest.mark.max_image_size('8kB', platform='linux/s390x'): ")
    assert "image app has no linux/s390x image; it has linux/amd64, linux/arm64, linux/arm/v7" in message


def test_a_dict_sets_a_limit_per_platform(app: ImageIndex) -> None:
    limits = {"linux/amd64": "10kB", "linux/arm64": "6kB", "linux/arm/v7": "9.5kB"}
    outcomes = evaluate_all(check("max_image_size", limits), app, TEST)
    assert [(o.image, o.limit, o.outcome) for o in outcomes] == [
        ("app[linux/amd64]", 10_000, "passed"),
        ("app[linux/arm64]", 6_000, "failed"),
        ("app[linux/arm/v7]", 9_500, "passed"),  # equal passes
    ]
    assert "over the limit of 6,000 B (6 KB) by 1,000 B" in outcomes[1].message
    assert [o.limit_text for o in outcomes] == ["10 KB", "6 KB", "9.5 KB"]


def test_a_star_key_covers_the_platforms_not_named(app: ImageIndex) -> None:
    outcomes = evaluate_all(check("max_image_size", {"linux/arm64": "6kB", "*": "9.2kB"}), app, TEST)
    assert [(o.limit, o.outcome) for o in outcomes] == [
        (9_200, "passed"),
        (6_000, "failed"),
        (9_200, "failed"),
    ]


def test_a_platform_missing_from_the_dict_is_one_line_naming_it(app: ImageIndex) -> None:
    with pytest.raises(ImageSizeError) as info:
        evaluate_all(check("max_image_size", {"linux/amd64": "10kB"}), app, TEST)
    message = str(info.value)
    assert "\n" not in message
    assert "no limit for linux/arm64, linux/arm/v7 of image app" in message
    assert "'*' for every platform not named" in message


def test_warn_applies_to_every_platform_of_a_dict(app: ImageIndex) -> None:
    outcomes = evaluate_all(
        check("max_image_size", {"linux/amd64": "10kB", "*": "9.6kB"}, warn="8kB"), app, TEST
    )
    assert [o.outcome for o in outcomes] == ["warned", "passed", "warned"]
    assert (
        outcomes[0].message.startswith("image app[linux/amd64] (")
        and "warning threshold" in outcomes[0].message
    )


BAD_DICTS: list[tuple[Any, dict[str, Any], str]] = [
    ({}, {}, "a dict of limits needs 'os/arch' keys"),
    ({"linux/amd64": "1kB"}, {"platform": "linux/amd64"}, "and no platform="),
    ({"linux/arm64": "1kB", "linux/arm64/v8": "2kB"}, {}, "names a platform already given"),
    ({"linux": "1kB"}, {}, "platform 'linux' is not os/architecture[/variant]"),
    ({7: "1kB"}, {}, "limit key 7 must be a platform like 'linux/arm64'"),
    ({"linux/amd64": "0"}, {}, "0 is not a usable limit"),
    ({"linux/amd64": "5MB"}, {"warn": "6MB"}, "warn='6MB' (6 MB) must be below the limit (5 MB)"),
    ("5MB", {"platform": "arm64"}, "platform 'arm64' is not os/architecture[/variant]"),
    ("5MB", {"platform": 64}, "platform= must be a platform like 'linux/arm64', got 64"),
]


@pytest.mark.parametrize(("limit", "kwargs", "problem"), BAD_DICTS)
def test_bad_platform_arguments_are_one_line_marker_errors(
    limit: Any, kwargs: dict[str, Any], problem: str
) -> None:
    with pytest.raises(MarkerError) as info:
        check_from_marker("max_image_size", [limit], kwargs)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("@pytest.mark.max_image_size(")
    assert problem in str(info.value)


# every kind with a limit: a dict and platform= work the same way, through the one record
DICT_LIMITS: dict[str, tuple[Any, Any]] = {  # (limit amd64 passes, limit arm/v7 fails)
    "max_image_size": ("9kB", "9kB"),
    "max_image_layers": (2, 1),
    "max_wasted_bytes": (0, 0),
    "min_image_efficiency": (1, 1),
}


@pytest.mark.parametrize("kind", sorted(k for k in KINDS if KINDS[k].takes_limit and k != "max_image_growth"))
def test_every_kind_takes_platform_and_a_dict(app: ImageIndex, kind: str) -> None:
    amd, arm7 = DICT_LIMITS[kind]
    outcomes = evaluate_all(check(kind, {"linux/amd64": amd, "*": arm7}), app, TEST)
    assert [o.image for o in outcomes] == ["app[linux/amd64]", "app[linux/arm64]", "app[linux/arm/v7]"]
    assert outcomes[0].outcome == "passed"
    assert all(o.kind == kind and o.platform for o in outcomes)
    if kind in ("max_image_size", "max_image_layers"):
        assert outcomes[2].outcome == "failed"
        assert outcomes[2].message.startswith("image app[linux/arm/v7] (")
    (one,) = evaluate_all(check(kind, amd, platform="linux/amd64"), app, TEST)
    assert (one.image, one.outcome) == ("app[linux/amd64]", "passed")


def test_go_hygiene_and_growth_run_per_platform(app: ImageIndex) -> None:
    growth = evaluate_all(check("max_image_growth", "5%"), app, TEST)
    assert [(o.image, o.note) for o in growth] == [
        ("app[linux/amd64]", "new"),
        ("app[linux/arm64]", "new"),
        ("app[linux/arm/v7]", "new"),
    ]
    if "go_build_hygiene" in KINDS:
        hygiene = evaluate_all(check("go_build_hygiene", platform="linux/arm64"), app, TEST)
        assert [(o.image, o.outcome) for o in hygiene] == [("app[linux/arm64]", "passed")]


def test_a_platform_marker_measures_something_else_than_an_all_platform_one() -> None:
    checks = closest_checks(
        [
            ("max_image_size", ("7MB",), {"platform": "linux/arm64"}),
            ("max_image_size", ("8MB",), {}),  # every platform: kept
            ("max_image_size", ("9MB",), {"platform": "linux/arm64/v8"}),  # the same platform: shadowed
            ("max_image_size", ({"linux/amd64": "1MB"},), {}),  # every platform again: shadowed
        ],
        ["app"],
    )
    assert [(c.limit, c.platform, c.per_platform) for c in checks] == [
        (7_000_000, "linux/arm64", ()),
        (8_000_000, None, ()),
    ]


# ---------------------------------------------------------------------------- a plain image


@pytest.fixture
def plain() -> Image:
    return measured(sized(9_000, "plain"), name="app")[0]  # the fake engine is amd64


def test_a_plain_image_keeps_its_name_and_states_no_platform(plain: Image) -> None:
    outcome = evaluate(check("max_image_size", "8kB"), plain, TEST)
    assert (outcome.image, outcome.platform, outcome.outcome) == ("app", None, "failed")
    assert outcome.message.startswith("image app (")
    assert platform_of(plain) == "linux/amd64"  # the engine's


def test_platform_on_a_plain_image_must_be_the_engines(plain: Image) -> None:
    outcome = evaluate(check("max_image_size", "10kB", platform="linux/amd64"), plain, TEST)
    assert (outcome.image, outcome.outcome) == ("app", "passed")
    with pytest.raises(ImageSizeError) as info:
        evaluate(check("max_image_size", "10kB", platform="linux/arm64"), plain, TEST)
    assert "\n" not in str(info.value)
    assert "image app (" in str(info.value)
    assert "is linux/amd64 (its engine's), not linux/arm64: remove platform= or use a fixture" in str(
        info.value
    )


def test_a_dict_on_a_plain_image_picks_the_engines_platform(plain: Image) -> None:
    outcome = evaluate(check("max_image_size", {"linux/arm64": "1kB", "linux/amd64": "10kB"}), plain, TEST)
    assert (outcome.limit, outcome.outcome) == (10_000, "passed")
    with pytest.raises(ImageSizeError, match="no limit for linux/amd64 of image app"):
        evaluate(check("max_image_size", {"linux/arm64": "1kB"}), plain, TEST)


def test_an_image_with_no_known_platform(plain: Image) -> None:
    image, _ = measured(sized(9_000, "plain"), name="app")
    image.engine = None  # measured without knowing the engine's architecture
    assert platform_of(image) is None
    with pytest.raises(ImageSizeError, match=r"image app \(\w+\) states no platform, not linux/amd64"):
        evaluate(check("max_image_size", "10kB", platform="linux/amd64"), image, TEST)
    star = evaluate(check("max_image_size", {"*": "10kB"}), image, TEST)
    assert star.outcome == "passed"
    with pytest.raises(ImageSizeError, match=r"no limit for its platform \(not stated\) of image app"):
        evaluate(check("max_image_size", {"linux/amd64": "10kB"}), image, TEST)


def test_an_arm_engine_image_is_arm() -> None:
    fake = sized(9_000, "arm")
    image = Image.measure(FakeEngine("graphdriver", [fake], arch="aarch64"), fake.id, "app")
    assert platform_of(image) == "linux/arm64"
    assert evaluate(check("max_image_size", "10kB", platform="linux/arm64"), image, TEST).outcome == "passed"


def test_evaluate_takes_one_image_and_gives_one_outcome(app: ImageIndex) -> None:
    outcome = evaluate(check("max_image_size", "8kB"), app["linux/arm64"], TEST, Context())
    assert (outcome.image, outcome.platform) == ("app[linux/arm64]", "linux/arm64")
