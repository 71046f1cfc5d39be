"""The JSON report (``--image-report-json``), schema version 2: every field that was not
measured is ``null``; version 2 only adds fields to version 1."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..checks import Outcome
from ..engine.protocol import EngineInfo
from ..measure.image import Image

JSON_VERSION = 2


def image_json(image: Image) -> dict[str, Any]:
    analysis = image.analysis() if image.analysed else None
    return {
        "name": image.name,
        "ref": image.ref,
        "id": image.id,
        "tags": list(image.tags),
        "size": image.size,
        "engine_size": image.engine_size,
        "compressed_size": analysis.compressed_size if analysis else None,
        "base": None,
        "own_size": None,
        "own_compressed_size": None,
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
        "go_binaries": None,
    }


def document(
    engine: EngineInfo | None, images: Mapping[str, Image], outcomes: Sequence[Outcome]
) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "engine": engine.to_json() if engine else None,
        "images": [image_json(image) for image in images.values()],
        "checks": [o.to_json() for o in outcomes],
    }
