"""Go's function table (``.gopclntab``, Go 1.18+ layouts) read for sizes: which function is where, how
big it is, and which package owns each byte of the runtime tables.

Header (``runtime.pcHeader``): magic uint32 (0xfffffff0 for Go 1.18/1.19, 0xfffffff1 for Go 1.20+),
two zero bytes, the pc quantum, the pointer size, then eight uintptrs: nfunc, nfiles, textStart and
the offsets of funcnametab, cutab, filetab, pctab and the function table. The function table holds
``nfunc`` pairs (entry offset from textStart, offset of the ``_func`` record) and a final end pc;
each ``_func`` (40 bytes before Go 1.20, 44 after: Go 1.20 added startLine) is followed by npcdata
uint32 pctab offsets and nfuncdata uint32 offsets from ``moduledata.gofunc`` (^0 = none).

A function's code ends where its pc-value tables end: the pcsp table covers the whole function, so
the sum of its pc deltas (times the pc quantum) is the function's exact size, without the alignment
padding the linker puts before the next function. Tables are written back to back, so a table's
bytes run to the next table's start.
"""

from __future__ import annotations

import bisect
import re
import struct
import sys
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate, compress, repeat
from operator import add, and_, eq, itemgetter, le, lt, mul, ne, rshift, sub, truediv
from typing import cast

from .names import package_of

MAGIC_118 = 0xFFFFFFF0
MAGIC_120 = 0xFFFFFFF1
OLD_MAGICS = {0xFFFFFFFB: "Go 1.2-1.15", 0xFFFFFFFA: "Go 1.16/1.17"}
NO_FUNCDATA = 0xFFFFFFFF


class TableError(ValueError):
    """The function table is there but cannot be read (one line, for GoBinary.problem)."""


@dataclass
class PcHeader:
    magic: int
    quantum: int
    ptr_size: int
    nfunc: int
    nfiles: int
    text_start: int
    funcname: int
    cu: int
    filetab: int
    pctab: int
    functab: int
    header_size: int


def read_header(data: bytes | bytearray, base: int, size: int, endian: str) -> PcHeader:
    """Parse and sanity-check the pcHeader at ``data[base:]`` (a section of ``size`` bytes)."""
    if size < 8:
        raise TableError("function table (.gopclntab) is truncated")
    magic, pad1, pad2, quantum, ptr_size = struct.unpack_from(endian + "IBBBB", data, base)
    if magic in OLD_MAGICS:
        raise TableError(
            f"function table layout 0x{magic:08x} ({OLD_MAGICS[magic]}) is not read; sizes by section only"
        )
    if magic not in (MAGIC_118, MAGIC_120):
        raise TableError(f"unknown function table magic 0x{magic:08x} (newer Go?); sizes by section only")
    if pad1 or pad2 or quantum not in (1, 2, 4) or ptr_size not in (4, 8):
        raise TableError("function table header is corrupt")
    hsize = 8 + 8 * ptr_size
    if size < hsize:
        raise TableError("function table (.gopclntab) is truncated")
    words = struct.unpack_from(endian + ("Q" if ptr_size == 8 else "I") * 8, data, base + 8)
    nfunc, nfiles, text_start, funcname, cu, filetab, pctab, functab = words
    h = PcHeader(
        magic, quantum, ptr_size, nfunc, nfiles, text_start, funcname, cu, filetab, pctab, functab, hsize
    )
    offsets = [hsize, h.funcname, h.cu, h.filetab, h.pctab, h.functab]
    if offsets != sorted(offsets) or h.functab + (2 * h.nfunc + 1) * 4 > size or h.nfunc > size:
        raise TableError("function table header offsets are corrupt or the table is truncated")
    return h


@dataclass
class TableSizes:
    """What the function table says, as byte counts per package id and per named bucket."""

    pkg_names: list[str] = field(default_factory=list)
    #: exact code bytes per package id
    code: list[int] = field(default_factory=list)
    #: share of .gopclntab per package id (fractional: shared tables are split evenly)
    table: list[float] = field(default_factory=list)
    #: share of go:func.* (funcdata) per package id
    funcdata: list[float] = field(default_factory=list)
    #: bytes of .gopclntab not attributable to a package, by bucket
    table_other: dict[str, int] = field(default_factory=dict)
    #: bytes of .text between or around functions: alignment fill vs anything else
    text_padding: int = 0
    text_other: int = 0
    #: bytes of go:func.* claimed, and the file offsets of the first and last funcdata object
    funcdata_claimed: int = 0
    is_test: bool = False
    nfunc: int = 0
    funcdata_span: tuple[int, int] = (0, 0)


def _pc_span(data: bytes | bytearray, pos: int, end: int) -> int:
    """Sum of the pc deltas of the pc-value table at ``data[pos:]`` (in pc quanta), or -1."""
    first = True
    total = 0
    while pos < end:
        b = data[pos]
        if b == 0 and not first:
            return total
        first = False
        while b & 0x80:  # skip the value delta
            pos += 1
            b = data[pos]
        pos += 1
        v = shift = 0
        while True:
            b = data[pos]
            pos += 1
            v |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
            if shift > 63:
                return -1
        total += v
    return -1


def _gather(view: Sequence[int], idx: list[int]) -> tuple[int, ...]:
    """view[i] for every i in idx, in C (operator.itemgetter)."""
    if not idx:
        return ()
    if len(idx) == 1:
        return (view[idx[0]],)
    got: tuple[int, ...] = itemgetter(*idx)(view)
    return got


def _u32_view(data: bytes | bytearray, start: int, end: int, endian: str) -> Sequence[int]:
    """The uint32 words of data[start:end] (no copy when the byte order is the host's)."""
    end = start + (end - start) // 4 * 4
    if (endian == "<") == (sys.byteorder == "little"):
        return memoryview(data)[start:end].cast("I")
    arr = array("I", data[start:end])
    arr.byteswap()
    return arr


def _runs(values: Sequence[int]) -> list[tuple[int, int, int]]:
    """(value, start, end) for each run of equal values: packages' functions mostly sit together, so
    per-package sums become a few sums over slices, done in C."""
    n = len(values)
    if not n:
        return []
    cuts = [0, *compress(range(1, n), map(ne, values[1:], values[:-1])), n]
    return [(values[a], a, b) for a, b in zip(cuts, cuts[1:])]


# a function name up to the dot that ends its package path (Go's rule, for names without generics)
_NAME_PKG = re.compile(rb"((?:[^\0/]*/)*[^\0./]*\.?)[^\0]*\0")
_SLOW_NAME = re.compile(rb"\0(?:type|go)[:.]|\[")


def read_tables(
    data: bytes | bytearray,
    base: int,
    size: int,
    endian: str,
    h: PcHeader,
    text_start: int,
    text_sec: tuple[int, int, int] | None,
    gofunc: int | None,
    fill_byte: int,
) -> TableSizes:
    """Attribute the function table, the functions' code and their funcdata to packages.

    ``text_sec`` is (address, file offset, size) of the section holding the code; ``gofunc`` the
    file offset of ``go:func.*`` (funcdata) when the module data was found. Work is done column by
    column (gathering one field of every ``_func`` at a time, in C) to keep big binaries fast.
    """
    out = TableSizes(nfunc=h.nfunc)
    nfunc = h.nfunc
    ftab = base + h.functab
    u32 = _u32_view(data, ftab, base + size, endian)
    entries = u32[0 : 2 * nfunc + 1 : 2]
    funcoffs = u32[1 : 2 * nfunc : 2]
    if len(entries) != nfunc + 1 or any(fo & 3 for fo in funcoffs) or not all(map(le, entries, entries[1:])):
        raise TableError("function table entries are corrupt")
    words = 11 if h.magic == MAGIC_120 else 10  # fixed _func words (Go 1.20 added startLine)
    fbase = array("I", map(rshift, funcoffs, repeat(2)))

    def column(word: int) -> array[int]:
        return array("I", _gather(u32, list(map(add, fbase, repeat(word)))))

    nameoff = column(1)
    pcsp = column(4)
    npcdata = column(7)
    last = column(words - 1)
    nfd = array("B", map(rshift, last, repeat(24)) if endian == "<" else map(and_, last, repeat(0xFF)))
    del last
    if nfunc and (max(npcdata) > 64 or max(nfd) > 64):
        raise TableError("function table records are corrupt (implausible pcdata/funcdata counts)")

    # --- names -> packages, in bulk over funcnametab -------------------------------------------------
    names_base = base + h.funcname
    blob = bytes(data[names_base : base + h.cu])  # hashable slices (data may be a bytearray)
    lens = array("I", map(len, blob.split(b"\0")))
    lens.pop()  # what follows the last NUL is not a name
    found = _NAME_PKG.findall(blob)
    raw_ids: dict[bytes, int] = {}
    raw_pids = array("I", [raw_ids.setdefault(p, len(raw_ids)) for p in found])
    del found
    # "pkg." -> pkg; a name without a dot after its last slash -> runtime
    pkg_ids: dict[bytes, int] = {}
    remap = [
        pkg_ids.setdefault(k[:-1] if k.endswith(b".") and len(k) > 1 else b"runtime", len(pkg_ids))
        for k in raw_ids
    ]
    name_pids = array("I", map(remap.__getitem__, raw_pids))
    del raw_pids, raw_ids, remap
    offsets = array("q", accumulate(map(add, lens, repeat(1)), initial=0))
    slow = {bisect.bisect_right(offsets, m.end() - 1) - 1 for m in _SLOW_NAME.finditer(blob)}
    slow.add(0)  # the first name has no NUL before it
    for k in slow:
        if 0 <= k < len(lens):
            raw = blob[offsets[k] : offsets[k] + lens[k]]
            pkg = package_of(raw.decode("utf-8", "replace")).encode("utf-8", "replace")
            name_pids[k] = pkg_ids.setdefault(pkg, len(pkg_ids))
    out.is_test = b"\0testing.MainStart\0" in blob or blob.startswith(b"testing.MainStart\0")
    del blob
    npkg = len(pkg_ids)
    table = [0.0] * npkg
    name_claimed = 0
    for pid, a, b in _runs(name_pids):
        chunk = lens[a:b]
        n = sum(chunk) + (b - a) - chunk.count(0)  # empty "names" (NUL padding) are not claimed
        table[pid] += n
        name_claimed += n
    off2pid = dict(zip(offsets, name_pids))
    del offsets, name_pids, lens
    fpid_opt = list(map(off2pid.get, nameoff))
    del off2pid
    if None in fpid_opt:
        raise TableError("function table: function names point outside the name table")
    fpid = array("I", cast("list[int]", fpid_opt))
    del fpid_opt
    fruns = _runs(fpid)

    # --- pctab: tables are back to back; a table shared by several functions is split evenly ---------
    # Functions are grouped by their pcdata/funcdata counts so that each table reference "column"
    # (pcsp, pcfile, pcln, pcdata[k], funcdata[k]) is gathered and summed in C.
    pctab = base + h.pctab
    pctab_size = h.functab - h.pctab
    gkeys = array("I", map(add, map(mul, npcdata, repeat(256)), nfd))
    groups: list[tuple[int, int, list[int], list[tuple[int, int, int]]]] = []
    for key in sorted(set(gkeys)):
        members = list(compress(range(nfunc), map(eq, gkeys, repeat(key))))
        bases = list(map(fbase.__getitem__, members))
        groups.append((key >> 8, key & 0xFF, bases, _runs(array("I", map(fpid.__getitem__, members)))))
    del gkeys

    def columns(kind: str) -> list[tuple[int, array[int]]]:
        """(group index, one table-offset column of that group's functions)"""
        cols = []
        for gi, (n, m, bases, _) in enumerate(groups):
            if kind == "tab":
                word_offs = [4, 5, 6, *range(words, words + n)]
            else:
                word_offs = list(range(words + n, words + n + m))
            for d in word_offs:
                cols.append((gi, array("I", _gather(u32, list(map(add, bases, repeat(d)))))))
        return cols

    def per_package(cols: list[tuple[int, array[int]]], share: dict[int, float], target: list[float]) -> None:
        acc: dict[int, list[float]] = {}
        for gi, col in cols:
            vals = map(share.__getitem__, col)
            prev = acc.get(gi)
            acc[gi] = list(vals) if prev is None else list(map(add, prev, vals))
        for gi, sums in acc.items():
            for pid, a, b in groups[gi][3]:
                target[pid] += sum(sums[a:b])

    tab_cols = columns("tab")
    counts: Counter[int] = Counter()
    for _, col in tab_cols:
        counts.update(col)
    counts.pop(0, None)
    starts = sorted(o for o in counts if o < pctab_size)
    share: dict[int, float] = dict.fromkeys(counts, 0.0)
    share[0] = 0.0
    following = [*starts[1:], pctab_size]
    extents = list(map(sub, following, starts))
    next_start: dict[int, int] = dict(zip(starts, following))
    share.update(zip(starts, map(truediv, extents, map(counts.__getitem__, starts))))
    claimed = sum(extents)
    del counts, starts, extents, following
    per_package(tab_cols, share, table)
    del tab_cols, share
    pctab_other = pctab_size - claimed

    # --- function records: functab pair + _func + its arrays, up to the next record ------------------
    ftab_size = size - h.functab
    rec_claimed = 0
    if nfunc and all(map(lt, funcoffs, funcoffs[1:])) and funcoffs[-1] < ftab_size:
        ext = array("q", map(sub, funcoffs[1:], funcoffs))
        # the last record runs to the table's end: count its own words only (the rest is alignment)
        ext.append(min(ftab_size - funcoffs[-1], 4 * (words + npcdata[-1] + nfd[-1])))
        rec_claimed = sum(ext)
        for pid, a, b in fruns:
            table[pid] += sum(ext[a:b]) + 8 * (b - a)
        del ext
    elif nfunc:
        raise TableError("function table records are out of order or out of bounds")
    rec_claimed += 8 * nfunc

    out.table_other = {
        "pclntab:header": h.funcname,
        "pclntab:funcnametab": (h.cu - h.funcname) - name_claimed,
        "pclntab:cutab": h.filetab - h.cu,
        "pclntab:filetab": h.pctab - h.filetab,
        "pclntab:pctab": pctab_other,
        "pclntab:functab": ftab_size - rec_claimed,
    }

    # --- code: each function's extent from its pcsp table ---------------------------------------------
    code = [0] * npkg
    spans: dict[int, int] = {}
    nul = b"\0"
    for t_off in set(pcsp):
        end_t = next_start.get(t_off)
        span = -1
        if end_t is not None:
            tb = data[pctab + t_off : pctab + end_t]
            if tb.isascii() and len(tb) & 1 and tb[-1] == 0 and nul not in tb[2:-1:2]:
                span = sum(tb[1::2])
            else:
                span = _pc_span(data, pctab + t_off, pctab + end_t)
        spans[t_off] = span * h.quantum if span >= 0 else 1 << 48  # unknown: up to the next function
    del next_start
    text_padding = text_other = 0
    if text_sec is not None and nfunc:
        sec_addr, sec_off, sec_size = text_sec
        delta = text_start + sec_off - sec_addr  # file offset of an entry offset
        sec_end = sec_off + sec_size
        starts_f = array("q", map(add, entries, repeat(delta)))
        if starts_f[0] < sec_off or starts_f[-1] > sec_end:
            raise TableError("function table: functions lie outside the code section")
        text_other += starts_f[0] - sec_off
        nexts = starts_f[1:]
        del starts_f[-1]
        ends = array("q", map(min, map(add, starts_f, map(spans.__getitem__, pcsp)), nexts))
        sizes = array("q", map(sub, ends, starts_f))
        for pid, a, b in fruns:
            code[pid] += sum(sizes[a:b])
        del sizes
        del starts_f
        gaps = array("q", map(sub, nexts, ends))
        fills = map(data.count, repeat(bytes([fill_byte])), ends, nexts)
        text_padding = sum(compress(gaps, map(eq, gaps, fills)))
        text_other += sum(gaps) - text_padding + max(0, sec_end - nexts[-1])
        del gaps, ends, nexts
    out.text_padding = text_padding
    out.text_other = text_other

    # --- funcdata (go:func.*): each object runs to the next one; the last one stays unclaimed ---------
    fdata = [0.0] * npkg
    if gofunc is not None:
        fd_cols = columns("fd")
        fcounts: Counter[int] = Counter()
        for _, col in fd_cols:
            fcounts.update(col)
        fcounts.pop(NO_FUNCDATA, None)
        fstarts = sorted(fcounts)
        fshare: dict[int, float] = {NO_FUNCDATA: 0.0}
        fextents = [*map(sub, fstarts[1:], fstarts), 0] if fstarts else []
        fshare.update(zip(fstarts, map(truediv, fextents, map(fcounts.__getitem__, fstarts))))
        fclaimed = sum(fextents)
        del fcounts, fextents
        per_package(fd_cols, fshare, fdata)
        out.funcdata_claimed = fclaimed
        if fstarts:
            out.funcdata_span = (gofunc + fstarts[0], gofunc + fstarts[-1])

    out.pkg_names = [p.decode("utf-8", "replace") for p in pkg_ids]
    out.code = code
    out.table = table
    out.funcdata = fdata
    return out


def locate_moduledata(
    data: bytes | bytearray, sec: tuple[int, int], pclntab_addr: int, funcname_off: int, endian: str, ptr: int
) -> int:
    """File offset of ``runtime.firstmoduledata`` inside the section at ``sec`` (offset, size), or -1.

    Its first word points at the pcHeader and its second (funcnametab's data) at the names."""
    fmt = endian + ("QQ" if ptr == 8 else "II")
    needle = struct.pack(fmt, pclntab_addr, pclntab_addr + funcname_off)
    off, size = sec
    pos = data.find(needle, off, off + size)
    while pos >= 0 and (pos - off) % ptr:
        pos = data.find(needle, pos + 1, off + size)
    return pos


def read_moduledata(data: bytes | bytearray, pos: int, endian: str, ptr: int, v120: bool) -> dict[str, int]:
    """The address fields of moduledata that sizes need."""
    w = "Q" if ptr == 8 else "I"
    words = struct.unpack_from(endian + w * 42, data, pos)
    base = 19  # pcHeader + six slices
    names = ["findfunctab", "minpc", "maxpc", "text", "etext", "noptrdata", "enoptrdata", "data", "edata"]
    names += ["bss", "ebss", "noptrbss", "enoptrbss"]
    if v120:
        names += ["covctrs", "ecovctrs"]
    names += ["end", "gcdata", "gcbss", "types", "etypes", "rodata", "gofunc"]
    return {n: words[base + k] for k, n in enumerate(names)}


def addr_to_offset(sections: list[tuple[int, int, int]], addr: int) -> int:
    """File offset of a virtual address, given sorted (addr, offset, size) sections; -1 if unmapped."""
    i = bisect.bisect_right(sections, (addr, 1 << 64, 0)) - 1
    if i >= 0:
        a, o, s = sections[i]
        if a <= addr < a + s:
            return o + addr - a
    return -1
