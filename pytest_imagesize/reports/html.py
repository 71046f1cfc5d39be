"""``--image-report-html``: one self-contained HTML page for the measured images.

The page carries the JSON report (schema version 3) in a ``<script type="application/json">``
element and renders everything from it: a summary per image (sizes, verdicts, layers, wasted
copies, change against the baseline) as static HTML, and a zoomable treemap of the final
filesystem drawn by a small script with d3-hierarchy's treemap layout. Everything is inlined (no
network at view time); a Content-Security-Policy lets only the page's own scripts run.

Visible sizes are ``format_size`` of the JSON's numbers and carry the raw bytes in ``data-bytes``.
Names from images (paths, instructions, tags) are escaped text everywhere: in the markup, and in
the embedded JSON (``<``, ``>``, ``&`` and U+2028/9 as ``\\uXXXX``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Union

from ..atomic import write_atomic
from ..checks import KINDS, CheckKind
from ..sizes import format_size
from ..text import shown
from . import svg_history
from .history import History
from .html_packages import packages_section, with_package_trees

__all__ = ["PALETTE", "embed_json", "render", "write"]

StrPath = Union[str, "os.PathLike[str]"]

# Layer colours (index = layer number modulo the length): distinct, light enough for dark text.
PALETTE = (
    "#7fb3e0",
    "#f2b36f",
    "#8fd19e",
    "#e79aa5",
    "#b9a3e3",
    "#e6d36a",
    "#7fd3d0",
    "#d6a98c",
    "#a9c97a",
    "#f0a3d8",
    "#9fb0c4",
    "#d9b8f0",
)

_NO_LAYER = "#c9ced4"

_OUTCOME_ORDER = ("failed", "warned", "passed")


# -- assets -------------------------------------------------------------------------------------


@cache
def _asset(name: str) -> str:
    return (resources.files("pytest_imagesize.reports") / "assets" / name).read_text(encoding="utf-8")


def _script_safe(code: str) -> str:
    """Inline script text that cannot end its ``<script>`` element early."""
    return code.replace("</", "<\\/")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


# -- escaping -----------------------------------------------------------------------------------


def _clean(value: object) -> str:
    """``value`` as text that can be written as UTF-8: undecodable bytes kept by Python as lone
    surrogates (``surrogateescape``) become U+FFFD."""
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _t(value: object) -> str:
    """Escaped text for element content and attribute values (control and bidi characters shown
    as escapes first)."""
    return html.escape(_clean(shown(str(value))), quote=True)


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` (JSON.parse rejects them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def embed_json(data: Any) -> str:
    """JSON for a ``<script type="application/json">`` element: no ``<``, ``>`` or ``&``
    anywhere (so no ``</script>`` or ``<!--``), ASCII only (so no U+2028/9 either)."""
    text = json.dumps(_finite(data), ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


# -- numbers ------------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)


def _size(value: Any, field: str = "", cls: str = "num") -> str:
    """A size as text, with its bytes in ``data-bytes``; ``-`` when not measured."""
    n = _int(value)
    attrs = f' data-field="{_t(field)}"' if field else ""
    if n is None:
        return f'<span class="{cls} na"{attrs} data-bytes="">-</span>'
    return f'<span class="{cls}"{attrs} data-bytes="{n}" title="{n:,} B">{_t(format_size(n))}</span>'


def _delta(value: Any, field: str = "") -> str:
    n = _int(value)
    if n is None:
        return _size(None, field)
    text = ("+" if n > 0 else "") + format_size(n)
    cls = "num delta-up" if n > 0 else "num delta-down" if n < 0 else "num"
    attrs = f' data-field="{_t(field)}"' if field else ""
    return f'<span class="{cls}"{attrs} data-bytes="{n}" title="{n:+,} B">{_t(text)}</span>'


def _percent(value: Any, field: str = "") -> str:
    attrs = f' data-field="{_t(field)}"' if field else ""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f'<span class="num na"{attrs} data-value="">-</span>'
    return f'<span class="num"{attrs} data-value="{value!r}">{value * 100:.2f} %</span>'


def _count(value: Any, field: str = "") -> str:
    attrs = f' data-field="{_t(field)}"' if field else ""
    n = _int(value)
    if n is None:
        return f'<span class="num na"{attrs} data-value="">-</span>'
    return f'<span class="num"{attrs} data-value="{n}">{n:,}</span>'


def _growth_percent(value: Any, key: str) -> str:
    """A limit in percent (``5 %``) or a signed change in percent (``+0.80 %``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f'<span class="num na" data-field="{key}" data-value="">-</span>'
    if not math.isfinite(value):
        text = "+inf %" if value > 0 else "-"
    else:
        text = f"{value:g} %" if key == "limit" else f"{value:+.2f} %"
    return f'<span class="num" data-field="{key}" data-value="{_t(repr(value))}">{_t(text)}</span>'


def _plain(value: Any, key: str) -> str:
    if value is None:
        return f'<span class="num na" data-field="{key}">-</span>'
    return f'<span class="num" data-field="{key}">{_t(value)}</span>'


_UNIT_VALUE: dict[str, Callable[[Any, str], str]] = {
    "bytes": _size,
    "count": _count,
    "ratio": _percent,
    "percent": _growth_percent,
}


def _record(check: Mapping[str, Any]) -> CheckKind | None:
    return KINDS.get(str(check.get("kind", "")))


def _check_value(check: Mapping[str, Any], key: str) -> str:
    """A check's limit or actual value, in the unit its kind's record names; an actual value that
    was not measured shows the outcome's note (``new``: not in the baseline) where it has one."""
    value = check.get(key)
    if key == "actual" and value is None and check.get("note"):
        return f'<span class="num" data-field="{key}" data-value="">{_t(check["note"])}</span>'
    record = _record(check)
    return _UNIT_VALUE.get(record.unit if record else "", _plain)(value, key)


def _detail_text(record: CheckKind | None, detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    if record is not None and record.detail_text is not None and isinstance(detail, Mapping):
        return record.detail_text(detail)
    return json.dumps(_finite(detail))


# -- page parts ---------------------------------------------------------------------------------


def _badge(outcome: str) -> str:
    cls = outcome if outcome in _OUTCOME_ORDER else "none"
    return f'<span class="badge {cls}">{_t(outcome)}</span>'


def _worst(checks: Sequence[Mapping[str, Any]]) -> str:
    outcomes = {str(c.get("outcome")) for c in checks}
    for word in _OUTCOME_ORDER:
        if word in outcomes:
            return word
    return "no checks"


def _stat(label: str, value: str, sub: str = "") -> str:
    sub_html = f'<div class="sub">{sub}</div>' if sub else ""
    return (
        f'<div class="stat"><div class="label">{_t(label)}</div>'
        f'<div class="value">{value}</div>{sub_html}</div>'
    )


def _engine_line(engine: Mapping[str, Any] | None) -> str:
    if not engine:
        return ""
    parts = [
        " ".join(str(engine[k]) for k in ("name", "version") if engine.get(k)),
        *(str(engine[k]) for k in ("storage_driver", "image_store", "arch") if engine.get(k)),
    ]
    return "Engine: " + " · ".join(p for p in parts if p)


def _checks_table(checks: Sequence[Mapping[str, Any]]) -> str:
    if not checks:
        return '<p class="empty">No size checks for this image.</p>'
    rows = []
    for check in checks:
        kind = str(check.get("kind", ""))
        record = _record(check)
        compressed = bool(check.get("compressed"))
        what = record.title(compressed) if record else ("compressed " if compressed else "") + kind
        details = check.get("details")
        detail_html = ""
        if details:
            lines = details if isinstance(details, (list, tuple)) else [details]
            items = "".join(f"<li>{_t(_detail_text(record, line))}</li>" for line in lines)
            detail_html = f'<details class="more"><summary>details</summary><ul>{items}</ul></details>'
        rows.append(
            f'<tr data-kind="{_t(kind)}" data-outcome="{_t(check.get("outcome", ""))}">'
            f'<td class="path">{_t(check.get("test", ""))}{detail_html}</td>'
            f"<td>{_t(what)}</td>"
            f'<td class="n">{_check_value(check, "limit")}</td>'
            f'<td class="n">{_check_value(check, "actual")}</td>'
            f"<td>{_badge(str(check.get('outcome', '-')))}</td></tr>"
        )
    return (
        '<table class="checks"><thead><tr><th>Test</th><th>Check</th><th class="n">Limit</th>'
        f'<th class="n">Actual</th><th>Result</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _layer_label(layer: Mapping[str, Any]) -> str:
    text = str(layer.get("created_by") or "")
    return " ".join(text.split()) or "(no instruction recorded)"


def _layers_table(layers: Sequence[Mapping[str, Any]]) -> str:
    if not layers:
        return '<p class="empty">No layers.</p>'
    rows = []
    for i, layer in enumerate(layers):
        base = layer.get("from_base")
        tag = (
            '<span class="tag">base</span>'
            if base
            else '<span class="tag own">own</span>'
            if base is not None
            else ""
        )
        label = _layer_label(layer)
        rows.append(
            f'<tr data-layer="{i}"><td class="n"><span class="legend-sw c{i % len(PALETTE)}"></span>{i}</td>'
            f'<td class="instr" title="{_t(label)}">{_t(label)}</td>'
            f'<td class="n">{_size(layer.get("size"), "size")}</td>'
            f'<td class="n">{_size(layer.get("compressed_size"), "compressed_size")}</td>'
            f'<td class="n">{_size(layer.get("wasted_bytes"), "wasted_bytes")}</td>'
            f"<td>{tag}</td></tr>"
        )
    return (
        '<div class="scroll"><table class="layers"><thead><tr><th class="n">#</th><th>Instruction</th>'
        '<th class="n">Size</th><th class="n">Compressed</th><th class="n">Wasted</th><th></th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _wasted_table(wasted: Sequence[Mapping[str, Any]] | None, layers: Sequence[Mapping[str, Any]]) -> str:
    if wasted is None:
        return '<p class="empty">Not analysed.</p>'
    if not wasted:
        return '<p class="empty">No hidden copies: every byte written survives in the final filesystem.</p>'
    rows = []
    for entry in wasted:
        layer = _int(entry.get("layer"))
        layer_html = "-"
        if layer is not None:
            label = _layer_label(layers[layer]) if 0 <= layer < len(layers) else ""
            layer_html = f'<span class="tag" title="{_t(label)}">layer {layer}</span>'
        rows.append(
            f'<tr><td class="path">{_t(entry.get("path", ""))}</td>'
            f'<td class="n">{_size(entry.get("size"), "size")}</td><td>{layer_html}</td></tr>'
        )
    return (
        '<div class="scroll"><table class="wasted"><thead><tr><th>Path (hidden or deleted copy)</th>'
        f'<th class="n">Size</th><th>Written by</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def _legend(treemap: Mapping[str, Any], layers: Sequence[Mapping[str, Any]]) -> str:
    by_layer = {int(k): int(v) for k, v in (treemap.get("layer_bytes") or [])}
    indices = sorted(by_layer) if by_layer else list(range(len(layers)))
    items = []
    for i in indices:
        label = _layer_label(layers[i]) if 0 <= i < len(layers) else "(unknown layer)"
        size = f" {_size(by_layer[i])}" if i in by_layer else ""
        items.append(
            f'<li class="c{i % len(PALETTE)}" title="{_t(label)}"><span class="sw"></span>'
            f'<span class="txt">#{i} {_t(label)}</span>{size}</li>'
        )
    return f'<ul class="legend">{"".join(items)}</ul>'


def _go_table(binaries: Sequence[Mapping[str, Any]] | None, zoomable: bool) -> str:
    if not binaries:
        return ""
    rows = []
    for binary in binaries:
        path = str(binary.get("path", ""))
        modules = binary.get("modules") or []
        packages = binary.get("packages") or []
        rows.append(
            f'<tr><td class="path">{_t(path)}</td><td class="n">{_size(binary.get("size"), "size")}</td>'
            f'<td class="n">{len(modules):,}</td><td class="n">{len(packages):,}</td>'
            + (
                f'<td><button type="button" class="zoom-to" data-zoom-path="{_t(path)}">show</button></td>'
                if zoomable
                else "<td></td>"
            )
            + "</tr>"
        )
    return (
        "<h3>Go binaries</h3>"
        '<div class="scroll"><table class="go"><thead><tr><th>Binary</th><th class="n">Size</th>'
        '<th class="n">Modules</th><th class="n">Packages</th><th></th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        + (
            '<p class="hint">In the treemap a Go binary opens into its modules, then their packages.</p>'
            if zoomable
            else ""
        )
    )


def _baseline(baseline: Mapping[str, Any] | None) -> str:
    if not baseline:
        return ""
    rows = []
    for label, before, delta in (
        ("Size", "size", "delta"),
        ("Compressed", "compressed_size", "compressed_delta"),
    ):
        if baseline.get(before) is None and baseline.get(delta) is None:
            continue  # not measured that way in the baseline
        rows.append(
            f"<dt>{label}</dt><dd>{_size(baseline.get(before), 'baseline_' + before)} in the baseline, "
            f"now {_delta(baseline.get(delta), delta)}</dd>"
        )
    if not rows:
        return ""
    return f'<h3>Change against the baseline</h3><dl class="facts baseline">{"".join(rows)}</dl>'


def _image(index: int, image: Mapping[str, Any], checks: Sequence[Mapping[str, Any]], chart: str = "") -> str:
    name = str(image.get("name", f"image {index}"))
    layers: list[Mapping[str, Any]] = list(image.get("layers") or [])
    base = image.get("base") or None
    treemap = image.get("treemap")
    wasted = image.get("wasted_files")
    if wasted is None and isinstance(treemap, Mapping):
        wasted = treemap.get("wasted")
    verdict = _worst(checks)

    base_sub = ""
    if base:
        base_sub = (
            f"own {_size(image.get('own_size'), 'own_size')} on base {_size(base.get('size'), 'base_size')}"
        )
    stats = [
        _stat("Size", _size(image.get("size"), "size"), base_sub),
        _stat(
            "Compressed",
            _size(image.get("compressed_size"), "compressed_size"),
            f"own {_size(image.get('own_compressed_size'), 'own_compressed_size')}"
            if image.get("own_compressed_size") is not None
            else "",
        ),
        _stat("Layers", _count(len(layers), "layers")),
        _stat("Wasted", _size(image.get("wasted_bytes"), "wasted_bytes"), "hidden or deleted copies"),
        _stat("Efficiency", _percent(image.get("efficiency"), "efficiency")),
    ]
    if image.get("baseline"):
        stats.append(_stat("Since baseline", _delta(image["baseline"].get("delta"), "baseline_delta")))

    platform = image.get("platform")
    facts = [
        ("Platform", _t(platform or "the engine's")),
        ("Source", _t(image.get("source") or "engine")),
        ("Reference", _t(image.get("ref") or "-")),
        ("Image ID", f"<code>{_t(image.get('id') or '-')}</code>"),
        ("Tags", _t(", ".join(str(t) for t in image.get("tags") or []) or "-")),
        ("Engine size", _size(image.get("engine_size"), "engine_size")),
        ("Config size", _size(image.get("config_size"), "config_size")),
    ]
    if base:
        facts += [
            ("Base", _t(base.get("ref") or "-")),
            ("Base ID", f"<code>{_t(base.get('id') or '-')}</code>"),
            ("Base size", _size(base.get("size"), "base_size_detail")),
            ("Base compressed", _size(base.get("compressed_size"), "base_compressed_size")),
        ]
    facts_html = "".join(f"<dt>{_t(k)}</dt><dd>{v}</dd>" for k, v in facts)

    if isinstance(treemap, Mapping):
        nodes = _int(treemap.get("nodes"))
        files = _int(treemap.get("files"))
        summary = f"{files:,} entries in {nodes:,} boxes" if files is not None and nodes is not None else ""
        treemap_html = (
            f'<h3>Final filesystem <span class="muted">{_t(summary)}</span></h3>'
            '<div class="tm-bar"><button type="button" class="tm-up" disabled>↑ Up</button>'
            '<nav class="crumbs" aria-label="treemap path"></nav></div>'
            '<div class="treemap" role="img" aria-label="treemap of the final filesystem"></div>'
            + _legend(treemap, layers)
            + '<p class="hint">Coloured by the layer that wrote each file (directories: the layer that '
            "wrote most of their bytes). Click a directory to zoom in; the path above zooms out. "
            "Hatched boxes fold many small files together.</p>"
        )
    else:
        treemap_html = (
            '<h3>Final filesystem</h3><p class="empty">Not analysed: the filesystem treemap needs the '
            "image's layers read (deep analysis).</p>"
        )

    return (
        f'<section class="image" id="image-{index}" data-index="{index}" data-image="{_t(name)}"'
        f' data-platform="{_t(platform or "")}">'
        f'<div class="image-head"><h2>{_t(name)}</h2>{_badge(verdict)}'
        + (f'<span class="tag platform">{_t(platform)}</span>' if platform else "")
        + f'<span class="ref">{_t(image.get("ref") or "")}</span></div>'
        f'<div class="stats">{"".join(stats)}</div>'
        f'<details class="more"><summary>Details</summary><dl class="facts">{facts_html}</dl></details>'
        f"<h3>Checks</h3>{_checks_table(checks)}"
        f"{_baseline(image.get('baseline'))}{chart}"
        f"{treemap_html}"
        f"{_go_table(image.get('go_binaries'), isinstance(treemap, Mapping))}"
        f"{packages_section(image.get('packages'), layers)}"
        f"<h3>Wasted copies</h3>{_wasted_table(wasted, layers)}"
        f"<h3>Layers</h3>{_layers_table(layers)}"
        "</section>"
    )


def _palette_css() -> str:
    rules = [f".c{i}{{--c:{colour}}}" for i, colour in enumerate(PALETTE)]
    rules.append(f".cx{{--c:{_NO_LAYER}}}")
    rules.append(
        ".legend-sw{display:inline-block;width:9px;height:9px;border-radius:2px;margin-right:6px;background:var(--c)}"
    )
    return "\n".join(rules)


def _chart(history: History | None, image: Mapping[str, Any], index: int) -> str:
    """The image's size-over-commits chart from the baseline's git history, if it has a series."""
    series = history.find(str(image.get("name")), image.get("platform")) if history else None
    return svg_history.report_section(series, history, index) if series and history else ""


def render(document: Mapping[str, Any], history: History | None = None) -> str:
    """The report page for a JSON report document (schema version 3 or 2, with ``treemap`` and
    ``wasted_files`` per image), with a size chart per image that ``history`` has a series of."""
    document = with_package_trees(document)
    images: list[Mapping[str, Any]] = list(document.get("images") or [])
    checks: list[Mapping[str, Any]] = list(document.get("checks") or [])
    by_image: dict[str, list[Mapping[str, Any]]] = {}
    for check in checks:
        by_image.setdefault(str(check.get("image")), []).append(check)

    style = _asset("report.css") + "\n" + _palette_css()
    library = _script_safe(_asset("d3-hierarchy.min.js"))
    app = _script_safe(_asset("report.js"))
    csp = (
        "default-src 'none'; img-src data:; "
        f"style-src '{_sha256(style)}'; script-src '{_sha256(library)}' '{_sha256(app)}'"
    )

    counts = {word: sum(1 for c in checks if c.get("outcome") == word) for word in _OUTCOME_ORDER}
    summary = [f"{len(images)} image{'s' if len(images) != 1 else ''}"]
    if checks:
        summary.append("checks: " + ", ".join(f"{n} {word}" for word, n in counts.items() if n))
    engine = _engine_line(document.get("engine"))
    toc = "".join(
        f'<li><a href="#image-{i}">{_t(image.get("name", f"image {i}"))} · '
        f"{_t(format_size(_int(image.get('size'))))}</a></li>"
        for i, image in enumerate(images)
    )
    sections = "".join(
        _image(i, image, by_image.pop(str(image.get("name")), []), _chart(history, image, i))
        for i, image in enumerate(images)
    )
    if not images:
        sections = '<p class="empty">No images were measured.</p>'
    stray = [check for group in by_image.values() for check in group]
    if stray:  # checks of images the document does not describe
        sections += f'<section class="image"><h2>Other checks</h2>{_checks_table(stray)}</section>'

    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_t(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        "<title>Image size report</title>"
        f"<style>{style}</style></head>"
        f'<body data-palette="{len(PALETTE)}"><main>'
        '<header class="page-head"><h1>Image size report</h1>'
        f'<div class="summary"><span>{_t(" · ".join(summary))}</span>'
        f"{f'<span>{_t(engine)}</span>' if engine else ''}"
        f"<span>report format {_t(document.get('version', '-'))}</span></div>"
        f'<ul class="toc">{toc}</ul></header>'
        f"{sections}"
        "<footer>Made by pytest-imagesize. Sizes in decimal units (1 MB = 1,000,000 bytes); hover a "
        "number for its exact bytes. Treemap layout: d3-hierarchy (ISC licence).</footer>"
        "</main>"
        f'<script type="application/json" id="imagesize-data">{embed_json(document)}</script>'
        f"<script>{library}</script>"
        f"<script>{app}</script>"
        "</body></html>\n"
    )


def write(path: StrPath, document: Mapping[str, Any], history: History | None = None) -> None:
    """Write the page for ``document`` to ``path`` (through a temporary file and a rename, so a
    reader never sees half a page). ``OSError`` and its subclasses propagate unchanged."""
    write_atomic(Path(path), render(document, history))
