"""RPM packages: an ``rpmdb.sqlite`` (``var/lib/rpm`` or ``usr/lib/sysimage/rpm``), whose
``Packages`` table holds one rpm header per package (``hnum``, ``blob``).

A header blob: the number of index entries and the data length (big-endian 32-bit), the entries
(tag, type, offset into the data, count; 16 bytes each), then the data. The tags read: NAME
(1000), VERSION (1001), RELEASE (1002), EPOCH (1003), SIZE (1009), LONGSIZE (5009), ARCH (1022),
DIRINDEXES (1116), BASENAMES (1117), DIRNAMES (1118)."""

from __future__ import annotations

import sqlite3
import struct
from typing import Any

from .database import Database, Listed

NAME, VERSION, RELEASE, EPOCH, SIZE, ARCH = 1000, 1001, 1002, 1003, 1009, 1022
DIRINDEXES, BASENAMES, DIRNAMES, LONGSIZE = 1116, 1117, 1118, 5009
INT32, INT64, STRING, STRING_ARRAY, I18NSTRING = 4, 5, 6, 8, 9
MAX_ENTRIES = 1 << 16  # index entries of one header: far above any real package's


def read_sqlite(data: bytes) -> list[dict[str, Any]]:
    """The packages of an rpmdb.sqlite held in ``data``: ``name``, ``version``, ``arch``,
    ``size``, ``files`` each; ``ValueError`` (one line) when it is not a readable one."""
    if not data.startswith(b"SQLite format 3\x00"):
        raise ValueError("not an SQLite database")
    if data[18:20] == b"\x02\x02":  # WAL mode, which an in-memory copy cannot open: read as rollback
        data = data[:18] + b"\x01\x01" + data[20:]
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(data)
        rows = connection.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
    except sqlite3.Error as exc:
        raise ValueError(f"damaged SQLite database ({exc})") from None
    finally:
        connection.close()
    packages = []
    damaged = 0
    for _, blob in rows:
        try:
            packages.append(parse_header(bytes(blob)))
        except (ValueError, struct.error, IndexError, TypeError):
            damaged += 1
    if damaged:
        packages.append({"damaged": damaged})
    return packages


def parse_header(blob: bytes) -> dict[str, Any]:
    """One package's header blob (see the module's docstring) as a dict."""
    count, length = struct.unpack_from(">II", blob, 0)
    if count > MAX_ENTRIES or 8 + 16 * count + length > len(blob):
        raise ValueError("header larger than its blob")
    store = 8 + 16 * count
    tags: dict[int, Any] = {}
    for i in range(count):
        tag, kind, offset, items = struct.unpack_from(">IIII", blob, 8 + 16 * i)
        if tag in (NAME, VERSION, RELEASE, ARCH, EPOCH, SIZE, LONGSIZE, DIRINDEXES, BASENAMES, DIRNAMES):
            if offset >= length:
                raise ValueError("entry outside the header's data")
            tags[tag] = _value(blob, store + offset, store + length, kind, items)
    name = _first(tags.get(NAME))
    if not isinstance(name, str) or not name:
        raise ValueError("header without a name")
    files = []
    bases, dirs, indexes = tags.get(BASENAMES) or [], tags.get(DIRNAMES) or [], tags.get(DIRINDEXES) or []
    for base, index in zip(bases, indexes, strict=False):
        files.append(dirs[index] + base)
    version = _first(tags.get(VERSION)) or ""
    release = _first(tags.get(RELEASE))
    epoch = _first(tags.get(EPOCH))
    full = f"{version}-{release}" if release else str(version)
    size = _first(tags.get(LONGSIZE)) if LONGSIZE in tags else _first(tags.get(SIZE))
    return {
        "name": name,
        "version": f"{epoch}:{full}" if isinstance(epoch, int) and epoch else full,
        "arch": _first(tags.get(ARCH)) or "",
        "size": size if isinstance(size, int) else None,
        "files": files,
    }


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _value(blob: bytes, start: int, end: int, kind: int, items: int) -> Any:
    if kind == INT32:
        if start + 4 * items > end:
            raise ValueError("entry outside the header's data")
        return list(struct.unpack_from(f">{items}i", blob, start))
    if kind == INT64:
        if start + 8 * items > end:
            raise ValueError("entry outside the header's data")
        return list(struct.unpack_from(f">{items}q", blob, start))
    if kind in (STRING, STRING_ARRAY, I18NSTRING):
        values = []
        pos = start
        for _ in range(items if kind != STRING else 1):
            stop = blob.find(b"\0", pos, end)
            if stop < 0:
                raise ValueError("unterminated string")
            values.append(blob[pos:stop].decode("utf-8", "surrogateescape"))
            pos = stop + 1
        return values
    return None


def database(path: str, data: Any) -> Database:
    """The packages ``read_sqlite`` found, as a database named by ``path``."""
    db = Database("rpm", path.lstrip("/"))
    for row in data if isinstance(data, list) else []:
        if not isinstance(row, dict):
            continue
        if "damaged" in row:
            db.warnings.append(f"rpm: {db.where}: {row['damaged']} package headers are damaged and not read")
            continue
        size = row.get("size")
        db.packages.append(
            Listed(
                "rpm",
                str(row.get("name")),
                str(row.get("version") or ""),
                str(row.get("arch") or ""),
                size if isinstance(size, int) else None,
                [str(f) for f in row.get("files") or []],
            )
        )
    return db
