"""The Markdown report: a table for a pull-request comment or a CI step summary."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..engine.protocol import EngineInfo
from ..text import shown

FENCE = "`" * 3
_VERDICT_MARK = {"passed": "✅ passed", "failed": "❌ failed", "warned": "⚠️ warned"}


def markdown(
    report_rows: Sequence[dict[str, Any]],
    engine: EngineInfo | None,
    notes: Sequence[str] = (),
    details: Mapping[str, Sequence[str]] | None = None,
    packages: Sequence[str] = (),
) -> str:
    """A Markdown table for a pull-request comment or a CI step summary; ``notes`` (base image
    drift, base/own sizes) follow it, then a collapsed block of top movers per grown image, then
    the blocks of the largest packages per image (``packages``: lines from
    ``reports.packages.markdown_lines``)."""
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
        lines.append("| " + " | ".join(shown(str(c)).replace("|", "\\|") for c in cells) + " |")
    if notes:
        lines.append("")
        lines += [f"- {inline(note)}" for note in notes]
    for name, movers in (details or {}).items():
        if movers:
            summary = (
                f"<details><summary><code>{_html(name)}</code>: what changed since the baseline</summary>"
            )
            lines += [
                "",
                summary,
                "",
                FENCE,
                *(shown(m).replace(FENCE, "'" * 3) for m in movers),
                FENCE,
                "",
                "</details>",
            ]
    lines += packages
    if engine is not None:
        lines += ["", f"Measured by {engine.describe()}. MB = 1,000,000 bytes; (c) = compressed (pull) size."]
    return "\n".join(lines) + "\n"


_MARKUP = re.compile(r"([\\`*_\[\]|#@!~])")  # what Markdown (GitHub's) would read as markup


def inline(text: str) -> str:
    """``text`` as literal Markdown inline text: shown safely, HTML entities and markup escaped."""
    escaped = shown(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKUP.sub(r"\\\1", escaped)


def _html(text: str) -> str:
    return shown(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
