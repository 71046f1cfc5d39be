"""What a package is, as measured: the result types shared by the readers, the attribution, the
checks and the reports, and their JSON form (the analysis cache, the JSON report, the baseline).

A package's ``size`` is measured: the bytes of the regular files of the image's final filesystem
that it owns, each inode once. ``claimed_size`` is what its own database says (dpkg's
``Installed-Size``, apk's ``I``, rpm's ``SIZE``), kept beside it because the two differ."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: The ecosystems read, OS package managers first (they win a file claimed across ecosystems).
ECOSYSTEMS = ("deb", "apk", "rpm", "python", "npm")


@dataclass(frozen=True)
class Package:
    """One installed package and what it owns in the final filesystem."""

    ecosystem: str  # one of ECOSYSTEMS
    name: str
    version: str = ""
    arch: str = ""
    size: int = 0  # measured bytes it owns (regular files of the final filesystem, each inode once)
    claimed_size: int | None = None  # what its database claims, in bytes; None when it says nothing
    files: int = 0  # how many of the regular files it owns exist in the image
    layers: tuple[int, ...] = ()  # indexes (from 0, image order) of the layers that wrote its files
    within: str | None = None  # "deb:python3-yaml": a language package whose files an OS package owns
    layer_sizes: tuple[int, ...] = ()  # its measured bytes written by each of ``layers`` (same order)

    @property
    def key(self) -> str:
        """``ecosystem:name``: unique within an image."""
        return f"{self.ecosystem}:{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "name": self.name,
            "version": self.version,
            "arch": self.arch,
            "size": self.size,
            "claimed_size": self.claimed_size,
            "files": self.files,
            "layers": list(self.layers),
            "within": self.within,
            "layer_sizes": list(self.layer_sizes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Package:
        claimed = data.get("claimed_size")
        return cls(
            ecosystem=str(data["ecosystem"]),
            name=str(data["name"]),
            version=str(data.get("version") or ""),
            arch=str(data.get("arch") or ""),
            size=int(data["size"]),
            claimed_size=None if claimed is None else int(claimed),
            files=int(data.get("files") or 0),
            layers=tuple(int(i) for i in data.get("layers") or ()),
            within=None if data.get("within") is None else str(data["within"]),
            layer_sizes=tuple(int(n) for n in data.get("layer_sizes") or ()),
        )


@dataclass
class ImagePackages:
    """Every package database found in one image, and how its bytes divide among packages.

    ``packages`` is sorted by measured size, largest first. ``unowned`` is the regular-file bytes
    of the final filesystem no package owns; ``total`` all regular-file bytes of it (so
    sum of sizes of packages with ``within is None`` + ``unowned`` == ``total``). ``databases``
    names each database read (``"deb: var/lib/dpkg/status (212 packages)"``); ``warnings`` has
    one line per problem met (a damaged database, a file claimed twice, ...)."""

    packages: list[Package] = field(default_factory=list)
    unowned: int = 0
    total: int = 0
    databases: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """Whether the image has any package database at all."""
        return bool(self.databases)

    def get(self, name: str, ecosystem: str | None = None) -> Package | None:
        """The package called ``name`` (a Python distribution's name compared as pip does:
        ``PyYAML``, ``pyyaml``; ``charset_normalizer``, ``charset-normalizer``), or None."""
        for package in self.packages:
            if package.name == name and (ecosystem is None or package.ecosystem == ecosystem):
                return package
        wanted = _pep503(name)
        for package in self.packages:
            if (
                package.ecosystem == "python"
                and ecosystem in (None, "python")
                and _pep503(package.name) == wanted
            ):
                return package
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "packages": [p.to_json() for p in self.packages],
            "unowned": self.unowned,
            "total": self.total,
            "databases": list(self.databases),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImagePackages:
        return cls(
            packages=[Package.from_json(p) for p in data["packages"]],
            unowned=int(data["unowned"]),
            total=int(data["total"]),
            databases=[str(d) for d in data["databases"]],
            warnings=[str(w) for w in data["warnings"]],
        )


def _pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
