"""An image archive already unpacked on disk as a blob source: an OCI image layout directory
(``oci-layout``, ``index.json``, ``blobs/sha256/...``, as ``skopeo copy oci:DIR`` or BuildKit's
``--output type=oci,tar=false`` write it) or an unpacked ``docker save`` archive
(``manifest.json``, ``<id>/layer.tar``). The manifest is read first; the layer blobs follow, each
read from its file in chunks (one file open at a time)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from .layout import MAX_JSON, archive_layout, blob_digest
from .model import ArchiveError
from .source import Blob, BlobInfo, ImageLayout

CHUNK = 1 << 20


class ArchiveDirectory:
    """The layer blobs of the image unpacked in ``root``, in image order."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.what = f"the image directory {self.root}"
        self._layout: ImageLayout | None = None

    def layout(self) -> ImageLayout:
        if self._layout is None:
            self._layout = archive_layout(_Documents(self), self.what)
        return self._layout

    def blobs(self) -> Iterator[Blob]:
        for key in dict.fromkeys(self.layout().layers):
            path = self.path(key)
            try:
                file = path.open("rb")
            except OSError as exc:
                raise ArchiveError(f"{self.what}: cannot read layer {key} ({exc.strerror or exc})") from None
            with file:
                size = os.fstat(file.fileno()).st_size
                yield Blob.of(BlobInfo(key, size, blob_digest(key)), _chunks(file))

    def close(self) -> None:
        """Nothing is held between blobs: each file is closed once its blob is read."""

    def path(self, name: str) -> Path:
        """The file ``name`` (a path the manifest gives) inside the directory, never outside it."""
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ArchiveError(f"{self.what} names {name}, which is outside it")
        return path


class _Documents(Mapping[str, Any]):
    """The directory's JSON documents by path, read when asked for (a missing or unreadable one
    is absent)."""

    def __init__(self, directory: ArchiveDirectory) -> None:
        self._directory = directory

    def __getitem__(self, name: str) -> Any:
        try:
            with self._directory.path(name).open("rb") as file:
                data = file.read(MAX_JSON + 1)
            if len(data) > MAX_JSON:
                raise KeyError(name)
            return json.loads(data)
        except (OSError, ValueError, ArchiveError):
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _chunks(file: BinaryIO) -> Iterator[bytes]:
    while data := file.read(CHUNK):
        yield data
