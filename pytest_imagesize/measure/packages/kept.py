"""The packages the reports and the baseline keep of an image: every package of at least 1 % of
the image's regular-file bytes plus the 50 largest (so a 500 MB image's baseline entry stays
small), with whether that is every package (then one missing from the list is not in the image),
and the compact per-package summary growth explanations compare."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .model import ImagePackages, Package

TOP_PACKAGES = 50
PACKAGE_SHARE = 0.01


def kept(report: ImagePackages) -> list[Package]:
    """The 50 largest packages plus every package of at least 1 % of ``report.total``, largest
    first (language packages inside an OS package count: they are listed, not counted twice)."""
    ordered = sorted(report.packages, key=lambda p: (-p.size, p.key))
    threshold = report.total * PACKAGE_SHARE
    return [p for i, p in enumerate(ordered) if i < TOP_PACKAGES or (p.size and p.size >= threshold)]


def by_ecosystem(report: ImagePackages) -> dict[str, dict[str, int]]:
    """Per ecosystem: how many packages and the bytes they own (language packages inside an OS
    package are counted by number, their bytes are the OS package's)."""
    found: dict[str, dict[str, int]] = {}
    for package in report.packages:
        entry = found.setdefault(package.ecosystem, {"packages": 0, "size": 0})
        entry["packages"] += 1
        entry["size"] += package.size if package.within is None else 0
    return found


@dataclass(frozen=True)
class PackageSummary:
    """What a baseline keeps of one package: measured bytes, version, the last layer that wrote
    its files (None: none known)."""

    size: int
    version: str = ""
    layer: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"size": self.size}
        if self.version:
            data["version"] = self.version
        if self.layer is not None:
            data["layer"] = self.layer
        return data

    @classmethod
    def from_json(cls, data: Any) -> PackageSummary:
        """Raises ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("must be an object {size, version, layer}")
        size, version, layer = data.get("size"), data.get("version", ""), data.get("layer")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"size is {size!r}, expected bytes as a whole number")
        if not isinstance(version, str):
            raise ValueError("version must be a string")
        if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int) or layer < 0):
            raise ValueError(f"layer is {layer!r}, expected a layer index")
        return cls(size, version, layer)


def summaries(report: ImagePackages) -> dict[str, PackageSummary]:
    """The kept packages by ``ecosystem:name``."""
    return {
        p.key: PackageSummary(p.size, p.version, max(p.layers) if p.layers else None) for p in kept(report)
    }


def summaries_json(packages: Mapping[str, PackageSummary]) -> dict[str, Any]:
    return {key: packages[key].to_json() for key in sorted(packages)}


def summaries_from_json(data: Any) -> dict[str, PackageSummary]:
    """Raises ValueError naming the entry that is wrong."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(": must be an object of ecosystem:name -> {size, version, layer}")
    found = {}
    for key, value in data.items():
        try:
            found[str(key)] = PackageSummary.from_json(value)
        except ValueError as exc:
            raise ValueError(f"[{str(key)[:40]!r}]: {exc}") from None
    return found
