"""Parse and format byte sizes, with docker CLI units (``MB`` = 10**6, ``MiB`` = 2**20).

The usual spellings (``5MB``, ``4.5 MiB``, ``3000000``) and every formatted size are handled
here; humanfriendly, whose rules these follow, is imported only for the other spellings it reads
(``5 megabytes``, ``2g``)."""

from __future__ import annotations

from .errors import SizeParseError

MAX_BYTES = 2**63 - 1  # the largest size any engine, file system or JSON consumer handles
_DECIMAL = ("KB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")  # powers of 1000, smallest first
_UNITS = {
    "b": 1,
    **{symbol.lower(): 1000 ** (i + 1) for i, symbol in enumerate(_DECIMAL)},
    **{symbol[0].lower() + "ib": 1024 ** (i + 1) for i, symbol in enumerate(_DECIMAL)},
}


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _number(text: str) -> int | float | None:
    """``12`` or ``4.5`` (ASCII digits, at most one point, digits on both sides), else None."""
    whole, point, fraction = text.partition(".")
    if not _digits(whole) or (point and not _digits(fraction)):
        return None
    return float(text) if point else int(text)


def _quick_parse(text: str) -> int | None:
    """A number and one of the unit symbols (``B``, ``kB``, ``MiB``...), as humanfriendly reads
    them; None for any other spelling."""
    split = len(text.rstrip("BbIiKkMmGgTtPpEeZzYy"))
    number = _number(text[:split].rstrip())
    multiplier = _UNITS.get(text[split:].lower())
    if number is None or multiplier is None:
        return None
    return int(number) if multiplier == 1 else int(number * multiplier)


def parse_size(value: object) -> int:
    """Return a size in bytes.

    ``value`` is an ``int`` (bytes) or a string such as ``"5MB"``, ``"4.5 MiB"`` or
    ``"3000000"``. Decimal units are powers of 1000 and binary units powers of 1024, as in the
    docker CLI. Negative numbers, fractions of a byte, floats, booleans and unknown units raise
    :class:`SizeParseError` with a message that names the value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SizeParseError(
            f"{value!r} is not a size: use a whole number of bytes or a string like '5MB' or '4.5MiB'"
        )
    if isinstance(value, int):
        if value < 0:
            raise SizeParseError(f"{value!r} is negative: a size is a whole number of bytes >= 0")
        return _bounded(value, value)
    text = value.strip()
    if not text:
        raise SizeParseError("'' is empty: write a size like '5MB' or '4.5MiB'")
    if text.startswith("-"):
        raise SizeParseError(f"{value!r} is negative: a size must be >= 0")
    whole, point, fraction = text.partition(".")
    if point and fraction.isdecimal() and (not whole or whole.isdecimal()):
        raise SizeParseError(f"{value!r} is a fraction of a byte: give a unit ('1.5MB') or whole bytes")
    if text.isdecimal():
        return _bounded(int(text), value)
    quick = _quick_parse(text)
    if quick is not None:
        return _bounded(quick, value)
    import humanfriendly

    try:
        size = int(humanfriendly.parse_size(text))
    except (humanfriendly.InvalidSize, OverflowError, ValueError):
        raise SizeParseError(
            f"{value!r} is not a size: use units B, kB, MB, GB (powers of 1000) "
            "or KiB, MiB, GiB (powers of 1024), e.g. '5MB'"
        ) from None
    return _bounded(size, value)


def _bounded(size: int, value: object) -> int:
    if size > MAX_BYTES:
        text = repr(value)
        shown = f"{text[:20]}..." if len(text) > 24 else text
        raise SizeParseError(f"{shown} is too large: sizes go up to {MAX_BYTES:,} bytes (2**63 - 1)")
    return size


def format_size(n: int | None) -> str:
    """``5509304`` -> ``"5.51 MB"`` (decimal units, like ``docker images``); ``None`` -> ``"-"``."""
    if n is None:
        return "-"
    if n < 0:
        return "-" + format_size(-n)
    if n > MAX_BYTES:
        return f"> {format_size(MAX_BYTES)}"
    for power in range(len(_DECIMAL), 0, -1):
        if n >= 1000**power:
            number = f"{float(n) / 1000**power:.2f}".rstrip("0").rstrip(".")
            return f"{number} {_DECIMAL[power - 1]}"
    return f"{n} B"


def format_bytes(n: int) -> str:
    """``5509304`` -> ``"5,509,304 B"``."""
    return f"{n:,} B"


def describe_size(n: int) -> str:
    """``5509304`` -> ``"5,509,304 B (5.51 MB)"``."""
    return f"{format_bytes(n)} ({format_size(n)})"


def parse_percent(value: object) -> float:
    """``"5%"``, ``"2.5 %"``, ``5`` or ``2.5`` -> percent as a float (``5`` means 5 %)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SizeParseError(f"{value!r} is not a percentage: write '5%' or 5")
    number: float
    if isinstance(value, str):
        text = value.strip().removesuffix("%").strip()
        try:
            number = float(text)
        except ValueError:
            raise SizeParseError(f"{value!r} is not a percentage: write '5%' or 5") from None
    else:
        if isinstance(value, int) and abs(value) > MAX_BYTES:
            raise SizeParseError(f"{str(value)[:20]}... is too large for a percentage")
        number = float(value)
    if not number >= 0 or number > MAX_BYTES:
        raise SizeParseError(f"{value!r} is not a percentage >= 0: write '5%' or 5")
    return number


def format_delta(old: int, new: int, *, with_bytes: bool = True) -> str:
    """``(5_000_000, 5_160_000)`` -> ``"+160 KB (+3.2 % ▲)"`` (or ``"+3.2 % ▲"`` without bytes);
    no change -> ``"±0"``."""
    delta = new - old
    if delta == 0:
        return "±0"
    sign = "+" if delta > 0 else "-"
    arrow = "▲" if delta > 0 else "▼"
    percent = f"{sign}{abs(delta) / old * 100:.1f} % {arrow}" if old else f"new {arrow}"
    return f"{sign}{format_size(abs(delta))} ({percent})" if with_bytes else percent
