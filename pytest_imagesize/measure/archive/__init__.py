"""Reading an image's layer blobs as they stream by: layer tars, their files and gzip sizes.

Where the blobs come from is a seam (``source.BlobSource``): ``save.SaveStream`` reads an image
archive stream (``docker save``, ``podman save``) in the classic layout (``<id>/layer.tar`` +
``manifest.json``, Docker before 25) or the OCI one (``index.json`` + ``blobs/sha256/...``,
Docker 25+ and Podman); ``directory.ArchiveDirectory`` reads the same layouts unpacked on disk.
Layer blobs may be plain tars, gzip or zstd (every layer media type of the OCI image spec).
Nothing is written to disk and no blob is ever held whole in memory.

The work is spread so that it keeps pace with the stream: a thread of its own receives the
stream (``stream.Prefetched``, a bounded lead, so the engine keeps writing while the layers are
parsed and the socket read releases the GIL); the parsing thread walks the tar headers
(``tar``: no copy of the file data, which is only sliced and passed on); each plain layer's bytes
are cut into 1 MiB blocks that a pool of one thread per core gzip-compresses (``gzip_size``:
zlib-ng releases the GIL while deflating). Layers are not hashed: the engine is the producer of
the stream, and its image config names each layer's diff ID in order (on two cores a SHA-256 of
every layer cost a tenth of the analysis, time the engine needs to write the stream). A
compressed blob is counted at its stored size and only decompressed to be parsed (``layer``).
Memory stays bounded whatever the image size (``reader``).

Layers measured before can be passed in (``KnownLayers``, by diff ID): a layer recognised as one
of them (by its digest or diff ID where the source names them, by its tar size otherwise) is
skipped, neither parsed nor compressed; the pairing is confirmed against the image config's diff
IDs at the end. When it turns out wrong, ``LayerGuessMissed`` is raised and the caller reads the
image again without guesses.

Per layer this measures the portable size: the bytes of the regular files plus the lengths of the
symlink targets the layer writes (hard links count 0), which is what Docker's graph-driver store
reports as ``.Size`` and is the same on every engine for the same files.
"""

from __future__ import annotations

from .directory import ArchiveDirectory
from .gzip_size import BLOCK, GZIP_OVERHEAD, BlockCompressor, default_workers
from .layer import INFLATED_AHEAD, INFLATED_CHUNK
from .model import (
    ArchiveError,
    ArchiveScan,
    EmptyTar,
    KnownLayers,
    LayerGuessMissed,
    LayerScan,
    TarEntry,
    link_size,
)
from .probe import PROBE_BUFFER, PROBE_HELD, FileProbe, Probes
from .reader import read_archive, read_blobs
from .save import PREFETCH, PREFETCH_COMPRESSED, SaveStream
from .source import Blob, BlobInfo, BlobSource, ImageLayout
from .stream import ChunkReader, Prefetched

__all__ = [
    "BLOCK",
    "GZIP_OVERHEAD",
    "INFLATED_AHEAD",
    "INFLATED_CHUNK",
    "PREFETCH",
    "PREFETCH_COMPRESSED",
    "PROBE_BUFFER",
    "PROBE_HELD",
    "ArchiveDirectory",
    "ArchiveError",
    "ArchiveScan",
    "Blob",
    "BlobInfo",
    "BlobSource",
    "BlockCompressor",
    "ChunkReader",
    "EmptyTar",
    "FileProbe",
    "ImageLayout",
    "KnownLayers",
    "LayerGuessMissed",
    "LayerScan",
    "Prefetched",
    "Probes",
    "SaveStream",
    "TarEntry",
    "default_workers",
    "link_size",
    "read_archive",
    "read_blobs",
]
