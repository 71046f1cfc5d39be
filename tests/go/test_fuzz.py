"""Fuzz test: a real Go binary corrupted at random places and lengths never gives wrong numbers.

Every case either reads exactly as the clean binary does (the corruption hit bytes no figure
depends on) or sets ``problem``. Cases are drawn from a seeded ``random.Random`` (the same cases
on every run), spread over the whole file and concentrated on the function table, the build info
and the code; each is analysed in-process by ``analyse_go_binary``, the function the CLI and the
probe use. Run it alone to see the classes: ``pytest tests/go/test_fuzz.py -s``; with
``IMAGESIZE_FUZZ_DEBUG=PATH`` the clean binary is written to PATH and each wrong case prints the
bytes changed and the figures that differ. The damage the format cannot reveal is listed in
``pclntab.read_tables``' docstring.
"""

from __future__ import annotations

import io
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from elftools.elf.elffile import ELFFile

from pytest_imagesize.measure.go import GoBinary, analyse_go_binary
from tests.go.conftest import GoBuilds
from tests.go.gobuild import go_env, run_go

SEED = int(os.environ.get("IMAGESIZE_FUZZ_SEED", "20240521"))
CASES = int(os.environ.get("IMAGESIZE_FUZZ_CASES", "1000"))
# a path: the clean binary is written there, and each wrong case prints where the corruption was
# and which figures changed
DEBUG = bool(os.environ.get("IMAGESIZE_FUZZ_DEBUG"))
# CPU seconds for the whole loop (about 15 s on a 2-core machine; wall time is the same on an idle
# one and grows with whatever else the machine runs): the CI budget for this test and the fault
# suite together is 3 minutes
CPU_LIMIT_S = 45.0

TINY = 'package main\n\nimport "os"\n\nfunc main() { os.Stdout.WriteString("hi\\n") }\n'
KINDS = ("random", "zeros", "flips", "truncate")
REGIONS = (".gopclntab", ".go.buildinfo", ".text", "<file>")


@pytest.fixture(scope="module")
def tiny_binary(go_builds: GoBuilds, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The smallest useful Go binary (keeps 1,000 analyses quick): Go 1.24, -trimpath, not stripped."""
    goroot = go_builds.goroot("1.24")
    work = tmp_path_factory.mktemp("tiny")
    src = work / "src"
    src.mkdir()
    (src / "main.go").write_text(TINY)
    (src / "go.mod").write_text("module example.com/tiny\n\ngo 1.22\n")
    out = work / "tiny"
    run_go(goroot, ["build", "-trimpath", "-o", str(out)], src, go_env(goroot, go_builds.root))
    return Path(out).read_bytes()


def figures(b: GoBinary | None) -> Any:
    """The numbers a reader of the report sees: sizes by package, by module (as a multiset: module
    paths are build-info text, which carries nothing to check a path against), by bucket, the
    binary's flags. Version strings and build settings are text and are not compared."""
    if b is None:
        return None
    return (
        b.size,
        b.stripped,
        b.static,
        b.is_test,
        b.debug_bytes,
        b.unattributed,
        sorted(b.other.items()),
        sorted((p, g.size, g.code) for p, g in b.packages.items()),
        sorted(m.size for m in b.modules.values()),
    )


def sections(data: bytes) -> dict[str, tuple[int, int]]:
    elf = ELFFile(io.BytesIO(data))
    return {s.name: (int(s["sh_offset"]), int(s["sh_size"])) for s in elf.iter_sections()}


def corrupt(
    data: bytes, rnd: random.Random, secs: dict[str, tuple[int, int]]
) -> tuple[str, str, int, int, bytes]:
    """One corruption: (kind, region, file offset, length, corrupted bytes)."""
    kind = rnd.choice(KINDS)
    region = rnd.choice(REGIONS)
    lo, n = (0, len(data)) if region == "<file>" else secs[region]
    pos = lo + rnd.randrange(n)
    length = min(int(2 ** rnd.uniform(0, 18)), len(data) - pos)  # 1 byte .. 256 KiB, log-uniform
    buf = bytearray(data)
    if kind == "random":
        buf[pos : pos + length] = rnd.randbytes(length)
    elif kind == "zeros":
        buf[pos : pos + length] = bytes(length)
    elif kind == "flips":
        for _ in range(rnd.randint(1, 8)):
            at = pos + rnd.randrange(length)
            buf[at] ^= 1 << rnd.randrange(8)
    else:
        del buf[pos:]
    return kind, region, pos, length, bytes(buf)


def test_corrupted_go_binary_never_gives_wrong_numbers(tiny_binary: bytes) -> None:
    if DEBUG:
        Path(os.environ["IMAGESIZE_FUZZ_DEBUG"]).write_bytes(tiny_binary)
    clean = analyse_go_binary("/app/tiny", tiny_binary)
    assert clean is not None and clean.problem is None and clean.packages
    want = figures(clean)
    secs = sections(tiny_binary)
    rnd = random.Random(SEED)
    classes: Counter[str] = Counter()
    wrong: list[str] = []
    started, cpu = time.monotonic(), time.process_time()
    for case in range(CASES):
        kind, region, pos, length, data = corrupt(tiny_binary, rnd, secs)
        got = analyse_go_binary("/app/tiny", data)
        if got is not None and got.problem is not None:
            assert "\n" not in got.problem and got.size == len(data)
            classes["problem set"] += 1
        elif figures(got) == want and data[:4] == tiny_binary[:4]:
            classes["clean result"] += 1
        elif got is None and data[:4] != tiny_binary[:4]:
            classes["not an ELF file any more"] += 1
        else:
            classes["WRONG: different numbers, no problem"] += 1
            wrong.append(f"case {case}: {kind} in {region} at {pos:#x}+{length}, {len(data)} bytes")
            if DEBUG:
                diff = [
                    (set(a) - set(b), set(b) - set(a)) if isinstance(a, list) else (a, b)
                    for a, b in zip(want, figures(got) or (), strict=False)
                    if a != b
                ]
                changed = [i for i in range(len(data)) if data[i] != tiny_binary[i]][:16]
                print(f"\n{wrong[-1]}: bytes changed at {[hex(i) for i in changed]}: {diff}")
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    summary = dict(sorted(classes.items()))
    print(f"\nGo fuzz: {CASES} cases, seed {SEED}, {elapsed:.1f} s ({cpu:.1f} s CPU): {summary}")
    assert not wrong, f"{len(wrong)} corrupted binaries read with wrong numbers and no problem: {wrong[:10]}"
    assert cpu < CPU_LIMIT_S, f"{CASES} cases took {cpu:.0f} s of CPU"
