"""The archive reader's probe for package database files: each one is recognised by its path while
its layer streams by and kept (as text, or as what a binary database says) for the final
filesystem's version to be read once the layers are merged (``read.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..archive import FileProbe

MIB = 1 << 20
#: the largest file of each kind that is kept; a bigger one is named in a warning, not read
LIMITS = {
    "dpkg-status": 64 * MIB,
    "dpkg-list": 64 * MIB,
    "dpkg-statusd": 1 * MIB,
    "dpkg-md5sums": 64 * MIB,
    "apk": 64 * MIB,
    "rpm-sqlite": 512 * MIB,
    "python-record": 64 * MIB,
    "python-egg": 64 * MIB,
    "npm": 4 * MIB,
}
DPKG_INFO = "/var/lib/dpkg/info/"
DPKG_STATUSD = "/var/lib/dpkg/status.d/"
RPM_DIRS = ("/var/lib/rpm/", "/usr/lib/sysimage/rpm/")
APK_DBS = ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")  # the second: /lib merged into /usr


def kind_of(path: str) -> str | None:
    """Which package database file ``path`` (absolute, clean) is, or None. Cheap: it sees every
    regular file of every layer."""
    if path.endswith(".list"):
        if path.startswith(DPKG_INFO) and "/" not in path[len(DPKG_INFO) :]:
            return "dpkg-list"
        return None
    if path.endswith("/package.json"):
        parts = path.split("/")
        if len(parts) >= 4 and parts[-3] == "node_modules" and not parts[-2].startswith("@"):
            return "npm"
        if len(parts) >= 5 and parts[-4] == "node_modules" and parts[-3].startswith("@"):
            return "npm"
        return None
    if path.endswith(".dist-info/RECORD"):
        return "python-record"
    if path.endswith(".egg-info/installed-files.txt"):
        return "python-egg"
    if path.startswith("/var/lib/dpkg/"):
        if path == "/var/lib/dpkg/status":
            return "dpkg-status"
        if path.startswith(DPKG_STATUSD) and "/" not in path[len(DPKG_STATUSD) :]:
            return "dpkg-md5sums" if path.endswith(".md5sums") else "dpkg-statusd"
        return None
    if path in APK_DBS:
        return "apk"
    if path.endswith("/rpmdb.sqlite") and path.startswith(RPM_DIRS) and path.count("/") in (4, 5):
        return "rpm-sqlite"
    return None


@dataclass(frozen=True)
class DbFile:
    """One package database file as kept from the layer that wrote it: ``text`` for the text
    formats, ``data`` (JSON values) for what a binary one or a ``package.json`` says, and
    ``problem`` when it could not be read (a line for the warnings)."""

    kind: str
    text: str = ""
    data: Any = None
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"db": self.kind, "text": self.text, "data": self.data, "problem": self.problem}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DbFile:
        problem = data.get("problem")
        return cls(
            str(data["db"]),
            str(data.get("text") or ""),
            data.get("data"),
            None if problem is None else str(problem),
        )


def is_db_json(data: Any) -> bool:
    return isinstance(data, dict) and "db" in data


class PackageProbe(FileProbe):
    """Keeps every package database file of every layer it is shown (up to ``LIMITS``)."""

    needle = b""

    def wants(self, path: str, size: int, head: bytes) -> bool:
        kind = kind_of(path)
        return kind is not None and size <= LIMITS[kind]

    def take(self, path: str, data: bytes | bytearray) -> Any:
        kind = kind_of(path)
        if kind is None:
            return None
        return take(kind, path, data)


def take(kind: str, path: str, data: bytes | bytearray) -> DbFile:
    """What is kept of a database file of ``kind``."""
    if kind == "npm":
        return _package_json(data)
    if kind == "rpm-sqlite":
        from .rpm import read_sqlite

        try:
            return DbFile(kind, data=read_sqlite(bytes(data)))
        except ValueError as exc:
            return DbFile(kind, problem=str(exc))
    return DbFile(kind, text=bytes(data).decode("utf-8", "surrogateescape"))


def _package_json(data: bytes | bytearray) -> DbFile:
    try:
        manifest = json.loads(bytes(data).decode("utf-8", "replace"))
    except ValueError:
        return DbFile("npm", problem="not valid JSON")
    if not isinstance(manifest, dict):
        return DbFile("npm", problem="not a JSON object")
    name, version = manifest.get("name"), manifest.get("version")
    return DbFile(
        "npm",
        data={
            "name": name if isinstance(name, str) else None,
            "version": version if isinstance(version, str) else "",
        },
    )
