"""One layer blob read: its entries and portable size, and its compressed size (a plain tar's gzip
size counted while it is parsed; a compressed blob counted as stored, inflated by a thread of its
own beside the parsing)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from zlib_ng import zlib_ng

from ...errors import ImageSizeError
from .gzip_size import BLOCK, BlockCompressor
from .model import ArchiveError, EmptyTar, LayerScan, link_size
from .probe import FileProbe, ProbeBuffer, probe_file
from .stream import UNBOUNDED, ChunkReader, Member, Prefetched
from .tar import GNU_SPARSE, entry, walk

INFLATED_AHEAD = 8 << 20  # bytes of a compressed layer inflated ahead of the parser
INFLATED_CHUNK = 1 << 20  # at most this much comes out of one inflate call
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
INFLATE_WBITS = 32 + 15  # zlib's wbits: the header (gzip here) detected, the largest window


def compression(head: bytes) -> str | None:
    """How a blob whose first bytes are ``head`` is compressed: "gzip", "zstd", or None (plain)."""
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    if head[:4] == ZSTD_MAGIC:
        return "zstd"
    return None


def scan_entries(
    source: Any, key: str, probe: FileProbe | None, held: ProbeBuffer | None = None
) -> LayerScan:
    """The entries and portable size of the layer tar that ``source`` reads (a stream without a
    byte is a layer without entries); files ``probe`` wants are shown to it."""
    scan = LayerScan(key=key)
    entries = scan.entries
    portable = 0
    held = ProbeBuffer() if held is None else held
    try:
        for header, stored in walk(source, f"layer {key}"):
            found = entry(header)
            entries.append(found)
            if found.kind == "file":
                portable += found.size
                if probe is not None and stored and header.type != GNU_SPARSE:
                    probe_file(probe, source, found, stored, scan, held)
            elif found.kind == "symlink":
                portable += link_size(found.link)
    except EmptyTar:
        pass
    scan.portable_size = portable
    return scan


def scan_plain(
    data: ChunkReader,
    key: str,
    size: int,
    what: str,
    pool: ThreadPoolExecutor,
    workers: int,
    probe: FileProbe | None,
    held: ProbeBuffer,
) -> LayerScan:
    """The plain layer tar of ``size`` bytes next in ``data``: parsed, and gzip-sized by ``pool``
    from the bytes as they are consumed (whole chunks, not per header)."""
    member = Member(data, size)
    compressor = BlockCompressor(pool, workers)
    data.sink_to(compressor.feed)
    try:
        scan = scan_entries(member, key, probe, held)
        member.skip(member.remaining)  # the end-of-archive padding counts in the pushed tar too
    finally:
        data.sink_to(None)
    if member.remaining:
        raise ArchiveError(f"{what} is truncated")
    scan.tar_size = size
    scan.compressed_size = compressor.finish()
    return scan


def scan_compressed(
    data: ChunkReader,
    key: str,
    size: int,
    stored_as: str,
    what: str,
    probe: FileProbe | None,
    held: ProbeBuffer,
) -> LayerScan:
    """The ``stored_as`` ("gzip" or "zstd") layer blob of ``size`` bytes next in ``data``:
    inflated by a thread of its own while its entries are parsed here; ``data`` is read again by
    this thread only once that one has ended."""
    member = Member(data, size)
    inflated = Prefetched(_inflated(member, stored_as), INFLATED_AHEAD)
    try:
        counted = Member(ChunkReader(inflated), UNBOUNDED)  # the chunks read in place, not copied
        scan = scan_entries(counted, key, probe, held)
        while counted.skip(BLOCK):
            pass
    except BaseException:
        inflated.close(wait=0)  # the source is not read again: don't wait for a stalled engine
        raise
    inflated.close(wait=None)  # it has inflated the whole member: it is ending
    member.skip(member.remaining)
    if member.remaining:
        raise ArchiveError(f"{what} is truncated")
    scan.tar_size = size
    scan.compressed_size = size
    scan.stored_as = stored_as
    return scan


def _inflated(raw: Any, stored_as: str) -> Iterator[bytes]:
    """The decompressed chunks (at most INFLATED_CHUNK bytes each, however well the data
    compresses) of a gzip (any number of members) or zstd stream. Run in a thread of its own
    (Prefetched): zlib-ng and zstandard inflate without holding the GIL, beside the parsing of
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
    except ImageSizeError:  # ours (a truncated blob) or the engine's (lost while receiving)
        raise
    except Exception as exc:  # zlib.error, zstandard.ZstdError
        raise ArchiveError(f"a compressed layer blob is damaged ({exc})") from None


class _GzipMembers:
    """zlib-ng's decompressobj over concatenated gzip members (a valid gzip stream may have many);
    zlib-ng inflates about twice as fast as zlib 1.2 here."""

    def __init__(self) -> None:
        self._inflate = zlib_ng.decompressobj(wbits=INFLATE_WBITS)

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
                    self._inflate = zlib_ng.decompressobj(wbits=INFLATE_WBITS)
            else:
                data = self._inflate.unconsumed_tail
