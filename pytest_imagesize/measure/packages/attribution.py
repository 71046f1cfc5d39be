"""Measured bytes per package: each regular file of the final filesystem goes to the package that
owns it, each inode once.

A claimed path is made canonical the way the kernel would find it: its directory is resolved
through the image's own symlinks (``/bin`` -> ``usr/bin`` on a merged-``/usr`` system, any other
symlinked directory too), its name is not (a symlink a package lists is a symlink, not a file).
Only regular files count (hard links: the inode once, for the owner of its first path met);
directories count for nobody. Within one database the first package (in the database's order)
that claims a file owns it; the OS databases claim before the language ones, and a Python or Node
package whose files an OS package owns is shown ``within`` it, its bytes counted there only."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..layers import FileRecord
from .database import Database, Listed
from .model import ECOSYSTEMS, ImagePackages, Package

OS_ECOSYSTEMS = ("deb", "apk", "rpm")
MAX_LINKS = 40  # symlinks followed to resolve one directory, as the kernel's limit


class Resolver:
    """Canonical paths in one image's final filesystem (its records by path)."""

    def __init__(self, records: dict[str, FileRecord]) -> None:
        self.records = records
        self._dirs: dict[str, str] = {"/": "/"}

    def directory(self, path: str, depth: int = 0) -> str:
        """Where the directory ``path`` (absolute, clean) really is: symlinks followed."""
        known = self._dirs.get(path)
        if known is not None:
            return known
        cut = path.rfind("/")
        parent = self.directory(path[:cut] or "/", depth)
        here = (parent if parent != "/" else "") + path[cut:]
        record = self.records.get(here)
        if record is not None and record.kind == "symlink" and depth < MAX_LINKS:
            target = record.link if record.link.startswith("/") else posixpath.join(parent, record.link)
            here = self.directory(posixpath.normpath("/" + target.lstrip("/")), depth + 1)
        self._dirs[path] = here
        return here

    def canonical(self, path: str) -> str:
        """``path`` (absolute, maybe with ``./``, ``//`` or ``..``) with its directory resolved."""
        clean = posixpath.normpath("/" + path.lstrip("/")) if ("/." in path or "//" in path) else path
        if clean == "/":
            return clean
        cut = clean.rfind("/")
        parent = self.directory(clean[:cut] or "/")
        return (parent if parent != "/" else "") + clean[cut:]

    def inode(self, path: str) -> FileRecord | None:
        """The regular file (the record holding its bytes) at canonical ``path``, or None for a
        directory, a symlink, anything else or nothing."""
        record = self.records.get(path)
        if record is None:
            return None
        if record.kind == "hardlink":
            target = self.records.get(record.link)
            return target if target is not None and target.kind == "file" else None
        return record if record.kind == "file" else None


@dataclass
class _Owned:
    listed: Listed
    inodes: set[str] = field(default_factory=set)
    within: dict[str, int] = field(default_factory=dict)  # OS package key -> bytes it owns of ours
    within_files: int = 0
    within_layers: set[int] = field(default_factory=set)


def attribute(records: dict[str, FileRecord], databases: Iterable[Database]) -> ImagePackages:
    """Who owns each regular file of ``records`` (the final filesystem), from ``databases``."""
    resolver = Resolver(records)
    result = ImagePackages()
    ordered = sorted(databases, key=lambda db: ECOSYSTEMS.index(db.ecosystem))
    owner: dict[str, _Owned] = {}  # inode path -> its owner
    node = _NodeIndex(records) if any(db.ecosystem == "npm" for db in ordered) else None
    all_owned: list[_Owned] = []
    by_key: dict[str, _Owned] = {}  # OS packages by "deb:name"
    for db in ordered:
        result.databases.append(db.describe())
        result.warnings.extend(db.warnings)
        os_db = db.ecosystem in OS_ECOSYSTEMS
        twice = 0
        twice_example = ""
        missing = 0
        missing_example = ""
        for listed in db.packages:
            owned = _Owned(listed)
            all_owned.append(owned)
            if os_db:
                by_key.setdefault(f"{listed.ecosystem}:{listed.name}", owned)
            for path in _claims(listed, resolver, node):
                record = resolver.inode(path)
                if record is None:
                    if path not in records:
                        missing += 1
                        missing_example = missing_example or path
                    continue
                inode = record.path
                first = owner.get(inode)
                if first is None:
                    owner[inode] = owned
                    owned.inodes.add(inode)
                elif first is owned:
                    continue
                elif first.listed.ecosystem == listed.ecosystem:
                    if first.listed.name != listed.name:
                        twice += 1
                        twice_example = twice_example or f"{path} ({first.listed.name}, {listed.name})"
                elif not os_db and first.listed.ecosystem in OS_ECOSYSTEMS:
                    key = f"{first.listed.ecosystem}:{first.listed.name}"
                    owned.within[key] = owned.within.get(key, 0) + record.size
                    owned.within_files += 1
                    owned.within_layers.add(record.layer)
        if twice:
            result.warnings.append(
                f"{db.ecosystem}: {twice} file{'s are' if twice > 1 else ' is'} claimed by two packages of "
                f"{db.where}, e.g. {twice_example}: each counts for the first in the database's order"
            )
        if missing:
            result.warnings.append(
                f"{db.ecosystem}: {missing} path{'s' if missing > 1 else ''} listed in {db.where} "
                f"{'are' if missing > 1 else 'is'} not in the image, e.g. {missing_example}"
            )
    result.total = sum(r.size for r in records.values() if r.kind == "file")
    for owned in all_owned:
        if owned.listed.site is not None and owned.within and not owned.inodes:
            _site_share(owned, by_key, records)
    packages = [_package(o, records) for o in all_owned]
    counted = sum(p.size for p in packages if p.within is None)
    result.unowned = result.total - counted
    result.packages = _merged(packages)
    return result


def _claims(listed: Listed, resolver: Resolver, node: _NodeIndex | None) -> Iterable[str]:
    if listed.directory is not None:
        yield from node.files(listed.directory) if node is not None else ()
        return
    for path in listed.paths:
        if path not in ("/", "/."):
            yield resolver.canonical(path)


class _NodeIndex:
    """The files of the final filesystem by the Node package directory they are in: the deepest
    ``node_modules/<name>`` (or ``node_modules/@scope/<name>``) above them."""

    def __init__(self, records: dict[str, FileRecord]) -> None:
        self._by_dir: dict[str, list[str]] = {}
        for path, record in records.items():
            cut = path.rfind("/node_modules/")
            if cut < 0 or record.kind not in ("file", "hardlink"):
                continue
            start = cut + len("/node_modules/")
            end = path.find("/", start)
            if end > 0 and path[start] == "@":
                end = path.find("/", end + 1)
            if end > 0:
                self._by_dir.setdefault(path[:end], []).append(path)

    def files(self, directory: str) -> list[str]:
        return self._by_dir.get(directory, [])


def _site_share(owned: _Owned, by_key: dict[str, _Owned], records: dict[str, FileRecord]) -> None:
    """A distribution without a file list whose metadata an OS package owns: that package's
    files in the distribution's directory (``yaml/``, ``_yaml/`` of Debian's ``python3-yaml``)."""
    key = max(owned.within.items(), key=lambda item: (item[1], item[0]))[0]
    os_owned = by_key.get(key)
    if os_owned is None:
        return
    prefix = owned.listed.site.rstrip("/") + "/" if owned.listed.site else "/"
    inside = [records[i] for i in os_owned.inodes if i.startswith(prefix)]
    owned.within = {key: sum(r.size for r in inside)}
    owned.within_files = len(inside)
    owned.within_layers = {r.layer for r in inside}


def _package(owned: _Owned, records: dict[str, FileRecord]) -> Package:
    listed = owned.listed
    within = None
    inodes = owned.inodes
    if owned.within and not inodes:
        within = max(owned.within.items(), key=lambda item: (item[1], item[0]))[0]
    size = sum(records[i].size for i in inodes)
    files = len(inodes)
    if within is not None:
        size, files = sum(owned.within.values()), owned.within_files
    by_layer: dict[int, int] = {}
    for inode in inodes:
        record = records[inode]
        by_layer[record.layer] = by_layer.get(record.layer, 0) + record.size
    layers = tuple(sorted(by_layer if within is None else owned.within_layers))
    return Package(
        ecosystem=listed.ecosystem,
        name=listed.name,
        version=listed.version,
        arch=listed.arch,
        size=size,
        claimed_size=listed.claimed_size,
        files=files,
        layers=layers,
        within=within,
        layer_sizes=tuple(by_layer.get(i, 0) for i in layers) if within is None else (),
    )


def _merged(packages: list[Package]) -> list[Package]:
    """One entry per ``ecosystem:name`` (the same Node or Python package installed in several
    places): sizes, files and layers added up, distinct versions joined."""
    by_key: dict[str, list[Package]] = {}
    for package in packages:
        by_key.setdefault(package.key, []).append(package)
    out = []
    for group in by_key.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        counted = [p for p in group if p.within is None] or group
        claims = [p.claimed_size for p in counted if p.claimed_size is not None]
        layers: dict[int, int] = {}
        for p in counted:
            for i, n in zip(p.layers, p.layer_sizes or (0,) * len(p.layers), strict=True):
                layers[i] = layers.get(i, 0) + n
        out.append(
            Package(
                ecosystem=group[0].ecosystem,
                name=group[0].name,
                version=", ".join(dict.fromkeys(p.version for p in counted if p.version)),
                arch=", ".join(dict.fromkeys(p.arch for p in counted if p.arch)),
                size=sum(p.size for p in counted),
                claimed_size=sum(claims) if claims else None,
                files=sum(p.files for p in counted),
                layers=tuple(sorted(layers)),
                layer_sizes=tuple(layers[i] for i in sorted(layers)),
                within=None if any(p.within is None for p in group) else group[0].within,
            )
        )
    out.sort(key=lambda p: (-p.size, p.key))
    return out
