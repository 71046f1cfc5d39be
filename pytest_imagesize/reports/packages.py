"""An image's OS and language packages in words: the lines of ``--image-report=packages`` and
``pytest-imagesize packages``, and the Markdown report's package table. Names are shown safely
(control and bidi characters escaped; Markdown markup and HTML escaped in Markdown)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..measure.image import Image
from ..measure.packages.kept import by_ecosystem
from ..measure.packages.model import ImagePackages, Package
from ..sizes import format_size
from ..text import shown
from .markdown import inline

TOP_PACKAGES_SHOWN = 20


def _share(part: int, whole: int) -> str:
    return f"{part / whole * 100:5.1f} %" if whole else "    - "


def _layers(package: Package) -> str:
    if not package.layers:
        return "-"
    return ",".join(str(i) for i in package.layers)


def summary_line(report: ImagePackages) -> str:
    """``212 packages: deb 210 (110 MB), python 2 (1.2 MB); 5.6 MB unowned of 117 MB``."""
    ecosystems = by_ecosystem(report)
    parts = [f"{name} {e['packages']} ({format_size(e['size'])})" for name, e in ecosystems.items()]
    count = len(report.packages)
    return (
        f"{count} package{'s' if count != 1 else ''}: {', '.join(parts) or 'none'}; "
        f"{format_size(report.unowned)} unowned of {format_size(report.total)} of files"
    )


def package_lines(image: Image, top: int = TOP_PACKAGES_SHOWN) -> list[str]:
    """The image's package databases, bytes by ecosystem and unowned, then its largest packages
    (measured bytes, share of the image's files, version, layers, and what the database claims)."""
    report = image.package_report
    if not report.found:
        lines = [f"{image.label}: no package database found (dpkg, apk, rpm, Python, npm)"]
        return lines + [f"  warning: {shown(w)}" for w in report.warnings]
    lines = [f"{image.label}: {summary_line(report)}"]
    lines += [f"  database: {shown(d)}" for d in report.databases]
    lines += [f"  warning: {shown(w)}" for w in report.warnings]
    lines.append(f"  {'size':>10} {'share':>7}  {'package':<32} {'version':<20} layers  claimed")
    for package in report.packages[: max(top, 0)]:
        claimed = "-" if package.claimed_size is None else format_size(package.claimed_size)
        name = f"{shown(package.name)} ({package.ecosystem})"
        if package.within:
            name += f" in {shown(package.within)}"
        lines.append(
            f"  {format_size(package.size):>10} {_share(package.size, report.total)}  {name:<32} "
            f"{shown(package.version):<20} {_layers(package):<7} {claimed}"
        )
    hidden = len(report.packages) - max(top, 0)
    if hidden > 0:
        lines.append(f"  ... and {hidden} smaller package{'s' if hidden != 1 else ''}")
    return lines


def markdown_lines(name: str, data: Mapping[str, Any]) -> list[str]:
    """A collapsed Markdown block of one image's 20 largest packages, from its JSON report
    entry's ``packages``."""
    report = ImagePackages(
        packages=[Package.from_json(p) for p in data.get("packages") or ()],
        unowned=int(data.get("unowned") or 0),
        total=int(data.get("total") or 0),
    )
    count = int(data.get("count") or len(report.packages))
    shown_name = shown(name).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    ecosystems = data.get("by_ecosystem") or {}
    parts = [
        f"{name} {e.get('packages', 0)} ({format_size(int(e.get('size') or 0))})"
        for name, e in ecosystems.items()
    ]
    head = (
        f"{', '.join(parts) or 'none'}; {format_size(report.unowned)} unowned of "
        f"{format_size(report.total)} of files"
    )
    lines = [
        "",
        f"<details><summary><code>{shown_name}</code>: {count} packages: {inline(head)}</summary>",
        "",
        "| package | ecosystem | version | size | claimed | layers |",
        "|---|---|---|---:|---:|---|",
    ]
    shown_packages = report.packages[:TOP_PACKAGES_SHOWN]
    for package in shown_packages:
        claimed = "-" if package.claimed_size is None else format_size(package.claimed_size)
        cells = [
            inline(package.name),
            inline(package.ecosystem),
            inline(package.version or "-"),
            format_size(package.size),
            claimed,
            _layers(package),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if count > len(shown_packages):
        lines.append(f"\n{count - len(shown_packages)} smaller packages not listed.")
    return [*lines, "", "</details>"]
