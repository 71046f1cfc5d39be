"""What reading an image's layers produces (entries, per-layer scans, the image's scan), what can be
passed in (layers measured before), and the errors a read raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ...errors import ImageSizeError


class ArchiveError(ImageSizeError):
    """The image's blobs are truncated, damaged or not an image's."""


class LayerGuessMissed(ArchiveError):
    """A layer taken for a known one (and so not measured) turned out to be another, unknown one."""


class EmptyTar(ArchiveError):
    """A tar stream ended before its first header: for a layer blob, a layer without entries."""


class TarEntry(NamedTuple):
    """One tar entry of a layer. ``size`` counts data bytes (0 for links, dirs, devices)."""

    path: str  # absolute, cleaned: "/usr/bin/go"
    kind: str  # "file", "dir", "symlink", "hardlink", "other"
    size: int
    mode: int
    uid: int
    gid: int
    link: str = ""


@dataclass
class LayerScan:
    """What one pass over one layer tar found."""

    key: str  # the blob it was read from (its name in the archive)
    entries: list[TarEntry] = field(default_factory=list)
    portable_size: int = 0  # regular file bytes + symlink target lengths
    compressed_size: int = 0  # the stored blob when compressed, else its gzip size
    stored_as: str = "tar"  # "tar", "gzip" or "zstd"
    diff_id: str | None = None
    probed: dict[str, Any] = field(default_factory=dict)  # path -> what the file probe made of it
    tar_size: int = 0  # bytes of the layer blob as stored
    reused: bool = False  # taken from KnownLayers, not measured in this pass


@dataclass
class ArchiveScan:
    """The layers in image order (oldest first), with the image config."""

    layers: list[LayerScan]
    config: dict[str, Any]


@dataclass
class KnownLayers:
    """Layers measured before (by diff ID), and the diff IDs the image is expected to have in image
    order (``RootFS.Layers`` of the engine's inspect data), which is what pairs them up."""

    expected: list[str]
    scans: dict[str, LayerScan]


def link_size(target: str) -> int:
    """What a symlink occupies in a graph driver's count: the length of its target in bytes."""
    return len(target.encode("utf-8", "surrogateescape"))
