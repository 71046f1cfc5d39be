"""The HTML report's packages: a table of an image's largest OS and language packages, and the
tree its second treemap draws (ecosystems, then packages, then the bytes no package owns), both
from the JSON report's per-image ``packages``. Names are escaped text (``shown``, then HTML);
in the tree a name the page must show escaped travels as ``label``."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ..sizes import format_size
from ..text import shown

__all__ = ["package_tree", "packages_section", "with_package_trees"]


def _t(value: object) -> str:
    return html.escape(shown(str(value)), quote=True)


def _size(value: Any) -> str:
    n = value if isinstance(value, int) and not isinstance(value, bool) else None
    if n is None:
        return '<span class="num na" data-bytes="">-</span>'
    return f'<span class="num" data-bytes="{n}" title="{n:,} B">{_t(format_size(n))}</span>'


def _packages(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [p for p in data.get("packages") or [] if isinstance(p, Mapping)]


def _found(data: Any) -> bool:
    return isinstance(data, Mapping) and bool(data.get("databases"))


def package_tree(data: Any) -> dict[str, Any] | None:
    """The treemap's tree: one node per ecosystem holding its listed packages (sized by measured
    bytes, coloured by the last layer that wrote them) and one node for those not listed, then
    the unowned bytes; None without a package database. Language packages inside an OS package
    are left out (their bytes are the OS package's)."""
    if not _found(data):
        return None
    ecosystems: dict[str, dict[str, Any]] = {}
    for name, entry in (data.get("by_ecosystem") or {}).items():
        ecosystems[str(name)] = {"name": str(name), "children": [], "size": int(entry.get("size") or 0)}
    for package in _packages(data):
        if package.get("within"):
            continue
        eco = ecosystems.setdefault(
            str(package.get("ecosystem")), {"name": str(package.get("ecosystem")), "children": [], "size": 0}
        )
        name = str(package.get("name"))
        layers = package.get("layers") or []
        leaf: dict[str, Any] = {"name": name, "size": int(package.get("size") or 0)}
        leaf["layer"] = max(layers) if layers else None
        if shown(name) != name:
            leaf["label"] = shown(name)
        eco["children"].append(leaf)
    children: list[dict[str, Any]] = []
    for eco in ecosystems.values():
        listed = sum(child["size"] for child in eco["children"])
        rest = eco["size"] - listed
        if rest > 0:
            eco["children"].append({"name": "smaller packages", "kind": "more", "size": rest})
        eco["size"] = max(eco["size"], listed)
        if eco["size"] > 0:
            children.append(eco)
    unowned = int(data.get("unowned") or 0)
    if unowned > 0:
        children.append({"name": "owned by no package", "kind": "other", "size": unowned, "layer": None})
    return {"name": "/", "size": sum(c["size"] for c in children), "children": children}


def with_package_trees(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """``document`` with each image's ``package_treemap`` (where it has a package database)."""
    images = list(document.get("images") or [])
    if not any(_found(image.get("packages")) for image in images if isinstance(image, Mapping)):
        return document
    return {
        **document,
        "images": [
            {**image, "package_treemap": package_tree(image.get("packages"))}
            if isinstance(image, Mapping)
            else image
            for image in images
        ],
    }


def _layers_text(layers: Sequence[Any]) -> str:
    return ", ".join(str(i) for i in layers) if layers else "-"


def packages_section(data: Any, layers: Sequence[Mapping[str, Any]]) -> str:
    """The section's heading, table and treemap; empty without a package database."""
    if not _found(data):
        return ""
    total = int(data.get("total") or 0)
    rows = []
    for package in _packages(data):
        size = int(package.get("size") or 0)
        share = f"{size / total * 100:.1f} %" if total else "-"
        layer_list = list(package.get("layers") or [])
        last = max(layer_list) if layer_list else None
        created = ""
        if last is not None and last < len(layers):
            created = str(layers[last].get("created_by") or "")
        within = f' <span class="muted">in {_t(package["within"])}</span>' if package.get("within") else ""
        ecosystem = _t(package.get("ecosystem", ""))
        rows.append(
            f'<tr data-package="{_t(package.get("name", ""))}" data-ecosystem="{ecosystem}">'
            f'<td class="path">{_t(package.get("name", ""))}{within}</td>'
            f"<td>{_t(package.get('ecosystem', ''))}</td>"
            f"<td>{_t(package.get('version') or '-')}</td>"
            f'<td class="n">{_size(size)}</td><td class="n">{_t(share)}</td>'
            f'<td class="n">{_size(package.get("claimed_size"))}</td>'
            f'<td title="{_t(created)}">{_t(_layers_text(layer_list))}</td></tr>'
        )
    count = int(data.get("count") or len(rows))
    listed = "" if data.get("complete", True) else f" (the {len(rows)} largest listed)"
    ecosystems = ", ".join(
        f"{name} {int(e.get('packages') or 0):,} ({format_size(int(e.get('size') or 0))})"
        for name, e in (data.get("by_ecosystem") or {}).items()
    )
    notes = "".join(f"<li>{_t(line)}</li>" for line in data.get("warnings") or [])
    databases = "".join(f"<li>{_t(line)}</li>" for line in data.get("databases") or [])
    return (
        f'<h3>Packages <span class="muted">{count:,} packages{_t(listed)}: {_t(ecosystems)}; '
        f"{_t(format_size(int(data.get('unowned') or 0)))} owned by no package</span></h3>"
        '<div class="scroll"><table class="packages"><thead><tr><th>Package</th><th>Ecosystem</th>'
        '<th>Version</th><th class="n">Size</th><th class="n">Share</th><th class="n">Claimed</th>'
        f"<th>Layers</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        '<div class="tm-packages"><div class="tm-bar"><button type="button" class="tm-up" disabled>↑ Up'
        '</button><nav class="crumbs" aria-label="package treemap path"></nav></div>'
        '<div class="pkgmap" role="img" aria-label="treemap of the packages"></div></div>'
        '<p class="hint">Measured bytes each package owns in the final filesystem, by ecosystem; '
        "claimed: what its database says. Click an ecosystem to zoom in.</p>"
        f'<details class="more"><summary>Databases</summary><ul>{databases}</ul>'
        + (f"<p>Problems met:</p><ul>{notes}</ul>" if notes else "")
        + "</details>"
    )
