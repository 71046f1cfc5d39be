"""OCI image layout directories as image sources: skopeo's layouts measured as the same image's
docker-archive stream is, compressed sizes to the byte against skopeo's manifest, a BuildKit-like
two-platform layout (nested index, shared layer, attestation left out), refs as skopeo and
BuildKit write them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_imagesize.measure.archive import read_archive, read_blobs
from pytest_imagesize.sources.oci_layout import OciLayoutSource
from pytest_imagesize.sources.open import open_source
from pytest_imagesize.sources.platforms import Platform, PlatformError, choose

from .local_images import OCI_INDEX, Blobs, image, open_fds, sha256, skopeo, summary, two_platforms, write


@pytest.mark.parametrize("compression", ["tar", "gzip", "zstd"])
def test_skopeo_layout_measures_as_the_docker_archive_stream(tmp_path: Path, compression: str) -> None:
    fake = image(compression)
    archive = write(tmp_path / "app.tar", fake.archive())
    skopeo("copy", f"docker-archive:{archive}", f"oci:{tmp_path / 'oci'}:app")
    stream = read_archive([archive.read_bytes()])

    fds = open_fds()
    source = OciLayoutSource(tmp_path / "oci", "app")
    try:
        (entry,) = source.platforms()
        assert entry.platform == Platform.parse("linux/amd64")
        assert source.index_digest is None
        manifest = source.manifest(entry)
        raw = skopeo("inspect", "--raw", f"oci:{tmp_path / 'oci'}:app")
        assert manifest.digest == sha256(raw)
        assert manifest.compressed_size == sum(layer["size"] for layer in json.loads(raw)["layers"])
        assert manifest.compressed_size == sum(
            (tmp_path / "oci" / "blobs" / "sha256" / layer.digest[7:]).stat().st_size
            for layer in manifest.layers
        )
        assert source.config(manifest)["rootfs"]["diff_ids"] == [layer.diff_id for layer in fake.layers]
        scan = read_blobs(source.blobs(manifest))
    finally:
        source.close()
    assert summary(scan) == summary(stream)
    assert [layer.compressed_size for layer in scan.layers] == [layer.size for layer in manifest.layers]
    assert open_fds() == fds


def test_one_image_needs_no_ref_and_at_n_names_it(tmp_path: Path) -> None:
    archive = write(tmp_path / "app.tar", image().archive())
    skopeo("copy", f"docker-archive:{archive}", f"oci:{tmp_path / 'oci'}:app")
    for text in (f"oci:{tmp_path / 'oci'}", f"oci:{tmp_path / 'oci'}:app", f"oci:{tmp_path / 'oci'}:@0"):
        source = open_source(text)
        assert isinstance(source, OciLayoutSource)
        assert source.kind == "oci" and source.reference == text
        assert len(source.platforms()) == 1
        source.close()


def test_two_platforms_through_a_nested_index(tmp_path: Path) -> None:
    written = two_platforms(tmp_path / "multi")
    for ref in ("1", "docker.io/library/multi:1", "multi:1"):
        source = OciLayoutSource(tmp_path / "multi", ref)
        entries = source.platforms()
        assert [str(e.platform) for e in entries] == ["linux/amd64", "linux/arm64"]
        assert source.index_digest == written["index"]["digest"]
        source.close()
    # skopeo reads the same index and manifests
    raw = skopeo("inspect", "--raw", f"oci:{tmp_path / 'multi'}:1")
    assert sha256(raw) == source.index_digest
    source = OciLayoutSource(tmp_path / "multi")
    try:
        entries = source.platforms()
        arm = entries[choose([e.platform for e in entries], Platform.parse("linux/arm64/v8"), source.what)]
        manifest = source.manifest(arm)
        assert manifest.digest == written["arm64"]["digest"]
        assert manifest.layers[0].digest == written["shared"]["digest"]
        assert manifest.compressed_size == written["shared"]["size"] + manifest.layers[1].size
        scan = read_blobs(source.blobs(manifest))
        assert [layer.portable_size for layer in scan.layers] == [8 * 50, 4000]
        with pytest.raises(PlatformError) as caught:
            choose([e.platform for e in entries], Platform.parse("linux/s390x"), source.what)
        assert "it has linux/amd64, linux/arm64" in str(caught.value)
    finally:
        source.close()


def test_index_json_listing_platforms_straight_is_one_image(tmp_path: Path) -> None:
    written = two_platforms(tmp_path / "multi")
    write(
        tmp_path / "multi" / "index.json",
        json.dumps({"schemaVersion": 2, "manifests": [written["amd64"], written["arm64"]]}).encode(),
    )
    source = OciLayoutSource(tmp_path / "multi")
    assert [str(e.platform) for e in source.platforms()] == ["linux/amd64", "linux/arm64"]
    assert source.index_digest is None
    source.close()


def test_platform_from_the_config_when_the_descriptor_names_none(tmp_path: Path) -> None:
    written = two_platforms(tmp_path / "multi")
    arm = {k: v for k, v in written["arm64"].items() if k != "platform"}
    write(tmp_path / "multi" / "index.json", json.dumps({"schemaVersion": 2, "manifests": [arm]}).encode())
    source = OciLayoutSource(tmp_path / "multi")
    assert [str(e.platform) for e in source.platforms()] == ["linux/arm64"]
    source.close()


def test_an_index_nested_in_the_index(tmp_path: Path) -> None:
    written = two_platforms(tmp_path / "multi")
    blobs = Blobs.__new__(Blobs)
    blobs.root = tmp_path / "multi"
    inner = blobs.add_json(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [written["amd64"], written["arm64"]]},
        OCI_INDEX,
    )
    outer = blobs.add_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [inner]}, OCI_INDEX)
    blobs.index_json([{**outer, "annotations": {"org.opencontainers.image.ref.name": "nested"}}])
    source = OciLayoutSource(tmp_path / "multi", "nested")
    assert [e.manifest.digest for e in source.platforms()] == [
        written["amd64"]["digest"],
        written["arm64"]["digest"],
    ]
    assert source.index_digest == outer["digest"]
    source.close()
