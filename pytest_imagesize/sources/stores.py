"""Where a local source's blobs sit: a directory (``DirectoryStore``) or a tar file indexed once,
headers only (``TarStore``); each hands out a named file's bytes in chunks, read in place (nothing
extracted or copied to disk). ``LayerBlobs`` is one image's layer blobs from a store, for the
archive reader, each verified against its descriptor (size and sha256) as it streams."""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from ..measure.archive.model import ArchiveError
from ..measure.archive.source import Blob, BlobInfo, ImageLayout
from ..measure.archive.tar import REGULAR, walk
from .model import Descriptor, SourceError

CHUNK = 1 << 20  # bytes read from a file at a time
MAX_MEMBERS = 200_000  # a tar of more members than this is not an image archive
MAX_LINK_HOPS = 8  # links between tar members followed before giving up


class Store(Protocol):
    """Named files (``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``, ``<id>/layer.tar``)."""

    what: str  # for messages: "the OCI layout build/oci", "the archive app.tar"

    def size(self, name: str) -> int | None:
        """The file's size, None when there is no such file."""
        ...

    def chunks(self, name: str, size: int) -> Iterator[bytes]:
        """The file's first ``size`` bytes in chunks of at most ``CHUNK``; ``SourceError`` when it
        ends sooner. The file is opened on the first chunk asked for."""
        ...

    def close(self) -> None: ...


def read_small(store: Store, name: str, limit: int, what: str) -> bytes:
    """A whole small file (a manifest, a config): ``SourceError`` when it is missing or bigger
    than ``limit``."""
    size = store.size(name)
    if size is None:
        raise SourceError(f"{store.what} lacks {what} ({name}): it is incomplete; write it again")
    if size > limit:
        raise SourceError(f"{store.what}: {what} ({name}) is {size} bytes, more than {limit}: refused")
    return b"".join(store.chunks(name, size))


def verified(chunks: Iterator[bytes], size: int, digest: str, what: str) -> Iterator[bytes]:
    """``chunks`` (exactly ``size`` bytes) passed on while hashed; the last chunk is held back
    until the hash is checked, so a reader that stops at ``size`` bytes still sees the check:
    ``SourceError`` when the bytes do not hash to ``digest`` (at once for an empty blob)."""
    algorithm, _, expected = digest.partition(":")
    if algorithm != "sha256":
        raise SourceError(f"{what}: digest {digest!r} is not a sha256 digest; only sha256 is supported")
    if size == 0:
        _check(hashlib.sha256(), expected, digest, what)
        return iter(())
    return _hashed(chunks, size, expected, digest, what)


def _hashed(chunks: Iterator[bytes], size: int, expected: str, digest: str, what: str) -> Iterator[bytes]:
    hasher = hashlib.sha256()
    seen = 0
    try:
        for chunk in chunks:
            seen += len(chunk)
            hasher.update(chunk)
            if seen >= size:
                _check(hasher, expected, digest, what)
            yield chunk
            if seen >= size:
                return
    finally:  # the file is let go of at once, however the read ended
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _check(hasher: Any, expected: str, digest: str, what: str) -> None:
    actual = hasher.hexdigest()
    if actual != expected:
        raise SourceError(
            f"{what} does not match its digest (expected {digest}, got sha256:{actual}): "
            "the source is damaged or was changed while read; write it again"
        )


class DirectoryStore:
    """The files under ``root``; names are relative paths that never lead outside it."""

    def __init__(self, root: Path, what: str) -> None:
        self.root = root
        self.what = what

    def _path(self, name: str) -> Path:
        if name.startswith("/") or ".." in name.split("/"):
            raise SourceError(f"{self.what} names {name!r}, which is outside it: the layout is damaged")
        return self.root / name

    def size(self, name: str) -> int | None:
        try:
            return os.stat(self._path(name)).st_size
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise SourceError(f"{self.what}: cannot read {name} ({exc.strerror or exc})") from None

    def chunks(self, name: str, size: int) -> Iterator[bytes]:
        try:
            file = self._path(name).open("rb")
        except OSError as exc:
            raise SourceError(f"{self.what}: cannot read {name} ({exc.strerror or exc})") from None
        with file:
            left = size
            while left:
                try:
                    data = file.read(min(CHUNK, left))
                except OSError as exc:
                    raise SourceError(f"{self.what}: cannot read {name} ({exc.strerror or exc})") from None
                if not data:
                    raise SourceError(f"{self.what}: {name} is shorter than {size} bytes: it is truncated")
                left -= len(data)
                yield data

    def close(self) -> None:
        """Nothing is held: each file is closed once read."""


class _Seeking:
    """A file read for its tar headers: data skipped by seeking (``walk``'s reader protocol)."""

    def __init__(self, file: BinaryIO, length: int) -> None:
        self._file = file
        self._length = length
        self.taken = 0

    def read(self, n: int) -> bytes:
        data = self._file.read(n)
        self.taken += len(data)
        return data

    def skip(self, n: int) -> int:
        n = max(0, min(n, self._length - self.taken))
        self._file.seek(n, os.SEEK_CUR)
        self.taken += n
        return n


class TarStore:
    """The members of the tar file at ``path``, indexed once (name -> data offset and size) by
    reading its headers only; a member's bytes are read at its offset when asked for. Links
    between members (``docker save`` links a layer two images share) lead to their target."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._members: dict[str, tuple[int, int]] = {}
        try:
            self._file: BinaryIO = path.open("rb")
        except OSError as exc:
            raise SourceError(f"{what}: cannot open it ({exc.strerror or exc})") from None
        try:
            self._index()
        except BaseException:
            self._file.close()
            raise

    def _index(self) -> None:
        length = os.fstat(self._file.fileno()).st_size
        head = self._file.read(4)
        self._file.seek(0)
        if head[:2] == b"\x1f\x8b" or head == b"\x28\xb5\x2f\xfd":
            raise SourceError(f"{self.what} is compressed: decompress it first (gunzip / unzstd)")
        reader = _Seeking(self._file, length)
        links: dict[str, tuple[bytes, str]] = {}
        try:
            for count, (header, stored) in enumerate(walk(reader, self.what)):
                if count > MAX_MEMBERS:
                    raise SourceError(
                        f"{self.what} has more than {MAX_MEMBERS} members: not an image archive"
                    )
                name = _normal(header.name)
                if header.type in REGULAR:
                    if reader.taken + stored > length:
                        raise SourceError(f"{self.what} is truncated: copy or save it again")
                    self._members[name] = (reader.taken, stored)
                elif header.type in (b"1", b"2"):
                    links[name] = (header.type, header.link)
        except ArchiveError as exc:
            raise SourceError(f"{self.what} is not a readable tar ({exc}): copy or save it again") from None
        for name in links:
            resolved = self._resolve(name, links)
            if resolved is not None:
                self._members[name] = self._members[resolved]

    def _resolve(self, name: str, links: dict[str, tuple[bytes, str]]) -> str | None:
        """The regular member a link leads to (a symlink's target is relative to its directory,
        a hard link's to the archive's root), None when it leads nowhere in the archive."""
        for _ in range(MAX_LINK_HOPS):
            kind, target = links[name]
            if kind == b"2":
                target = posixpath.join(posixpath.dirname(name), target)
            target = _normal(target)
            if target in self._members:
                return target
            if target not in links:
                return None
            name = target
        return None

    def size(self, name: str) -> int | None:
        member = self._members.get(name)
        return None if member is None else member[1]

    def chunks(self, name: str, size: int) -> Iterator[bytes]:
        member = self._members.get(name)
        if member is None:
            raise SourceError(f"{self.what} lacks {name}: it is incomplete; save it again")
        offset, stored = member
        if size > stored:
            raise SourceError(f"{self.what}: {name} is shorter than {size} bytes: it is truncated")
        fd = self._file.fileno()
        end = offset + size
        while offset < end:
            try:
                data = os.pread(fd, min(CHUNK, end - offset), offset)
            except OSError as exc:
                raise SourceError(f"{self.what}: cannot read {name} ({exc.strerror or exc})") from None
            if not data:
                raise SourceError(f"{self.what} is truncated: copy or save it again")
            offset += len(data)
            yield data

    def close(self) -> None:
        self._file.close()


def _normal(name: str) -> str:
    name = name.removeprefix("./")
    return posixpath.normpath(name) if name else name


class LayerBlobs:
    """One image's layer blobs in ``store`` for the archive reader: ``layers`` pairs each layer's
    store name (its key) with its descriptor; each blob read once in image order, verified."""

    def __init__(
        self,
        store: Store,
        what: str,
        config: dict[str, Any],
        layers: Sequence[tuple[str, Descriptor]],
    ) -> None:
        self._store = store
        self.what = what
        self._config = config
        self._layers = list(layers)
        self._reading: Iterator[bytes] | None = None

    def layout(self) -> ImageLayout:
        return ImageLayout(self._config, [key for key, _ in self._layers])

    def blobs(self) -> Iterator[Blob]:
        rootfs = self._config.get("rootfs")
        diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
        if not isinstance(diff_ids, list) or len(diff_ids) != len(self._layers):
            diff_ids = [None] * len(self._layers)
        seen: set[str] = set()
        for (key, descriptor), diff_id in zip(self._layers, diff_ids, strict=True):
            if key in seen:
                continue
            seen.add(key)
            size = self._store.size(key)
            if size is None:
                raise SourceError(
                    f"{self._store.what} lacks layer blob {descriptor.digest} that the manifest names: "
                    "it is incomplete; write it again"
                )
            if size != descriptor.size:
                raise SourceError(
                    f"{self._store.what}: layer blob {descriptor.digest} is {size} bytes, its descriptor "
                    f"says {descriptor.size}: the source is damaged; write it again"
                )
            what = f"{self._store.what}: layer blob {descriptor.digest}"
            self._reading = verified(self._store.chunks(key, size), size, descriptor.digest, what)
            info = BlobInfo(
                key,
                size,
                digest=descriptor.digest,
                diff_id=str(diff_id) if diff_id is not None else None,
                media_type=descriptor.media_type or None,
            )
            yield Blob.of(info, self._reading)

    def close(self) -> None:
        reading, self._reading = self._reading, None
        close = getattr(reading, "close", None)
        if close is not None:
            close()
