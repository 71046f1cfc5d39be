"""A compact, comparable summary of an image (pure).

The summary is what a baseline entry keeps to explain growth later: sizes (whole, base, own),
the layers by diff ID, a file manifest (the largest files plus every file of at least 1 % of the
image), per-directory totals to depth 3, and each Go binary's module sizes. What changed between
two summaries is ``compare.changes``.
"""

from __future__ import annotations

import heapq
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .layers import FileRecord

if TYPE_CHECKING:
    from .packages.kept import PackageSummary

TOP_FILES = 200
FILE_SHARE = 0.01
DIR_DEPTH = 3


@dataclass(frozen=True)
class LayerSummary:
    diff_id: str | None
    size: int
    instruction: str
    from_base: bool = False


@dataclass(frozen=True)
class BaseSummary:
    ref: str
    id: str | None
    size: int
    compressed_size: int | None


@dataclass(frozen=True)
class ImageSummary:
    """What is known about an image; ``None`` where it was not measured."""

    size: int | None
    compressed_size: int | None = None
    layers: tuple[LayerSummary, ...] = ()
    base: BaseSummary | None = None
    own_size: int | None = None
    own_compressed_size: int | None = None
    files: Mapping[str, int] = field(default_factory=dict)  # the manifest: path -> bytes
    # Whether the manifest lists every regular file (a path it lacks is then absent from the
    # image); None: not known (not measured, or read from a baseline that did not record it).
    files_complete: bool | None = None
    dirs: Mapping[str, int] = field(default_factory=dict)  # directory (depth <= 3) -> bytes
    go: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # binary -> module -> bytes
    go_packages: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # binary -> package -> bytes
    # OS and language packages by "ecosystem:name" (the largest, see packages.kept), and whether
    # that lists every package (None: not known, e.g. a baseline written before packages were read)
    packages: Mapping[str, PackageSummary] = field(default_factory=dict)
    packages_complete: bool | None = None


def file_manifest(files: Iterable[FileRecord], total: int) -> dict[str, int]:
    """The largest files, plus every file of at least 1 % of ``total`` bytes, sorted by path."""
    regular = [(r.size, r.path) for r in files if r.kind == "file"]
    chosen = heapq.nlargest(TOP_FILES, regular)
    threshold = total * FILE_SHARE
    chosen_paths = {path for _, path in chosen}
    chosen += [(size, path) for size, path in regular if size >= threshold and path not in chosen_paths]
    return dict(sorted((path, size) for size, path in chosen))


def manifest_complete(files: Iterable[FileRecord], manifest: Mapping[str, int]) -> bool:
    """Whether ``manifest`` lists every regular file of ``files``."""
    return all(r.path in manifest for r in files if r.kind == "file")


def directory_totals(files: Iterable[FileRecord], depth: int = DIR_DEPTH) -> dict[str, int]:
    """Bytes of regular files under each directory down to ``depth`` (``/usr``, ``/usr/lib``, ...)."""
    totals: dict[str, int] = {}
    for record in files:
        if record.kind != "file" or not record.size:
            continue
        parts = posixpath.dirname(record.path).strip("/").split("/")
        for level in range(1, min(depth, len(parts)) + 1):
            if parts[0]:
                key = "/" + "/".join(parts[:level])
                totals[key] = totals.get(key, 0) + record.size
    return dict(sorted(totals.items()))
