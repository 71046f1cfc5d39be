"""Alpine packages: apk-tools' ``lib/apk/db/installed``: one paragraph per package of ``X:value``
lines (``P`` name, ``V`` version, ``A`` arch, ``I`` installed size in bytes, ``F`` a directory,
each ``R`` a file in the last ``F`` directory), paragraphs split by blank lines."""

from __future__ import annotations

from .database import Database, Listed


def read_installed(text: str, where: str = "lib/apk/db/installed") -> Database:
    db = Database("apk", where)
    package: Listed | None = None
    directory = ""
    orphans = 0
    for line in text.splitlines():
        if not line.strip():
            package, directory = None, ""
            continue
        tag, colon, value = line[:1], line[1:2], line[2:]
        if colon != ":":
            continue
        if tag == "P":
            package = Listed("apk", value)
            directory = ""
            db.packages.append(package)
        elif package is None:
            orphans += tag in "FR"
        elif tag == "V":
            package.version = value
        elif tag == "A":
            package.arch = value
        elif tag == "I":
            package.claimed_size = int(value) if value.isdigit() else None
        elif tag == "F":
            directory = value.strip("/")
        elif tag == "R":
            package.paths.append(f"/{directory}/{value}" if directory else f"/{value}")
    if not db.packages and text.strip():
        db.warnings.append(f"apk: {where} is damaged (no P: line): not read")
    elif orphans:
        db.warnings.append(
            f"apk: {where} is damaged ({orphans} file lines outside a package): they are skipped"
        )
    return db
