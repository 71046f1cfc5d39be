"""The image's manifest as an image archive holds it (``docker save``, ``podman save``, an OCI
layout): Docker's ``manifest.json`` (before Docker 25) or the OCI ``index.json`` that leads,
through nested indexes, to the manifest; each read from the archive's JSON documents by path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import ArchiveError
from .source import ImageLayout

MAX_NESTING = 4  # index -> (index ->) manifest
MAX_JSON = 16 << 20  # a bigger document is not one of the image's


def blob_path(digest: str) -> str:
    """Where a blob lives in an OCI layout: ``sha256:abc`` -> ``blobs/sha256/abc``."""
    algorithm, _, hex_digest = digest.partition(":")
    return f"blobs/{algorithm}/{hex_digest}"


def blob_digest(path: str) -> str | None:
    """The digest an OCI layout's blob path names (``blobs/sha256/abc`` -> ``sha256:abc``)."""
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "blobs" and parts[1] and parts[2]:
        return f"{parts[1]}:{parts[2]}"
    return None


def archive_layout(documents: Mapping[str, Any], what: str) -> ImageLayout:
    """The config and layer blob paths the archive's documents name (``what`` names the archive
    in messages)."""
    manifest = documents.get("manifest.json")
    if isinstance(manifest, list) and manifest and isinstance(manifest[0], dict):
        entry = manifest[0]
        config = documents.get(str(entry.get("Config")), {})
        names = [str(n) for n in entry.get("Layers") or []]
    elif isinstance(documents.get("index.json"), dict):
        target = _follow_index(documents["index.json"], documents)
        config = documents.get(blob_path(str(target.get("config", {}).get("digest", ""))), {})
        names = [blob_path(str(layer.get("digest", ""))) for layer in target.get("layers") or []]
    else:
        raise ArchiveError(f"{what} has neither manifest.json nor index.json")
    return ImageLayout(config if isinstance(config, dict) else {}, names)


def _follow_index(index: dict[str, Any], documents: Mapping[str, Any]) -> dict[str, Any]:
    node: Any = index
    for _ in range(MAX_NESTING):
        if isinstance(node, dict) and "layers" in node:
            return node
        manifests = node.get("manifests") if isinstance(node, dict) else None
        if not manifests:
            break
        node = documents.get(blob_path(str(manifests[0].get("digest", ""))))
    raise ArchiveError("the OCI index does not lead to an image manifest")
