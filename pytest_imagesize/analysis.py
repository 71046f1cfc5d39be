"""Deep analysis of an image: the merged filesystem, wasted bytes, efficiency, compressed sizes.

Layers are merged the way the engine's overlay does it: in each layer, whiteouts (``.wh.NAME``)
and opaque markers (``.wh..wh..opq``) first hide what lower layers had, then the layer's own
entries are laid on top. Every regular-file copy written by any layer is either the one copy
that survives in the final filesystem or a hidden copy; ``wasted_bytes`` counts the hidden copies
once each and never the survivor.
"""

from __future__ import annotations

import io
import posixpath
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import docker
import docker.errors

from .archive import OPAQUE, WHITEOUT_PREFIX, ArchiveScan, Entry, read_archive
from .engine import api, engine_errors
from .errors import ImageNotFound, ImageSizeError

if TYPE_CHECKING:
    from .image import Image

CACHE_VERSION = 3  # bump whenever what is measured or how changes
TOP_WASTED = 10


class Cache(Protocol):
    """What pytest's ``config.cache`` offers (get/set of JSON values)."""

    def get(self, key: str, default: Any) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


@dataclass(frozen=True)
class FileRecord:
    """A file of the final filesystem and the layer (0 = oldest) its surviving copy came from."""

    path: str
    kind: str
    size: int
    mode: int
    uid: int
    gid: int
    link: str
    layer: int


class FileTree:
    """The final filesystem of an image, by absolute path."""

    def __init__(self, records: dict[str, FileRecord]) -> None:
        self._records = records

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[FileRecord]:
        return iter(self._records.values())

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.has(path)

    def has(self, path: str) -> bool:
        return _clean(path) in self._records

    def get(self, path: str) -> FileRecord | None:
        return self._records.get(_clean(path))

    def glob(self, pattern: str) -> list[str]:
        """Paths matching ``pattern``: ``*`` and ``?`` stay within one directory, ``**`` spans any."""
        regex = _glob_regex(_clean(pattern))
        return sorted(p for p in self._records if regex.fullmatch(p))

    def largest(self, count: int = 10) -> list[FileRecord]:
        return sorted(self._records.values(), key=lambda r: r.size, reverse=True)[:count]


def _clean(path: str) -> str:
    return "/" + posixpath.normpath("/" + path).lstrip("/")


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


@dataclass
class LayerAnalysis:
    compressed_size: int
    tar_size: int
    written: int  # bytes of regular files this layer wrote
    wasted: int  # of those, bytes hidden in the final filesystem


@dataclass
class Analysis:
    """Everything read from an image archive, small enough to cache as JSON."""

    layers: list[LayerAnalysis]
    files: FileTree
    top_wasted: list[tuple[str, int]] = field(default_factory=list)
    layout: str = "classic"
    # the instruction of each layer, from the image config's history (exact, unlike the engine's
    # history API, which does not say which entries made a layer); empty when it cannot be paired
    created_by: list[str | None] = field(default_factory=list)

    @property
    def compressed_size(self) -> int:
        return sum(layer.compressed_size for layer in self.layers)

    @property
    def written(self) -> int:
        return sum(layer.written for layer in self.layers)

    @property
    def wasted_bytes(self) -> int:
        return sum(layer.wasted for layer in self.layers)

    @property
    def efficiency(self) -> float:
        return 1.0 if self.written == 0 else 1.0 - self.wasted_bytes / self.written

    def layer_compressed_sizes(self) -> list[int]:
        return [layer.compressed_size for layer in self.layers]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CACHE_VERSION,
            "layout": self.layout,
            "layers": [[la.compressed_size, la.tar_size, la.written, la.wasted] for la in self.layers],
            "files": [[r.path, r.kind, r.size, r.mode, r.uid, r.gid, r.link, r.layer] for r in self.files],
            "top_wasted": [list(item) for item in self.top_wasted],
            "created_by": list(self.created_by),
        }

    @classmethod
    def from_json(cls, data: Any) -> Analysis | None:
        try:
            if data.get("version") != CACHE_VERSION:
                return None
            layers = [LayerAnalysis(*map(int, row)) for row in data["layers"]]
            records = {
                str(r[0]): FileRecord(
                    str(r[0]),
                    str(r[1]),
                    int(r[2]),
                    int(r[3]),
                    int(r[4]),
                    int(r[5]),
                    str(r[6]),
                    int(r[7]),
                )
                for r in data["files"]
            }
            top = [(str(p), int(n)) for p, n in data["top_wasted"]]
            created_by = [None if c is None else str(c) for c in data.get("created_by", [])]
            return cls(layers, FileTree(records), top, str(data.get("layout", "classic")), created_by)
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            return None  # a damaged cache entry is recomputed, never trusted


def merge(scan: ArchiveScan) -> Analysis:
    """Lay the layers on top of each other and account for every byte they wrote."""
    final: dict[str, FileRecord] = {}
    written = [0] * len(scan.layers)
    hidden = [0] * len(scan.layers)
    hidden_by_path: dict[str, int] = {}

    def hide(record: FileRecord) -> None:
        if record.kind == "file" and record.size:
            hidden[record.layer] += record.size
            hidden_by_path[record.path] = hidden_by_path.get(record.path, 0) + record.size

    def remove_tree(path: str) -> None:
        record = final.pop(path, None)
        if record is not None:
            hide(record)
        if record is None or record.kind == "dir":
            prefix = path.rstrip("/") + "/"
            for child in [p for p in final if p.startswith(prefix)]:
                hide(final.pop(child))

    for index, layer in enumerate(scan.layers):
        own: list[Entry] = []
        for entry in layer.entries:
            parent, base = posixpath.split(entry.path)
            if base == OPAQUE:
                prefix = parent.rstrip("/") + "/"
                for child in [p for p in final if p.startswith(prefix)]:
                    hide(final.pop(child))
            elif base.startswith(WHITEOUT_PREFIX):
                remove_tree(posixpath.join(parent, base[len(WHITEOUT_PREFIX) :]))
            else:
                own.append(entry)
        for entry in own:
            written[index] += entry.size
            previous = final.get(entry.path)
            if previous is not None:
                if previous.kind == "dir" and entry.kind != "dir":
                    remove_tree(entry.path)
                else:
                    hide(previous)
            final[entry.path] = FileRecord(
                entry.path,
                entry.kind,
                entry.size,
                entry.mode,
                entry.uid,
                entry.gid,
                entry.link,
                index,
            )
    layers = [
        LayerAnalysis(ls.compressed_size, ls.tar_size, written[i], hidden[i])
        for i, ls in enumerate(scan.layers)
    ]
    top = sorted(hidden_by_path.items(), key=lambda item: item[1], reverse=True)[:TOP_WASTED]
    return Analysis(layers, FileTree(final), top, scan.layout, _layer_history(scan))


def _layer_history(scan: ArchiveScan) -> list[str | None]:
    """The config history entries that made a layer (``empty_layer`` ones did not)."""
    history = scan.config.get("history") if isinstance(scan.config, dict) else None
    if not isinstance(history, list):
        return []
    made = [h for h in history if isinstance(h, dict) and not h.get("empty_layer")]
    if len(made) != len(scan.layers):
        return []
    return [str(h.get("created_by") or h.get("comment") or "") or None for h in made]


def analyse_image(client: docker.DockerClient, image: Image, cache: Cache | None) -> Analysis:
    """Analyse ``image`` from its archive, or take the result cached under its ID."""
    engine = image.engine.name if image.engine else "docker"
    key = f"imagesize/analysis/{engine}/{image.id.replace(':', '-')}"
    if cache is not None:
        cached = Analysis.from_json(cache.get(key, None))
        if cached is not None and len(cached.layers) == len(image.layers):
            return cached
    with engine_errors(f"reading the archive of image {image.name} ({image.short_id})"):
        try:
            chunks = client.api.get_image(image.id, chunk_size=1 << 20)
            scan = read_archive(chunks)
        except docker.errors.APIError as exc:
            try:  # Docker answers 500, not 404, for an image deleted since it was measured
                api(client).inspect_image(image.id)
            except docker.errors.NotFound:
                raise ImageNotFound(
                    f"image {image.name} ({image.short_id}) disappeared from the engine before its "
                    "archive could be read; keep it until the tests end"
                ) from None
            raise exc
        except ImageSizeError as exc:
            raise ImageSizeError(f"image {image.name} ({image.short_id}): {exc}") from None
    analysis = merge(scan)
    if len(analysis.layers) != len(image.layers):
        raise ImageSizeError(
            f"image {image.name} ({image.short_id}): its archive has {len(analysis.layers)} "
            f"layers but the engine reports {len(image.layers)}"
        )
    if cache is not None:
        cache.set(key, analysis.to_json())
    return analysis


def extract_file(client: docker.DockerClient, image: Image, path: str, limit: int) -> bytes:
    """One regular file's bytes, copied out of a created (never started) container."""
    wanted = _clean(path)
    with engine_errors(f"reading {wanted} from image {image.name}"):
        container = client.api.create_container(image.id, command=["/nonexistent"], entrypoint=[])
        try:
            try:
                chunks, stat = client.api.get_archive(container["Id"], wanted)
            except docker.errors.NotFound:
                raise ImageSizeError(f"image {image.name} has no file {wanted}") from None
            if int(stat.get("size", 0)) > limit:
                raise ImageSizeError(
                    f"{wanted} in image {image.name} is {stat['size']} bytes, above the "
                    f"read limit of {limit}; pass a larger limit="
                )
            data = b"".join(chunks)
        finally:
            client.api.remove_container(container["Id"], force=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar:
            if member.isreg():
                handle = tar.extractfile(member)
                assert handle is not None
                return handle.read()
    raise ImageSizeError(f"{wanted} in image {image.name} is not a regular file")
