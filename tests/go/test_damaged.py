"""Damaged and truncated Go binaries: the function table is validated, not trusted; a binary cut
short is listed as a truncated executable whether or not its build info survived; the hygiene
rule ``unreadable`` names it."""

from __future__ import annotations

import io
import random
import shutil
import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from pytest_imagesize.measure.go import analyse_go_binary, hygiene_findings
from pytest_imagesize.measure.go.elfcut import GO_NOTE_LE, truncation
from pytest_imagesize.measure.go.probe import GoProbe
from tests.go.conftest import GoBuilds

GO124 = "hello-1.24-amd64-strip"


def section(data: bytes, name: str) -> tuple[int, int]:
    sec = ELFFile(io.BytesIO(data)).get_section_by_name(name)
    assert sec is not None
    return int(sec["sh_offset"]), int(sec["sh_size"])


def test_random_bytes_in_the_middle_of_the_function_table_set_problem(go_builds: GoBuilds) -> None:
    data = bytearray(go_builds.data(GO124))
    clean = analyse_go_binary("/app/x", bytes(data))
    assert clean is not None and clean.problem is None and not clean.partial
    off, size = section(bytes(data), ".gopclntab")
    mid = off + size // 2 - 100_000
    data[mid : mid + 200_000] = random.Random(7).randbytes(200_000)
    b = analyse_go_binary("/app/x", bytes(data))
    assert b is not None and b.problem is not None and "\n" not in b.problem
    assert b.problem.startswith("function table: ")
    assert b.partial and not b.packages  # nothing of the damaged table is used
    assert b.go_version == clean.go_version and b.attributed_total() == b.size
    assert "unreadable" in [f.rule for f in hygiene_findings(b, image_has_loader=True)]


def test_corrupt_header_names_the_inconsistency_not_a_newer_go(go_builds: GoBuilds) -> None:
    data = bytearray(go_builds.data(GO124))
    off, _ = section(bytes(data), ".gopclntab")
    data[off : off + 64] = random.Random(3).randbytes(64)
    b = analyse_go_binary("/app/x", bytes(data))
    assert b is not None and b.problem is not None
    assert "newer Go" not in b.problem
    assert f"where {b.go_version} writes 0xfffffff1" in b.problem


def test_a_pcsp_table_that_disagrees_with_the_pcfile_table_is_named(go_builds: GoBuilds) -> None:
    data = bytearray(go_builds.data(GO124))
    off, _ = section(bytes(data), ".gopclntab")
    nfunc, _, _, _, _, _, pctab, functab = struct.unpack_from("<8Q", data, off + 8)
    funcoff = struct.unpack_from("<I", data, off + functab + 8 * (nfunc // 2) + 4)[0]
    pcsp = struct.unpack_from("<I", data, off + functab + funcoff + 16)[0]  # _func word 4
    assert data[off + pctab + pcsp] < 0x80  # a one-byte value delta, then the first pc delta
    data[off + pctab + pcsp + 1] ^= 0x01  # that pc delta: one pc quantum more or less
    b = analyse_go_binary("/app/x", bytes(data))
    assert b is not None and b.problem is not None
    assert b.problem.startswith("function table: the pc-value tables of ")
    assert "do not match its extent (pcsp " in b.problem


@pytest.mark.parametrize("share", [0.5, 0.7, 0.95])
def test_truncated_binary_is_listed_with_what_is_cut(go_builds: GoBuilds, share: float) -> None:
    whole = go_builds.data(GO124)
    cut = whole[: int(len(whole) * share)]
    b = analyse_go_binary("/app/server", cut)
    assert b is not None, "a truncated Go binary must not disappear"
    assert b.problem is not None and b.problem.startswith("truncated ELF (")
    assert f"the file has {len(cut):,}" in b.problem
    assert b.partial and b.size == len(cut) and b.attributed_total() == len(cut)
    findings = hygiene_findings(b, image_has_loader=True)
    assert [f.rule for f in findings] == ["unreadable"]  # nothing else is judged on what was not read
    assert findings[0].problem.startswith("cannot be read: truncated ELF")


def test_half_a_binary_names_the_function_table(go_builds: GoBuilds) -> None:
    whole = go_builds.data(GO124)
    off, size = section(whole, ".gopclntab")
    cut = whole[: off + size // 2]
    msg = truncation(cut)
    assert msg == f"section .gopclntab ends at byte {off + size:,} but the file has {len(cut):,}"
    b = analyse_go_binary("/app/server", cut)
    assert b is not None and b.problem is not None
    assert "its Go build info is cut off" in b.problem and not b.go_version


def test_truncated_elf_that_is_not_go_is_not_listed() -> None:
    ls = shutil.which("ls")
    if ls is None:
        pytest.skip("no ls binary to use as a non-Go ELF")
    data = Path(ls).read_bytes()
    assert truncation(data) is None
    cut = data[: len(data) // 2]
    assert truncation(cut) is not None
    assert GO_NOTE_LE not in cut
    assert analyse_go_binary("/bin/ls", cut) is None


def test_the_probe_takes_go_binaries_without_build_info(go_builds: GoBuilds) -> None:
    whole = go_builds.data(GO124)
    off, _ = section(whole, ".gopclntab")
    cut = whole[:off]  # the build info lies past the cut
    needles = GoProbe.needle
    assert isinstance(needles, tuple)
    assert b"\xff Go buildinf:" not in cut and any(n in cut for n in needles)


def test_hygiene_allows_unreadable_by_name(go_builds: GoBuilds) -> None:
    from pytest_imagesize.checks import HYGIENE_RULES

    assert "unreadable" in HYGIENE_RULES
    b = analyse_go_binary("/app/server", go_builds.data(GO124)[:5000])
    assert b is not None
    assert [f.rule for f in hygiene_findings(b, image_has_loader=True)] == ["unreadable"]


def _names(data: bytes) -> tuple[int, int]:
    """File offsets of the name table (funcnametab) and of its end."""
    off, _ = section(data, ".gopclntab")
    funcname, cu = struct.unpack_from("<8Q", data, off + 8)[3:5]
    return off + funcname, off + cu


def _name_at(data: bytes, pattern: bytes) -> int:
    """File offset of the first name in the name table matching ``pattern`` (a regex)."""
    import re

    lo, hi = _names(data)
    m = re.search(b"\0(" + pattern + b")\0", data[lo:hi])
    assert m is not None, f"no name like {pattern!r} in the name table"
    return lo + m.start(1)


# name edits that keep the table well formed (printable, NUL-terminated) but give other numbers
@pytest.mark.parametrize(
    ("pattern", "at", "byte", "problem"),
    [
        # a package no file belongs to (its function starts in the runtime's file, by linkname)
        (rb"sync\.runtime_[A-Za-z]+", 0, b"X", "function table: names of package Xync but no file of it"),
        # a name starting with a dot: no package at all
        (rb"sync\.runtime_[A-Za-z]+", 0, b".", "function table: a function name has no package (.ync."),
        # a ':' makes a compiler internal's package (which no check holds to a file)
        (rb"sync\.runtime_[A-Za-z]+", 1, b":", "function table: a function name has no package (s:nc."),
        # a NUL splitting a name: its second half is a name without a package no function has
        (rb"runtime\.gcStart", 10, b"\0", "function table: the name at byte "),
    ],
)
def test_a_changed_name_byte_sets_problem(
    go_builds: GoBuilds, pattern: bytes, at: int, byte: bytes, problem: str
) -> None:
    data = bytearray(go_builds.data(GO124))
    pos = _name_at(bytes(data), pattern) + at
    data[pos : pos + 1] = byte
    b = analyse_go_binary("/app/x", bytes(data))
    assert b is not None and b.problem is not None and b.problem.startswith(problem), b and b.problem


def test_a_function_without_its_line_table_sets_problem(go_builds: GoBuilds) -> None:
    data = bytearray(go_builds.data(GO124))
    off, _ = section(bytes(data), ".gopclntab")
    nfunc, functab = struct.unpack_from("<Q", data, off + 8)[0], struct.unpack_from("<Q", data, off + 64)[0]
    funcoff = struct.unpack_from("<I", data, off + functab + 8 * (nfunc // 2) + 4)[0]
    assert struct.unpack_from("<I", data, off + functab + funcoff + 24)[0] != 0
    data[off + functab + funcoff + 24 : off + functab + funcoff + 28] = bytes(4)  # _func word 6: pcln
    b = analyse_go_binary("/app/x", bytes(data))
    assert b is not None and b.problem is not None
    assert b.problem.endswith(" has only some of its pc-value tables"), b.problem


def test_a_function_with_a_stack_map_index_and_no_funcdata_sets_problem(go_builds: GoBuilds) -> None:
    data = bytearray(go_builds.data(GO124))
    off, _ = section(bytes(data), ".gopclntab")
    nfunc, functab = struct.unpack_from("<Q", data, off + 8)[0], struct.unpack_from("<Q", data, off + 64)[0]
    for i in range(nfunc // 2, nfunc):
        rec = off + functab + struct.unpack_from("<I", data, off + functab + 8 * i + 4)[0]
        if struct.unpack_from("<I", data, rec + 28)[0] >= 2 and data[rec + 43]:  # npcdata, nfuncdata
            break
    data[rec + 43] = 0  # _func word 10's last byte: nfuncdata
    b = analyse_go_binary("/app/x", bytes(data))
    assert b is not None and b.problem is not None
    assert b.problem.endswith(" has pc data but no funcdata"), b.problem
