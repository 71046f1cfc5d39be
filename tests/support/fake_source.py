"""An image source in memory that implements :class:`pytest_imagesize.sources.model.ImageSource`,
made of :class:`tests.support.fake_engine.FakeImage` layer blobs: a single manifest or an index of
several platforms. It records every blob it hands out (``blob_reads``) and every manifest a read
asked blobs for (``blob_requests``), so that tests can tell what a measurement downloaded."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_imagesize.measure.archive import Blob, BlobInfo, ImageLayout
from pytest_imagesize.sources.manifests import OCI_INDEX, OCI_MANIFEST, digest_of
from pytest_imagesize.sources.model import Descriptor, ImageManifest, PlatformEntry, SourceError
from pytest_imagesize.sources.platforms import Platform

from .fake_engine import CREATED, FakeImage

LAYER_TYPES = {
    "tar": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"


def config_blob(image: FakeImage, platform: Platform | None) -> bytes:
    """The image config as a registry stores it, for ``platform`` (None: no os/architecture)."""
    history: list[dict[str, Any]] = [{"created": CREATED, "created_by": la.created_by} for la in image.layers]
    history += [{"created": CREATED, "created_by": step, "empty_layer": True} for step in image.metadata]
    document: dict[str, Any] = {
        "created": CREATED,
        "config": image.config,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in image.layers]},
        "history": history,
    }
    if platform is not None:
        document.update(os=platform.os, architecture=platform.architecture)
        if platform.variant:
            document["variant"] = platform.variant
    return json.dumps(document, sort_keys=True).encode()


@dataclass
class _Stored:
    platform: Platform | None
    image: FakeImage
    config: bytes
    manifest: ImageManifest
    manifest_bytes: bytes


@dataclass
class FakeSource:
    """``images``: (platform, image) pairs; ``index``: whether the reference names an index (else
    it must hold one image). ``chunk``: the size of the pieces blobs are handed over in."""

    images: Sequence[tuple[Platform | None, FakeImage]]
    index: bool = False
    kind: str = "oci"
    reference: str = "oci:build/oci:app"
    chunk: int = 4096
    blob_reads: list[str] = field(default_factory=list)
    blob_requests: list[list[str]] = field(default_factory=list)
    closed: bool = False

    def __post_init__(self) -> None:
        if not self.index and len(self.images) != 1:
            raise ValueError("a single-manifest source holds one image")
        self.what = f"fake source {self.reference}"
        self._stored = [self._store(platform, image) for platform, image in self.images]
        self._blobs = {
            digest_of(layer.blob): layer.blob for _, image in self.images for layer in image.layers
        }

    def _store(self, platform: Platform | None, image: FakeImage) -> _Stored:
        config = config_blob(image, platform)
        layers = tuple(
            Descriptor(LAYER_TYPES[layer.compression], digest_of(layer.blob), len(layer.blob))
            for layer in image.layers
        )
        document = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": CONFIG_TYPE, "digest": digest_of(config), "size": len(config)},
            "layers": [{"mediaType": d.media_type, "digest": d.digest, "size": d.size} for d in layers],
        }
        data = json.dumps(document).encode()
        manifest = ImageManifest(
            digest=digest_of(data),
            media_type=OCI_MANIFEST,
            config=Descriptor(CONFIG_TYPE, digest_of(config), len(config)),
            layers=layers,
        )
        return _Stored(platform, image, config, manifest, data)

    @property
    def index_digest(self) -> str | None:
        if not self.index:
            return None
        entries = [{"digest": s.manifest.digest, "platform": str(s.platform)} for s in self._stored]
        return digest_of(json.dumps({"mediaType": OCI_INDEX, "manifests": entries}).encode())

    def platforms(self) -> list[PlatformEntry]:
        return [
            PlatformEntry(
                s.platform if self.index else None,
                Descriptor(OCI_MANIFEST, s.manifest.digest, len(s.manifest_bytes), s.platform),
            )
            for s in self._stored
        ]

    def _find(self, digest: str) -> _Stored:
        for stored in self._stored:
            if digest in (stored.manifest.digest, stored.manifest.config.digest):
                return stored
        raise SourceError(f"{self.what}: no manifest {digest}")

    def manifest(self, entry: PlatformEntry) -> ImageManifest:
        return self._find(entry.manifest.digest).manifest

    def config(self, manifest: ImageManifest) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self._find(manifest.config.digest).config)
        return document

    def blobs(self, manifest: ImageManifest) -> FakeBlobs:
        self.blob_requests.append([layer.digest for layer in manifest.layers])
        return FakeBlobs(self, manifest)

    def close(self) -> None:
        self.closed = True


class FakeBlobs:
    """The blob source ``FakeSource.blobs`` hands out: the manifest's layers in its order."""

    def __init__(self, source: FakeSource, manifest: ImageManifest) -> None:
        self._source = source
        self._manifest = manifest
        self.what = source.what

    def blobs(self) -> Iterator[Blob]:
        for layer in self._manifest.layers:
            data = self._source._blobs[layer.digest]
            self._source.blob_reads.append(layer.digest)
            step = self._source.chunk
            pieces = [data[i : i + step] for i in range(0, len(data), step)]
            yield Blob.of(BlobInfo(layer.digest, layer.size, layer.digest, None, layer.media_type), pieces)

    def layout(self) -> ImageLayout:
        config = self._source.config(self._manifest)
        return ImageLayout(config, [layer.digest for layer in self._manifest.layers])

    def close(self) -> None:
        return None


class DictCache:
    """An analysis cache in a dict, recording the keys written."""

    def __init__(self) -> None:
        self.entries: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return json.loads(json.dumps(self.entries[key])) if key in self.entries else None

    def set(self, key: str, value: Any) -> None:
        self.entries[key] = json.loads(json.dumps(value))
