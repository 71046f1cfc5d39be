"""How the archive reader compresses and holds memory: zlib-ng lets other threads run while it
deflates a block, the compressor keeps a bounded number of blocks in flight and gives the same
sizes as one gzip stream, memory stays flat whatever the stream's length. (That the merge is linear
in the entries is timed by benchmarks/merge_bench.py, in `make bench`.)"""

from __future__ import annotations

import gzip
import json
import random
import tarfile
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from pytest_imagesize.measure.archive import BLOCK, BlockCompressor, gzip_size, read_archive


def noise(size: int, seed: int = 1) -> bytes:
    """Half-compressible bytes, like binaries."""
    rng = random.Random(seed)
    words = [rng.randbytes(rng.randint(2, 12)) for _ in range(4000)]
    out = b"".join(rng.choices(words, k=size // 7 + 1))  # a word is 7 bytes on average
    while len(out) < size:
        out += b"".join(rng.choices(words, k=1000))
    return out[:size]


def test_zlib_ng_lets_other_threads_run_while_it_deflates_a_block() -> None:
    """The premise of the thread pool: one deflate of a BLOCK-sized block does not hold the GIL."""
    block = noise(2 * BLOCK)
    done = threading.Event()
    ticks = 0

    def compress() -> None:
        for _ in range(2):
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


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 3 * BLOCK + 12_345])
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
    reader_waits = threading.Event()

    class Waited(Future[int]):
        """A block's future that tells when the reader waits for it."""

        def __init__(self, inner: Future[int]) -> None:
            super().__init__()
            inner.add_done_callback(lambda done: self.set_result(done.result()))

        def result(self, timeout: float | None = None) -> int:
            reader_waits.set()
            return super().result(timeout)

    class Pool(ThreadPoolExecutor):
        def submit(self, fn: Callable[..., int], /, *args: Any, **kwargs: Any) -> Future[int]:  # type: ignore[override]
            return Waited(super().submit(fn, *args, **kwargs))

    def slow(block: object, primer: bytes, last: bool) -> int:
        # the blocks are stuck until the reader waits for one: it has queued all it may
        assert reader_waits.wait(10)
        return 1

    most = 0
    with Pool(2) as pool, pytest.MonkeyPatch.context() as patch:
        patch.setattr(gzip_size, "_deflated_size", slow)
        compressor = BlockCompressor(pool, 2)
        for _ in range(30):
            compressor.feed(bytes(BLOCK))
            most = max(most, len(compressor._futures))
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
