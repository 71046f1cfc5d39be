"""JSON nested deeper than the decoder's stack (``[[[[...]]]]``, a few hundred kB) in a manifest,
an index or an image config is refused in one line, never a ``RecursionError`` traceback."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pytest_imagesize.sources import manifests
from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.oci_layout import OciLayoutSource

DEEP = b"[" * 100_000 + b"]" * 100_000


def test_a_deeply_nested_manifest_is_refused_in_one_line() -> None:
    with pytest.raises(SourceError) as caught:
        manifests.load(DEEP, "registry r/app manifest")
    assert "too deeply" in str(caught.value)
    assert "\n" not in str(caught.value)


def _blob(layout: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def test_a_deeply_nested_config_in_an_oci_layout_is_refused_in_one_line(tmp_path: Path) -> None:
    config = {"mediaType": "application/vnd.oci.image.config.v1+json", **_blob(tmp_path, DEEP)}
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": manifests.OCI_MANIFEST, "config": config, "layers": []}
    ).encode()
    entry = {
        "mediaType": manifests.OCI_MANIFEST,
        "platform": {"os": "linux", "architecture": "amd64"},
        **_blob(tmp_path, manifest),
    }
    (tmp_path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (tmp_path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    source = OciLayoutSource(tmp_path)
    try:
        (found,) = source.platforms()
        with pytest.raises(SourceError) as caught:
            source.config(source.manifest(found))
    finally:
        source.close()
    assert "is not a JSON object" in str(caught.value)
