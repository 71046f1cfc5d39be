"""``docker save`` (or ``podman save``) as a blob source: one tar stream in the engine's order,
received by a thread of its own, its layer blobs handed to the reader in place as they come and
its JSON documents (manifest, index, config) kept to name the image's layout at the end.

Both layouts are understood: the classic one (``<id>/layer.tar`` + ``manifest.json``) written by
Docker before 25, and the OCI one (``index.json`` + ``blobs/sha256/...``) written by Docker 25+
and Podman. A member is told apart by its name and first bytes: a layer is a tar, a gzip or a
zstd blob; a document is JSON."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from .layer import compression
from .layout import MAX_JSON, archive_layout, blob_digest
from .model import ArchiveError
from .source import Blob, BlobInfo, ImageLayout
from .stream import ChunkReader, Prefetched
from .tar import GNU_SPARSE, RECORD, REGULAR, ZERO_RECORD, looks_like_tar, walk

PREFETCH = 4 << 20  # bytes received ahead of the parser
# ... and while a compressed blob is read: the engine's stream is then what sets the pace (no
# compression to wait for), and a longer lead keeps it flowing while the parser is held up for a
# moment (a Go binary handed over, a layer of many small files); what is held is mostly the
# blob's compressed bytes (the lead may run into the members after it)
PREFETCH_COMPRESSED = 32 << 20


def _is_layer_name(name: str) -> bool:
    return name.endswith("/layer.tar") or name.startswith("blobs/") or name.endswith(".tar")


class SaveStream:
    """The blobs of an image archive stream (its chunks, e.g. the engine's response), received up
    to ``PREFETCH`` bytes ahead (``PREFETCH_COMPRESSED`` while a compressed blob is read) by a
    thread started when the blobs are first asked for; ``close`` stops it and closes ``chunks``."""

    what = "the image archive"

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._received: Prefetched | None = None
        self._documents: dict[str, Any] = {}

    def blobs(self) -> Iterator[Blob]:
        received = self._received = Prefetched(self._chunks, PREFETCH)
        data = ChunkReader(received)
        for header, stored in walk(data, self.what):
            if header.type not in REGULAR or header.type == GNU_SPARSE:
                continue
            name = header.name.removeprefix("./")
            head = data.peek(min(RECORD, stored))
            if _is_layer_name(name):
                if compression(head):
                    received.set_limit(PREFETCH_COMPRESSED)
                    try:
                        yield Blob(BlobInfo(name, stored, blob_digest(name)), data)
                    finally:
                        received.set_limit(PREFETCH)
                    continue
                if looks_like_tar(head) or head == ZERO_RECORD:  # ZERO_RECORD: an empty layer
                    yield Blob(BlobInfo(name, stored, blob_digest(name)), data)
                    continue
            if head.lstrip()[:1] in (b"{", b"[") and stored <= MAX_JSON:
                document = data.read(stored)
                if len(document) < stored:
                    raise ArchiveError(f"{self.what} is truncated")
                with contextlib.suppress(ValueError):
                    self._documents[name] = json.loads(document)

    def layout(self) -> ImageLayout:
        return archive_layout(self._documents, self.what)

    def close(self) -> None:
        if self._received is not None:
            self._received.close()
