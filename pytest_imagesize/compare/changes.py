"""What changed between two image summaries (pure): a comparison pairs layers by diff ID (an
inserted layer does not shift every other one) and lists the top movers of files, directories and
Go modules and packages, and OS and language packages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..measure.packages.kept import PackageSummary
from ..measure.summary import ImageSummary

Status = Literal["added", "removed", "grown", "shrunk", "changed", "same"]


@dataclass(frozen=True)
class Mover:
    """One thing that changed between A and B (``None``: absent on that side)."""

    key: str
    a: int | None
    b: int | None
    status: Status

    @property
    def delta(self) -> int:
        return (self.b or 0) - (self.a or 0)

    def to_json(self, name: str = "path") -> dict[str, Any]:
        return {name: self.key, "a": self.a, "b": self.b, "delta": self.delta, "status": self.status}


@dataclass(frozen=True)
class LayerChange:
    diff_id: str | None
    status: Literal["same", "added", "removed"]
    size: int
    instruction: str


@dataclass(frozen=True)
class GoMover:
    binary: str
    module: str
    a: int | None
    b: int | None

    @property
    def delta(self) -> int:
        return (self.b or 0) - (self.a or 0)


@dataclass(frozen=True)
class PackageMover:
    """An OS or language package that appeared, grew, shrank or went (``None``: absent there)."""

    key: str  # "deb:libllvm19"
    a: PackageSummary | None
    b: PackageSummary | None
    status: Status

    @property
    def delta(self) -> int:
        return (self.b.size if self.b else 0) - (self.a.size if self.a else 0)

    @property
    def ecosystem(self) -> str:
        return self.key.split(":", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(":", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "name": self.name,
            "a": self.a.size if self.a else None,
            "b": self.b.size if self.b else None,
            "delta": self.delta,
            "status": self.status,
            "a_version": self.a.version if self.a else None,
            "b_version": self.b.version if self.b else None,
            "layer": self.b.layer if self.b else None,
        }


@dataclass(frozen=True)
class Comparison:
    a: ImageSummary
    b: ImageSummary
    layers: list[LayerChange]
    files: list[Mover]
    dirs: list[Mover]
    go: list[GoMover]
    go_packages: list[GoMover]
    packages: list[PackageMover] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return (
            self.a.size != self.b.size
            or self.a.compressed_size != self.b.compressed_size
            or any(layer.status != "same" for layer in self.layers)
            or bool(self.files)
        )

    @property
    def base_changed(self) -> bool:
        a, b = self.a.base, self.b.base
        return a is not None and b is not None and (a.id != b.id or a.size != b.size)


def _status(a: int | None, b: int | None) -> Status:
    if a is None:
        return "added"
    if b is None:
        return "removed"
    if b > a:
        return "grown"
    if b < a:
        return "shrunk"
    return "same"


def _movers(a: Mapping[str, int], b: Mapping[str, int]) -> list[Mover]:
    """Entries that differ, largest change first."""
    movers = [
        Mover(key, a.get(key), b.get(key), _status(a.get(key), b.get(key)))
        for key in set(a) | set(b)
        if a.get(key) != b.get(key)
    ]
    return sorted(movers, key=lambda m: (-abs(m.delta), m.key))


def _file_movers(
    a: Mapping[str, int],
    b: Mapping[str, int],
    a_all: Mapping[str, int] | None,
    b_all: Mapping[str, int] | None,
) -> list[Mover]:
    """Files that changed. A manifest lists only large files: where a side's full file list is
    known (``*_all``) it answers for paths the other side's manifest names; where it is not, a path
    missing from that side's manifest counts as absent only if it is larger than that manifest's
    smallest entry (else it may simply have been too small to be listed)."""

    def lookup(
        path: str, manifest: Mapping[str, int], full: Mapping[str, int] | None, other: int
    ) -> int | None:
        if full is not None:
            return full.get(path)
        if path in manifest:
            return manifest[path]
        return None if not manifest or other > min(manifest.values()) else -1

    movers = []
    for path in set(a) | set(b):
        old = lookup(path, a, a_all, b.get(path, 0))
        new = lookup(path, b, b_all, a.get(path, 0))
        if old == -1 or new == -1 or old == new:
            continue
        movers.append(Mover(path, old, new, _status(old, new)))
    return sorted(movers, key=lambda m: (-abs(m.delta), m.key))


def _layer_changes(a: ImageSummary, b: ImageSummary) -> list[LayerChange]:
    old = {layer.diff_id: layer for layer in a.layers if layer.diff_id}
    new = {layer.diff_id: layer for layer in b.layers if layer.diff_id}
    changes = [
        LayerChange(layer.diff_id, "same" if layer.diff_id in old else "added", layer.size, layer.instruction)
        for layer in b.layers
    ]
    changes += [
        LayerChange(layer.diff_id, "removed", layer.size, layer.instruction)
        for layer in a.layers
        if layer.diff_id not in new
    ]
    return changes


def _go_movers(a: Mapping[str, Mapping[str, int]], b: Mapping[str, Mapping[str, int]]) -> list[GoMover]:
    movers = []
    for binary in sorted(set(a) | set(b)):
        old, new = a.get(binary, {}), b.get(binary, {})
        for module in sorted(set(old) | set(new)):
            if old.get(module) != new.get(module):
                movers.append(GoMover(binary, module, old.get(module), new.get(module)))
    return sorted(movers, key=lambda m: (-abs(m.delta), m.binary, m.module))


def _package_movers(a: ImageSummary, b: ImageSummary) -> list[PackageMover]:
    """Packages that changed, largest change first. Nothing when a side's packages are not known
    (a baseline written before packages were read). A list that is not complete holds only the
    largest packages: a package it lacks counts as absent only when it is larger than that list's
    smallest entry (else it may simply have been below the cut)."""
    if a.packages_complete is None or b.packages_complete is None:
        return []

    def lookup(key: str, side: ImageSummary, other: int) -> PackageSummary | bool | None:
        if key in side.packages:
            return side.packages[key]
        if side.packages_complete or not side.packages:
            return None
        return None if other > min(p.size for p in side.packages.values()) else False

    movers = []
    for key in set(a.packages) | set(b.packages):
        other_b = b.packages[key].size if key in b.packages else 0
        other_a = a.packages[key].size if key in a.packages else 0
        old, new = lookup(key, a, other_b), lookup(key, b, other_a)
        if old is False or new is False:
            continue  # below one side's cut: not known to have changed
        assert not isinstance(old, bool) and not isinstance(new, bool)
        old_size, new_size = (old.size if old else None), (new.size if new else None)
        if old_size == new_size:
            continue
        movers.append(PackageMover(key, old, new, _status(old_size, new_size)))
    return sorted(movers, key=lambda m: (-abs(m.delta), m.key))


def compare(
    a: ImageSummary,
    b: ImageSummary,
    a_files: Mapping[str, int] | None = None,
    b_files: Mapping[str, int] | None = None,
) -> Comparison:
    """What changed from ``a`` to ``b``; ``*_files`` are a side's full file lists where known (a
    complete manifest is one)."""
    if a_files is None and a.files_complete:
        a_files = a.files
    if b_files is None and b.files_complete:
        b_files = b.files
    return Comparison(
        a=a,
        b=b,
        layers=_layer_changes(a, b),
        files=_file_movers(a.files, b.files, a_files, b_files),
        dirs=_movers(a.dirs, b.dirs),
        go=_go_movers(a.go, b.go),
        go_packages=_go_movers(a.go_packages, b.go_packages),
        packages=_package_movers(a, b),
    )
