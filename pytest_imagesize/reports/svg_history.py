"""The size-over-commits chart of one image's series (``reports.history``) as inline SVG, for the
HTML report and the standalone page of ``pytest-imagesize history --html``.

Readable without JavaScript and without anything fetched: axes with their labels, a title, each
point's values in a ``<title>`` tooltip, a dashed line where the base image changed, and the values
as a table under the chart. Colours are presentation attributes (no ``style`` attribute, so a
page's Content-Security-Policy need not allow inline styles). Every point carries its numbers in
``data-*`` attributes, and the ``<svg>`` the scale (``data-ymin``/``data-ymax`` over the plot's
``data-top``/``data-bottom``, points evenly spaced from ``data-left`` to ``data-right``), so a
test can check positions against the series.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Sequence

from ..sizes import format_size
from .history import History, Point, Series, displayed

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 78, 620, 34, 188
INSET = 10  # the first and last points this far inside the axes
LINE = "#2f6db3"
BASE = "#c2571a"
GRID = "#d5dae0"
INK = "#333"


def _t(value: object) -> str:
    """Escaped text for element content and attribute values (a login's password masked, control
    and bidi characters and lone surrogates shown as escapes first)."""
    return html.escape(displayed(str(value)), quote=True)


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _field(series: Series) -> str:
    """What the chart plots: the size, or (entries that recorded none comparable) the compressed size."""
    return "size" if any(p.size is not None for p in series.points) else "compressed_size"


def _value(point: Point, field: str) -> int | None:
    return point.size if field == "size" else point.compressed_size


def _range(values: Sequence[int]) -> tuple[int, int]:
    low, high = min(values), max(values)
    if low == high:
        pad = max(1, low // 100)
        return max(0, low - pad), high + pad
    pad = (high - low) // 10
    return max(0, low - pad), high + pad


def _tooltip(point: Point) -> str:
    parts = [
        f"{point.commit.short} {point.commit.date[:10]}",
        f"size {format_size(point.size)}",
        f"compressed {format_size(point.compressed_size)}",
    ]
    if point.own_size is not None:
        parts.append(f"own {format_size(point.own_size)}")
    if point.base_ref is not None:
        parts.append(f"base {point.base_ref}")
    if point.commit.subject:
        parts.append(point.commit.subject[:100])
    return " · ".join(parts)


def chart(series: Series, index: int = 0) -> str:
    """The chart of one series: an ``<svg>`` followed by its values as a collapsed table."""
    field = _field(series)
    plotted = [(i, p, _value(p, field)) for i, p in enumerate(series.points)]
    values = [v for _, _, v in plotted if v is not None]
    count = len(series.points)
    title_id = f"history-title-{index}"
    what = "size" if field == "size" else "compressed size"
    title = f"{series.title}: {what} over {count} change{'s' if count != 1 else ''} of the baseline"
    low, high = _range(values) if values else (0, 1)

    def x(i: int) -> float:
        first, last = LEFT + INSET, RIGHT - INSET
        return (first + last) / 2 if count == 1 else first + i * (last - first) / (count - 1)

    def y(v: int) -> float:
        return BOTTOM - (v - low) * (BOTTOM - TOP) / (high - low)

    parts = [
        f'<svg class="history-chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{title_id}"'
        f' data-image="{_t(series.name)}" data-platform="{_t(series.platform or "")}" data-field="{field}"'
        f' data-ymin="{low}" data-ymax="{high}" data-left="{LEFT + INSET}" data-right="{RIGHT - INSET}"'
        f' data-top="{TOP}" data-bottom="{BOTTOM}" data-points="{count}"'
        ' font-family="sans-serif" font-size="11">',
        f'<title id="{title_id}">{_t(title)}</title>',
        f'<text x="{WIDTH / 2:g}" y="16" text-anchor="middle" font-size="13" fill="{INK}">{_t(title)}</text>',
    ]
    for tick in sorted({low, (low + high) // 2, high}):
        ty = _num(y(tick))
        parts.append(
            f'<line x1="{LEFT}" x2="{RIGHT}" y1="{ty}" y2="{ty}" stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{ty}" dy="0.35em" text-anchor="end" fill="{INK}"'
            f' class="y-tick">{_t(format_size(tick))}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{BOTTOM}" stroke="{INK}"/>'
        f'<line x1="{LEFT}" x2="{RIGHT}" y1="{BOTTOM}" y2="{BOTTOM}" stroke="{INK}"/>'
        f'<text x="14" y="{(TOP + BOTTOM) / 2:g}" text-anchor="middle" fill="{INK}"'
        f' transform="rotate(-90 14 {(TOP + BOTTOM) / 2:g})">{_t(what)}</text>'
        f'<text x="{(LEFT + RIGHT) / 2:g}" y="{HEIGHT - 8}" text-anchor="middle" fill="{INK}">'
        "commits that changed the baseline, oldest to newest</text>"
    )
    if series.points:
        first, last = series.points[0].commit, series.points[-1].commit
        parts.append(
            f'<text x="{LEFT}" y="{BOTTOM + 16}" text-anchor="start" fill="{INK}" class="x-first">'
            f"{_t(first.short)} {_t(first.date[:10])}</text>"
        )
        if count > 1:
            parts.append(
                f'<text x="{RIGHT}" y="{BOTTOM + 16}" text-anchor="end" fill="{INK}" class="x-last">'
                f"{_t(last.short)} {_t(last.date[:10])}</text>"
            )
    previous: Point | None = None
    for i, point in enumerate(series.points):
        if point.base_changed:
            bx = _num(x(i))
            before = previous.base_ref if previous else "?"
            label = f"base image changed at {point.commit.short}: {before} → {point.base_ref}"
            parts.append(
                f'<g class="base-change" data-commit="{_t(point.commit.sha)}" data-index="{i}">'
                f'<line x1="{bx}" x2="{bx}" y1="{TOP}" y2="{BOTTOM}" stroke="{BASE}" stroke-dasharray="4 3"/>'
                f'<text x="{bx}" y="{TOP - 3}" text-anchor="middle" fill="{BASE}">base</text>'
                f"<title>{_t(label)}</title></g>"
            )
        previous = point
    line = " ".join(f"{_num(x(i))},{_num(y(v))}" for i, _, v in plotted if v is not None)
    if len(values) > 1:
        parts.append(f'<polyline points="{line}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    for i, point, value in plotted:
        if value is None:
            continue
        parts.append(
            f'<circle class="point" cx="{_num(x(i))}" cy="{_num(y(value))}" r="3.5" fill="{LINE}"'
            f' data-index="{i}" data-commit="{_t(point.commit.sha)}" data-value="{value}"'
            f' data-size="{"" if point.size is None else point.size}"'
            f' data-compressed-size="{"" if point.compressed_size is None else point.compressed_size}"'
            f' data-own-size="{"" if point.own_size is None else point.own_size}"'
            f' data-base-changed="{"true" if point.base_changed else "false"}">'
            f"<title>{_t(_tooltip(point))}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts) + _table(series)


def _table(series: Series) -> str:
    rows = []
    for point in series.points:
        base = _t(point.base_ref or "-") + (" (changed)" if point.base_changed else "")
        rows.append(
            f"<tr><td><code>{_t(point.commit.short)}</code></td><td>{_t(point.commit.date[:10])}</td>"
            f'<td class="num" data-bytes="{"" if point.size is None else point.size}">'
            f"{_t(format_size(point.size))}</td>"
            f'<td class="num">{_t(format_size(point.compressed_size))}</td>'
            f'<td class="num">{_t(format_size(point.own_size))}</td><td>{base}</td>'
            f"<td>{_t(point.commit.subject[:100])}</td></tr>"
        )
    return (
        '<details class="history-values"><summary>Values</summary><table class="history-table">'
        "<thead><tr><th>Commit</th><th>Date</th><th>Size</th><th>Compressed</th><th>Own</th>"
        f"<th>Base image</th><th>Subject</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


def notes(history: History) -> list[str]:
    """What limited the history, for under the charts."""
    found = []
    if history.shallow_since is not None:
        found.append(
            f"A shallow clone: the history goes back only to {history.shallow_since[:10]} "
            "(git fetch --unshallow, or fetch-depth: 0 for actions/checkout, fetches the rest)."
        )
    if history.skipped:
        found.append(f"Versions that do not parse, skipped: {', '.join(history.skipped)}.")
    return found


def report_section(series: Series, history: History, index: int) -> str:
    """The HTML report's history block of one image."""
    extra = "".join(f'<p class="hint">{_t(note)}</p>' for note in notes(history))
    return f"<h3>Size over the baseline's history</h3>{chart(series, index)}{extra}"


_STYLE = (
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:900px}"
    "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
    ".meta,.note{color:#555}.note{font-size:13px}"
    "table{border-collapse:collapse;font-size:13px;margin:6px 0}"
    "td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "svg{display:block;max-width:100%;height:auto}"
)


def page(history: History) -> str:
    """A standalone page: a chart and a table per series; no script, nothing fetched."""
    style_hash = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'sha256-{style_hash}'"
    meta = f"{history.commits} commit{'s' if history.commits != 1 else ''} changed {history.path}"
    if history.since:
        meta += f" after {history.since}"
    sections = "".join(
        f'<section class="series" id="series-{i}"><h2>{_t(series.title)}</h2>{chart(series, i)}</section>'
        for i, series in enumerate(history.series)
    )
    if not history.series:
        sections = '<p class="empty">No image entries in any version read.</p>'
    notes_html = "".join(f'<p class="note">{_t(note)}</p>' for note in notes(history))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_t(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>Image size history</title><style>{_STYLE}</style></head><body><main>"
        f'<h1>Image size history</h1><p class="meta">{_t(meta)}</p>{notes_html}{sections}'
        '<footer class="note">Made by pytest-imagesize history. Sizes in decimal units '
        "(1 MB = 1,000,000 bytes); hover a point for its values.</footer></main></body></html>\n"
    )
