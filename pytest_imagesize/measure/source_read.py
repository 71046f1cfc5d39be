"""An image of a source read from its layer blobs: ``SourceBlobs``, the reader of an ``Image`` that
``measure_source`` made.

Cached as the engine's archive is: the whole analysis by manifest digest
(``analysis/source/<digest>``), and each layer on its own, so that images sharing layers share
their measurements. A layer's entries, portable size and Go binaries are facts of its content
(its diff ID) and are taken from any cache entry for it; its compressed size is not. A compressed
blob's compressed size is its stored size, exact, from the manifest; a plain layer's is a gzip
estimate (what the engine path caches under ``layer/<diff ID>``). So a compressed blob read here
is cached under ``blob/<digest>`` with its stored size in a field of its own (``stored``), never
under the engine path's key, and an engine entry found for a compressed blob lends its entries but
never its estimate. Layers found in the cache are not fetched: the source is asked for the blobs
of the other layers only (a manifest of just those)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import ImageSizeError
from ..sizes import format_size
from .analysis import (
    ImageAnalysis,
    _stale,
    assemble,
    image_probe,
    layer_from_json,
    layer_key,
    layer_to_json,
)
from .cache import AnalysisCache
from .layers import merge
from .stored import stored_compressed

if TYPE_CHECKING:
    from ..progress import ProgressSink, Step
    from ..sources.model import Descriptor, ImageManifest, ImageSource
    from .archive import Blob, BlobSource, ImageLayout, LayerScan

PROGRESS_CHUNK = 1 << 20  # bytes handed on at a time while a read's progress is counted


def _compressed_as(media_type: str) -> str:
    return "zstd" if media_type.endswith(("+zstd", ".zstd")) else "gzip"


def analysis_key(manifest: ImageManifest) -> str:
    """Where a source image's whole analysis is cached (never an engine path's key)."""
    return f"analysis/source/{manifest.digest}"


def blob_key(digest: str) -> str:
    """Where one compressed layer blob's result is cached, with its exact stored size."""
    return f"blob/{digest}"


def blob_to_json(scan: LayerScan, digest: str) -> dict[str, Any]:
    data = layer_to_json(scan)
    del data["compressed"]  # the engine path's field: a gzip estimate, which this is not
    data.update(digest=digest, stored=scan.compressed_size, stored_as=scan.stored_as)
    return data


def blob_from_json(data: Any, layer: Descriptor, diff_id: str) -> LayerScan | None:
    """A cached compressed blob, or None for an entry of another blob, version or a damaged one."""
    if not isinstance(data, dict) or "compressed" in data:
        return None
    if data.get("digest") != layer.digest or data.get("stored") != layer.size:
        return None
    scan = layer_from_json({**data, "compressed": layer.size}, diff_id)
    if scan is not None:
        stored_as = data.get("stored_as")
        scan.stored_as = stored_as if stored_as in ("gzip", "zstd") else _compressed_as(layer.media_type)
    return scan


def diff_ids_of(config: dict[str, Any], manifest: ImageManifest, what: str) -> list[str]:
    """The config's ``rootfs.diff_ids``, one per manifest layer; ``SourceError`` otherwise."""
    from ..sources.model import SourceError

    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise SourceError(f"{what}: its image config lists no rootfs.diff_ids: the image is damaged")
    if len(diff_ids) != len(manifest.layers):
        raise SourceError(
            f"{what}: its config lists {len(diff_ids)} layers but its manifest {len(manifest.layers)}: "
            "the image is damaged"
        )
    return [str(d) for d in diff_ids]


class SourceBlobs:
    """One image of a source, read from its layer blobs once (``read``), cached by manifest digest
    and per layer; progress (bytes read of the total, layer i of n) goes to ``progress``."""

    def __init__(
        self,
        source: ImageSource,
        manifest: ImageManifest,
        config: dict[str, Any],
        *,
        label: str,
        name: str,
        cache: AnalysisCache | None = None,
        progress: ProgressSink | None = None,
    ) -> None:
        self._source = source
        self._manifest = manifest
        self._config = config
        self._label = label
        self._name = name
        self._cache = cache
        self._progress = progress
        self._step: Step | None = None

    def read(self) -> ImageAnalysis:
        manifest, cache = self._manifest, self._cache
        count = len(manifest.layers)
        key = analysis_key(manifest)
        if cache is not None:
            data = cache.get(key)
            cached = ImageAnalysis.from_json(data)
            if cached is not None and self._fits(cached):
                return cached
            if data is not None:
                _stale(cache, key)
        diff_ids = diff_ids_of(self._config, manifest, f"image {self._label}")
        scans = self._known(diff_ids) if cache is not None else {}
        wanted = [i for i in range(count) if i not in scans]
        if wanted:
            for i, scan in zip(wanted, self._read(wanted), strict=True):
                scan.diff_id = diff_ids[i]
                scans[i] = scan
        from .archive import ArchiveScan

        archive = ArchiveScan(layers=[scans[i] for i in range(count)], config=self._config)
        analysis = assemble(merge(archive), archive, self._config)
        if cache is not None:
            self._store(cache, archive.layers, wanted)
            cache.set(key, analysis.to_json())
        if self._step is not None:
            self._step.end(
                f"read {self._name} in {{seconds}}: {format_size(analysis.size)}, "
                f"{format_size(analysis.compressed_size)} compressed"
            )
        return analysis

    def _fits(self, cached: ImageAnalysis) -> bool:
        """Whether a cached analysis is this manifest's: its layers, the stored sizes it lists."""
        layers = self._manifest.layers
        if len(cached.layers) != len(layers):
            return False
        return all(
            stats.compressed_size == layer.size
            for stats, layer in zip(cached.layers, layers, strict=True)
            if stored_compressed(layer.media_type)
        )

    def _known(self, diff_ids: list[str]) -> dict[int, LayerScan]:
        """The layers whose content is in the cache already (not to be fetched), by position."""
        cache = self._cache
        assert cache is not None
        found: dict[int, LayerScan] = {}
        for i, (layer, diff_id) in enumerate(zip(self._manifest.layers, diff_ids, strict=True)):
            scan: LayerScan | None
            if stored_compressed(layer.media_type):
                data = cache.get(blob_key(layer.digest))
                scan = blob_from_json(data, layer, diff_id)
                if scan is None:
                    if isinstance(data, dict) and data.get("digest") == layer.digest:
                        _stale(cache, blob_key(layer.digest))
                    content = layer_from_json(cache.get(layer_key(diff_id)), diff_id)
                    if content is not None:  # its entries; its size: the stored one, exact
                        stored_as = _compressed_as(layer.media_type)
                        scan = replace(
                            content, compressed_size=layer.size, tar_size=layer.size, stored_as=stored_as
                        )
            elif diff_id == layer.digest:  # a plain layer: its digest is its diff ID
                scan = layer_from_json(cache.get(layer_key(diff_id)), diff_id)
                if scan is not None and scan.tar_size != layer.size:
                    scan = None
            else:
                scan = None
            if scan is not None:
                found[i] = replace(scan, key=layer.digest, reused=True)
        return found

    def _read(self, wanted: list[int]) -> list[LayerScan]:
        """The layers at ``wanted`` read from the source's blobs, in that order."""
        from .archive import ArchiveError, read_blobs

        manifest = self._manifest
        if len(wanted) < len(manifest.layers):
            manifest = manifest._replace(layers=tuple(manifest.layers[i] for i in wanted))
        total = sum(layer.size for layer in manifest.layers)
        step = None
        if self._progress is not None:
            from ..progress import Step

            step = self._step = Step(
                self._progress,
                f"reading {self._name} ({format_size(total)} in {len(manifest.layers)} layer blobs) ...",
            )
        try:
            blobs: BlobSource = self._source.blobs(manifest)
            if step is not None:
                blobs = CountedBlobs(blobs, step, self._name, total, len(manifest.layers))
            scan = read_blobs(blobs, probe=image_probe())
        except ArchiveError as exc:
            raise ImageSizeError(f"image {self._label}: {exc}") from None
        if len(scan.layers) != len(wanted):
            raise ImageSizeError(
                f"image {self._label}: {self._source.what} gave {len(scan.layers)} layer blobs where "
                f"{len(wanted)} were asked for: the source is damaged"
            )
        return scan.layers

    def _store(self, cache: AnalysisCache, layers: list[LayerScan], read: list[int]) -> None:
        """The layers read now, each under its key: a plain layer (gzip estimate) by diff ID as
        the engine path keeps it, a compressed blob (exact stored size) by digest."""
        done: set[str] = set()
        for i in read:
            scan, layer = layers[i], self._manifest.layers[i]
            if scan.stored_as == "tar" and scan.diff_id:
                # a plain layer's verified blob digest is its diff ID: one the config merely
                # claims is never a key the engine path would trust
                if scan.diff_id != layer.digest:
                    continue
                key, value = layer_key(scan.diff_id), layer_to_json(scan)
            else:
                key, value = blob_key(layer.digest), blob_to_json(scan, layer.digest)
            if key not in done:
                done.add(key)
                cache.set(key, value)


class CountedBlobs:
    """A blob source whose reading is reported: ``reading app 12.0/40.0 MB, layer 2 of 5``."""

    def __init__(self, inner: BlobSource, step: Step, name: str, total: int, count: int) -> None:
        self._inner = inner
        self._step = step
        self._name = name
        self._total = total
        self._count = count
        self.done = 0
        self.what = inner.what

    def blobs(self) -> Iterator[Blob]:
        from .archive import Blob

        for number, blob in enumerate(self._inner.blobs(), 1):
            yield Blob.of(blob.info, self._chunks(blob, number))

    def _chunks(self, blob: Blob, number: int) -> Iterator[bytes]:
        remaining = blob.info.size
        while remaining:
            chunk = blob.data.read(min(PROGRESS_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            self.done += len(chunk)
            self._step.status(
                lambda: (
                    f"reading {self._name} {format_size(self.done)}/{format_size(self._total)}, "
                    f"layer {number} of {self._count}"
                )
            )
            yield chunk

    def layout(self) -> ImageLayout:
        return self._inner.layout()

    def close(self) -> None:
        self._inner.close()
