"""Cheap ELF checks done before a file is parsed: is it cut short, and is it a Go executable when
its build info is gone.

A truncated ELF file is told by its own headers: the program headers, the section header table,
a section's contents or a loaded segment end past the end of the file. Go's linker writes the
section header table near the start and the section name table (``.shstrtab``) at the very end,
so a Go binary cut anywhere keeps its section headers but loses the names: sections are then
named by number.

A Go executable whose build info was cut off is still told apart from other ELF files by Go's
build-ID note (``.note.go.buildid``: an ELF note of type 4 named ``Go``), which the linker puts in
the first page of every executable the go command builds.
"""

from __future__ import annotations

import struct

#: the Go build-ID note's type and name fields (little-endian: amd64, arm64), as the probe's needle
GO_NOTE_LE = b"\x04\x00\x00\x00Go\x00\x00"
GO_NOTE_BE = b"\x00\x00\x00\x04Go\x00\x00"
NOTE_WINDOW = 1 << 16  # where the note is looked for: the file's first pages
_SHT_NULL, _SHT_NOBITS, _PT_LOAD = 0, 8, 1
# a Go 1.18+ function table's first bytes: magic 0xfffffff0/0xfffffff1, two zero bytes
_PCLNTAB_STARTS = {
    m + b"\0\0" for m in (b"\xf0\xff\xff\xff", b"\xf1\xff\xff\xff", b"\xff\xff\xff\xf0", b"\xff\xff\xff\xf1")
}


def has_go_note(data: bytes | bytearray) -> bool:
    """Does the file's start carry Go's build-ID note?"""
    end = min(len(data), NOTE_WINDOW)
    return data.find(GO_NOTE_LE, 0, end) >= 0 or data.find(GO_NOTE_BE, 0, end) >= 0


def truncation(data: bytes | bytearray) -> str | None:
    """What of an ELF file lies past its end (``"section .gopclntab ends at byte 8,521,000"``),
    or None when it is whole or its header is too damaged to tell (then the parser says so)."""
    size = len(data)
    if size < 6 or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    wide = data[4] == 2
    e = "<" if data[5] == 1 else ">"
    ehsize = 64 if wide else 52
    if size < ehsize:
        return f"ELF header ends at byte {ehsize:,}"
    if wide:
        phoff, shoff = struct.unpack_from(e + "QQ", data, 0x20)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "5H", data, 0x36)
    else:
        phoff, shoff = struct.unpack_from(e + "II", data, 0x1C)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "5H", data, 0x2A)
    if (phnum and phentsize != (56 if wide else 32)) or (shnum and shentsize != (64 if wide else 40)):
        return None  # not a plausible header: not judged here
    found: list[tuple[int, str]] = []
    if phnum and phoff + phnum * phentsize > size:
        found.append((phoff + phnum * phentsize, "the program headers"))
    elif phnum:
        for i in range(phnum):
            at = phoff + i * phentsize
            if wide:
                ptype, _, off, _, _, filesz = struct.unpack_from(e + "IIQQQQ", data, at)
            else:
                ptype, off, _, _, filesz = struct.unpack_from(e + "5I", data, at)
            if ptype == _PT_LOAD and off + filesz > size:
                found.append((off + filesz, f"~loaded segment {i}"))
    if shnum and shoff + shnum * shentsize > size:
        found.append((shoff + shnum * shentsize, "the section headers"))
    elif shnum:
        secs = []
        for i in range(shnum):
            at = shoff + i * shentsize
            if wide:
                name, stype, _, _, off, sz = struct.unpack_from(e + "IIQQQQ", data, at)
            else:
                name, stype, _, _, off, sz = struct.unpack_from(e + "6I", data, at)
            secs.append((name, stype, off, sz))
        names = secs[shstrndx] if shstrndx < shnum else None

        def name_of(i: int) -> str:
            if names is not None and names[2] + names[3] <= size:
                pos = names[2] + secs[i][0]
                end = data.find(b"\0", pos, names[2] + names[3])
                if end > pos:
                    return data[pos:end].decode("ascii", "replace")
            off = secs[i][2]  # the names are cut off: Go's own sections are told by their start
            if data[off : off + 14] == b"\xff Go buildinf:":
                return ".go.buildinfo"
            if data[off : off + 6] in _PCLNTAB_STARTS:
                return ".gopclntab"
            return f"#{i}"

        for i, (_, stype, off, sz) in enumerate(secs):
            if stype not in (_SHT_NULL, _SHT_NOBITS) and off + sz > size:
                found.append((off + sz, f"section {name_of(i)}"))
    if not found:
        return None
    end, what = min(found)  # the first thing cut (a section rather than its segment)
    what = what.lstrip("~")
    return f"{what} ends at byte {end:,} but the file has {size:,}"
