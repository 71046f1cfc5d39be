"""The JSON report (``--image-report-json``), schema version 3: every field that was not
measured is ``null``; each version only adds fields to the one before. Version 3 adds, per image,
``platform``, ``source``, ``config_size``, ``packages`` and ``changes``, and per check
``platform``; each platform of a multi-platform image is an image of its own, named
``app[linux/arm64]``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..baseline import BaselineEntry, lookup
from ..checks import Outcome
from ..engine.protocol import EngineInfo
from ..measure.image import Image
from ..measure.packages.kept import by_ecosystem, kept
from .changes_json import changes_json

JSON_VERSION = 3


def image_json(image: Image) -> dict[str, Any]:
    size = image.size  # first: where the size comes from the archive, the rest is known with it
    analysis = image.analysis() if image.analysed else None
    base = image.base
    return {
        "name": image.name,
        "platform": image.platform,  # null: an engine's image, of the engine's platform (engine.arch)
        "source": image.source,
        "ref": image.ref,
        "id": image.id,
        "tags": list(image.tags),
        "size": size,
        "config_size": image.config_size,
        "engine_size": image.engine_size,
        "compressed_size": analysis.compressed_size if analysis else None,
        "base": None
        if base is None
        else {"ref": base.ref, "id": base.id, "size": base.size, "compressed_size": base.compressed_size},
        "own_size": image.own_size,
        "own_compressed_size": image.own_compressed_size if analysis else None,
        "layers": [
            {
                "created_by": layer.created_by,
                "size": layer.size,
                "compressed_size": layer.compressed_size if analysis else None,
                "wasted_bytes": analysis.layers[i].wasted if analysis else None,
                "diff_id": layer.diff_id,
                "from_base": layer.from_base,
            }
            for i, layer in enumerate(image.layers)
        ],
        "wasted_bytes": analysis.wasted_bytes if analysis else None,
        "efficiency": analysis.efficiency if analysis else None,
        "go_binaries": [binary.to_json() for binary in image.go_binaries] if analysis else None,
        "packages": packages_json(image) if analysis else None,
        "changes": None,  # movers against the baseline entry (document(): reports/changes_json.py)
    }


def packages_json(image: Image) -> dict[str, Any]:
    """The image's packages: each of at least 1 % of its regular-file bytes plus the 50 largest
    (``complete``: that is every one), totals per ecosystem, the bytes no package owns."""
    report = image.package_report
    shown = kept(report)
    return {
        "packages": [p.to_json() for p in shown],
        "complete": len(shown) == len(report.packages),
        "count": len(report.packages),
        "by_ecosystem": by_ecosystem(report),
        "unowned": report.unowned,
        "total": report.total,
        "databases": list(report.databases),
        "warnings": list(report.warnings),
    }


def baseline_json(image: Image, entry: BaselineEntry | None) -> dict[str, Any] | None:
    """The image's baseline values and the change since (null where not comparable)."""
    if entry is None:
        return None
    size = entry.size if entry.size_comparable else None
    compressed = entry.compressed_size if image.analysed else None
    return {
        "size": size,
        "compressed_size": entry.compressed_size,
        "delta": None if size is None else image.size - size,
        "compressed_delta": None if compressed is None else image.compressed_size - compressed,
        "date": entry.date,
        "commit": entry.commit,
    }


def _image_entry(name: str, image: Image, entry: BaselineEntry | None) -> dict[str, Any]:
    changes = changes_json(image, entry, name)  # first: it reads a grown image's archive
    return {**image_json(image), "baseline": baseline_json(image, entry), "changes": changes}


def document(
    engine: EngineInfo | None,
    images: Mapping[str, Image],
    outcomes: Sequence[Outcome],
    baseline: Mapping[str, BaselineEntry] | None = None,
) -> dict[str, Any]:
    entries = baseline or {}
    return {
        "version": JSON_VERSION,
        "engine": engine.to_json() if engine else None,
        "images": [_image_entry(name, image, lookup(entries, name)) for name, image in images.items()],
        "checks": [o.to_json() for o in outcomes],
    }
