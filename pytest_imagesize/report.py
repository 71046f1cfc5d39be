"""Reports of the measured images: terminal table, JSON (schema version 1)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checks import Outcome
from .engine import EngineInfo
from .image import Image
from .sizes import format_delta, format_size

if TYPE_CHECKING:
    from .baseline import Entry

COLUMNS = ["image", "id", "size", "compressed", "layers", "limit", "headroom", "verdict"]
JSON_VERSION = 1


def _limit_text(outcome: Outcome) -> str:
    if outcome.kind == "max_image_size":
        return format_size(int(outcome.limit)) + (" (c)" if outcome.compressed else "")
    if outcome.kind == "max_image_layers":
        return f"{int(outcome.limit)} layers"
    if outcome.kind == "max_wasted_bytes":
        return format_size(int(outcome.limit)) + " waste"
    if outcome.kind == "max_image_growth":
        return f"growth {outcome.limit:g} %" + (" (c)" if outcome.compressed else "")
    return f"eff {outcome.limit:.2f}"


def _headroom_text(outcome: Outcome) -> str:
    room = outcome.headroom
    if outcome.kind in ("max_image_size", "max_wasted_bytes"):
        text = format_size(abs(int(room)))
    elif outcome.kind == "max_image_layers":
        text = f"{abs(int(room))} layers"
    elif outcome.kind == "max_image_growth":
        text = "new" if outcome.note == "new" else f"{abs(room):.1f} %"
    else:
        text = f"{abs(room):.3f}"
    return text if room >= 0 else f"{text} over"


def _tightest(outcomes: Sequence[Outcome]) -> Outcome:
    def relative(o: Outcome) -> float:
        return o.headroom / o.limit if o.limit else 0.0

    failed = [o for o in outcomes if o.outcome == "failed"]
    return min(failed or outcomes, key=relative)


def verdict(outcomes: Sequence[Outcome]) -> str:
    kinds = {o.outcome for o in outcomes}
    for word in ("failed", "warned", "passed"):
        if word in kinds:
            return word
    return "-"


def _deltas(image: Image, entry: Entry | None, with_bytes: bool) -> tuple[str, str]:
    if entry is None:
        return "new", "new"
    size = format_delta(entry.size, image.size, with_bytes=with_bytes)
    compressed = ""
    if image.analysed and entry.compressed_size is not None:
        compressed = format_delta(entry.compressed_size, image.compressed_size, with_bytes=with_bytes)
    return size, compressed


def rows(
    images: dict[str, Image], outcomes: Sequence[Outcome], baseline: dict[str, Entry] | None = None
) -> list[dict[str, Any]]:
    """One row per measured image, in the order the images were first measured. With a
    baseline, ``size_delta``/``compressed_delta`` say how each changed (and a column shows it)."""
    result: list[dict[str, Any]] = []
    for name, image in images.items():
        mine = [o for o in outcomes if o.image == name]
        limits = []
        for o in mine:
            text = _limit_text(o)
            if text not in limits:
                limits.append(text)
        tight = _tightest(mine) if mine else None
        result.append(
            {
                "image": name,
                "id": image.short_id,
                "size": format_size(image.size),
                "compressed": format_size(image.compressed_size) if image.analysed else "-",
                "layers": str(len(image.layers)),
                "limit": ", ".join(limits) or "-",
                "headroom": _headroom_text(tight) if tight else "-",
                "verdict": verdict(mine),
                "extra": {},
            }
        )
        if baseline is not None:
            size_delta, compressed_delta = _deltas(image, baseline.get(name), with_bytes=False)
            result[-1].update(size_delta=size_delta, compressed_delta=compressed_delta)
            result[-1]["extra"]["vs baseline"] = _deltas(image, baseline.get(name), with_bytes=True)[0]
    return result


_VERDICT_MARK = {"passed": "✅ passed", "failed": "❌ failed", "warned": "⚠️ warned"}


def markdown(report_rows: Sequence[dict[str, Any]], engine: EngineInfo | None) -> str:
    """A Markdown table for a pull-request comment or a CI step summary."""
    lines = [
        "### Image sizes",
        "",
        "| image | size | compressed | layers | limit | headroom | verdict |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for row in report_rows:
        size = row["size"] + (f" ({row['size_delta']})" if row.get("size_delta") else "")
        compressed = row["compressed"]
        if row.get("compressed_delta") and compressed != "-":
            compressed += f" ({row['compressed_delta']})"
        cells = [
            f"`{row['image']}`",
            size,
            compressed,
            row["layers"],
            row["limit"],
            row["headroom"],
            _VERDICT_MARK.get(row["verdict"], row["verdict"]),
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    if engine is not None:
        lines += ["", f"Measured by {engine.describe()}. MB = 1,000,000 bytes; (c) = compressed (pull) size."]
    return "\n".join(lines) + "\n"


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
            v.rjust(w) if header[i] in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))
        ]
        return "  ".join(parts).rstrip()

    return [line(header)] + [line(r) for r in cells]


def layer_lines(image: Image) -> list[str]:
    """Per-layer rows (instruction, size, compressed, wasted) and the top wasted files."""
    analysis = image.analysis()
    out = [
        f"{image.name} ({image.short_id}): {len(image.layers)} layers, efficiency {analysis.efficiency:.4f}"
    ]
    out.append(f"  {'#':>3}  {'size':>10}  {'compressed':>10}  {'wasted':>10}  instruction")
    for layer, stats in zip(image.layers, analysis.layers):
        out.append(
            f"  {layer.index:>3}  {format_size(layer.size):>10}  {format_size(stats.compressed_size):>10}"
            f"  {format_size(stats.wasted):>10}  {layer.instruction}"
        )
    if analysis.top_wasted:
        out.append("  top wasted files (bytes hidden by later layers):")
        for path, size in analysis.top_wasted:
            out.append(f"    {format_size(size):>10}  {path}")
    return out


def image_json(image: Image) -> dict[str, Any]:
    analysed = image.analysed
    analysis = image.analysis() if analysed else None
    return {
        "name": image.name,
        "ref": image.ref,
        "id": image.id,
        "tags": list(image.tags),
        "size": image.size,
        "compressed_size": analysis.compressed_size if analysis else None,
        "layers": [
            {
                "created_by": layer.created_by,
                "size": layer.size,
                "compressed_size": layer.compressed_size if analysed else None,
                "wasted_bytes": analysis.layers[i].wasted if analysis else None,
            }
            for i, layer in enumerate(image.layers)
        ],
        "wasted_bytes": analysis.wasted_bytes if analysis else None,
        "efficiency": analysis.efficiency if analysis else None,
    }


def document(
    engine: EngineInfo | None, images: dict[str, Image], outcomes: Sequence[Outcome]
) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "engine": engine.to_json() if engine else None,
        "images": [image_json(image) for image in images.values()],
        "checks": [o.to_json() for o in outcomes],
    }


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        try:  # keep the file's mode; a new file gets the usual 0666 less umask
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data, indent=2) + "\n")
