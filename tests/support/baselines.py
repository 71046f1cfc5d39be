"""Baseline files (image-sizes.json) written by hand for a test to start from."""

from __future__ import annotations

import json
from pathlib import Path

ENGINE = {"name": "docker", "version": "20.10.24+dfsg1", "storage_driver": "overlay2", "arch": "amd64"}


def entry(
    size: int,
    compressed: int | None = None,
    engine: dict[str, str] = ENGINE,
    *,
    instruction: str = "COPY file:old in /blob",
    **recorded: object,
) -> dict[str, object]:
    """One image's entry: its sizes, the engine that measured them, one layer of ``size`` bytes,
    and any other recorded fields (``date``, ``commit``)."""
    return {
        "size": size,
        "compressed_size": compressed,
        "engine": engine,
        "layers": [{"instruction": instruction, "size": size}],
        **recorded,
    }


def write_baseline(
    path: Path, images: dict[str, dict[str, object]], *, version: int = 1, **top: object
) -> bytes:
    """Write a baseline file as the plugin writes one (sorted keys, two-space indent, a final
    newline); returns its bytes."""
    data = (
        json.dumps({"version": version, "images": images, **top}, indent=2, sort_keys=True) + "\n"
    ).encode()
    path.write_bytes(data)
    return data


def recorded(size: int = 1000, compressed: int | None = 500) -> dict[str, object]:
    """An image's entry in a version-2 baseline, as an earlier run recorded it."""
    fields = {"date": "2000-01-01", "commit": "0123456789ab"}
    return entry(size, compressed, {"name": "docker"}, instruction="COPY blob /blob", **fields)
