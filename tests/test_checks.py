"""Marker validation, image resolution and history pairing (pure logic, no engine)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_imagesize.checks import check_from_marker, closest_checks, resolve_image
from pytest_imagesize.errors import MarkerError
from pytest_imagesize.measure.image import layers_from_history


def test_size_marker_keeps_limit_warn_and_image() -> None:
    check = check_from_marker("max_image_size", ["10MB"], {"warn": "8MB", "image": "slim"})
    assert (check.limit, check.warn, check.image, check.compressed) == (10**7, 8 * 10**6, "slim", False)


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "words"),
    [
        ("max_image_size", ["5 XB"], {}, "'5 XB' is not a size"),
        ("max_image_size", [0], {}, "0 is not a usable limit"),
        ("max_image_size", [], {}, "exactly one limit"),
        ("max_image_size", ["5MB"], {"compresed": True}, "unknown argument compresed"),
        ("max_image_size", ["5MB"], {"warn": "6MB"}, "must be below the limit"),
        ("max_image_size", ["5MB"], {"compressed": "yes"}, "True or False"),
        ("max_image_size", ["5MB"], {"image": "not a name"}, "image= must name"),
        ("max_image_layers", [0], {}, "not a layer count"),
        ("max_image_layers", ["4"], {}, "not a layer count"),
        ("min_image_efficiency", [1.5], {}, "not a ratio"),
    ],
)
def test_bad_marker_values_name_the_marker_and_value(
    name: str, args: list[Any], kwargs: dict[str, Any], words: str
) -> None:
    with pytest.raises(MarkerError) as info:
        check_from_marker(name, args, kwargs)
    assert words in str(info.value)
    assert str(info.value).startswith(f"@pytest.mark.{name}(")


def test_closest_marker_of_a_measure_wins() -> None:
    checks = closest_checks(
        [
            ("max_image_size", ["20MB"], {}),  # function level, closest
            ("max_image_size", ["10MB"], {}),  # module level, shadowed
            ("max_image_size", ["3MB"], {"compressed": True}),  # another measure: kept
        ]
    )
    assert [(c.limit, c.compressed) for c in checks] == [(2 * 10**7, False), (3 * 10**6, True)]


def test_resolve_image_picks_the_only_fixture_and_explains_ambiguity() -> None:
    check = check_from_marker("max_image_size", ["5MB"], {})
    assert resolve_image(check, ["slim"]).image == "slim"
    with pytest.raises(MarkerError, match=r"several images \(fat, slim\).*image='\.\.\.'"):
        resolve_image(check, ["fat", "slim"])
    with pytest.raises(MarkerError, match="uses no image fixture"):
        resolve_image(check, [])
    named = check_from_marker("max_image_size", ["5MB"], {"image": "other"})
    with pytest.raises(MarkerError, match=r"no.*'other' \(image fixtures it uses: fat, slim\)"):
        resolve_image(named, ["fat", "slim"])


def test_history_pairs_sized_entries_and_skips_metadata() -> None:
    history = [  # newest first, as the engine returns it
        {"CreatedBy": '/bin/sh -c #(nop)  CMD ["/app"]', "Size": 0},
        {"CreatedBy": "/bin/sh -c #(nop) COPY file:abc in /app ", "Size": 5000},
        {"CreatedBy": "/bin/sh -c #(nop)  ENV A=b", "Size": 0},
        {"CreatedBy": "/bin/sh -c #(nop) ADD file:def in / ", "Size": 100},
    ]
    layers = layers_from_history(history, ["sha256:a", "sha256:b"])
    assert [(la.size, la.instruction) for la in layers] == [
        (100, "ADD file:def in /"),
        (5000, "COPY file:abc in /app"),
    ]


def test_history_counts_an_empty_run_layer_when_the_layer_count_says_so() -> None:
    history = [
        {"CreatedBy": "/bin/sh -c true", "Size": 0},
        {"CreatedBy": "/bin/sh -c #(nop) ADD file:def in / ", "Size": 100},
    ]
    assert [la.size for la in layers_from_history(history, ["sha256:a", "sha256:b"])] == [100, 0]
    assert [la.size for la in layers_from_history(history, ["sha256:a"])] == [100]
