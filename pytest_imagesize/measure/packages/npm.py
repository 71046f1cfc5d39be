"""Node packages: every ``node_modules/<name>/package.json`` (or ``node_modules/@scope/<name>/``)
makes its directory a package, owning every file below it except those of nested
``node_modules`` packages."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from .database import Database, Listed


def databases(manifests: dict[str, Any]) -> Iterable[Database]:
    """One database per outermost ``node_modules`` directory, packages in path order."""
    by_root: dict[str, Database] = {}
    for path in sorted(manifests):
        directory = posixpath.dirname(path)
        root = directory[: directory.find("/node_modules/") + len("/node_modules")]
        db = by_root.get(root)
        if db is None:
            db = by_root[root] = Database("npm", root.lstrip("/"))
        data = manifests[path] if isinstance(manifests[path], dict) else {}
        name = data.get("name") or _name_of(directory)
        db.packages.append(Listed("npm", str(name), str(data.get("version") or ""), directory=directory))
    return by_root.values()


def _name_of(directory: str) -> str:
    parts = directory.split("/")
    return "/".join(parts[-2:]) if parts[-2].startswith("@") else parts[-1]
