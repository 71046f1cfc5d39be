"""Python distributions: ``<name>-<version>.dist-info/RECORD`` (CSV rows whose first column is a
path relative to the directory holding the ``.dist-info``, such as ``../../../bin/tool``) and
``<name>-<version>[-pyX.Y].egg-info/installed-files.txt`` (paths relative to the ``.egg-info``)."""

from __future__ import annotations

import csv
import posixpath
from collections.abc import Iterable

from .database import Database, Listed


def databases(files: dict[str, str]) -> Iterable[Database]:
    """One database per directory of distributions (a ``site-packages``), in path order."""
    by_site: dict[str, Database] = {}
    for path in sorted(files):
        meta = posixpath.dirname(path)
        site = posixpath.dirname(meta)
        db = by_site.get(site)
        if db is None:
            db = by_site[site] = Database("python", site.lstrip("/") or "/")
        name, version = _name_version(posixpath.basename(meta))
        package = Listed("python", name, version)
        text = files[path]
        if path.endswith("/RECORD"):
            package.paths, bad = _record(text, site)
        else:
            package.paths, bad = _installed_files(text, meta), 0
        if bad:
            db.warnings.append(f"python: {path[1:]} is damaged ({bad} rows unreadable): the rest is read")
        db.packages.append(package)
    return by_site.values()


def _name_version(directory: str) -> tuple[str, str]:
    stem = directory.rsplit(".", 1)[0]  # without .dist-info / .egg-info
    name, _, rest = stem.partition("-")
    version = rest.split("-py", 1)[0] if rest else ""
    return name, version


def _joined(base: str, relative: str) -> str:
    if relative.startswith("/"):
        return posixpath.normpath(relative)
    return posixpath.normpath(posixpath.join(base, relative))


def _record(text: str, site: str) -> tuple[list[str], int]:
    paths: list[str] = []
    bad = 0
    try:
        for row in csv.reader(text.splitlines()):
            if row and row[0]:
                paths.append(_joined(site, row[0]))
    except csv.Error:
        bad += 1
    return paths, bad


def _installed_files(text: str, meta: str) -> list[str]:
    return [_joined(meta, line) for line in text.splitlines() if line.strip()]


SITES = ("site-packages", "dist-packages")


def metadata_only(paths: Iterable[str], listed: set[str]) -> Iterable[Database]:
    """Distributions whose metadata (a ``.dist-info`` or ``.egg-info`` directory or file in a
    ``site-packages`` or ``dist-packages`` directory) lists no files, as Debian's ``python3-*``
    packages install them: each with its metadata files as its paths (``site`` set). ``paths``
    are the regular files of the final filesystem; ``listed`` the metadata directories whose file
    list was read."""
    members: dict[str, list[str]] = {}
    for path in paths:
        for suffix in (".dist-info", ".egg-info"):
            cut = path.find(suffix)
            if cut < 0:
                continue
            meta = path[: cut + len(suffix)]
            if path != meta and path[len(meta)] != "/":
                continue
            site = posixpath.dirname(meta)
            if posixpath.basename(site) in SITES and meta not in listed and "/" not in meta[len(site) + 1 :]:
                members.setdefault(meta, []).append(path)
    by_site: dict[str, Database] = {}
    for meta in sorted(members):
        site = posixpath.dirname(meta)
        db = by_site.get(site)
        if db is None:
            db = by_site[site] = Database("python", site.lstrip("/"))
        name, version = _name_version(posixpath.basename(meta))
        db.packages.append(Listed("python", name, version, paths=sorted(members[meta]), site=site))
    return by_site.values()
