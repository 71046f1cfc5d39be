"""One image's archive, read once: per-layer sizes, the final filesystem, waste; cached by image ID.

``read_image_archive`` is the only place that streams an archive out of the engine; everything
it finds is kept in an :class:`ImageAnalysis`, small enough to cache as JSON. Each layer's own
result (its entries, portable and compressed size) is cached too, by diff ID (the hash of its
content, so the entry holds on any engine): a rebuilt image whose lower layers did not change,
or another image on the same base, reads its archive again but only measures the new layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..engine.protocol import Engine, EngineInfo
from ..errors import ImageNotFound, ImageSizeError
from .cache import AnalysisCache
from .layers import FileTree, HiddenCopy, LayerStats, Merged, layer_history, merge

if TYPE_CHECKING:
    from .archive import ArchiveScan, FileProbe, KnownLayers, LayerScan
    from .go.model import GoBinary
    from .packages.model import ImagePackages

CACHE_VERSION = 7  # bump whenever what is measured or how changes


@dataclass
class ImageAnalysis(Merged):
    """Everything read from an image archive: the merged layers, and the instruction of each
    layer from the image config's history (exact, unlike the engine's history API, which does
    not say which entries made a layer; empty when it cannot be paired)."""

    created_by: list[str | None] = field(default_factory=list)
    go_binaries: list[GoBinary] = field(default_factory=list)
    packages: ImagePackages = field(default_factory=lambda: _no_packages())

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CACHE_VERSION,
            "layers": [
                [la.size, la.compressed_size, la.written, la.wasted, la.diff_id] for la in self.layers
            ],
            "files": [list(r) for r in self.files],  # path, kind, size, mode, uid, gid, link, layer
            "hidden": [[h.path, h.size, h.layer] for h in self.hidden],
            "created_by": list(self.created_by),
            "go": [binary.to_json() for binary in self.go_binaries],
            "packages": self.packages.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any) -> ImageAnalysis | None:
        """The analysis, or None for an entry of another version or a damaged one."""
        try:
            if data.get("version") != CACHE_VERSION:
                return None
            layers = [
                LayerStats(int(r[0]), int(r[1]), int(r[2]), int(r[3]), None if r[4] is None else str(r[4]))
                for r in data["layers"]
            ]
            rows = data["files"]
            if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == 8 for r in rows):
                return None
            hidden = [HiddenCopy(str(p), int(n), int(i)) for p, n, i in data["hidden"]]
            created_by = [None if c is None else str(c) for c in data["created_by"]]
            from .go.model import GoBinary

            go = [GoBinary.from_json(b) for b in data["go"]]
            from .packages.model import ImagePackages

            packages = ImagePackages.from_json(data["packages"])
            if not _possible(layers, rows, hidden):
                return None
            return cls(layers, FileTree.from_rows(rows), hidden, created_by, go, packages)
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            return None  # a damaged cache entry is recomputed, never trusted


def _no_packages() -> ImagePackages:
    from .packages.model import ImagePackages

    return ImagePackages()


def _possible(layers: list[LayerStats], rows: list[Any], hidden: list[HiddenCopy]) -> bool:
    """Whether an analysis's numbers can be true: no negative size, each layer's hidden bytes
    within what it wrote and what it wrote within its size (which adds link targets), and every
    byte written either in the final filesystem or hidden."""
    if any(not 0 <= la.wasted <= la.written <= la.size or la.compressed_size < 0 for la in layers):
        return False
    count = len(layers)
    final = 0
    for row in rows:
        size, layer = int(row[2]), int(row[7])
        if size < 0 or not 0 <= layer < count:
            return False
        final += size
    if any(h.size < 0 or not 0 <= h.layer < count for h in hidden):
        return False
    return final + sum(la.wasted for la in layers) == sum(la.written for la in layers)


def assemble(merged: Merged, scan: ArchiveScan, config: Any) -> ImageAnalysis:
    """The analysis of the merged layers: Go binaries and package databases of the final
    filesystem, from what the probe kept of each layer."""
    from .packages.read import read_packages

    packages = read_packages(merged.files, lambda record: scan.layers[record.layer].probed.get(record.path))
    return ImageAnalysis(
        merged.layers,
        merged.files,
        merged.hidden,
        layer_history(config, len(scan.layers)),
        _surviving_go_binaries(merged, scan),
        packages,
    )


def image_probe() -> FileProbe:
    """The probe of one image read: package database files, then Go binaries."""
    from .archive import Probes
    from .go.probe import GoProbe
    from .packages.probe import PackageProbe

    return Probes(PackageProbe(), GoProbe())


def _surviving_go_binaries(merged: Merged, scan: ArchiveScan) -> list[GoBinary]:
    """The Go binaries of the final filesystem: a copy a later layer hid or deleted is not one."""
    from .go.model import GoBinary

    found = []
    for record in merged.files:
        if record.kind == "file":
            binary = scan.layers[record.layer].probed.get(record.path)
            if isinstance(binary, GoBinary):
                found.append(binary)
    return sorted(found, key=lambda b: b.path)


def cache_key(info: EngineInfo | None, image_id: str) -> str:
    engine = f"{info.name}-{info.image_store}" if info else "unknown"
    return f"analysis/{engine}/{image_id}"


def layer_key(diff_id: str) -> str:
    """Where one layer's result is cached: by content, the same for every engine."""
    return f"layer/{diff_id}"


def layer_to_json(scan: LayerScan) -> dict[str, Any]:
    return {
        "version": CACHE_VERSION,
        "diff_id": scan.diff_id,
        "tar_size": scan.tar_size,
        "size": scan.portable_size,
        "compressed": scan.compressed_size,
        "entries": [list(e) for e in scan.entries],
        "probed": {path: found.to_json() for path, found in scan.probed.items()},
    }


def layer_from_json(data: Any, diff_id: str) -> LayerScan | None:
    """A cached layer, or None for an entry of another version, another layer or a damaged one."""
    from .archive import LayerScan, TarEntry

    try:
        if data.get("version") != CACHE_VERSION or data.get("diff_id") != diff_id:
            return None
        entries = [
            TarEntry(str(p), str(k), int(n), int(m), int(u), int(g), str(lk))
            for p, k, n, m, u, g, lk in data["entries"]
        ]
        if any(e.size < 0 for e in entries) or int(data["size"]) != _portable(entries):
            return None  # numbers that cannot be true: measured again
        if int(data["compressed"]) < 0 or int(data["tar_size"]) < 0:
            return None
        return LayerScan(
            key="",
            entries=entries,
            portable_size=int(data["size"]),
            compressed_size=int(data["compressed"]),
            diff_id=diff_id,
            tar_size=int(data["tar_size"]),
            probed={str(path): _probed(found) for path, found in data["probed"].items()},
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        return None  # a damaged cache entry is recomputed, never trusted


def _portable(entries: list[Any]) -> int:
    """A layer's portable size from its entries: regular file bytes and symlink target lengths."""
    from .archive import link_size

    return sum(
        e.size if e.kind == "file" else link_size(e.link) if e.kind == "symlink" else 0 for e in entries
    )


def _probed(data: Any) -> Any:
    """What the probe kept of a file, from its cache form: a package database file or a Go binary."""
    from .packages.probe import DbFile, is_db_json

    if is_db_json(data):
        return DbFile.from_json(data)
    from .go.model import GoBinary

    return GoBinary.from_json(data)


def _diff_ids(engine: Engine, image_id: str) -> list[str]:
    """The image's diff IDs in order, from the engine (before the archive is read)."""
    try:
        layers = engine.inspect_image(image_id).get("RootFS", {}).get("Layers") or []
    except (ImageSizeError, AttributeError):
        return []
    return [str(d) for d in layers] if isinstance(layers, list) else []


def _known_layers(engine: Engine, image_id: str, cache: AnalysisCache | None) -> KnownLayers | None:
    """The image's layers that are in the cache already, to be recognised in the stream."""
    from .archive import KnownLayers

    expected = _diff_ids(engine, image_id) if cache is not None else []
    scans: dict[str, LayerScan] = {}
    for diff_id in dict.fromkeys(expected):
        assert cache is not None
        data = cache.get(layer_key(diff_id))
        scan = layer_from_json(data, diff_id)
        if scan is not None:
            scans[diff_id] = scan
        elif data is not None:
            _stale(cache, layer_key(diff_id))
    return KnownLayers(expected, scans) if scans else None


def _stale(cache: AnalysisCache, key: str) -> None:
    stale = getattr(cache, "stale", None)
    if callable(stale):
        stale(key)


def _read(engine: Engine, image_id: str, known: KnownLayers | None) -> ArchiveScan:
    """One pass over the image's archive; Go binaries and package databases are read in the same
    pass."""
    from .archive import read_archive

    probe = image_probe()  # the Go probe's process loads its reader while the engine prepares the archive
    try:
        return read_archive(engine.save(image_id), known=known, probe=probe)
    finally:
        probe.close()


def read_image_archive(
    engine: Engine,
    image_id: str,
    label: str,
    layer_count: int,
    cache: AnalysisCache | None = None,
    content_key: str | None = None,
    expected_size: int | None = None,
) -> ImageAnalysis:
    """Analyse an image from its archive, or take the result cached under its ID (or under
    ``content_key``, which names its content where the ID changes with every build, as BuildKit's
    attestations make it on the containerd store). ``label`` names the image in messages;
    ``expected_size``, where the engine's own size is the portable one, is what a cached
    analysis's layers must add up to (else it is analysed again)."""
    info = engine.info()
    key = cache_key(info, content_key or image_id)
    if cache is not None:
        data = cache.get(key)
        cached = ImageAnalysis.from_json(data)
        if cached is not None and len(cached.layers) == layer_count and expected_size in (None, cached.size):
            return cached
        if data is not None:
            _stale(cache, key)
    from .archive import ArchiveError, LayerGuessMissed  # zlib-ng: only when reading

    try:
        known = _known_layers(engine, image_id, cache)
        try:
            scan = _read(engine, image_id, known)
        except LayerGuessMissed:  # a layer was not the cached one it was taken for: measure all
            scan = _read(engine, image_id, None)
    except ArchiveError as exc:
        raise ImageSizeError(f"image {label}: {exc}") from None
    except ImageNotFound as exc:
        raise ImageNotFound(f"image {label} {exc}") from None
    except ImageSizeError as exc:
        raise type(exc)(f"image {label}: {exc}") from None
    analysis = assemble(merge(scan), scan, scan.config)
    if len(analysis.layers) != layer_count:
        raise ImageSizeError(
            f"image {label}: its archive has {len(analysis.layers)} layers but the engine "
            f"reports {layer_count}"
        )
    if cache is not None:
        for layer in scan.layers:
            if not layer.reused and layer.stored_as == "tar" and layer.diff_id:
                cache.set(layer_key(layer.diff_id), layer_to_json(layer))
                layer.reused = True  # a layer that recurs in the image is stored once
        cache.set(key, analysis.to_json())
    return analysis
