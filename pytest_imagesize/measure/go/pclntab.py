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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .names import package_of
from .pcheader import (
    MAGIC_120,
    NO_FUNCDATA,
    PcHeader,
    TableError,
)
from .pcheader import words as _words
from .tablecheck import check_files, check_funcdata, name_of

if TYPE_CHECKING:  # numpy loads with the first Go binary read
    import numpy as np
    import numpy.typing as npt


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
    #: the first function's entry and the end of the last one, as offsets from textStart
    pc_range: tuple[int, int] = (0, 0)
    #: the largest funcdata offset from go:func.* (-1: none)
    funcdata_max: int = -1


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


# a function name up to the dot that ends its package path (Go's rule, for names without generics)
_NAME_PKG = re.compile(rb"((?:[^\0/]*/)*[^\0./]*\.?)[^\0]*\0")
_SLOW_NAME = re.compile(rb"\0(?:type|go)[:.]|\[")


def _arrays(counts: npt.NDArray[np.int64], first: npt.NDArray[np.int32]) -> tuple[npt.NDArray[np.int32], ...]:
    """For per-function arrays of ``counts[i]`` words starting at word ``first[i]``: the owning
    function and the word index of every element, all functions' arrays one after another."""
    import numpy as np

    owner = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    within = np.arange(len(owner), dtype=np.int32) - np.repeat(
        (np.cumsum(counts) - counts).astype(np.int32), counts
    )
    return owner, first[owner] + within


SHARE_CHUNK = 1 << 18  # references summed at once (bounds memory on programs of 200,000 functions)


def _shared(
    refs: npt.NDArray[np.uint32],
    pids: npt.NDArray[np.int32],
    valid: Callable[[npt.NDArray[np.uint32]], npt.NDArray[np.bool_]],
    end: int | None,
    npkg: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Tables (or objects) referenced at offsets ``refs`` (by functions of packages ``pids``) lie
    back to back: each valid one's bytes run to the next one's start (the last one's to ``end``;
    none when ``end`` is None) and are split evenly among its references. Returns the bytes per
    package, the sorted starts and their extents."""
    import numpy as np

    uniq, count = np.unique(refs, return_counts=True)
    ok = valid(uniq)
    starts = uniq[ok].astype(np.int64)
    extents = np.diff(starts, append=starts[-1:] if end is None else end)
    share = np.zeros(len(uniq))
    share[ok] = extents / count[ok]
    del count, ok
    total = np.zeros(npkg)
    for lo in range(0, len(refs), SHARE_CHUNK):
        at = np.searchsorted(uniq, refs[lo : lo + SHARE_CHUNK])
        total += np.bincount(pids[lo : lo + SHARE_CHUNK], weights=share[at], minlength=npkg)
    return total, starts, extents


SPAN_CHUNK = 1 << 17  # table bytes decoded at once: bounds the decoder's arrays (~55 bytes a byte)


def _pc_spans(
    data: bytes | bytearray, first: npt.NDArray[np.int64], end: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Sum of the pc deltas of each pc-value table data[first[i]:end[i]] (in pc quanta), or -1:
    the tables' varints decoded in bulk; a table ending mid-varint or with a pc delta of more than
    28 bits (neither is written by Go) is read by _pc_span."""
    import numpy as np

    out = np.full(len(first), -1, np.int64)
    whole = np.frombuffer(data, np.uint8)
    inside = (first < end) & (end <= len(whole))
    last_ok = np.zeros(len(first), np.bool_)
    last_ok[inside] = whole[end[inside] - 1] < 0x80  # no varint runs on into the next table
    # damaged (ending mid-varint) or longer than a chunk (no Go table is): read one by one
    one_by_one = inside & (~last_ok | (end - first > SPAN_CHUNK))
    for i in np.flatnonzero(one_by_one).tolist():
        out[i] = _pc_span(data, int(first[i]), int(end[i]))
    segs = np.flatnonzero(inside & ~one_by_one)
    done = np.cumsum((end - first)[segs])
    lo = 0
    while lo < len(segs):
        hi = max(int(np.searchsorted(done, done[lo] + SPAN_CHUNK, "right")), lo + 1)
        part = segs[lo:hi]
        spans, slow = _pc_spans_bulk(whole, first[part], end[part])
        out[part] = spans
        for i in part[slow].tolist():
            out[i] = _pc_span(data, int(first[i]), int(end[i]))
        lo = hi
    return out


def _pc_spans_bulk(
    whole: npt.NDArray[np.uint8], first: npt.NDArray[np.int64], end: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """_pc_spans for tables that end on a varint's last byte: (spans or -1, which need _pc_span)."""
    import numpy as np

    lens = end - first
    seg_first = np.cumsum(lens) - lens  # where each table starts in b
    b = whole[np.repeat(first - seg_first, lens) + np.arange(int(lens.sum()))]
    tok_last = np.flatnonzero(b < 0x80)  # a varint ends at a byte below 0x80
    tok_first = np.concatenate(([0], tok_last[:-1] + 1)).astype(np.int64)
    tok_len = tok_last - tok_first + 1
    seg_tok = np.searchsorted(tok_first, seg_first)  # each table's first varint
    tok_seg = np.repeat(np.arange(len(first)), np.diff(seg_tok, append=len(tok_first)))
    rel = np.arange(len(tok_first)) - seg_tok[tok_seg]
    # a zero value delta after the first pair ends the table
    term = (rel >= 2) & (rel % 2 == 0) & (b[tok_first] == 0)
    first_term = np.full(len(first), len(tok_first), np.int64)
    tsegs, at = np.unique(tok_seg[term], return_index=True)
    first_term[tsegs] = np.flatnonzero(term)[at]
    pc = (rel % 2 == 1) & (np.arange(len(tok_first)) < first_term[tok_seg])
    del rel, term
    slow = np.zeros(len(first), np.bool_)
    slow[tok_seg[pc & (tok_len > 4)]] = True
    shift = np.arange(len(b)) - np.repeat(tok_first, tok_len)  # byte's place in its varint
    np.minimum(shift, 4, out=shift)
    shift *= 7
    value = np.add.reduceat((b & 0x7F).astype(np.int64) << shift, tok_first)
    del b, shift
    spans = np.bincount(tok_seg[pc], weights=value[pc], minlength=len(first)).astype(np.int64)
    spans[first_term == len(tok_first)] = -1  # no end marker: not a table
    return spans, slow


def read_tables(
    data: bytes | bytearray,
    base: int,
    size: int,
    endian: str,
    h: PcHeader,
    text_start: int,
    text_sec: tuple[int, int, int] | None,
    gofunc: int | None,
    func_align: int,
) -> TableSizes:
    """Attribute the function table, the functions' code and their funcdata to packages.

    ``text_sec`` is (address, file offset, size) of the section holding the code; ``gofunc`` the
    file offset of ``go:func.*`` (funcdata) when the module data was found; ``func_align`` the
    linker's function alignment (the most fill between a function's end and the next one). Every
    step works on whole columns (one field of every ``_func`` at a time) with numpy: big binaries
    stay fast.

    The table is validated as it is read, not trusted: entries in order and inside the code
    section, records and names inside their tables, pc-value table offsets inside pctab, each
    function's pcsp and pcfile tables decoding to the same extent, which fits before the next
    function with less than ``func_align`` bytes to spare, and no part claiming more bytes than
    the table has. Names: printable, every package path without empty elements and witnessed by
    the file table (see check_files), every name without a package an assembly function's own.
    Records: pcsp, pcfile and pcln tables all or none; an inlining tree and argument liveness
    with their pc indexes; a stack map index with funcdata and its stack maps. What does not hold
    raises TableError naming it.

    Known limits (the format has no redundancy there): a pc-value table changed so that it still
    decodes to the same extent (a function's file or line attribution, which no size depends
    on); a funcdata reference moved onto another object of a plausible shape (shifts funcdata
    shares between packages); a package name changed in functions whose code starts in
    compiler-generated code (``<autogenerated>``: no file witnesses their package).
    """
    import numpy as np

    out = TableSizes(nfunc=h.nfunc)
    nfunc = h.nfunc
    u32 = _words(data, base + h.functab, base + size, endian)
    entries = u32[0 : 2 * nfunc + 1 : 2].astype(np.int64)
    funcoffs = u32[1 : 2 * nfunc : 2].astype(np.int64)
    if len(entries) != nfunc + 1:
        raise TableError(f"function table: {nfunc} functions do not fit in the table")
    if (np.diff(entries) < 0).any():
        raise TableError("function table: function entries are out of order")
    if nfunc and ((funcoffs & 3).any() or funcoffs.min() < 4 * (2 * nfunc + 1)):
        raise TableError("function table: function records overlap the entry list or are misaligned")
    out.pc_range = (int(entries[0]), int(entries[-1])) if nfunc else (0, 0)
    words = 11 if h.magic == MAGIC_120 else 10  # fixed _func words (Go 1.20 added startLine)
    fbase = (funcoffs >> 2).astype(np.int32)  # _func records, in words

    def column(word: int) -> npt.NDArray[np.int64]:
        words_at: npt.NDArray[np.int64] = u32[fbase + word].astype(np.int64)
        return words_at

    nameoff = column(1)
    pcsp = column(4)
    npcdata = column(7)
    nfd = column(words - 1)
    nfd = nfd >> 24 if endian == "<" else nfd & 0xFF
    if nfunc and (npcdata.max() > 64 or nfd.max() > 64):
        raise TableError("function table records are corrupt (implausible pcdata/funcdata counts)")
    if nfunc and int((fbase + words + npcdata + nfd).max()) > len(u32):
        raise TableError("function table: function records run past the end of the table")
    if nfunc and ((npcdata > 1) & (nfd == 0)).any():
        bad = int(np.flatnonzero((npcdata > 1) & (nfd == 0))[0])
        raise TableError(
            f"function table: {name_of(data, base, h, column(1), bad)} has pc data but no funcdata"
        )
    # the compiler writes an inlining tree and its pc index together, and arg liveness likewise; a
    # function with a stack map index (one that calls) has the stack maps (a leaf may have maps only)
    for pcdata_i, funcdata_i, what in (
        (2, 3, "inlining tree"),
        (3, 6, "argument liveness"),
        (1, 0, "stack maps"),
        (1, 1, "stack maps"),
    ):
        has_pc = (npcdata > pcdata_i) & (u32[np.minimum(fbase + words + pcdata_i, len(u32) - 1)] != 0)
        at = np.minimum(fbase + words + npcdata + funcdata_i, len(u32) - 1)
        has_fd = (nfd > funcdata_i) & (u32[at] != NO_FUNCDATA)
        half = (has_pc & ~has_fd) if pcdata_i == 1 else (has_pc != has_fd)
        if half.any():
            bad = int(np.flatnonzero(half)[0])
            raise TableError(
                f"function table: {name_of(data, base, h, column(1), bad)} has half of its {what} "
                "(pc index or funcdata)"
            )

    # --- names -> packages, in bulk over funcnametab -------------------------------------------------
    blob = bytes(data[base + h.funcname : base + h.cu])  # hashable slices (data may be a bytearray)
    chars = np.frombuffer(blob, np.uint8)
    if ((chars < 0x20) & (chars != 0)).any() or (chars == 0x7F).any():
        raise TableError("function table: the name table holds control bytes")
    del chars
    blob.decode("utf-8")  # UnicodeError: caught as unreadable
    nul = np.flatnonzero(np.frombuffer(blob, np.uint8) == 0)
    name_at = np.concatenate(([0], nul[:-1] + 1)).astype(np.int64)
    lens = nul - name_at
    empty = np.flatnonzero(lens == 0)  # the linker pads the table's end only
    if len(empty) and int(empty[0]) != len(lens) - len(empty):
        raise TableError(f"function table: the name table has an empty name at byte {int(name_at[empty[0]])}")
    found = _NAME_PKG.findall(blob)
    if len(found) != len(nul):
        raise TableError("function table: the name table is corrupt")
    raw_ids = {k: i for i, k in enumerate(dict.fromkeys(found))}
    # a package path has no empty element ("a//b", "/a", "a/.", ".")
    odd = next(
        (
            k
            for k in raw_ids
            if (b"/" in k and not k.endswith(b".")) or k.startswith((b".", b"/")) or b"/." in k or b"//" in k
        ),
        None,
    )
    if odd is not None:
        at = 0 if blob.startswith(odd) else blob.find(b"\0" + odd) + 1
        bad_name = blob[at : blob.find(b"\0", at)][:60].decode("utf-8", "replace")
        raise TableError(f"function table: a function name has no package ({bad_name})")
    # "pkg." -> pkg; a name without a dot after its last slash -> runtime
    pkg_ids: dict[bytes, int] = {}
    remap = [
        pkg_ids.setdefault(k[:-1] if k.endswith(b".") and len(k) > 1 else b"runtime", len(pkg_ids))
        for k in raw_ids
    ]
    raw_idx = np.fromiter(map(raw_ids.__getitem__, found), np.int64, len(found))
    name_pids = np.array(remap, np.int64)[raw_idx]
    name_dotless = np.array([not k.endswith(b".") for k in raw_ids], np.bool_)[raw_idx]
    del found, raw_ids, remap
    slow = set(np.searchsorted(nul, [m.end() - 1 for m in _SLOW_NAME.finditer(blob)]).tolist())
    slow.add(0)  # the first name has no NUL before it
    for k in slow:
        if 0 <= k < len(lens):
            raw = blob[name_at[k] : nul[k]]
            pkg = package_of(raw.decode("utf-8", "replace")).encode("utf-8", "replace")
            name_pids[k] = pkg_ids.setdefault(pkg, len(pkg_ids))
    colon = [i for p, i in pkg_ids.items() if b":" in p]  # only compiler internals have a ":"
    if colon and np.isin(name_pids[lens > 0], colon).any():
        k = int(np.flatnonzero(np.isin(name_pids, colon) & (lens > 0))[0])
        bad_name = blob[name_at[k] : nul[k]][:60].decode("utf-8", "replace")
        raise TableError(f"function table: a function name has no package ({bad_name})")
    out.is_test = b"\0testing.MainStart\0" in blob or blob.startswith(b"testing.MainStart\0")
    del blob
    npkg = len(pkg_ids)
    named = lens > 0  # empty "names" (NUL padding) are not claimed
    table: npt.NDArray[np.float64] = np.bincount(
        name_pids[named], weights=lens[named] + 1, minlength=npkg
    ).astype(np.float64)
    name_claimed = int((lens[named] + 1).sum())
    k = np.searchsorted(name_at, nameoff)
    if (k >= len(name_at)).any() or (name_at[np.minimum(k, len(name_at) - 1)] != nameoff).any():
        raise TableError("function table: function names point outside the name table")
    fpid = name_pids[k].astype(np.int32)
    name_owners = set(np.unique(name_pids[named]).tolist())
    fdotless = name_dotless[k]  # names without a package (assembly helpers)
    # a name without a package is an assembly function's, never inlined: a function's own name (a
    # NUL written into a name splits it, and its second half is a name nothing refers to)
    orphan = name_dotless & named
    orphan[k] = False
    if orphan.any():
        at = int(name_at[np.flatnonzero(orphan)[0]])
        raise TableError(f"function table: the name at byte {at} of the name table belongs to no function")
    if len(np.unique(nameoff)) != nfunc:
        raise TableError("function table: two functions share a name")
    del k, name_at, name_pids, lens, nul

    # --- pctab: tables are back to back; a table shared by several functions is split evenly ---------
    pctab = base + h.pctab
    pctab_size = h.functab - h.pctab
    pd_owner, pd_word = _arrays(npcdata, fbase + words)
    refs = np.concatenate((u32[fbase + 4], u32[fbase + 5], u32[fbase + 6], u32[pd_word]))
    if len(refs) and int(refs.max()) >= pctab_size:
        raise TableError("function table: pc-value table offsets point past pctab")
    # tables lie back to back, each ending with a zero byte: every one starts after such a byte
    whole = np.frombuffer(data, np.uint8)
    used = np.unique(refs)
    used = used[used != 0].astype(np.int64)
    if (whole[pctab + used - 1] != 0).any() or (pctab_size and whole[pctab + pctab_size - 1] != 0):
        raise TableError("function table: pc-value table offsets point into other tables")
    pids = np.concatenate((fpid, fpid, fpid, fpid[pd_owner]))
    del pd_owner, pd_word
    check_files(data, base, h, endian, u32, fbase, fpid, list(pkg_ids), nameoff, name_owners, fdotless)
    shared, starts, extents = _shared(refs, pids, lambda t: (t != 0) & (t < pctab_size), pctab_size, npkg)
    table += shared
    claimed = int(extents.sum())
    del refs, pids, shared
    pctab_other = pctab_size - claimed

    # --- function records: functab pair + _func + its arrays, up to the next record ------------------
    ftab_size = size - h.functab
    rec_claimed = 0
    if nfunc and (np.diff(funcoffs) > 0).all() and funcoffs[-1] < ftab_size:
        # the last record runs to the table's end: count its own words only (the rest is alignment)
        ext = np.diff(
            funcoffs,
            append=funcoffs[-1] + min(ftab_size - int(funcoffs[-1]), 4 * int(words + npcdata[-1] + nfd[-1])),
        )
        rec_claimed = int(ext.sum())
        table += np.bincount(fpid, weights=ext + 8, minlength=npkg)
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
    over = [k for k, v in out.table_other.items() if v < 0]
    if over:
        raise TableError(f"function table: {over[0][len('pclntab:') :]} claims more bytes than it has")

    # --- code: each function's extent from its pcsp table, checked against its pcfile table --------
    code = np.zeros(npkg, np.int64)
    text_padding = text_other = 0
    if text_sec is not None and nfunc:
        pcfile = column(5)
        has = pcsp != 0  # a function without pc-value tables (a marker) runs to the next one
        if ((pcfile != 0) != has).any():
            bad = int(np.flatnonzero((pcfile != 0) != has)[0])
            raise TableError(
                f"function table: {name_of(data, base, h, nameoff, bad)} has only one of pcsp/pcfile"
            )
        tables, which = np.unique(np.concatenate((pcsp, pcfile)), return_inverse=True)
        i = np.minimum(np.searchsorted(starts, tables), max(len(starts) - 1, 0))
        known = (starts[i] == tables) if len(starts) else np.zeros(len(tables), np.bool_)
        ends = np.concatenate((starts[1:], [pctab_size]))[i] if len(starts) else tables
        spans = np.where(known, _pc_spans(data, pctab + tables, pctab + np.where(known, ends, tables)), -1)
        both = spans[which]
        span_sp, span_file = both[:nfunc], both[nfunc:]
        sec_addr, sec_off, sec_size = text_sec
        at = entries + (text_start + sec_off - sec_addr)  # file offsets of the entries
        sec_end = sec_off + sec_size
        if at[0] < sec_off or at[-1] > sec_end:
            raise TableError("function table: functions lie outside the code section")
        nexts = at[1:]
        room = nexts - at[:-1]
        size_sp = span_sp * h.quantum
        wrong = has & (
            (span_sp < 0) | (span_sp != span_file) | (size_sp > room) | (room - size_sp >= func_align)
        )
        if wrong.any():
            bad = int(np.flatnonzero(wrong)[0])
            raise TableError(
                f"function table: the pc-value tables of {name_of(data, base, h, nameoff, bad)} do not match "
                f"its extent (pcsp {int(span_sp[bad]) * h.quantum}, pcfile "
                f"{int(span_file[bad]) * h.quantum}, {int(room[bad])} bytes to the next function)"
            )
        text_other += int(at[0]) - sec_off
        fn_end = np.where(has, at[:-1] + size_sp, nexts)
        code = np.bincount(fpid, weights=fn_end - at[:-1], minlength=npkg).astype(np.int64)
        text_padding = int((nexts - fn_end).sum())  # less than the alignment after each function
        text_other += max(0, sec_end - int(nexts[-1]))
    out.text_padding = text_padding
    out.text_other = text_other

    # --- funcdata (go:func.*): each object runs to the next one; the last one stays unclaimed ---------
    fdata = np.zeros(npkg)
    if gofunc is not None:
        fd_owner, fd_word = _arrays(nfd, fbase + words + npcdata.astype(np.int32))
        refs, pids = u32[fd_word], fpid[fd_owner]
        del fd_owner, fd_word
        fdata, fstarts, fextents = _shared(refs, pids, lambda t: t != NO_FUNCDATA, None, npkg)
        del refs, pids
        check_funcdata(data, gofunc, u32, fbase + words + npcdata.astype(np.int32), nfd, fstarts, fextents)
        if len(fstarts):
            out.funcdata_max = int(fstarts[-1])
            out.funcdata_claimed = int(fextents.sum())
            out.funcdata_span = (gofunc + int(fstarts[0]), gofunc + int(fstarts[-1]))

    out.pkg_names = [p.decode("utf-8", "replace") for p in pkg_ids]
    out.code = code.tolist()
    out.table = table.tolist()
    out.funcdata = fdata.tolist()
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
