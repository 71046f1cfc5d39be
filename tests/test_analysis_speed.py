"""How the archive reader spends time and memory (no engine): zlib-ng lets other threads run while
it deflates a block, the compressor keeps a bounded number of blocks in flight and gives the
same sizes as one gzip stream, memory stays flat whatever the stream's length, and the merge of
a layer that deletes thousands of directories is linear. Timings are measured in ratios against
the same machine, with wide margins (the machines that run this are shared)."""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from pytest_imagesize.measure.archive import BLOCK, BlockCompressor, gzip_size, read_archive
from pytest_imagesize.measure.layers import merge

from .test_archive import classic_archive


def noise(size: int, seed: int = 1) -> bytes:
    """Half-compressible bytes, like binaries."""
    rng = random.Random(seed)
    words = [rng.randbytes(rng.randint(2, 12)) for _ in range(4000)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words)
    return bytes(out[:size])


def test_zlib_ng_lets_other_threads_run_while_it_deflates_a_block() -> None:
    """The premise of the thread pool: one deflate of a BLOCK-sized block does not hold the GIL."""
    block = noise(4 * BLOCK)
    done = threading.Event()
    ticks = 0

    def compress() -> None:
        for _ in range(3):
            gzip_size._deflated_size(block, b"", False)
        done.set()

    worker = threading.Thread(target=compress)
    worker.start()
    while not done.is_set():
        ticks += 1
    worker.join()
    # with the GIL held through each deflate, the loop would run only between calls
    assert ticks > 10_000


def _one_stream_size(data: bytes) -> int:
    return len(gzip.compress(data, 6, mtime=0))


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 5 * BLOCK + 12_345])
def test_block_sizes_add_up_to_one_gzip_stream(size: int) -> None:
    data = noise(size, seed=size)
    with ThreadPoolExecutor(2) as pool:
        compressor = BlockCompressor(pool, 2)
        rng = random.Random(size)
        pos = 0
        while pos < size:  # fed in odd pieces, as a socket delivers them
            step = rng.randint(1, 300_000)
            compressor.feed(memoryview(data)[pos : pos + step])
            pos += step
        total = compressor.finish()
    assert compressor.raw_size == size
    # zlib-ng's level 6 against classic zlib's: within 3 % (plus a few bytes per block)
    assert abs(total - _one_stream_size(data)) <= 0.03 * size + 64


def test_the_compressor_keeps_a_bounded_number_of_blocks_in_flight() -> None:
    """Back-pressure: a reader faster than the compressors waits instead of queueing blocks."""
    gate = threading.Event()

    def slow(block: object, primer: bytes, last: bool) -> int:
        gate.wait(0.2)  # the first blocks are stuck until the reader has queued what it may
        return 1

    most = 0
    with ThreadPoolExecutor(2) as pool, pytest.MonkeyPatch.context() as patch:
        patch.setattr(gzip_size, "_deflated_size", slow)
        compressor = BlockCompressor(pool, 2)
        for _ in range(30):
            compressor.feed(bytes(BLOCK))
            most = max(most, len(compressor._futures))
        gate.set()
        assert compressor.finish() == 30 + gzip_size.GZIP_OVERHEAD  # 30 blocks of 1 MiB
    assert most == 2 * 2


def _stream(layers: int, size: int) -> Iterator[bytes]:
    """A classic archive of ``layers`` layers with one ``size``-byte file each, generated lazily."""
    names = []
    zero = bytes(1 << 20)

    def header(name: str, length: int) -> bytes:
        info = tarfile.TarInfo(name)
        info.size = length
        return info.tobuf(tarfile.USTAR_FORMAT)

    for i in range(layers):
        name = f"{i:064x}/layer.tar"
        names.append(name)
        inner = header("big", size)
        padding = -size % 512
        total = len(inner) + size + padding + 1024
        yield header(name, total)
        yield inner
        left = size
        while left:
            piece = min(left, len(zero))
            yield zero[:piece]
            left -= piece
        yield bytes(padding + 1024)
        yield bytes(-total % 512)
    manifest = json.dumps([{"Config": "c.json", "Layers": names}]).encode()
    for name, data in (("c.json", b"{}"), ("manifest.json", manifest)):
        yield header(name, len(data)) + data + bytes(-len(data) % 512)
    yield bytes(1024)


def test_memory_stays_flat_whatever_the_stream_length() -> None:
    def peak(layers: int) -> int:
        tracemalloc.start()
        try:
            scan = read_archive(_stream(layers, 24 << 20), workers=2)
            assert [la.portable_size for la in scan.layers] == [24 << 20] * layers
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(1), peak(4)
    assert large < 24 << 20  # never a layer's worth
    assert large < small * 1.5 + (2 << 20)


def _deleting_image(dirs: int, files: int, delete: bool) -> bytes:
    def tar(members: list[tarfile.TarInfo]) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as out:
            for member in members:
                out.addfile(member, io.BytesIO(bytes(member.size)) if member.size else None)
        return buffer.getvalue()

    base = []
    for d in range(dirs):
        info = tarfile.TarInfo(f"m/{d}")
        info.type = tarfile.DIRTYPE
        base.append(info)
        for f in range(files):
            member = tarfile.TarInfo(f"m/{d}/{f}")
            member.size = 10
            base.append(member)
    top = []
    if delete:
        for d in range(dirs):
            top.append(tarfile.TarInfo(f"m/.wh.{d}"))
    else:
        keep = tarfile.TarInfo("m/kept")
        top.append(keep)
    return classic_archive([tar(base), tar(top)])


def test_deleting_many_directories_costs_about_as_much_as_keeping_them() -> None:
    """`RUN rm -rf /m/*` over 2,000 directories of 20 files: the merge is linear in the entries."""
    timings = {}
    for delete in (False, True):
        scan = read_archive([_deleting_image(2000, 20, delete)])
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            merged = merge(scan)
            best = min(best, time.perf_counter() - start)
        timings[delete] = best
        if delete:
            assert merged.wasted_bytes == 2000 * 20 * 10
    assert timings[True] <= 2.0 * timings[False] + 0.05
