"""One image's archive, read once: per-layer sizes, the final filesystem, waste; cached by image ID.

``read_image_archive`` is the only place that streams an archive out of the engine; everything
it finds is kept in an :class:`ImageAnalysis`, small enough to cache as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine.protocol import Engine, EngineInfo
from ..errors import ImageNotFound, ImageSizeError
from .cache import AnalysisCache
from .layers import FileRecord, FileTree, HiddenCopy, LayerStats, Merged, layer_history, merge

CACHE_VERSION = 4  # bump whenever what is measured or how changes


@dataclass
class ImageAnalysis(Merged):
    """Everything read from an image archive: the merged layers, and the instruction of each
    layer from the image config's history (exact, unlike the engine's history API, which does
    not say which entries made a layer; empty when it cannot be paired)."""

    created_by: list[str | None] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CACHE_VERSION,
            "layers": [
                [la.size, la.compressed_size, la.written, la.wasted, la.diff_id] for la in self.layers
            ],
            "files": [[r.path, r.kind, r.size, r.mode, r.uid, r.gid, r.link, r.layer] for r in self.files],
            "hidden": [[h.path, h.size, h.layer] for h in self.hidden],
            "created_by": list(self.created_by),
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
            records = {
                str(r[0]): FileRecord(
                    str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), str(r[6]), int(r[7])
                )
                for r in data["files"]
            }
            hidden = [HiddenCopy(str(p), int(n), int(i)) for p, n, i in data["hidden"]]
            created_by = [None if c is None else str(c) for c in data["created_by"]]
            return cls(layers, FileTree(records), hidden, created_by)
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            return None  # a damaged cache entry is recomputed, never trusted


def cache_key(info: EngineInfo | None, image_id: str) -> str:
    engine = f"{info.name}-{info.image_store}" if info else "unknown"
    return f"analysis/{engine}/{image_id}"


def read_image_archive(
    engine: Engine,
    image_id: str,
    label: str,
    layer_count: int,
    cache: AnalysisCache | None = None,
) -> ImageAnalysis:
    """Analyse an image from its archive, or take the result cached under its ID. ``label``
    names the image in messages (``slim (1a2b3c4d5e6f)``)."""
    info = engine.info()
    key = cache_key(info, image_id)
    if cache is not None:
        cached = ImageAnalysis.from_json(cache.get(key))
        if cached is not None and len(cached.layers) == layer_count:
            return cached
    from .archive import ArchiveError, read_archive  # zlib-ng and tarfile: only when reading

    try:
        scan = read_archive(engine.save(image_id))
    except ArchiveError as exc:
        raise ImageSizeError(f"image {label}: {exc}") from None
    except ImageNotFound as exc:
        raise ImageNotFound(f"image {label} {exc}") from None
    except ImageSizeError as exc:
        raise type(exc)(f"image {label}: {exc}") from None
    merged = merge(scan)
    analysis = ImageAnalysis(
        merged.layers, merged.files, merged.hidden, layer_history(scan.config, len(scan.layers))
    )
    if len(analysis.layers) != layer_count:
        raise ImageSizeError(
            f"image {label}: its archive has {len(analysis.layers)} layers but the engine "
            f"reports {layer_count}"
        )
    if cache is not None:
        cache.set(key, analysis.to_json())
    return analysis
