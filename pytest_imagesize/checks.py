"""Markers become checks; a check applied to a measured image becomes an outcome.

Marker values are validated at collection, before any image is built. Per test, the closest
marker of each kind (function over class over module) wins for each image and measure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .errors import ImageSizeError, MarkerError, SizeParseError
from .image import Image
from .sizes import describe_size, format_size, parse_percent, parse_size

if TYPE_CHECKING:
    from .baseline import Entry

MARKERS: dict[str, str] = {
    "max_image_size": "max_image_size(limit, *, compressed=False, warn=None, image=None): fail "
    "when the image is larger than limit ('5MB', '4.5MiB' or bytes); warn= is a soft limit",
    "max_image_layers": "max_image_layers(n, *, image=None): fail when the image has more than n layers",
    "max_wasted_bytes": "max_wasted_bytes(limit, *, image=None): fail when more than limit bytes "
    "of files are hidden or deleted by later layers",
    "min_image_efficiency": "min_image_efficiency(ratio, *, image=None): fail when 1 - wasted / "
    "written falls below ratio (0 < ratio <= 1)",
    "max_image_growth": "max_image_growth(percent, *, floor=None, compressed=False, image=None): "
    "fail when the image grew against the baseline by more than percent AND more than floor",
}

_ALLOWED_KWARGS: dict[str, set[str]] = {
    "max_image_size": {"compressed", "warn", "image"},
    "max_image_layers": {"image"},
    "max_wasted_bytes": {"image"},
    "min_image_efficiency": {"image"},
    "max_image_growth": {"floor", "compressed", "image"},
}


@dataclass(frozen=True)
class Check:
    """One claim about one image, as written in a marker."""

    kind: str
    limit: float
    marker: str  # the marker as written, for messages
    image: str | None = None  # fixture name; None until resolved when the marker omits it
    compressed: bool = False
    warn: int | None = None
    floor: int = 0

    @property
    def measure(self) -> tuple[str, str | None, bool]:
        return (self.kind, self.image, self.compressed)


@dataclass(frozen=True)
class Outcome:
    """A check applied to a measured image."""

    test: str
    image: str
    kind: str
    compressed: bool
    limit: float
    actual: float
    outcome: str  # "passed", "failed" or "warned"
    message: str
    warn: int | None = None
    baseline: int | None = None  # growth checks: the baseline value compared with
    note: str = ""  # e.g. "new": not in the baseline

    @property
    def headroom(self) -> float:
        if self.kind == "min_image_efficiency":
            return self.actual - self.limit
        return self.limit - self.actual

    def to_json(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "image": self.image,
            "kind": self.kind,
            "compressed": self.compressed,
            "limit": self.limit,
            "warn": self.warn,
            "actual": self.actual,
            "outcome": self.outcome,
            **({"baseline": self.baseline, "note": self.note} if self.kind == "max_image_growth" else {}),
        }


def _marker_text(name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"@pytest.mark.{name}({', '.join(parts)})"


def _limit_size(value: Any) -> int:
    size = parse_size(value)
    if size == 0:
        raise SizeParseError("0 is not a usable limit: no image is 0 bytes; give a positive size")
    return size


def check_from_marker(name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> Check:
    """Validate one marker's arguments. Raises MarkerError (without the test id)."""
    text = _marker_text(name, args, kwargs)

    def bad(problem: str) -> MarkerError:
        return MarkerError(f"{text}: {problem}")

    unknown = set(kwargs) - _ALLOWED_KWARGS[name]
    if unknown:
        allowed = ", ".join(sorted(_ALLOWED_KWARGS[name]))
        raise bad(f"unknown argument {', '.join(sorted(unknown))} (allowed: {allowed})")
    if len(args) != 1:
        raise bad(f"takes exactly one limit, got {len(args)}")
    image = kwargs.get("image")
    if image is not None and (not isinstance(image, str) or not image.isidentifier()):
        raise bad(f"image= must name an image fixture, got {image!r}")
    value = args[0]
    try:
        if name == "max_image_size":
            limit = _limit_size(value)
            compressed = kwargs.get("compressed", False)
            if not isinstance(compressed, bool):
                raise bad(f"compressed= must be True or False, got {compressed!r}")
            warn = kwargs.get("warn")
            warn_size = None if warn is None else _limit_size(warn)
            if warn_size is not None and warn_size >= limit:
                raise bad(
                    f"warn={warn!r} ({format_size(warn_size)}) must be below the limit ({format_size(limit)})"
                )
            return Check(name, limit, text, image, compressed, warn_size)
        if name == "max_image_growth":
            compressed = kwargs.get("compressed", False)
            if not isinstance(compressed, bool):
                raise bad(f"compressed= must be True or False, got {compressed!r}")
            floor = kwargs.get("floor")
            return Check(
                name,
                parse_percent(value),
                text,
                image,
                compressed,
                floor=0 if floor is None else parse_size(floor),
            )
        if name == "max_wasted_bytes":
            return Check(name, parse_size(value), text, image)
        if name == "max_image_layers":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(f"{value!r} is not a layer count: give a whole number >= 1")
            return Check(name, value, text, image)
        if name == "min_image_efficiency":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise bad(f"{value!r} is not a ratio: give a number in (0, 1], e.g. 0.95")
            return Check(name, float(value), text, image)
    except SizeParseError as exc:
        raise bad(str(exc)) from None
    raise bad("unknown marker")  # pragma: no cover - names come from MARKERS


def closest_checks(markers: Iterable[tuple[str, Sequence[Any], dict[str, Any]]]) -> list[Check]:
    """Checks from markers given closest first; a farther marker of the same measure is shadowed."""
    seen: set[tuple[str, str | None, bool]] = set()
    checks = []
    for name, args, kwargs in markers:
        check = check_from_marker(name, args, kwargs)
        if check.measure not in seen:
            seen.add(check.measure)
            checks.append(check)
    return checks


def resolve_image(check: Check, image_fixtures: Sequence[str]) -> Check:
    """Pick the image fixture a check applies to, or explain why it cannot be picked."""
    available = ", ".join(image_fixtures) or "none"
    if check.image is not None:
        if check.image not in image_fixtures:
            raise MarkerError(
                f"{check.marker}: the test does not use an image fixture named {check.image!r} "
                f"(image fixtures it uses: {available}); add it to the test's arguments"
            )
        return check
    if len(image_fixtures) == 1:
        return replace(check, image=image_fixtures[0])
    if not image_fixtures:
        raise MarkerError(
            f"{check.marker}: the test uses no image fixture; add one (declared with "
            "build_image() or existing_image()) to the test's arguments"
        )
    raise MarkerError(
        f"{check.marker}: the test uses several images ({available}); say which with image='...'"
    )


def _actual(check: Check, image: Image) -> float:
    if check.kind == "max_image_size":
        return image.compressed_size if check.compressed else image.size
    if check.kind == "max_image_layers":
        return len(image.layers)
    if check.kind == "max_wasted_bytes":
        return image.wasted_bytes
    if check.kind == "min_image_efficiency":
        return image.efficiency
    raise ImageSizeError(f"unknown check {check.kind}")  # pragma: no cover


def _layer_lines(image: Image, compressed: bool) -> str:
    rows = []
    for layer in image.largest_layers(3):
        size = layer.compressed_size if compressed and layer.compressed_size is not None else layer.size
        rows.append(f"    {describe_size(size):>28}  {layer.instruction}")
    return "\n  largest layers:\n" + "\n".join(rows) if rows else ""


def _growth(check: Check, image: Image, test: str, entry: Entry | None) -> Outcome:
    now = image.compressed_size if check.compressed else image.size
    base = None if entry is None else (entry.compressed_size if check.compressed else entry.size)
    if base is None:  # new image, or not measured that way in the baseline: passes, flagged
        return Outcome(
            test, image.name, check.kind, check.compressed, check.limit, 0.0, "passed", "", note="new"
        )
    delta = now - base
    percent = delta / base * 100 if base else (0.0 if delta == 0 else float("inf"))
    failed = percent > check.limit and delta > check.floor
    message = ""
    if failed:
        what = "compressed size" if check.compressed else "size"
        message = (
            f"image {image.name} ({image.short_id}) {what} grew from {describe_size(base)} to "
            f"{describe_size(now)}: +{describe_size(delta)} (+{percent:.2f} %), over both the "
            f"{check.limit:g} % limit and the {format_size(check.floor)} floor ({check.marker})"
        )
        if entry is not None and not check.compressed:
            message += _changed_layers(image, entry)
    return Outcome(
        test,
        image.name,
        check.kind,
        check.compressed,
        check.limit,
        percent,
        "failed" if failed else "passed",
        message,
        baseline=base,
    )


def _changed_layers(image: Image, entry: Entry) -> str:
    count = max(len(image.layers), len(entry.layers))
    changes = []
    for i in range(count):
        old = entry.layers[i][1] if i < len(entry.layers) else 0
        new = image.layers[i].size if i < len(image.layers) else 0
        label = image.layers[i].instruction if i < len(image.layers) else entry.layers[i][0]
        if new != old:
            changes.append((abs(new - old), f"    #{i} {new - old:+,} B  {label}"))
    top = [text for _, text in sorted(changes, key=lambda c: c[0], reverse=True)[:3]]
    return "\n  layers that changed most:\n" + "\n".join(top) if top else ""


def evaluate(check: Check, image: Image, test: str, baseline: dict[str, Entry] | None = None) -> Outcome:
    """Apply a resolved check to a measured image (growth checks compare with ``baseline``)."""
    if check.kind == "max_image_growth":
        return _growth(check, image, test, (baseline or {}).get(image.name))
    actual = _actual(check, image)
    who = f"image {image.name} ({image.short_id})"
    if check.kind == "min_image_efficiency":
        failed = actual < check.limit
        message = (
            f"{who} has efficiency {actual:.4f}, below {check.marker}'s {check.limit:.4f}; "
            f"{describe_size(image.wasted_bytes)} of files are hidden or deleted by later layers"
        )
    elif check.kind == "max_image_layers":
        failed = actual > check.limit
        message = (
            f"{who} has {int(actual)} layers, {int(actual - check.limit)} over the limit of "
            f"{int(check.limit)} ({check.marker})" + _layer_lines(image, False)
        )
    else:
        what = {"max_image_size": "compressed size" if check.compressed else "size"}.get(
            check.kind, "wasted bytes"
        )
        over = int(actual - check.limit)
        failed = over > 0
        message = (
            f"{who} {what} is {describe_size(int(actual))}, over the limit of "
            f"{describe_size(int(check.limit))} by {describe_size(over)} ({check.marker})"
            + _layer_lines(image, check.compressed)
        )
    outcome = "failed" if failed else "passed"
    if not failed and check.warn is not None and actual > check.warn:
        outcome = "warned"
        message = (
            f"{who} {'compressed size' if check.compressed else 'size'} is "
            f"{describe_size(int(actual))}, above the warning threshold of "
            f"{describe_size(check.warn)} (limit {format_size(int(check.limit))})"
        )
    return Outcome(
        test=test,
        image=image.name,
        kind=check.kind,
        compressed=check.compressed,
        limit=check.limit,
        actual=actual,
        outcome=outcome,
        message=message if outcome != "passed" else "",
        warn=check.warn,
    )
