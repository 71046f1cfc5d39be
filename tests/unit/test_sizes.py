"""Size and percentage parsing and formatting."""

from __future__ import annotations

import pytest

from pytest_imagesize import parse_size
from pytest_imagesize.errors import ImageSizeError, SizeParseError
from pytest_imagesize.sizes import describe_size, format_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5MB", 5_000_000),
        ("5 MB", 5_000_000),
        ("5mb", 5_000_000),
        ("4.5MiB", 4_718_592),
        ("1 KiB", 1024),
        ("1kB", 1000),
        ("2.5GB", 2_500_000_000),
        ("3000000", 3_000_000),
        (" 7 ", 7),
        (3_000_000, 3_000_000),
        (0, 0),
    ],
)
def test_parse_size_uses_docker_cli_units(text: object, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("5 XB", "not a size"),
        ("-1MB", "negative"),
        (-5, "negative"),
        ("", "empty"),
        ("   ", "empty"),
        (None, "not a size"),
        (2.5, "not a size"),
        (True, "not a size"),
        ([5], "not a size"),
        ("1.5", "fraction of a byte"),
        ("1e3", "not a size"),
    ],
)
def test_parse_size_rejects_bad_values_with_the_value_named(value: object, words: str) -> None:
    with pytest.raises(SizeParseError) as info:
        parse_size(value)
    message = str(info.value)
    assert words in message
    assert "\n" not in message
    assert repr(value) in message or value in ("", "   ")


@pytest.mark.parametrize(
    ("n", "text"),
    [(5_509_304, "5.51 MB"), (1000, "1 KB"), (999, "999 B"), (1, "1 B"), (None, "-")],
)
def test_format_size_is_decimal(n: int | None, text: str) -> None:
    assert format_size(n) == text


def test_describe_size_shows_bytes_and_units() -> None:
    assert describe_size(509_304) == "509,304 B (509.3 KB)"


def test_percent_parsing() -> None:
    from pytest_imagesize.sizes import format_delta, parse_percent

    assert parse_percent("5%") == 5.0 and parse_percent(" 2.5 % ") == 2.5 and parse_percent(3) == 3.0
    for bad in ("five", "-1%", None, True, float("nan")):
        with pytest.raises(ImageSizeError):
            parse_percent(bad)
    assert format_delta(5_000_000, 5_160_000) == "+160 KB (+3.2 % ▲)"
    assert format_delta(100, 90) == "-10 B (-10.0 % ▼)"
    assert format_delta(7, 7) == "±0"
    assert format_delta(5_000_000, 5_160_000, with_bytes=False) == "+3.2 % ▲"
