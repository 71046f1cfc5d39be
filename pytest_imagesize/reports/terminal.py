"""The terminal report: one row per image (shared with Markdown), the table, per-layer lines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..baseline import BaselineEntry, lookup
from ..checks import Outcome
from ..measure.image import Image
from ..sizes import format_delta, format_size
from ..text import shown

COLUMNS = ["image", "id", "size", "compressed", "layers", "limit", "headroom", "verdict"]


def _tightest(outcomes: Sequence[Outcome]) -> Outcome:
    def relative(o: Outcome) -> float:
        room = o.headroom
        if room is None:
            return float("inf")
        return room / o.limit if o.limit else 0.0

    failed = [o for o in outcomes if o.outcome == "failed"]
    return min(failed or outcomes, key=relative)


def verdict(outcomes: Sequence[Outcome]) -> str:
    kinds = {o.outcome for o in outcomes}
    for word in ("failed", "warned", "passed"):
        if word in kinds:
            return word
    return "-"


def _deltas(image: Image, entry: BaselineEntry | None, with_bytes: bool) -> tuple[str, str]:
    if entry is None:
        return "new", "new"
    if entry.size is None or not entry.size_comparable:
        size = "not comparable"
    else:
        size = format_delta(entry.size, image.size, with_bytes=with_bytes)
    compressed = ""
    if image.analysed and entry.compressed_size is not None:
        compressed = format_delta(entry.compressed_size, image.compressed_size, with_bytes=with_bytes)
    return size, compressed


def rows(
    images: Mapping[str, Image],
    outcomes: Sequence[Outcome],
    baseline: Mapping[str, BaselineEntry] | None = None,
) -> list[dict[str, Any]]:
    """One row per measured image, in the order the images were first measured. With a
    baseline, ``size_delta``/``compressed_delta`` say how each changed (and a column shows it)."""
    result: list[dict[str, Any]] = []
    for name, image in images.items():
        mine = [o for o in outcomes if o.image == name]
        limits = []
        for o in mine:
            text = o.limit_text
            if text not in limits:
                limits.append(text)
        tight = _tightest(mine) if mine else None
        result.append(
            {
                "image": name,
                "id": image.short_id,
                "size": format_size(image.size),
                "compressed": format_size(image.compressed_size) if image.analysed else "-",
                "layers": str(image.layer_count),
                "limit": ", ".join(limits) or "-",
                "headroom": tight.headroom_text if tight else "-",
                "verdict": verdict(mine),
                "extra": {},
            }
        )
        base = image.base
        if base is not None:
            result[-1]["extra"].update(base=format_size(base.size), own=format_size(image.own_size))
        if baseline is not None:
            entry = lookup(baseline, name)
            size_delta, compressed_delta = _deltas(image, entry, with_bytes=False)
            result[-1].update(size_delta=size_delta, compressed_delta=compressed_delta)
            result[-1]["extra"]["vs baseline"] = _deltas(image, entry, with_bytes=True)[0]
    return result


TOP_WASTED_SHOWN = 10
TOP_GO = 8


def go_lines(image: Image, top: int = TOP_GO) -> list[str]:
    """Per Go binary: what it is, then its top modules and packages with their share of the file."""
    binaries = image.go_binaries
    out = [f"{image.label}: {len(binaries)} Go binar{'y' if len(binaries) == 1 else 'ies'}"]
    for binary in sorted(binaries, key=lambda b: -b.size):
        facts = [shown(binary.go_version or "?"), "stripped" if binary.stripped else "not stripped"]
        facts.append("static" if binary.static else "dynamic")
        if binary.is_test:
            facts.append("test binary")
        out.append(f"  {shown(binary.path)}  {format_size(binary.size)}  ({', '.join(facts)})")
        if binary.problem:
            out.append(f"    not fully read: {shown(binary.problem)}")
        if binary.packed:
            continue
        for path, module in binary.top_modules(top):
            out.append(
                f"    {format_size(module.size):>10} {_share(module.size, binary.size)}  module {shown(path)}"
            )
        packages = sorted(binary.packages.items(), key=lambda kv: (-kv[1].size, kv[0]))[:top]
        for path, package in packages:
            share = _share(package.size, binary.size)
            out.append(f"    {format_size(package.size):>10} {share}  package {shown(path)}")
    return out


def _share(part: int, whole: int) -> str:
    return f"{part / whole * 100:5.1f} %" if whole else "    - "


def table(report_rows: Sequence[dict[str, Any]]) -> list[str]:
    """Plain-text table lines: columns left-aligned, sizes right-aligned."""
    extra_keys: list[str] = []
    for row in report_rows:
        for key in row.get("extra") or {}:
            if key not in extra_keys:
                extra_keys.append(key)
    header = COLUMNS + extra_keys
    cells = [
        [str(row.get(c, "-")) for c in COLUMNS]
        + [str((row.get("extra") or {}).get(k, "-")) for k in extra_keys]
        for row in report_rows
    ]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    right = {"size", "compressed", "layers", "headroom"}

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if header[i] in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=False))
        ]
        return "  ".join(parts).rstrip()

    return [line(header)] + [line(r) for r in cells]


def layer_lines(image: Image) -> list[str]:
    """Per-layer rows (instruction, size, compressed, wasted) and the top wasted files."""
    analysis = image.analysis()
    out = [f"{image.label}: {image.layer_count} layers, efficiency {analysis.efficiency:.4f}"]
    out.append(f"  {'#':>3}  {'size':>10}  {'compressed':>10}  {'wasted':>10}  instruction")
    for layer, stats in zip(image.layers, analysis.layers, strict=False):
        out.append(
            f"  {layer.index:>3}  {format_size(layer.size):>10}  {format_size(stats.compressed_size):>10}"
            f"  {format_size(stats.wasted):>10}  {shown(layer.instruction)}"
        )
    if analysis.hidden:
        out.append("  top wasted files (bytes hidden by later layers):")
        for copy in analysis.hidden[:TOP_WASTED_SHOWN]:
            path = shown(copy.path)
            path = path if path == copy.path else f"'{path}'"  # quoted: the name holds escapes
            out.append(f"    {format_size(copy.size):>10}  {path}")
    return out
