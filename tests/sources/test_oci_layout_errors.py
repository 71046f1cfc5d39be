"""OCI layouts that cannot be measured: each a one-line ``SourceError`` saying what and how to fix
it, with nothing written anywhere and no file left open; and a 100 MB layer read through the
source without being held."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from pytest_imagesize.measure.archive import read_blobs
from pytest_imagesize.measure.archive.tar import RECORD
from pytest_imagesize.sources.manifests import MAX_LAYERS
from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.oci_layout import OciLayoutSource

from .local_images import (
    OCI_CONFIG,
    OCI_MANIFEST,
    Blobs,
    Untouched,
    image,
    one_line,
    skopeo,
    two_platforms,
    unpack,
    write,
)


def layout(root: Path, compression: str = "tar") -> Path:
    return unpack(image(compression, layout="oci").archive(), root)


def test_not_a_layout(untouched: Untouched) -> None:
    (untouched.root / "empty").mkdir()
    untouched.freeze()
    with pytest.raises(SourceError) as caught:
        OciLayoutSource(untouched.root / "empty")
    assert one_line(caught, untouched) == (
        f"{untouched.root / 'empty'} is not an OCI image layout (no oci-layout file): pass the directory "
        "`buildx --output type=oci,tar=false` or `skopeo copy ... oci:DIR` wrote"
    )


def test_several_images_and_no_ref_lists_the_refs(untouched: Untouched, tmp_path: Path) -> None:
    archive = write(tmp_path / "app.tar", image().archive())
    other = write(tmp_path / "other.tar", image("gzip", tags=("other:1",)).archive())
    skopeo("copy", f"docker-archive:{archive}", f"oci:{untouched.root / 'oci'}:app")
    skopeo("copy", f"docker-archive:{other}", f"oci:{untouched.root / 'oci'}:other")
    untouched.freeze()
    with pytest.raises(SourceError) as caught:
        OciLayoutSource(untouched.root / "oci")
    assert f"holds 2 images (app, other): name one, as oci:{untouched.root / 'oci'}:REF" in one_line(
        caught, untouched
    )
    with pytest.raises(SourceError) as caught:
        OciLayoutSource(untouched.root / "oci", "nope")
    assert "has no image named 'nope'; it has app, other: pass one of those" in one_line(caught, untouched)
    with pytest.raises(SourceError) as caught:
        OciLayoutSource(untouched.root / "oci", "@2")
    assert "has no image @2: it has 2 (@0 to @1)" in one_line(caught, untouched)


def test_index_of_attestations_only(untouched: Untouched) -> None:
    two_platforms(untouched.root / "multi", with_images=False)
    untouched.freeze()
    source = OciLayoutSource(untouched.root / "multi")
    with pytest.raises(SourceError) as caught:
        source.platforms()
    source.close()
    assert "holds only attestation manifests, no image of any platform" in one_line(caught, untouched)


def test_missing_layer_blob(untouched: Untouched) -> None:
    root = layout(untouched.root / "oci")
    source = OciLayoutSource(root)
    manifest = source.manifest(source.platforms()[0])
    (root / "blobs" / "sha256" / manifest.layers[1].digest[7:]).unlink()
    untouched.freeze()
    with pytest.raises(SourceError) as caught:
        read_blobs(source.blobs(manifest))
    source.close()
    assert f"lacks layer blob {manifest.layers[1].digest} that the manifest names" in one_line(
        caught, untouched
    )


def test_missing_manifest_blob(untouched: Untouched) -> None:
    root = layout(untouched.root / "oci")
    digest = json.loads((root / "index.json").read_text())["manifests"][0]["digest"]
    (root / "blobs" / "sha256" / digest[7:]).unlink()
    untouched.freeze()
    source = OciLayoutSource(root)
    with pytest.raises(SourceError) as caught:
        source.manifest(source.platforms()[0])
    source.close()
    assert f"lacks the manifest blob {digest}" in one_line(caught, untouched)


@pytest.mark.parametrize("where", ["middle", "last byte"])
def test_layer_blob_not_matching_its_digest(untouched: Untouched, where: str) -> None:
    root = layout(untouched.root / "oci", "tar")
    source = OciLayoutSource(root)
    manifest = source.manifest(source.platforms()[0])
    blob = root / "blobs" / "sha256" / manifest.layers[0].digest[7:]
    data = bytearray(blob.read_bytes())
    # a byte of a file's contents (the tar still parses) or of the end-of-archive padding
    at = data.index(bytes(range(256))) + 7 if where == "middle" else len(data) - 1
    data[at] ^= 0x01
    blob.write_bytes(bytes(data))
    untouched.freeze()
    with pytest.raises(SourceError) as caught:
        read_blobs(source.blobs(manifest))
    source.close()
    assert f"layer blob {manifest.layers[0].digest} does not match its digest" in one_line(caught, untouched)


def test_manifest_not_matching_its_digest(untouched: Untouched) -> None:
    root = layout(untouched.root / "oci")
    digest = json.loads((root / "index.json").read_text())["manifests"][0]["digest"]
    path = root / "blobs" / "sha256" / digest[7:]
    path.write_bytes(path.read_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion": 3'))
    untouched.freeze()
    source = OciLayoutSource(root)
    with pytest.raises(SourceError) as caught:
        source.manifest(source.platforms()[0])
    source.close()
    assert f"manifest blobs/sha256/{digest[7:]} does not match its digest" in one_line(caught, untouched)


def test_manifest_claiming_ten_thousand_layers(untouched: Untouched) -> None:
    blobs = Blobs(untouched.root / "huge")
    config = blobs.add_json({"architecture": "amd64", "os": "linux", "rootfs": {"diff_ids": []}}, OCI_CONFIG)
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + "0" * 64, "size": 1}
    manifest = blobs.add_json(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer] * 10_000},
        OCI_MANIFEST,
    )
    blobs.index_json([{**manifest, "platform": {"os": "linux", "architecture": "amd64"}}])
    untouched.freeze()
    source = OciLayoutSource(untouched.root / "huge")
    with pytest.raises(SourceError) as caught:
        source.manifest(source.platforms()[0])
    source.close()
    assert f"claims 10000 layers, more than {MAX_LAYERS}: refused" in one_line(caught, untouched)


def test_a_file_where_the_directory_should_be(untouched: Untouched) -> None:
    write(untouched.root / "app.tar", b"x")
    untouched.freeze()
    with pytest.raises(SourceError) as caught:
        OciLayoutSource(untouched.root / "app.tar")
    assert f"pass oci-archive:{untouched.root / 'app.tar'}" in one_line(caught, untouched)


LAYER_MB = 100


def big_layer(path: Path) -> tuple[str, int]:
    """A plain layer tar of one file of LAYER_MB MiB, written in pieces; its digest and size."""
    hasher = hashlib.sha256()
    info = tarfile.TarInfo("big")
    info.size = LAYER_MB << 20
    piece = bytes(range(256)) * 4096
    with path.open("wb") as file:

        def put(data: bytes) -> None:
            hasher.update(data)
            file.write(data)

        put(info.tobuf(format=tarfile.PAX_FORMAT))
        for _ in range(LAYER_MB):
            put(piece)
        put(bytes(2 * RECORD))
    return "sha256:" + hasher.hexdigest(), path.stat().st_size


def test_a_100_mb_layer_is_not_held(tmp_path: Path) -> None:
    blobs = Blobs(tmp_path / "big")
    digest, size = big_layer(tmp_path / "layer")
    shutil.move(tmp_path / "layer", tmp_path / "big" / "blobs" / "sha256" / digest[7:])
    config = blobs.add_json(
        {"architecture": "amd64", "os": "linux", "rootfs": {"diff_ids": [digest]}}, OCI_CONFIG
    )
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size}
    blobs.index_json(
        [
            blobs.add_json(
                {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]},
                OCI_MANIFEST,
            )
        ]
    )
    source = OciLayoutSource(tmp_path / "big")
    manifest = source.manifest(source.platforms()[0])
    tracemalloc.start()
    try:
        scan = read_blobs(source.blobs(manifest))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        source.close()
        shutil.rmtree(tmp_path / "big")
    assert scan.layers[0].portable_size == LAYER_MB << 20
    assert peak < (LAYER_MB << 20) // 4, f"peak {peak} bytes traced while reading a {LAYER_MB} MiB layer"
