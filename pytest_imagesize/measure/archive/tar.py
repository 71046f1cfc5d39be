"""A tar parser that copies no file data: the headers of a stream (POSIX ustar, GNU and pax), walked
member by member while the caller reads, or lets go of, each member's data."""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Iterator
from typing import Any, NamedTuple

from ..paths import clean_path
from .model import ArchiveError, EmptyTar, TarEntry

RECORD = 512
ZERO_RECORD = bytes(RECORD)

# The fields of a 512-byte header (POSIX ustar; GNU puts its own fields in the prefix's place).
NAME = slice(0, 100)
MODE = slice(100, 108)
UID = slice(108, 116)
GID = slice(116, 124)
SIZE = slice(124, 136)
CHECKSUM = slice(148, 156)
TYPE = slice(156, 157)
LINK = slice(157, 257)
MAGIC = slice(257, 263)  # b"ustar\0" (POSIX) or b"ustar " (GNU)
PREFIX = slice(345, 500)  # POSIX: the path's leading directories
GNU_EXTENDED = 482  # GNU sparse header: nonzero when sparse extension headers follow
GNU_REAL_SIZE = slice(483, 495)  # GNU sparse header: the file's size (the data holds less)
GNU_EXTENSION_MORE = 504  # GNU sparse extension header: nonzero when another one follows
USTAR = b"ustar"  # the magic's common start
POSIX_MAGIC = b"ustar\0"
CHECKSUM_BLANKS = 8 * ord(" ")  # the checksum field counts as spaces in its own sum

# type flags (POSIX, GNU and pax)
REGULAR = (b"0", b"\0", b"7", b"S")
GNU_SPARSE = b"S"
DIRECTORY = b"5"
_LONG_NAME, _LONG_LINK, _PAX, _PAX_GLOBAL, _PAX_SOLARIS = b"L", b"K", b"x", b"g", b"X"
_META = (_LONG_NAME, _LONG_LINK, _PAX, _PAX_GLOBAL, _PAX_SOLARIS)  # describe the next member
_SUPPORTED = (*REGULAR, b"1", b"2", b"3", b"4", DIRECTORY, b"6", *_META)
_KINDS = {
    b"0": "file",
    b"\0": "file",
    b"7": "file",
    b"S": "file",
    b"5": "dir",
    b"2": "symlink",
    b"1": "hardlink",
}
_GNU_TYPES = (_LONG_NAME, _LONG_LINK, GNU_SPARSE)


def looks_like_tar(head: bytes) -> bool:
    """Whether ``head`` (a stream's first bytes) starts with a ustar header."""
    return head[MAGIC].startswith(USTAR)


def _nts(raw: bytes) -> str:
    end = raw.find(b"\0")
    return (raw if end == -1 else raw[:end]).decode("utf-8", "surrogateescape")


def _number(raw: bytes) -> int:
    try:
        return int(raw.rstrip(b"\0 ") or b"0", 8)
    except ValueError:
        pass
    if raw[:1] and raw[0] & 0x80:
        value: int = tarfile.nti(raw)  # type: ignore[attr-defined]  # base-256
        return value
    text = raw.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _checksum_ok(block: bytes) -> bool:
    field = block[CHECKSUM]
    try:
        stored = _number(field)
    except ValueError:
        return False
    # the unsigned sum (the checksum field counted as spaces), compared through Adler-32's first
    # half (1 + the byte sum, mod 65521), which zlib computes at memory speed
    if (stored + sum(field) - CHECKSUM_BLANKS + 1) % 65521 == zlib.adler32(block) & 0xFFFF:
        return True
    signed = sum(b - 256 if b > 127 else b for b in block[: CHECKSUM.start] + block[CHECKSUM.stop :])
    return stored == signed + CHECKSUM_BLANKS


class Header(NamedTuple):
    name: str
    type: bytes
    size: int  # data bytes that follow the header (before padding)
    real_size: int  # the file's size (differs for GNU sparse files)
    mode: int
    uid: int
    gid: int
    link: str
    extended: bool  # GNU sparse: more sparse headers follow


def parse_header(block: bytes) -> Header:
    """One 512-byte header; ``ValueError`` when it is not one."""
    if not _checksum_ok(block):
        raise ValueError("bad checksum")
    kind = block[TYPE]
    name = _nts(block[NAME])
    if block[PREFIX.start] and block[MAGIC] == POSIX_MAGIC and kind not in _GNU_TYPES:
        prefix = _nts(block[PREFIX])
        if prefix:
            name = prefix + "/" + name
    try:  # plain octal numbers (nearly always): no call per field
        size = int(block[SIZE].rstrip(b"\0 ") or b"0", 8)
        mode = int(block[MODE].rstrip(b"\0 ") or b"0", 8)
        uid = int(block[UID].rstrip(b"\0 ") or b"0", 8)
        gid = int(block[GID].rstrip(b"\0 ") or b"0", 8)
    except ValueError:
        size, mode = _number(block[SIZE]), _number(block[MODE])
        uid, gid = _number(block[UID]), _number(block[GID])
    real_size = size
    extended = False
    if kind == GNU_SPARSE:
        real_size = _number(block[GNU_REAL_SIZE])
        extended = bool(block[GNU_EXTENDED])
    if kind == b"\0" and name.endswith("/"):
        kind = DIRECTORY
    link = _nts(block[LINK]) if block[LINK.start] else ""
    return Header(name, kind, size, real_size, mode, uid, gid, link, extended)


def _pax(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos)
        if space == -1:
            raise ValueError("bad pax record")
        length = int(data[pos:space])
        if length <= 0:
            raise ValueError("bad pax record")
        record = data[space + 1 : pos + length - 1]
        key, sep, value = record.partition(b"=")
        if not sep:
            raise ValueError("bad pax record")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def padded(size: int) -> int:
    return (size + RECORD - 1) // RECORD * RECORD


def walk(source: Any, what: str) -> Iterator[tuple[Header, int]]:
    """The members of a tar, as (header, data size); the caller may read some of the data, the
    rest (and the padding) is skipped when it asks for the next member. Ends at the first zero
    record, or at a bad or short header after the first (as tarfile does); ``EmptyTar`` when the
    stream has no byte at all."""
    pending: dict[str, str] = {}
    global_pax: dict[str, str] = {}
    first = True
    while True:
        block = source.read(RECORD)
        if len(block) < RECORD or block == ZERO_RECORD:
            if first and len(block) < RECORD and block:
                raise ArchiveError(f"{what} is not a valid tar (truncated header)")
            if first and not block:
                raise EmptyTar(f"{what} is empty")
            return
        try:
            header = parse_header(block)
        except (ValueError, tarfile.HeaderError):
            if first:
                raise ArchiveError(f"{what} is not a valid tar (bad header)") from None
            return
        first = False
        kind = header.type
        if kind in _META:
            data = source.read(padded(header.size))
            if len(data) < padded(header.size):
                raise ArchiveError(f"{what} is truncated")
            data = data[: header.size]
            if kind == _LONG_NAME:
                pending["path"] = _nts(data)
            elif kind == _LONG_LINK:
                pending["linkpath"] = _nts(data)
            else:
                try:
                    records = _pax(data)
                except ValueError:
                    raise ArchiveError(f"{what} has a bad pax header") from None
                (global_pax if kind == _PAX_GLOBAL else pending).update(records)
            continue
        if global_pax or pending:
            extra = {**global_pax, **pending}
            pending = {}
            try:
                header = header._replace(
                    name=extra.get("path", header.name),
                    link=extra.get("linkpath", header.link),
                    uid=int(extra.get("uid", header.uid)),
                    gid=int(extra.get("gid", header.gid)),
                )
                if "size" in extra:
                    size = int(extra["size"])
                    header = header._replace(size=size, real_size=size)
            except ValueError:
                raise ArchiveError(f"{what} has a bad pax header") from None
        if header.extended:
            while True:
                more = source.read(RECORD)
                if len(more) < RECORD:
                    raise ArchiveError(f"{what} is truncated")
                if not more[GNU_EXTENSION_MORE]:
                    break
        stored = header.size if (kind in REGULAR or kind not in _SUPPORTED) else 0
        to_skip = padded(stored)
        before = source.taken
        yield header, stored
        left = to_skip - (source.taken - before)
        if left > 0 and source.skip(left) < left:
            raise ArchiveError(f"{what} is truncated")


def entry(header: Header) -> TarEntry:
    kind = _KINDS.get(header.type, "other")
    name = header.name
    path = clean_path(name) if ("//" in name or "/." in name or name[:1] == ".") else "/" + name.strip("/")
    if kind == "file":
        return TarEntry(path, kind, header.real_size, header.mode, header.uid, header.gid)
    if kind == "symlink":
        return TarEntry(path, kind, 0, header.mode, header.uid, header.gid, header.link)
    if kind == "hardlink":
        return TarEntry(path, kind, 0, header.mode, header.uid, header.gid, clean_path(header.link))
    return TarEntry(path, kind, 0, header.mode, header.uid, header.gid)
