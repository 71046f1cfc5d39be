"""Read an image archive (``docker save``) as a stream: layer tars, their files and gzip sizes.

Both layouts are understood: the classic one (``<id>/layer.tar`` + ``manifest.json``) written by
Docker before 25, and the OCI one (``index.json`` + ``blobs/sha256/...``) written by Docker 25+
and Podman; layer blobs may be plain tars, gzip or zstd (every layer media type of the OCI image
spec). Nothing is written to disk and the archive is never held whole in memory.

The work is spread so that it keeps pace with the stream: a thread of its own receives the stream
(up to ``PREFETCH`` bytes ahead, so the engine keeps writing while the layers are parsed and
the socket read releases the GIL); the parsing thread walks the tar headers (its own parser: no
copy of the file data, which is only sliced and passed on); each plain layer's bytes are cut into
1 MiB blocks that a pool of one thread per core gzip-compresses (zlib-ng releases the GIL while
deflating). Layers are not hashed: the engine is the producer of the stream, and its image config
names each layer's diff ID in order (on two cores a SHA-256 of every layer cost a tenth of the
analysis, time the engine needs to write the stream). At most
``2 * workers`` blocks are in flight: the reader waits for the oldest one, so memory stays bounded
whatever the image size. A compressed blob is counted at its stored size and only decompressed
to be parsed.

Layers measured before can be passed in (:class:`KnownLayers`, by diff ID): a layer recognised
as one of them (by its blob digest in an OCI archive, by its tar size in a classic one) is skipped,
neither parsed nor compressed; the pairing is confirmed against the image config's diff IDs at the
end. When it turns out wrong, :class:`LayerGuessMissed` is raised and the caller reads the archive
again without guesses.

Per layer this measures the portable size: the bytes of the regular files plus the lengths of the
symlink targets the layer writes (hard links count 0), which is what Docker's graph-driver store
reports as ``.Size`` and is the same on every engine for the same files.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import tarfile
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from zlib_ng import zlib_ng

from ..errors import ImageSizeError
from .heap import tune_malloc
from .paths import clean_path

BLOCK = 1 << 20  # compression block; sizes match one-stream gzip to well under 0.1 %
WINDOW = 32 * 1024  # deflate's window: each block is primed with the tail of the previous one
GZIP_OVERHEAD = 18  # 10-byte header + 8-byte trailer
# `docker push` gzips layers with Go's compress/gzip at its default level. zlib-ng's level 6
# (deflate_medium) lands within 1 % of Go's output on real layers (measured against a registry:
# +0.25 % on a 390 MB Debian layer, -0.17 % on a 96 MB one, -0.57 % on a 1.3 MB one), where
# classic zlib at level 6 is 1.4-2.1 % smaller; and it is about 2.5 times as fast.
LEVEL = 6
HIGHLY_COMPRESSIBLE = 20  # blocks that shrink more than 20x are recompressed at level 7
MAX_JSON = 16 << 20
MMAP_THRESHOLD = 2 << 20  # buffers from this size are mmapped (given back when freed)
TRIM_THRESHOLD = 8 << 20  # free memory kept at the top of a heap for the next buffers
MAX_WORKERS = 8
PREFETCH = 4 << 20  # bytes received ahead of the parser
# ... and while a compressed blob is read: the engine's stream is then what sets the pace (no
# compression to wait for), and a longer lead keeps it flowing while the parser is held up for a
# moment (a Go binary handed over, a layer of many small files); what is held is mostly the
# blob's compressed bytes (the lead may run into the members after it)
PREFETCH_COMPRESSED = 32 << 20
INFLATED_AHEAD = 8 << 20  # bytes of a compressed layer inflated ahead of the parser
INFLATED_CHUNK = 1 << 20  # at most this much comes out of one inflate call
PROBE_HELD = 64 << 20  # bytes of probed files waiting for or in the probe's thread
PROBE_BUFFER = 32 << 20  # probed files up to this size are read into memory reused for the next
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
RECORD = 512
ZERO_RECORD = bytes(RECORD)

# tar type flags (POSIX, GNU and pax)
_REGULAR = (b"0", b"\0", b"7", b"S")
_SUPPORTED = (b"0", b"\0", b"7", b"S", b"1", b"2", b"3", b"4", b"5", b"6", b"L", b"K", b"x", b"g", b"X")
_KINDS = {
    b"0": "file",
    b"\0": "file",
    b"7": "file",
    b"S": "file",
    b"5": "dir",
    b"2": "symlink",
    b"1": "hardlink",
}
_GNU_TYPES = (b"L", b"K", b"S")


class ArchiveError(ImageSizeError):
    """The archive stream is truncated or not an image archive."""


class LayerGuessMissed(ArchiveError):
    """A layer taken for a known one (and so not measured) turned out to be another, unknown one."""


def default_workers() -> int:
    """One compression worker per core, capped."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


class TarEntry(NamedTuple):
    """One tar entry of a layer. ``size`` counts data bytes (0 for links, dirs, devices)."""

    path: str  # absolute, cleaned: "/usr/bin/go"
    kind: str  # "file", "dir", "symlink", "hardlink", "other"
    size: int
    mode: int
    uid: int
    gid: int
    link: str = ""


@dataclass
class LayerScan:
    """What one pass over one layer tar found."""

    key: str  # where it sat in the archive
    entries: list[TarEntry] = field(default_factory=list)
    portable_size: int = 0  # regular file bytes + symlink target lengths
    compressed_size: int = 0  # the stored blob when compressed, else its gzip size
    stored_as: str = "tar"  # "tar", "gzip" or "zstd"
    diff_id: str | None = None
    probed: dict[str, Any] = field(default_factory=dict)  # path -> what the file probe made of it
    tar_size: int = 0  # bytes of the layer as stored in the archive
    reused: bool = False  # taken from KnownLayers, not measured in this pass


@dataclass
class ArchiveScan:
    """The layers in image order (oldest first), with the image config."""

    layers: list[LayerScan]
    config: dict[str, Any]


@dataclass
class KnownLayers:
    """Layers measured before (by diff ID), and the diff IDs the image is expected to have in image
    order (``RootFS.Layers`` of the engine's inspect data), which is what pairs them up."""

    expected: list[str]
    scans: dict[str, LayerScan]


class FileProbe:
    """Looks inside chosen regular files while the layer streams by (e.g. Go binaries).

    ``wants`` sees a file's path, size and first bytes; for a yes, the whole file is read and,
    if it contains one of ``needle`` (a cheap test, in the reading thread, that lets most files go at
    once), ``take`` gets it and returns what to keep for it. ``take`` may run in a thread of its
    own beside the reader."""

    needle: bytes | tuple[bytes, ...] = b""  # only files that contain these bytes (any of them) are taken

    def wants(self, path: str, size: int, head: bytes) -> bool:
        return False

    def take(self, path: str, data: bytes | bytearray) -> Any:
        return None

    def close(self) -> None:
        """The archive is read (or its reading failed): let go of what ``take`` needed."""


Sink = Callable[[Any], None]


class _Prefetched:
    """The chunks of an iterable, received by a thread of its own up to ``limit`` bytes ahead of
    the consumer (bounded: the receiving thread waits when the consumer lags). An error raised
    while receiving is raised to the consumer at that point of the stream. ``close`` stops the
    thread and closes the iterable (for a save stream: the engine's response)."""

    def __init__(self, chunks: Iterable[bytes], limit: int) -> None:
        self._limit = limit
        self._items: deque[tuple[int, Any]] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(
            target=self._receive, args=(chunks,), name="imagesize-receive", daemon=True
        )
        self._thread.start()

    def _receive(self, chunks: Iterable[bytes]) -> None:
        iterator: Iterator[bytes] | None = None
        try:
            iterator = iter(chunks)
            for chunk in iterator:
                if not self._put(0, chunk, len(chunk)):
                    return
            self._put(1, None, 0)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(2, exc, 0)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

    def set_limit(self, limit: int) -> None:
        """Receive up to ``limit`` bytes ahead from now on."""
        with self._cond:
            self._limit = limit
            self._cond.notify_all()

    def _put(self, kind: int, value: Any, size: int) -> bool:
        with self._cond:
            while self._bytes >= self._limit and not self._stop:
                self._cond.wait(0.5)
            if self._stop:
                return False
            self._items.append((kind, value))
            self._bytes += size
            self._cond.notify()
            return True

    def __iter__(self) -> Iterator[bytes]:
        cond, items = self._cond, self._items
        while True:
            with cond:
                while not items:
                    if self._stop:  # closed: a consumer in another thread ends here
                        return
                    cond.wait()
                kind, value = items.popleft()
                if kind == 0:
                    self._bytes -= len(value)
                    cond.notify()
            if kind == 0:
                yield value
            elif kind == 1:
                return
            else:
                raise value

    def close(self, wait: float | None = 5) -> None:
        """Stop receiving; wait up to ``wait`` seconds (None: until it has stopped) for the thread."""
        with self._cond:
            self._stop = True
            self._items.clear()
            self._cond.notify_all()
        self._thread.join(timeout=wait)


class _Source:
    """The bytes of a chunk iterator, consumed in order without copying the chunks. What is
    consumed while ``sink`` is set goes to it too, in ranges of whole chunks where possible (not
    one call per tar header): the range consumed from the current chunk is handed over when the
    next chunk is fetched or the sink changes."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buf: bytes = b""
        self._pos = 0
        self._mark = 0  # where in _buf the bytes not yet handed to the sink start
        self._sink: Sink | None = None
        self.taken = 0  # bytes consumed so far

    @property
    def sink(self) -> Sink | None:
        return self._sink

    @sink.setter
    def sink(self, sink: Sink | None) -> None:
        self._flush()
        self._sink = sink

    def _flush(self) -> None:
        if self._sink is not None and self._pos > self._mark:
            if self._mark == 0 and self._pos == len(self._buf):
                self._sink(self._buf)
            else:
                self._sink(memoryview(self._buf)[self._mark : self._pos])
        self._mark = self._pos

    def _fill(self) -> bool:
        self._flush()
        for chunk in self._chunks:
            if chunk:
                self._buf = bytes(chunk) if not isinstance(chunk, bytes) else chunk
                self._pos = self._mark = 0
                return True
        self._buf, self._pos, self._mark = b"", 0, 0
        return False

    def peek(self, n: int) -> bytes:
        """Up to ``n`` bytes, not consumed."""
        while len(self._buf) - self._pos < n:
            self._flush()
            rest = self._buf[self._pos :]
            if not self._fill():
                self._buf = rest
                break
            self._buf = rest + self._buf
        return self._buf[self._pos : self._pos + n]

    def read(self, n: int) -> bytes:
        """``n`` bytes, fewer only at the end of the stream."""
        pos = self._pos
        if len(self._buf) - pos >= n:
            self._pos = pos + n
            self.taken += n
            return self._buf[pos : pos + n]
        parts = []
        need = n
        while need:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._fill():
                    break
                continue
            take = min(avail, need)
            parts.append(self._buf[self._pos : self._pos + take])
            self._pos += take
            need -= take
        data = b"".join(parts)
        self.taken += len(data)
        return data

    def readinto(self, target: memoryview) -> int:
        """Fill ``target`` (fewer bytes only at the end of the stream); returns how many. Copies
        each chunk once, so a big file costs its own size, not twice that."""
        done, want = 0, len(target)
        while done < want:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._fill():
                    break
                continue
            take = min(avail, want - done)
            target[done : done + take] = memoryview(self._buf)[self._pos : self._pos + take]
            self._pos += take
            done += take
        self.taken += done
        return done

    def skip(self, n: int) -> int:
        """Consume ``n`` bytes (fewer only at the end of the stream); returns how many."""
        pos = self._pos
        if len(self._buf) - pos >= n:
            self._pos = pos + n
            self.taken += n
            return n
        done = 0
        while done < n:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._fill():
                    break
                continue
            take = min(avail, n - done)
            self._pos += take
            done += take
        self.taken += done
        return done


class _Member:
    """The next ``size`` bytes of a source (one archive member, or a layer read from a file-like),
    counting what was taken."""

    def __init__(self, source: Any, size: int) -> None:
        self._source = source
        self.remaining = size
        self.taken = 0

    def read(self, n: int) -> bytes:
        data: bytes = self._source.read(min(n, self.remaining))
        self.remaining -= len(data)
        self.taken += len(data)
        return data

    def readinto(self, target: memoryview) -> int:
        done: int = self._source.readinto(target[: self.remaining])
        self.remaining -= done
        self.taken += done
        return done

    def skip(self, n: int) -> int:
        done: int = self._source.skip(min(n, self.remaining))
        self.remaining -= done
        self.taken += done
        return done


def _inflated(raw: Any, stored_as: str) -> Iterator[bytes]:
    """The decompressed chunks (at most INFLATED_CHUNK bytes each, however well the data
    compresses) of a gzip (any number of members) or zstd stream. Run in a thread of its own
    (_Prefetched): zlib-ng and zstandard inflate without holding the GIL, beside the parsing of
    what they produced."""
    try:
        if stored_as == "zstd":
            import zstandard  # only images with zstd layers need it

            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            while out := reader.read(INFLATED_CHUNK):
                yield out
            return
        members = _GzipMembers()
        while data := raw.read(BLOCK):
            yield from members.decompress(data)
        if not members.complete:
            raise ArchiveError("a compressed layer blob is truncated")
    except ImageSizeError:  # ours (a truncated archive) or the engine's (lost while receiving)
        raise
    except Exception as exc:  # zlib.error, zstandard.ZstdError
        raise ArchiveError(f"a compressed layer blob is damaged ({exc})") from None


class _GzipMembers:
    """zlib-ng's decompressobj over concatenated gzip members (a valid gzip stream may have many);
    zlib-ng inflates about twice as fast as zlib 1.2 here."""

    def __init__(self) -> None:
        self._inflate = zlib_ng.decompressobj(wbits=47)

    @property
    def complete(self) -> bool:
        return bool(self._inflate.eof)

    def decompress(self, data: bytes) -> Iterator[bytes]:
        while data:
            out = self._inflate.decompress(data, INFLATED_CHUNK)
            if out:
                yield out
            if self._inflate.eof:  # a member ended; another may follow
                data = self._inflate.unused_data
                if data:
                    self._inflate = zlib_ng.decompressobj(wbits=47)
            else:
                data = self._inflate.unconsumed_tail


def _deflate(block: Any, primer: bytes, last: bool, level: int) -> int:
    args = (level, zlib_ng.DEFLATED, -15, 8, zlib_ng.Z_DEFAULT_STRATEGY)
    comp = zlib_ng.compressobj(*args, primer) if primer else zlib_ng.compressobj(*args)
    size = len(comp.compress(block))
    return size + len(comp.flush(zlib_ng.Z_FINISH if last else zlib_ng.Z_SYNC_FLUSH))


def _deflated_size(block: Any, primer: bytes, last: bool) -> int:
    size = _deflate(block, primer, last, LEVEL)
    if size * HIGHLY_COMPRESSIBLE < len(block):
        # zlib-ng's level-6 strategy stops short on long repeats (4x Go's size on "abcabc...");
        # its level 7 searches like Go's level 6 there. Such blocks are rare and fast.
        size = min(size, _deflate(block, primer, last, LEVEL + 1))
    return size


class BlockCompressor:
    """Counts the gzip size of a byte stream, compressing 1 MiB blocks in parallel.

    Each block is deflated with the previous block's last 32 KiB as dictionary, so the sum of
    block sizes is what a single gzip stream of the whole input would be to within a few bytes
    per block (the pigz method). The last block takes the remainder (1 to 2 MiB). At most
    ``2 * workers`` blocks are in flight: ``feed`` waits for the oldest (back-pressure).
    """

    def __init__(self, pool: ThreadPoolExecutor, workers: int) -> None:
        self._pool = pool
        self._limit = max(2, 2 * workers)
        self._futures: deque[Future[int]] = deque()
        self._current = bytearray()
        self._held: bytearray | None = None  # the last full block: it may yet be the last one
        self._primer = b""
        self._total = 0
        self.raw_size = 0

    def _submit(self, block: bytearray, last: bool) -> None:
        while len(self._futures) >= self._limit:
            self._total += self._futures.popleft().result()
        self._futures.append(self._pool.submit(_deflated_size, block, self._primer, last))
        self._primer = bytes(block[-WINDOW:])

    def _full(self, block: bytearray) -> None:
        if self._held is not None:
            self._submit(self._held, False)
        self._held = block

    def feed(self, data: Any) -> None:
        n = len(data)
        self.raw_size += n
        current = self._current
        room = BLOCK - len(current)
        if n < room:
            current += data
            return
        view = memoryview(data)
        pos = 0
        while n - pos >= room:
            current += view[pos : pos + room]
            pos += room
            self._full(current)
            current = self._current = bytearray()
            room = BLOCK
        if pos < n:
            current += view[pos:]

    def __call__(self, data: Any) -> None:
        self.feed(data)

    def finish(self) -> int:
        last = self._current if self._held is None else self._held + self._current
        self._held, self._current = None, bytearray()
        self._submit(last, True)
        while self._futures:
            self._total += self._futures.popleft().result()
        return self._total + GZIP_OVERHEAD


def link_size(target: str) -> int:
    """What a symlink occupies in a graph driver's count: the length of its target in bytes."""
    return len(target.encode("utf-8", "surrogateescape"))


# ---------------------------------------------------------------- tar headers


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
    try:
        stored = _number(block[148:156])
    except ValueError:
        return False
    # the unsigned sum (the checksum field counted as spaces), compared through Adler-32's first
    # half (1 + the byte sum, mod 65521), which zlib computes at memory speed
    field = block[148:156]
    if (stored + sum(field) - 256 + 1) % 65521 == zlib.adler32(block) & 0xFFFF:
        return True
    signed = sum(b - 256 if b > 127 else b for b in block[:148] + block[156:]) + 256
    return stored == signed


class _Header(NamedTuple):
    name: str
    type: bytes
    size: int  # data bytes that follow the header (before padding)
    real_size: int  # the file's size (differs for GNU sparse files)
    mode: int
    uid: int
    gid: int
    link: str
    extended: bool  # GNU sparse: more sparse headers follow


def _parse_header(block: bytes) -> _Header:
    """One 512-byte header; ``ValueError`` when it is not one."""
    if not _checksum_ok(block):
        raise ValueError("bad checksum")
    kind = block[156:157]
    name = _nts(block[:100])
    if block[345] and block[257:263] == b"ustar\0" and kind not in _GNU_TYPES:
        prefix = _nts(block[345:500])
        if prefix:
            name = prefix + "/" + name
    try:  # plain octal numbers (nearly always): no call per field
        size = int(block[124:136].rstrip(b"\0 ") or b"0", 8)
        mode = int(block[100:108].rstrip(b"\0 ") or b"0", 8)
        uid = int(block[108:116].rstrip(b"\0 ") or b"0", 8)
        gid = int(block[116:124].rstrip(b"\0 ") or b"0", 8)
    except ValueError:
        size, mode = _number(block[124:136]), _number(block[100:108])
        uid, gid = _number(block[108:116]), _number(block[116:124])
    real_size = size
    extended = False
    if kind == b"S":
        real_size = _number(block[483:495])
        extended = bool(block[482])
    if kind == b"\0" and name.endswith("/"):
        kind = b"5"
    return _Header(
        name, kind, size, real_size, mode, uid, gid, _nts(block[157:257]) if block[157] else "", extended
    )


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


def _padded(size: int) -> int:
    return (size + RECORD - 1) // RECORD * RECORD


def _walk(source: Any, what: str) -> Iterator[tuple[_Header, int]]:
    """The members of a tar, as (header, data size); the caller may read some of the data, the
    rest (and the padding) is skipped when it asks for the next member. Ends at the first zero
    record, or at a bad or short header after the first (as tarfile does)."""
    pending: dict[str, str] = {}
    global_pax: dict[str, str] = {}
    first = True
    while True:
        block = source.read(RECORD)
        if len(block) < RECORD or block == ZERO_RECORD:
            if first and len(block) < RECORD and block:
                raise ArchiveError(f"{what} is not a valid tar (truncated header)")
            if first and not block:
                raise ArchiveError(f"{what} is empty")
            return
        try:
            header = _parse_header(block)
        except (ValueError, tarfile.HeaderError):
            if first:
                raise ArchiveError(f"{what} is not a valid tar (bad header)") from None
            return
        first = False
        kind = header.type
        if kind in (b"L", b"K", b"x", b"g", b"X"):
            data = source.read(_padded(header.size))
            if len(data) < _padded(header.size):
                raise ArchiveError(f"{what} is truncated")
            data = data[: header.size]
            if kind == b"L":
                pending["path"] = _nts(data)
            elif kind == b"K":
                pending["linkpath"] = _nts(data)
            else:
                try:
                    records = _pax(data)
                except ValueError:
                    raise ArchiveError(f"{what} has a bad pax header") from None
                (global_pax if kind == b"g" else pending).update(records)
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
                if not more[504]:
                    break
        stored = header.size if (kind in _REGULAR or kind not in _SUPPORTED) else 0
        padded = _padded(stored)
        before = source.taken
        yield header, stored
        left = padded - (source.taken - before)
        if left > 0 and source.skip(left) < left:
            raise ArchiveError(f"{what} is truncated")


def _entry(header: _Header) -> TarEntry:
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


def _scan_entries(
    source: Any, key: str, probe: FileProbe | None, held: _ProbeBuffer | None = None
) -> LayerScan:
    scan = LayerScan(key=key)
    entries = scan.entries
    portable = 0
    held = _ProbeBuffer() if held is None else held
    try:
        for header, stored in _walk(source, f"layer {key}"):
            entry = _entry(header)
            entries.append(entry)
            if entry.kind == "file":
                portable += entry.size
                if probe is not None and stored and header.type != b"S":
                    _probe(probe, source, entry, stored, scan, held)
            elif entry.kind == "symlink":
                portable += link_size(entry.link)
    except ArchiveError as exc:
        if "is empty" not in str(exc):
            raise
    scan.portable_size = portable
    return scan


class _ProbeBuffer:
    """Where a probed file is copied from the stream, reused from file to file: most probed files
    are let go at once (``needle``: most ELF files of an image are not Go), and memory of 2 MiB or
    more fresh for each of them would be mapped and faulted in page by page each time (glibc
    gives such buffers back when freed: ``_big_buffers_to_the_os``). A file taken from it is
    copied out (at most ``PROBE_BUFFER`` bytes); a bigger file is read into memory of its own,
    which is handed over as it is. One per archive read: layers are parsed one at a time."""

    def __init__(self) -> None:
        self._memory = bytearray()

    def fill(
        self, source: Any, head: bytes, size: int, needle: bytes | tuple[bytes, ...]
    ) -> bytes | bytearray | None:
        """The file of ``size`` bytes (its first ones, ``head``, already read from ``source``) if
        it contains ``needle``, else None; ``_ShortFile`` if the stream ends first."""
        memory = self._memory
        own = size > PROBE_BUFFER
        if own:
            memory = bytearray(size)
        elif size > len(memory):  # grown in steps: a few allocations however sizes rise
            memory = self._memory = bytearray(min(max(size, 2 * len(memory)), PROBE_BUFFER))
        with memoryview(memory) as view:
            view[: len(head)] = head
            if len(head) + source.readinto(view[len(head) : size]) < size:
                raise _ShortFile
            needles = (needle,) if isinstance(needle, bytes) else needle
            if needle and all(memory.find(n, 0, size) < 0 for n in needles):
                return None
            if not own:
                return bytes(view[:size])  # the probe's own copy: this memory is reused
        return memory


class _ShortFile(Exception):
    """The stream ended inside a probed file."""


def _probe(
    probe: FileProbe, source: Any, entry: TarEntry, stored: int, scan: LayerScan, held: _ProbeBuffer
) -> None:
    head = source.read(min(64, stored))
    if probe.wants(entry.path, entry.size, head):
        try:
            data = held.fill(source, head, stored, probe.needle)
        except _ShortFile:
            raise ArchiveError(f"layer {scan.key} is truncated") from None
        if data is None:
            return
        found = probe.take(entry.path, data)
        if found is not None:
            scan.probed[entry.path] = found


class _BackgroundProbe(FileProbe):
    """Runs another probe's ``take`` in a thread of its own while the stream goes on (the reading
    thread mostly waits for the engine: the probe's work fits in those waits). At most one file
    waits while another is looked at, and while more than ``PROBE_HELD`` bytes are held the reader
    waits: memory holds two small files (or one big one) beside the reading thread's buffer
    (``_ProbeBuffer``, up to ``PROBE_BUFFER``) and the file being read."""

    def __init__(self, inner: FileProbe) -> None:
        self._inner = inner
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imagesize-probe")
        self._pending: deque[tuple[Future[Any], int]] = deque()
        self._held = 0

    def wants(self, path: str, size: int, head: bytes) -> bool:
        return self._inner.wants(path, size, head)

    @property
    def needle(self) -> bytes | tuple[bytes, ...]:  # type: ignore[override]
        return self._inner.needle

    def take(self, path: str, data: bytes | bytearray) -> Any:
        while self._pending and (len(self._pending) >= 2 or self._held + len(data) > PROBE_HELD):
            done, size = self._pending.popleft()
            self._held -= size
            done.result()
        future = self._pool.submit(self._inner.take, path, data)
        self._pending.append((future, len(data)))
        self._held += len(data)
        return future

    def settle(self, scans: Iterable[LayerScan]) -> None:
        """Replace every scan's futures by what they found (dropping files that were nothing)."""
        for scan in scans:
            for path, found in list(scan.probed.items()):
                if isinstance(found, Future):
                    result = found.result()
                    if result is None:
                        del scan.probed[path]
                    else:
                        scan.probed[path] = result

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)  # the inner probe: read_archive closes it


def _is_layer_name(name: str) -> bool:
    return name.endswith("/layer.tar") or name.startswith("blobs/") or name.endswith(".tar")


class _Reader:
    """One pass over one archive."""

    def __init__(self, workers: int, probe: FileProbe | None, known: KnownLayers | None) -> None:
        self.workers = workers
        self.probe = probe
        self.known = known  # a reused layer brings what the probe found in it (cached with it)
        self.remaining = list(known.expected) if known is not None else []
        self.scans: dict[str, LayerScan] = {}
        self.documents: dict[str, Any] = {}
        self.received: _Prefetched | None = None
        self.held = _ProbeBuffer()  # where probed files are read, reused from layer to layer

    def _guess(self, name: str, size: int) -> LayerScan | None:
        if self.known is None:
            return None
        if name.startswith("blobs/sha256/"):
            digest = "sha256:" + name.rsplit("/", 1)[-1]
            return self.known.scans.get(digest)
        for diff_id in self.remaining:
            scan = self.known.scans.get(diff_id)
            if scan is not None and scan.tar_size == size:
                return scan
        return None

    def _identified(self, diff_id: str) -> None:
        with contextlib.suppress(ValueError):
            self.remaining.remove(diff_id)

    def plain_layer(self, source: _Source, name: str, size: int, pool: ThreadPoolExecutor) -> LayerScan:
        member = _Member(source, size)
        guess = self._guess(name, size)
        if guess is not None:
            # Taken for a known layer: skipped unread. Its diff ID is confirmed against the image
            # config's at the end of the archive (``_order``), which is what pairs them up.
            if member.skip(size) < size:
                raise ArchiveError("the image archive is truncated")
            assert guess.diff_id is not None
            self._identified(guess.diff_id)
            return replace(guess, key=name, reused=True)
        compressor = BlockCompressor(pool, self.workers)
        source.sink = compressor.feed
        try:
            scan = _scan_entries(member, name, self.probe, self.held)
            member.skip(member.remaining)  # the end-of-archive padding counts in the pushed tar too
        finally:
            source.sink = None
        if member.remaining:
            raise ArchiveError("the image archive is truncated")
        scan.tar_size = size
        scan.compressed_size = compressor.finish()
        return scan

    def compressed_layer(self, source: _Source, name: str, size: int, stored_as: str) -> LayerScan:
        if self.received is not None:
            self.received.set_limit(PREFETCH_COMPRESSED)
        try:
            return self._compressed_layer(source, name, size, stored_as)
        finally:
            if self.received is not None:
                self.received.set_limit(PREFETCH)

    def _compressed_layer(self, source: _Source, name: str, size: int, stored_as: str) -> LayerScan:
        member = _Member(source, size)
        # the member is read and inflated by a thread of its own while its entries are parsed
        # here; this thread reads the source again only once that one has ended
        inflated = _Prefetched(_inflated(member, stored_as), INFLATED_AHEAD)
        try:
            counted = _Member(_Source(inflated), 1 << 62)  # the chunks read in place, not copied
            scan = _scan_entries(counted, name, self.probe, self.held)
            while counted.skip(BLOCK):
                pass
        except BaseException:
            inflated.close(wait=0)  # the source is not read again: don't wait for a stalled engine
            raise
        inflated.close(wait=None)  # it has inflated the whole member: it is ending
        member.skip(member.remaining)
        if member.remaining:
            raise ArchiveError("the image archive is truncated")
        scan.tar_size = size
        scan.compressed_size = size
        scan.stored_as = stored_as
        return scan

    def read(self, chunks: Iterable[bytes]) -> ArchiveScan:
        received = self.received = _Prefetched(chunks, PREFETCH)
        outer = self.probe
        background = None if outer is None else _BackgroundProbe(outer)
        self.probe = background
        try:
            source = _Source(received)
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="imagesize-gzip") as pool:
                try:
                    self._members(source, pool)
                except (EOFError, zlib.error) as exc:
                    raise ArchiveError(f"the image archive is truncated or malformed ({exc})") from None
            if background is not None:
                background.settle(self.scans.values())
        finally:
            self.probe = outer
            received.close()
            if background is not None:
                background.close()
        return _order(self.scans, self.documents, self.known)

    def _members(self, source: _Source, pool: ThreadPoolExecutor) -> None:
        what = "the image archive"
        for header, stored in _walk(source, what):
            if header.type not in _REGULAR or header.type == b"S":
                continue
            name = header.name.removeprefix("./")
            head = source.peek(min(RECORD, stored))
            stored_as = _compression(head)
            if stored_as and _is_layer_name(name):
                self.scans[name] = self.compressed_layer(source, name, stored, stored_as)
            elif len(head) >= 262 and head[257:262] == b"ustar" and _is_layer_name(name):
                self.scans[name] = self.plain_layer(source, name, stored, pool)
            elif head.lstrip()[:1] in (b"{", b"[") and stored <= MAX_JSON:
                data = source.read(stored)
                if len(data) < stored:
                    raise ArchiveError("the image archive is truncated")
                with contextlib.suppress(ValueError):
                    self.documents[name] = json.loads(data)
            elif len(head) == RECORD and head == ZERO_RECORD and _is_layer_name(name):
                # an empty layer: only the end-of-archive zero blocks
                self.scans[name] = self.plain_layer(source, name, stored, pool)


def read_archive(
    chunks: Iterable[bytes],
    workers: int | None = None,
    probe: FileProbe | None = None,
    known: KnownLayers | None = None,
) -> ArchiveScan:
    """Scan an image archive stream: every layer's entries, portable size and compressed size.

    With ``known``, a layer recognised as a known one is skipped, not measured again
    (``LayerGuessMissed`` when it was not one after all). ``probe`` is closed at the end."""
    _big_buffers_to_the_os()
    try:
        with _no_cycle_collection():
            return _Reader(workers or default_workers(), probe, known).read(chunks)
    finally:
        if probe is not None:
            probe.close()


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while an archive is read: the read makes hundreds of
    thousands of small objects (headers, entries) and none of them in cycles, and collections
    triggered by their count took ~4 % of the reading thread's time. Switched back on after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_heap_tuned = False


def _big_buffers_to_the_os() -> None:
    """glibc raises its mmap threshold each time a big mmapped buffer is freed, so later big
    buffers (Go binaries copied from the stream, compression blocks) come from the heap and their
    memory stays with the process after they are freed: +20-40 MB of peak RSS over an image with
    many binaries. Fixing the threshold at 2 MiB keeps such buffers mmapped, returned when freed
    (measured: 149 -> 119 MB on the example's image, same time; at 1 MiB the 1 MiB compression
    blocks were mmapped too and page faults cost 5 %). Once per process; nothing happens where
    there is no glibc ``mallopt``.

    A fixed threshold also fixes glibc's trim threshold at its 128 KiB default, so every 1 MiB
    buffer freed at the top of the heap (received chunks, inflated chunks) was given back and the
    next one faulted in afresh: 270,000 page faults reading the example's image from the
    containerd store. Keeping up to ``TRIM_THRESHOLD`` free at the heap's top (what glibc's own
    adjustment would keep for such buffers) halves them; peak RSS is unchanged."""
    global _heap_tuned
    if not _heap_tuned:
        _heap_tuned = True
        tune_malloc(MMAP_THRESHOLD, TRIM_THRESHOLD)


def _compression(head: bytes) -> str | None:
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    if head[:4] == ZSTD_MAGIC:
        return "zstd"
    return None


def _blob(digest: str) -> str:
    algorithm, _, hex_digest = digest.partition(":")
    return f"blobs/{algorithm}/{hex_digest}"


def _order(
    scans: dict[str, LayerScan], documents: dict[str, Any], known: KnownLayers | None = None
) -> ArchiveScan:
    manifest = documents.get("manifest.json")
    if isinstance(manifest, list) and manifest and isinstance(manifest[0], dict):
        entry = manifest[0]
        config = documents.get(str(entry.get("Config")), {})
        names = [str(n) for n in entry.get("Layers") or []]
    elif isinstance(documents.get("index.json"), dict):
        index = documents["index.json"]
        target = _follow_index(index, documents)
        config = documents.get(_blob(str(target.get("config", {}).get("digest", ""))), {})
        names = [_blob(str(layer.get("digest", ""))) for layer in target.get("layers") or []]
    else:
        raise ArchiveError("the image archive has neither manifest.json nor index.json")
    missing = [n for n in names if n not in scans]
    if missing:
        raise ArchiveError(f"the image archive lacks layer {missing[0]} that its manifest names")
    if not isinstance(config, dict):
        config = {}
    layers = [scans[n] for n in names]
    diff_ids = (
        (config.get("rootfs") or {}).get("diff_ids") if isinstance(config.get("rootfs"), dict) else None
    )
    if isinstance(diff_ids, list) and len(diff_ids) == len(layers):
        for i, (layer, diff_id) in enumerate(zip(layers, diff_ids)):
            if layer.reused and layer.diff_id != str(diff_id):
                # Taken for another known layer of the same size (a classic archive's layers come in
                # the order of their IDs, not the image's): the one it is, if it is known too.
                actual = known.scans.get(str(diff_id)) if known is not None else None
                if actual is None or actual.tar_size != layer.tar_size:
                    raise LayerGuessMissed(f"layer {layer.key} is not the known layer it was taken for")
                layer = layers[i] = replace(actual, key=layer.key, reused=True)
            layer.diff_id = str(diff_id)
    elif any(layer.reused for layer in layers):
        raise LayerGuessMissed("the image config lists no diff IDs to confirm the known layers by")
    return ArchiveScan(layers=layers, config=config)


def _follow_index(index: dict[str, Any], documents: dict[str, Any]) -> dict[str, Any]:
    node: Any = index
    for _ in range(4):  # index -> (index ->) manifest
        if isinstance(node, dict) and "layers" in node:
            return node
        manifests = node.get("manifests") if isinstance(node, dict) else None
        if not manifests:
            break
        node = documents.get(_blob(str(manifests[0].get("digest", ""))))
    raise ArchiveError("the OCI index does not lead to an image manifest")
