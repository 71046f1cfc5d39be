"""From the final filesystem to ``ImagePackages``: the database files the probe kept (the final
filesystem's copy of each: the record of a file says which layer wrote it), read by each
ecosystem's reader, then the attribution. Whatever a database file holds, a problem with it is one
warning line and the rest of the analysis stands."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from typing import Any

from ...sizes import format_size
from ...text import shown
from ..layers import FileRecord
from .attribution import attribute
from .database import Database
from .model import ImagePackages
from .probe import LIMITS, DbFile, kind_of

#: rpm databases in a format that is not read (Berkeley DB, ndb), by file name
OTHER_RPMDBS = {"Packages": "Berkeley DB", "Packages.db": "ndb"}


def read_packages(files: Iterable[FileRecord], probed: Callable[[FileRecord], Any]) -> ImagePackages:
    """Every package database of the final filesystem ``files`` (``probed`` gives what the probe
    kept of a file, by its record), and the bytes each package owns."""
    records = {r.path: r for r in files}
    found: dict[str, dict[str, DbFile]] = {}
    warnings: list[str] = []
    unread: dict[str, list[str]] = {}
    for path, record in records.items():
        kind = kind_of(path)
        if kind is None:
            if record.kind == "file" and path.startswith(("/var/lib/rpm/", "/usr/lib/sysimage/rpm/")):
                other = OTHER_RPMDBS.get(posixpath.basename(path))
                if other is not None:
                    warnings.append(
                        f"rpm: {path[1:]} is an rpmdb in the {other} format, which is not read "
                        "(only rpmdb.sqlite is): its packages are not shown"
                    )
            continue
        if record.kind != "file":
            what = "a directory" if record.kind == "dir" else f"a {record.kind}"
            if record.kind != "dir" or kind not in ("npm", "python-record", "python-egg"):
                unread.setdefault(kind, []).append(f"{path[1:]} ({what})")
            continue
        kept = probed(record)
        if not isinstance(kept, DbFile):
            if record.size > LIMITS[kind]:
                problem = f"larger than {format_size(LIMITS[kind])}"
            else:
                problem = "not read in this analysis"
            unread.setdefault(kind, []).append(f"{path[1:]} ({problem})")
            continue
        if kept.problem is not None:
            unread.setdefault(kind, []).append(f"{path[1:]} ({kept.problem})")
            continue
        found.setdefault(kind, {})[path] = kept
    for kind, items in unread.items():
        if kind == "dpkg-list":
            continue  # said by the status reader, per package
        warnings.append(_unread_line(kind, items))
    databases = list(_databases(found, unread.get("dpkg-list", []), records))
    result = attribute(records, databases)
    result.warnings = [shown(line) for line in warnings + result.warnings]  # paths and names: one line each
    return result


def _unread_line(kind: str, items: list[str]) -> str:
    ecosystem = kind.split("-")[0].replace("dpkg", "deb")
    more = f" and {len(items) - 3} more" if len(items) > 3 else ""
    return f"{ecosystem}: not read: {', '.join(items[:3])}{more}"


def _databases(
    found: dict[str, dict[str, DbFile]], unread_lists: list[str], records: dict[str, FileRecord]
) -> Iterable[Database]:
    from . import apk, dpkg, npm, python, rpm

    status = found.get("dpkg-status", {}).get("/var/lib/dpkg/status")
    if status is not None:
        lists = found.get("dpkg-list", {})
        problems = {item.split(" (", 1)[0]: item.split(" (", 1)[1].rstrip(")") for item in unread_lists}

        def lookup(path: str) -> tuple[str | None, str | None]:
            problem = problems.get(path[1:])
            if problem is not None:
                return None, problem
            kept = lists.get(path)
            return (kept.text if kept is not None else None), None

        yield dpkg.read_status(status.text, lookup)
    statusd = found.get("dpkg-statusd", {})
    if statusd:
        md5sums = {
            posixpath.basename(p).removesuffix(".md5sums"): f.text
            for p, f in found.get("dpkg-md5sums", {}).items()
        }
        yield dpkg.read_status_d({posixpath.basename(p): f.text for p, f in statusd.items()}, md5sums)
    for path, installed in sorted(found.get("apk", {}).items()):
        yield apk.read_installed(installed.text, path.lstrip("/"))
    for path, kept in sorted(found.get("rpm-sqlite", {}).items()):
        yield rpm.database(path, kept.data)
    python_files = {**found.get("python-record", {}), **found.get("python-egg", {})}
    if python_files:
        yield from python.databases({p: f.text for p, f in python_files.items()})
    listed = {posixpath.dirname(p) for p in python_files}
    yield from python.metadata_only((p for p, r in records.items() if r.kind == "file"), listed)
    manifests = found.get("npm", {})
    if manifests:
        yield from npm.databases({p: f.data for p, f in manifests.items()})
