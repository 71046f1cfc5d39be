"""Manifests and indexes of both families, parsed and checked, never trusted for more than they
can be: OCI image index / manifest and Docker manifest list / v2 schema 2. Pure: bytes in,
descriptors out; whoever fetched the bytes verifies their digest (``verify``)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .model import Descriptor, ImageManifest, PlatformEntry, SourceError
from .platforms import Platform

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((*INDEX_TYPES, *MANIFEST_TYPES))  # what a registry client asks for

MAX_MANIFEST = 4 << 20  # bytes: registries refuse larger manifests (distribution: 4 MiB)
MAX_LAYERS = 1000  # an image of more layers than this is refused (engines stop at 127-ish)
MAX_BLOB = 1 << 40  # a stored size above 1 TiB is absurd
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
ATTESTATION = "attestation-manifest"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def verify(data: bytes, digest: str, what: str) -> None:
    """``SourceError`` unless ``data`` hashes to ``digest``."""
    if not _DIGEST.match(digest):
        raise SourceError(f"{what}: digest {digest!r} is not a sha256 digest; only sha256 is supported")
    actual = digest_of(data)
    if actual != digest:
        raise SourceError(
            f"{what}: content does not match its digest (expected {digest}, got {actual}): "
            "the source is damaged or was changed while read"
        )


def load(data: bytes, what: str) -> dict[str, Any]:
    if len(data) > MAX_MANIFEST:
        raise SourceError(f"{what} is {len(data)} bytes, more than a manifest may be ({MAX_MANIFEST})")
    try:
        document = json.loads(data)
    except RecursionError:  # hostile nesting ([[[[...): the decoder's stack ran out
        raise SourceError(f"{what} nests JSON too deeply to be a manifest: refused") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"{what} is not JSON ({exc}): the source is damaged") from None
    if not isinstance(document, dict):
        raise SourceError(f"{what} is not a JSON object: the source is damaged")
    return document


def media_type_of(document: dict[str, Any], header: str | None = None) -> str:
    """The document's media type: its own field, else what the server said, else by shape."""
    declared = document.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if header:
        return header.split(";")[0].strip()
    return OCI_INDEX if "manifests" in document else OCI_MANIFEST


def descriptor(data: Any, what: str) -> Descriptor:
    if not isinstance(data, dict):
        raise SourceError(f"{what}: a descriptor is not an object: the manifest is damaged")
    media_type, digest, size = data.get("mediaType"), data.get("digest"), data.get("size")
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise SourceError(f"{what}: descriptor digest {digest!r} is not a sha256 digest")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_BLOB:
        raise SourceError(f"{what}: descriptor {digest[:19]} claims an impossible size {size!r}")
    annotations = data.get("annotations")
    return Descriptor(
        media_type=media_type if isinstance(media_type, str) else "",
        digest=digest,
        size=size,
        platform=Platform.from_json(data.get("platform")),
        annotations={str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {},
    )


def is_attestation(entry: Descriptor) -> bool:
    """BuildKit's attestation manifests (provenance, SBOM): never a platform of the image."""
    if entry.annotations.get("vnd.docker.reference.type") == ATTESTATION:
        return True
    return (
        entry.platform is not None
        and entry.platform.os == "unknown"
        and entry.platform.architecture == "unknown"
    )


def is_index(media_type: str) -> bool:
    return media_type in INDEX_TYPES


def index_entries(document: dict[str, Any], what: str) -> list[PlatformEntry]:
    """The platform images an index lists, attestations left out; ``SourceError`` for an index
    of attestations only or of nothing."""
    manifests = document.get("manifests")
    if not isinstance(manifests, list):
        raise SourceError(f"{what} is an index without a manifests list: the source is damaged")
    if len(manifests) > MAX_LAYERS:
        raise SourceError(f"{what} lists {len(manifests)} manifests, more than {MAX_LAYERS}: refused")
    descriptors = [descriptor(item, what) for item in manifests]
    entries = [PlatformEntry(d.platform, d) for d in descriptors if not is_attestation(d)]
    if not entries:
        if descriptors:
            raise SourceError(f"{what} holds only attestation manifests, no image of any platform")
        raise SourceError(f"{what} is an empty index: it holds no image")
    return entries


def image_manifest(data: bytes, digest: str, what: str, header_type: str | None = None) -> ImageManifest:
    """An image manifest from its bytes (already verified against ``digest``)."""
    document = load(data, what)
    media_type = media_type_of(document, header_type)
    if is_index(media_type) or "manifests" in document:
        raise SourceError(f"{what} is an index where an image manifest was expected: the source is damaged")
    if document.get("schemaVersion") == 1:
        raise SourceError(
            f"{what} is a Docker schema 1 manifest, not supported: push the image again with a current client"
        )
    layers = document.get("layers")
    if not isinstance(layers, list):
        raise SourceError(f"{what} has no layers list: it is not an image manifest")
    if len(layers) > MAX_LAYERS:
        raise SourceError(f"{what} claims {len(layers)} layers, more than {MAX_LAYERS}: refused")
    return ImageManifest(
        digest=digest,
        media_type=media_type,
        config=descriptor(document.get("config"), what),
        layers=tuple(descriptor(layer, what) for layer in layers),
    )
