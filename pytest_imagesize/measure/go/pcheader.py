"""The head of Go's function table (``runtime.pcHeader``, Go 1.18+): its magic per Go version, its
fields, and the error a table that does not hold raises; shared by the reader (``pclntab``) and
its consistency checks (``tablecheck``).

Header: magic uint32 (0xfffffff0 for Go 1.18/1.19, 0xfffffff1 for Go 1.20+), two zero bytes, the pc
quantum, the pointer size, then eight uintptrs: nfunc, nfiles, textStart and the offsets of
funcnametab, cutab, filetab, pctab and the function table.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads with the first Go binary read
    import numpy as np
    import numpy.typing as npt

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


def expected_magic(go_version: str) -> int | None:
    """The table magic the linker of ``go_version`` (``go1.24.4``) writes, when it is Go 1.18+."""
    m = re.match(r"go1\.(\d+)", go_version)
    if m is None or int(m.group(1)) < 18:
        return None
    return MAGIC_118 if int(m.group(1)) < 20 else MAGIC_120


def read_header(data: bytes | bytearray, base: int, size: int, endian: str, go_version: str = "") -> PcHeader:
    """Parse and sanity-check the pcHeader at ``data[base:]`` (a section of ``size`` bytes);
    ``go_version`` (from the build info, when read) says which magic to expect."""
    if size < 8:
        raise TableError("function table (.gopclntab) is truncated")
    magic, pad1, pad2, quantum, ptr_size = struct.unpack_from(endian + "IBBBB", data, base)
    want = expected_magic(go_version)
    if want is not None and magic != want:
        layout = f" (the {OLD_MAGICS[magic]} layout)" if magic in OLD_MAGICS else ""
        raise TableError(
            f"function table header is corrupt: magic 0x{magic:08x}{layout}, where {go_version} writes "
            f"0x{want:08x}; sizes by section only"
        )
    if magic in OLD_MAGICS:
        raise TableError(
            f"function table layout 0x{magic:08x} ({OLD_MAGICS[magic]}) is not read; sizes by section only"
        )
    if magic not in (MAGIC_118, MAGIC_120):
        raise TableError(f"unknown function table magic 0x{magic:08x} (newer Go?); sizes by section only")
    if pad1 or pad2 or quantum not in (1, 2, 4) or ptr_size not in (4, 8):
        raise TableError(
            f"function table header is corrupt (pad {pad1},{pad2}, pc quantum {quantum}, "
            f"pointer size {ptr_size})"
        )
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


def words(data: bytes | bytearray, start: int, end: int, endian: str) -> npt.NDArray[np.uint32]:
    """The uint32 words of data[start:end], as a view (nothing copied); fewer when data ends first."""
    import numpy as np

    n = (min(end, len(data)) - start) // 4
    if start < 0 or n <= 0:
        return np.zeros(0, np.uint32)
    return np.frombuffer(data, np.dtype(endian + "u4"), n, start)
