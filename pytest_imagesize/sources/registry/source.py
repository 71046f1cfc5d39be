"""``RegistrySource``: an image in a registry as an ``ImageSource``. Manifests and the config are
fetched, bounded and verified; layer blobs stream to the reader, several at once, each hashed as
it passes and checked at its end; nothing is written to disk."""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..manifests import (
    ACCEPT,
    MAX_MANIFEST,
    digest_of,
    image_manifest,
    index_entries,
    is_index,
    load,
    media_type_of,
    verify,
)
from ..model import Descriptor, ImageManifest, PlatformEntry, SourceError
from ..platforms import Platform
from .client import CHUNK, RegistryClient, Response, Stalled, TransportError
from .reference import RegistryOptions, parse_reference

if TYPE_CHECKING:
    from ...measure.archive.source import Blob, BlobInfo, ImageLayout
    from ...measure.archive.stream import Prefetched

MAX_CONFIG = 8 << 20  # bytes: an image config larger than this is refused
IMAGE_CONFIGS = frozenset(
    {
        "",
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)
_SHORT = 19  # "sha256:" and 12 hex digits
MAX_NESTING = 2  # indexes listed by an index, and by those: deeper nesting is refused


def _declared_length(response: Response) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or not value.strip().isascii() or not value.strip().isdigit():
        return None  # absent, or not a number int() reads ("²" is a digit to isdigit())
    return int(value)


class RegistrySource:
    """One image reference in a registry: ``docker://host[:port]/repo[:tag|@sha256:...]`` (the
    prefix optional; Docker Hub's short names as Docker reads them)."""

    kind = "registry"

    def __init__(self, reference: str, options: RegistryOptions | None = None) -> None:
        self.options = options or RegistryOptions()
        self._ref = parse_reference(reference)
        self.reference = str(self._ref)
        self.what = f"registry {self._ref.name}"
        self._client = RegistryClient(self._ref, self.options)
        self._top: tuple[bytes, str, str] | None = None  # bytes, digest, media type
        self._configs: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"RegistrySource({self.reference!r})"

    # ------------------------------------------------------------------ manifests

    def _fetch_manifest(self, ref: str, what: str) -> tuple[bytes, str, str]:
        """A manifest or index by tag or digest: its bytes, verified digest and media type."""
        path = f"/v2/{self._ref.repository}/manifests/{ref}"
        response = self._client.get(path, what, accept=ACCEPT)
        if response.status == 404:
            response.drain()
            response.release()
            raise self._missing(ref)
        if response.status != 200:
            raise self._client.failure(response, what)
        data = self._read_small(response, MAX_MANIFEST, what)
        if ref.startswith("sha256:"):
            verify(data, ref, what)
            digest = ref
        else:
            sent = response.headers.get("Docker-Content-Digest")
            if sent and sent.startswith("sha256:"):
                verify(data, sent.strip(), f"{what} (by the registry's Docker-Content-Digest)")
            digest = digest_of(data)
        return data, digest, media_type_of(load(data, what), response.headers.get("Content-Type"))

    def _read_small(self, response: Response, limit: int, what: str) -> bytes:
        declared = _declared_length(response)
        try:
            if declared is not None and declared > limit:
                raise SourceError(f"{self.what}: {what} is {declared} bytes, more than {limit}: refused")
            data: bytes = response.read(limit + 1)
        except Stalled:
            raise self._client.stalled(what) from None
        except TransportError:
            raise SourceError(
                f"{self._client.label} dropped the connection while sending {what}: try again"
            ) from None
        finally:
            response.release()
        if len(data) > limit:
            raise SourceError(f"{self.what}: {what} is more than {limit} bytes: refused")
        return data

    def _missing(self, ref: str) -> SourceError:
        """Why a manifest is not there: no such repository, or no such tag (its tags named)."""
        repository, label = self._ref.repository, self._client.label
        response = self._client.get(f"/v2/{repository}/tags/list?n=50", f"the tags of {repository}")
        tags: list[str] = []
        try:
            if response.status == 404:
                return SourceError(
                    f"{label} has no repository {repository}: check the name, or push the image first"
                )
            if response.status == 200:
                found = json.loads(response.read(MAX_MANIFEST)).get("tags")
                tags = [str(t) for t in found] if isinstance(found, list) else []
        except (ValueError, AttributeError, TransportError, RecursionError):
            pass
        finally:
            response.release()
        has = f"; it has {', '.join(tags[:10])}{', …' if len(tags) > 10 else ''}" if tags else ""
        kind = "manifest" if ref.startswith("sha256:") else "tag"
        return SourceError(f"{label}: {repository} has no {kind} {ref}{has}: check the reference")

    def _reference_manifest(self) -> tuple[bytes, str, str]:
        if self._top is None:
            self._top = self._fetch_manifest(self._ref.manifest_ref, f"the manifest of {self._ref.name}")
        return self._top

    @property
    def index_digest(self) -> str | None:
        _, digest, media_type = self._reference_manifest()
        return digest if is_index(media_type) else None

    def platforms(self) -> list[PlatformEntry]:
        data, digest, media_type = self._reference_manifest()
        if is_index(media_type):
            return self._flatten(index_entries(load(data, self.what), self.what), (digest,))
        manifest = self._image(data, digest, media_type)
        platform = Platform.from_json(self.config(manifest))
        return [PlatformEntry(platform, Descriptor(media_type, digest, len(data), platform))]

    def _flatten(self, entries: list[PlatformEntry], chain: tuple[str, ...]) -> list[PlatformEntry]:
        """``entries`` with each index among them replaced by the platform images it lists (its
        own platform given to those that state none), at most ``MAX_NESTING`` indexes deep."""
        flat: list[PlatformEntry] = []
        for entry in entries:
            wanted = entry.manifest
            if not is_index(wanted.media_type):
                flat.append(entry)
                continue
            what = f"{self.what} index {wanted.digest[:_SHORT]}"
            if wanted.digest in chain or len(chain) > MAX_NESTING:
                raise SourceError(
                    f"{what} nests indexes more than {MAX_NESTING} deep (or lists one that lists it): "
                    "refused; name one platform's index or manifest by digest instead"
                )
            data, digest, media_type = self._fetch_manifest(wanted.digest, what)
            if len(data) != wanted.size:
                raise SourceError(
                    f"{what} is {len(data)} bytes where its parent index says {wanted.size}: "
                    "the registry is damaged"
                )
            if not is_index(media_type):
                raise SourceError(f"{what} is listed as an index but is not one: the index is damaged")
            children = index_entries(load(data, what), what)
            if entry.platform is not None:
                children = [
                    c if c.platform is not None else c._replace(platform=entry.platform) for c in children
                ]
            flat.extend(self._flatten(children, (*chain, digest)))
        return flat

    def _image(self, data: bytes, digest: str, media_type: str) -> ImageManifest:
        what = f"{self.what} manifest {digest[:_SHORT]}"
        manifest = image_manifest(data, digest, what, media_type)
        if manifest.config.media_type not in IMAGE_CONFIGS:
            raise SourceError(
                f"{what} is not a container image (its config is {manifest.config.media_type}): "
                "name an image, not another kind of artifact"
            )
        return manifest

    def manifest(self, entry: PlatformEntry) -> ImageManifest:
        wanted = entry.manifest
        data, digest, media_type = self._reference_manifest()
        if wanted.digest != digest or is_index(media_type):
            what = f"{self.what} manifest {wanted.digest[:_SHORT]}"
            data, digest, media_type = self._fetch_manifest(wanted.digest, what)
            if len(data) != wanted.size:
                raise SourceError(
                    f"{what} is {len(data)} bytes where its index says {wanted.size}: the registry is damaged"
                )
        return self._image(data, digest, media_type)

    def config(self, manifest: ImageManifest) -> dict[str, Any]:
        descriptor = manifest.config
        cached = self._configs.get(descriptor.digest)
        if cached is not None:
            return cached
        what = f"the config {descriptor.digest[:_SHORT]} of {self._ref.name}"
        if descriptor.size > MAX_CONFIG:
            raise SourceError(
                f"{self.what}: {what} claims {descriptor.size} bytes, more than {MAX_CONFIG}: refused"
            )
        response = self._client.get(f"/v2/{self._ref.repository}/blobs/{descriptor.digest}", what)
        if response.status != 200:
            raise self._client.failure(response, what)
        data = self._read_small(response, descriptor.size, what)
        if len(data) != descriptor.size:
            raise SourceError(
                f"{self.what}: {what} is {len(data)} bytes where the manifest says {descriptor.size}: "
                "the registry is damaged"
            )
        verify(data, descriptor.digest, f"{self.what}: {what}")
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            document = None
        if not isinstance(document, dict):
            raise SourceError(f"{self.what}: {what} is not a JSON object: it is not an image config")
        self._configs[descriptor.digest] = document
        return document

    def blobs(self, manifest: ImageManifest) -> RegistryBlobs:
        return RegistryBlobs(self, manifest, self.config(manifest))

    def blob_response(self, info: BlobInfo, start: int = 0) -> Response:
        """The open answer to a layer blob's GET (redirects followed): status 200, or 206 for
        the rest of it from byte ``start`` on (a resumed download; a registry ignoring the
        ``Range`` header answers 200 with the whole blob)."""
        what = f"layer {info.key[:_SHORT]}"
        extra = {"Range": f"bytes={start}-"} if start else None
        response = self._client.get(f"/v2/{self._ref.repository}/blobs/{info.key}", what, extra=extra)
        if response.status == 404:
            response.drain()
            response.release()
            raise SourceError(f"{self.what} lacks {what} that its manifest names: push the image again")
        if response.status == 206 and start:
            sent = (response.headers.get("Content-Range") or "").strip()
            if not sent.startswith(f"bytes {start}-"):
                response.close()
                raise SourceError(
                    f"{self._client.label} resumed {what} at another byte than {start} ({sent!r}): try again"
                )
            return response
        if response.status != 200:
            raise self._client.failure(response, what)
        return response

    def blob_chunks(self, info: BlobInfo, chunk: int) -> Iterator[bytes]:
        """The bytes of a layer blob as they arrive, a dropped download resumed where it stopped
        (a ``Range`` request, up to ``retries`` times); ``SourceError`` before its last chunk when
        the whole does not hash to its digest, and for a wrong size, a stall or drops beyond
        the retries."""
        what = f"layer {info.key[:_SHORT]} of {self._ref.name}"
        response = self.blob_response(info)
        done = False
        try:
            self._check_length(response, info.size, what)
            hasher = hashlib.sha256()
            received = skip = resumes = 0
            if info.size == 0 and "sha256:" + hasher.hexdigest() != info.digest:
                raise SourceError(f"{what} is empty and cannot have its digest: the manifest is damaged")
            done = info.size == 0
            while received < info.size:
                try:
                    data = response.read1(min(chunk, info.size - received + skip))  # what has arrived
                except Stalled:
                    raise self._client.stalled(f"{what} after {received} of {info.size} bytes") from None
                except TransportError:
                    data = b""
                if not data:
                    if resumes >= self.options.retries:
                        raise SourceError(
                            f"{self._client.label} dropped the connection after {received} of {info.size} "
                            f"bytes of {what}: try again"
                        )
                    resumes += 1
                    response.close()
                    response = self.blob_response(info, received)
                    if response.status == 206:
                        self._check_length(response, info.size - received, what)
                        skip = 0
                    else:  # the whole blob again: what was received already is skipped
                        self._check_length(response, info.size, what)
                        skip = received
                    continue
                if skip:
                    cut = min(skip, len(data))
                    data, skip = data[cut:], skip - cut
                    if not data:
                        continue
                received += len(data)
                hasher.update(data)
                if received == info.size:
                    actual = "sha256:" + hasher.hexdigest()
                    if actual != info.digest:
                        raise SourceError(
                            f"{what} from {self._client.label} does not match its digest (got "
                            f"{actual[:_SHORT]}): the registry is damaged or something between changed it"
                        )
                    done = True
                yield data
        finally:
            if done:
                response.release()
            else:
                response.close()

    def _check_length(self, response: Response, expected: int, what: str) -> None:
        declared = _declared_length(response)
        if declared is not None and declared != expected:
            raise SourceError(
                f"{self._client.label} sends {declared} bytes for {what} whose manifest says "
                f"{expected}: the registry is damaged"
            )

    def close(self) -> None:
        self._client.close()


class RegistryBlobs:
    """The layer blobs of one image in a registry: up to ``blobs_at_once`` downloads at once, each
    received ahead of the reader by at most ``memory_budget // blobs_at_once`` bytes."""

    def __init__(self, source: RegistrySource, manifest: ImageManifest, config: dict[str, Any]) -> None:
        from ...measure.archive.source import BlobInfo, ImageLayout

        self.what = f"{source.what} ({manifest.digest[:_SHORT]})"
        self._source = source
        rootfs = config.get("rootfs")
        diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
        if not isinstance(diff_ids, list) or len(diff_ids) != len(manifest.layers):
            diff_ids = [None] * len(manifest.layers)
        self.infos: list[BlobInfo] = [
            BlobInfo(
                key=layer.digest,
                size=layer.size,
                digest=layer.digest,
                diff_id=str(diff_id) if isinstance(diff_id, str) else None,
                media_type=layer.media_type or None,
            )
            for layer, diff_id in zip(manifest.layers, diff_ids, strict=True)
        ]
        self._layout = ImageLayout(config, [layer.digest for layer in manifest.layers])
        self._pending: deque[tuple[BlobInfo, Prefetched]] = deque()
        self._current: Prefetched | None = None
        options = source.options
        self._at_once = options.blobs_at_once
        self._share = max(1, options.memory_budget // options.blobs_at_once)
        self._chunk = min(CHUNK, self._share)

    def blobs(self) -> Iterator[Blob]:
        from ...measure.archive.source import Blob
        from ...measure.archive.stream import Prefetched

        unique: dict[str, BlobInfo] = {}
        for info in self.infos:  # a blob the image uses twice is read once
            unique.setdefault(info.key, info)
        queue = deque(unique.values())
        while True:
            while queue and len(self._pending) < self._at_once:
                upcoming = queue.popleft()
                chunks = self._source.blob_chunks(upcoming, self._chunk)
                self._pending.append((upcoming, Prefetched(chunks, self._share, name="imagesize-registry")))
            if not self._pending:
                return
            info, received = self._pending.popleft()
            self._current = received
            try:
                yield Blob.of(info, received)
            finally:
                received.close(wait=0)
                self._current = None

    def layout(self) -> ImageLayout:
        return self._layout

    def close(self) -> None:
        if self._current is not None:
            self._current.close(wait=0)
        while self._pending:
            self._pending.popleft()[1].close(wait=0)
