"""Bad input never raises: non-ELF and non-Go files give None, damaged Go binaries a one-line problem."""

from __future__ import annotations

import io
import shutil
import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_imagesize.measure.go import GoBinary, analyse_go_binary, looks_like_elf
from tests.go.conftest import GoBuilds

SAMPLE = "hello-1.19-amd64-strip"  # the smallest of the builds: keeps fuzzing quick


def section(data: bytes, name: str) -> tuple[int, int]:
    sec = ELFFile(io.BytesIO(data)).get_section_by_name(name)
    assert sec is not None
    return int(sec["sh_offset"]), int(sec["sh_size"])


def check(b: GoBinary | None, size: int) -> None:
    if b is None:
        return
    assert b.size == size
    assert b.attributed_total() == size or b.problem
    assert b.problem is None or "\n" not in b.problem


def test_not_elf_and_not_go() -> None:
    assert not looks_like_elf(b"#!/bin/sh\n")
    assert looks_like_elf(b"\x7fELF\x02\x01\x01")
    assert analyse_go_binary("/x", b"") is None
    assert analyse_go_binary("/x", b"#!/bin/sh\necho hi\n") is None
    assert analyse_go_binary("/x", b"\x7fELF") is None
    ls = shutil.which("ls")
    if ls is None:
        pytest.skip("no ls binary to use as a non-Go ELF")
    data = Path(ls).read_bytes()
    assert looks_like_elf(data[:4])
    assert analyse_go_binary("/bin/ls", data) is None


@pytest.mark.parametrize(
    "magic, words",
    [
        (0xFFFFFFFA, "Go 1.16/1.17"),
        (0xFFFFFFFB, "Go 1.2-1.15"),
        (0xFFFFFFF2, "function table header is corrupt: magic 0xfffffff2, where go1.19"),
    ],
)
def test_other_table_layouts_are_named_not_read(go_builds: GoBuilds, magic: int, words: str) -> None:
    data = bytearray(go_builds.data(SAMPLE))
    off, _ = section(bytes(data), ".gopclntab")
    struct.pack_into("<I", data, off, magic)
    b = analyse_go_binary("/app/x", bytes(data))
    assert b is not None and b.problem is not None
    assert words in b.problem
    assert b.go_version.startswith("go1.19")  # the build info part is still there
    assert b.main_module == "example.com/hello"
    assert b.attributed_total() == b.size
    assert b.other["gopclntab"] > 0 and b.other["text"] > 0
    assert not b.packages


def test_corrupt_function_records(go_builds: GoBuilds) -> None:
    data = bytearray(go_builds.data(SAMPLE))
    off, _ = section(bytes(data), ".gopclntab")
    functab = struct.unpack_from("<Q", data, off + 8 + 7 * 8)[0]
    data[off + functab : off + functab + 4096] = b"\xff" * 4096
    b = analyse_go_binary("/app/x", bytes(data))
    assert b is not None and b.problem is not None
    assert "function table" in b.problem
    assert b.go_version.startswith("go1.19")
    assert b.attributed_total() == b.size


def test_truncated_binary(go_builds: GoBuilds) -> None:
    data = go_builds.data(SAMPLE)
    off, size = section(data, ".go.buildinfo")
    cut = data[: off + size + 100]
    b = analyse_go_binary("/app/x", cut)
    assert b is not None
    assert b.problem is not None and "truncated" in b.problem
    assert b.size == len(cut) and b.attributed_total() == len(cut)
    assert b.go_version.startswith("go1.19")
    assert analyse_go_binary("/app/x", data[: len(data) // 3]) is None or True  # no exception either way


def test_upx_packed_binary_is_listed_not_analysed(go_builds: GoBuilds) -> None:
    head = bytearray(go_builds.data(SAMPLE)[:64])
    struct.pack_into("<QHHHH", head, 0x28, 0, 64, 0, 0, 0)  # e_shoff=0 ... no section headers
    blob = bytes(head) + b"\0" * 64 + b"UPX!" + b"\x01" * 1000 + b"$Info: This file is packed with the UPX"
    b = analyse_go_binary("/app/packed", blob)
    assert b is not None and b.packed
    assert b.problem is not None and "UPX" in b.problem
    assert b.attributed_total() == b.size


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_real_binary(go_builds: GoBuilds, data: st.DataObject) -> None:
    orig = go_builds.data(SAMPLE)
    buf = bytearray(orig)
    pcln, _ = section(orig, ".gopclntab")
    binfo, _ = section(orig, ".go.buildinfo")
    # hot spots: ELF headers, pclntab header and first records, build info; anywhere else too
    regions = [(0, 0x600), (pcln, pcln + 0x4000), (binfo, binfo + 0x200), (0, len(orig))]
    for _ in range(data.draw(st.integers(1, 12), label="flips")):
        lo, hi = data.draw(st.sampled_from(regions), label="region")
        pos = data.draw(st.integers(lo, hi - 1), label="pos")
        buf[pos] = data.draw(st.integers(0, 255), label="byte")
    if data.draw(st.booleans(), label="truncate"):
        buf = buf[: data.draw(st.integers(0, len(buf)), label="length")]
    mutated = bytes(buf)
    check(analyse_go_binary("/app/fuzz", mutated), len(mutated))
