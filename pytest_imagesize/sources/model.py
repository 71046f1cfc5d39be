"""The seam between where an image lives and what measures it.

An ``ImageSource`` holds one image reference: a single manifest, or an index of several platforms.
``platforms()`` lists its images (``PlatformEntry``: platform and manifest descriptor; attestation
manifests are never among them), ``manifest(entry)`` reads and verifies one image's manifest,
``config(manifest)`` its config, and ``blobs(manifest)`` hands its layer blobs to the reader as a
``BlobSource``. Compressed sizes need only the manifest: its layer descriptors carry the stored
sizes, exact."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ..errors import ImageSizeError
from .platforms import Platform

if TYPE_CHECKING:
    from ..measure.archive.source import BlobSource


class SourceError(ImageSizeError):
    """An image source that cannot be read: not found, refused, damaged, or not an image; the
    message is one line saying what, where and how to fix it (never a credential)."""


_NONE: dict[str, str] = {}  # the annotations of a descriptor that has none (never changed)


class Descriptor(NamedTuple):
    """A content descriptor as a manifest or index carries it (the records of this module are
    named tuples, which load faster than dataclasses: the CLI's quick check imports them)."""

    media_type: str
    digest: str  # "sha256:<hex>"
    size: int
    platform: Platform | None = None
    annotations: dict[str, str] = _NONE


class ImageManifest(NamedTuple):
    """One platform's image manifest (OCI image manifest or Docker v2 schema 2), verified."""

    digest: str  # of the manifest's bytes as stored
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]

    @property
    def compressed_size(self) -> int:
        """The stored layer blobs, summed: what a registry stores and a pull downloads (the
        config blob is not counted: ``config.size``)."""
        return sum(layer.size for layer in self.layers)


class PlatformEntry(NamedTuple):
    """One image of a source: its platform and its manifest's descriptor. ``platform`` is None
    only where nothing says (a single manifest whose config names no os/architecture)."""

    platform: Platform | None
    manifest: Descriptor


class ImageSource(Protocol):
    """One image reference in one place."""

    kind: str  # "oci", "oci-archive", "docker-archive", "registry", "engine" (a saved index)
    what: str  # for messages, e.g. "registry 127.0.0.1:5000/app:1.4", "OCI layout build/oci:app"
    reference: str  # as the CLI spells it: "oci:build/oci:app", "docker://host/app:1.4"

    @property
    def index_digest(self) -> str | None:
        """The digest of the index (manifest list) the reference names, None for a single manifest."""
        ...

    def platforms(self) -> list[PlatformEntry]:
        """The images the reference holds, one per platform, in the index's order (attestation
        manifests left out); one entry for a single manifest. ``SourceError`` when an index
        holds attestations only."""
        ...

    def manifest(self, entry: PlatformEntry) -> ImageManifest:
        """The image manifest ``entry`` names, its digest and size verified."""
        ...

    def config(self, manifest: ImageManifest) -> dict[str, Any]:
        """The image config, its digest verified."""
        ...

    def blobs(self, manifest: ImageManifest) -> BlobSource:
        """The image's layer blobs for the reader (``measure.archive.read_blobs``), each read
        once, streamed, never written to disk; ``layout()`` gives the config and layer order."""
        ...

    def close(self) -> None:
        """Let go of files and connections."""
        ...
