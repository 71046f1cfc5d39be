"""Size changes explained in words: top file, directory, layer, package and Go module movers, and the base
image's drift told apart from the image's own change. Used by growth failures, the Markdown
report and ``pytest-imagesize diff``."""

from __future__ import annotations

from typing import Any

from ..ids import short_id
from ..measure.summary import BaseSummary
from ..sizes import format_size
from ..text import shown
from .changes import Comparison, Mover, PackageMover

MAX_LINES = 25


def signed(n: int) -> str:
    """``+1.2 MB`` / ``-300 B`` / ``±0``."""
    if n == 0:
        return "±0"
    return ("+" if n > 0 else "-") + format_size(abs(n))


def base_drift(old: BaseSummary | None, new: BaseSummary | None) -> str | None:
    """``base image debian:bookworm-slim changed: +2.0 MB, ID 1a2b… → 3c4d…`` or None."""
    if old is None or new is None or (old.id == new.id and old.size == new.size):
        return None
    return (
        f"base image {shown(new.ref)} changed: {signed(new.size - old.size)}, "
        f"ID {short_id(old.id or '?')}… → {short_id(new.id or '?')}…"
    )


def _file_line(mover: Mover) -> str:
    path = shown(mover.key)
    if mover.status == "added":
        return f"    {signed(mover.delta):>12}  {path} (new)"
    if mover.status == "removed":
        return f"    {signed(mover.delta):>12}  {path} (removed)"
    return f"    {signed(mover.delta):>12}  {path} ({format_size(mover.a)} → {format_size(mover.b)})"


def package_line(mover: PackageMover, comparison: Comparison) -> str:
    """``+38 MB  package libllvm19 (deb) new in layer 3: RUN apt-get install ...``."""
    what = f"package {shown(mover.name)} ({shown(mover.ecosystem)})"
    if mover.status == "removed":
        return f"    {signed(mover.delta):>12}  {what} gone"
    layer = mover.b.layer if mover.b else None
    layers = comparison.b.layers
    where = ""
    if layer is not None:
        where = f" in layer {layer}"
        if layer < len(layers) and layers[layer].instruction:
            where += f": {shown(layers[layer].instruction)}"
    if mover.status == "added":
        return f"    {signed(mover.delta):>12}  {what} new{where}"
    assert mover.a is not None and mover.b is not None
    versions = ""
    if mover.a.version != mover.b.version:
        versions = f", {shown(mover.a.version or '?')} → {shown(mover.b.version or '?')}"
    sizes = f"{format_size(mover.a.size)} → {format_size(mover.b.size)}"
    return f"    {signed(mover.delta):>12}  {what} ({sizes}{versions})"


def movers_lines(comparison: Comparison, max_lines: int = MAX_LINES) -> list[str]:
    """What moved most, a few lines per kind, at most ``max_lines`` in all."""
    lines: list[str] = []
    drift = base_drift(comparison.a.base, comparison.b.base)
    if drift:
        lines.append(f"  {drift}")
    added = [c for c in comparison.layers if c.status == "added"]
    removed = [c for c in comparison.layers if c.status == "removed"]
    if added or removed:
        lines.append("  layers (paired by diff ID):")
        for change in sorted(added + removed, key=lambda c: -c.size)[:4]:
            sign = "+" if change.status == "added" else "-"
            lines.append(
                f"    {sign}{format_size(change.size):>11}  {change.status}: {shown(change.instruction)}"
            )
    if comparison.files:
        lines.append("  files that moved most:")
        lines += [_file_line(m) for m in comparison.files[:6]]
    if comparison.packages:
        lines.append("  packages that moved:")
        lines += [package_line(m, comparison) for m in comparison.packages[:6]]
    grown_dirs = [m for m in comparison.dirs if m.delta > 0]
    if grown_dirs:
        lines.append("  directories that grew:")
        lines += [f"    {signed(m.delta):>12}  {shown(m.key)}" for m in grown_dirs[:4]]
    go = comparison.go_packages or comparison.go
    if go:
        lines.append("  Go " + ("packages" if comparison.go_packages else "modules") + " that moved:")
        for mover in go[:6]:
            new = " new" if mover.a is None else (" gone" if mover.b is None else "")
            lines.append(
                f"    {signed(mover.delta):>12}  {shown(mover.module)}{new} (in {shown(mover.binary)})"
            )
    return lines[:max_lines]


def comparison_json(comparison: Comparison, a_label: str, b_label: str) -> dict[str, Any]:
    """The ``pytest-imagesize diff --json`` document."""
    a, b = comparison.a, comparison.b

    def pair(old: int | None, new: int | None) -> dict[str, int | None]:
        return {"a": old, "b": new, "delta": None if old is None or new is None else new - old}

    return {
        "a": a_label,
        "b": b_label,
        "size": pair(a.size, b.size),
        "compressed_size": pair(a.compressed_size, b.compressed_size),
        "base": pair(a.base.size if a.base else None, b.base.size if b.base else None)
        | {
            "a_ref": a.base.ref if a.base else None,
            "b_ref": b.base.ref if b.base else None,
            "a_id": a.base.id if a.base else None,
            "b_id": b.base.id if b.base else None,
            "changed": comparison.base_changed,
        },
        "own": pair(a.own_size, b.own_size),
        "layers": [
            {"diff_id": c.diff_id, "status": c.status, "size": c.size, "instruction": c.instruction}
            for c in comparison.layers
        ],
        "files": [m.to_json("path") for m in comparison.files],
        "dirs": [m.to_json("path") for m in comparison.dirs],
        "go": [
            {"binary": m.binary, "module": m.module, "a": m.a, "b": m.b, "delta": m.delta}
            for m in comparison.go
        ],
        "go_packages": [
            {"binary": m.binary, "package": m.module, "a": m.a, "b": m.b, "delta": m.delta}
            for m in comparison.go_packages
        ],
        "packages": [m.to_json() for m in comparison.packages],
    }
