"""Where an image's blobs come from: the seam between a source of layer blobs and the reader that
measures them (``reader.read_blobs``).

A source says which blobs it has (``BlobInfo``: a key, the stored size, and the digest, diff ID
and media type where it knows them), hands each over as bytes to read (``Blob``), in whatever
order it can, and names the image's config and layer order (``ImageLayout``), known up front or
discovered on the way. ``save.SaveStream`` is the ``docker save`` tar stream (one stream in the
engine's order, documents found among the blobs); a registry or an OCI layout directory would be
others: one ``ChunkReader`` per blob over its chunks (an HTTP body, a file).

Bounded memory: the reader consumes a blob (reads or skips all its ``size`` bytes) before it asks
for the next, so a source holds, besides the blob being read, only what it receives ahead. A
source that fetches several blobs at once (a registry) receives each one through
``stream.Prefetched(chunks, limit)``, which holds at most ``limit`` bytes received ahead of the
reader: with ``limit = budget // blobs_at_once``, its bytes in flight stay within ``budget``
whatever the blobs' sizes. The reader's own memory is bounded beside it (``reader``'s docstring).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from .stream import ChunkReader


@dataclass(frozen=True)
class BlobInfo:
    """One layer blob as its source describes it."""

    key: str  # names it in its source and in ImageLayout.layers: an archive member, a digest
    size: int  # bytes as stored (compressed or not)
    digest: str | None = None  # "sha256:<hex>" of the stored bytes, when known
    diff_id: str | None = None  # "sha256:<hex>" of the uncompressed layer tar, when known
    media_type: str | None = None  # as the manifest says, when known (the reader goes by the bytes)


@dataclass(frozen=True)
class Blob:
    """A layer blob to read: its bytes are the next ``info.size`` bytes of ``data`` (a source
    reading one stream shares one reader among its blobs)."""

    info: BlobInfo
    data: ChunkReader

    @classmethod
    def of(cls, info: BlobInfo, chunks: Iterable[bytes]) -> Blob:
        """A blob whose bytes are ``chunks`` (an HTTP body, a file read in pieces)."""
        return cls(info, ChunkReader(chunks))


@dataclass(frozen=True)
class ImageLayout:
    """What the image's manifest and config say: the config, and its layers' blob keys in image
    order (oldest first)."""

    config: dict[str, Any]
    layers: list[str]


class BlobSource(Protocol):
    """Where one image's layer blobs come from."""

    what: str  # what messages call it: "the image archive"

    def blobs(self) -> Iterator[Blob]:
        """Each layer blob once, in the order the source delivers them. The reader consumes each
        before it asks for the next; it may stop early (an error), and then calls ``close``."""
        ...

    def layout(self) -> ImageLayout:
        """The image's config and layer order; asked once ``blobs()`` is exhausted (a stream
        finds its manifest on the way). ``ArchiveError`` when there is none."""
        ...

    def close(self) -> None:
        """The read is over, however it ended (``blobs()`` perhaps never asked): let go of what
        was held; stop receiving."""
        ...
