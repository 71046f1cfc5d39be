"""Image archives as image sources, read in place: OCI archives (a fake engine's, skopeo's) and
docker archives (classic, skopeo's with links between members, Docker 25+'s OCI-in-docker), each
measured as the archive stream is, compressed sizes to the byte."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from pytest_imagesize.measure.archive import read_archive, read_blobs
from pytest_imagesize.sources.archives import PLAIN_LAYER, DockerArchiveSource, OciArchiveSource
from pytest_imagesize.sources.open import open_source
from pytest_imagesize.sources.platforms import Platform

from ..support.archives import tar_info
from ..support.fake_engine import FakeImage
from .local_images import image, members, open_fds, sha256, skopeo, summary, tar_of, write

COMPRESSIONS = ["tar", "gzip", "zstd"]


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_fake_oci_archive_reads_as_its_stream(tmp_path: Path, compression: str) -> None:
    fake = image(compression, layout="oci")
    archive = write(tmp_path / "app.tar", fake.archive())
    fds = open_fds()
    source = OciArchiveSource(archive)
    try:
        (entry,) = source.platforms()
        manifest = source.manifest(entry)
        assert manifest.compressed_size == fake.stored_size
        assert [layer.digest for layer in manifest.layers] == [sha256(layer.blob) for layer in fake.layers]
        scan = read_blobs(source.blobs(manifest))
    finally:
        source.close()
    stream = read_archive([archive.read_bytes()])
    assert scan.layers == stream.layers  # keys (blobs/sha256/...) and compressed sizes too
    assert open_fds() == fds


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_classic_docker_archive_reads_as_its_stream(tmp_path: Path, compression: str) -> None:
    fake = image(compression)
    archive = write(tmp_path / "app.tar", fake.archive())
    source = DockerArchiveSource(archive)
    try:
        assert source.index_digest is None
        (entry,) = source.platforms()
        assert entry.platform == Platform.parse("linux/amd64")
        manifest = source.manifest(entry)
        assert manifest.compressed_size == fake.stored_size
        assert manifest.config.digest == fake.id
        if compression == "tar":
            # stored as plain tars: each is what its diff ID hashes, and no registry's size
            assert {layer.media_type for layer in manifest.layers} == {PLAIN_LAYER}
            assert [layer.digest for layer in manifest.layers] == [layer.diff_id for layer in fake.layers]
        else:
            assert [layer.digest for layer in manifest.layers] == [
                sha256(layer.blob) for layer in fake.layers
            ]
            assert all(compression in layer.media_type for layer in manifest.layers)
        scan = read_blobs(source.blobs(manifest))
    finally:
        source.close()
    assert scan.layers == read_archive([archive.read_bytes()]).layers


def test_skopeo_archives_against_skopeo_manifests(tmp_path: Path) -> None:
    """skopeo's docker-archive (plain <hex>.tar layers, <id>/layer.tar links to them) and
    oci-archive (gzip layers) of one image: both measure as the original archive's stream; the
    OCI archive's compressed size is what skopeo's manifest of it says."""
    fake = image("zstd")
    original = write(tmp_path / "app.tar", fake.archive())
    skopeo("copy", f"docker-archive:{original}", f"docker-archive:{tmp_path / 'docker.tar'}:app:1")
    skopeo("copy", f"docker-archive:{original}", f"oci-archive:{tmp_path / 'oci.tar'}:app")
    stream = summary(read_archive([original.read_bytes()]))

    docker = open_source(f"docker-archive:{tmp_path / 'docker.tar'}:app:1")
    assert isinstance(docker, DockerArchiveSource)
    manifest = docker.manifest(docker.platforms()[0])
    assert summary(read_blobs(docker.blobs(manifest))) == stream
    # plain layer tars, stored as they unpack
    assert manifest.compressed_size == sum(len(layer.tar) for layer in fake.layers)
    docker.close()

    oci = open_source(f"oci-archive:{tmp_path / 'oci.tar'}")
    assert isinstance(oci, OciArchiveSource)
    manifest = oci.manifest(oci.platforms()[0])
    raw = skopeo("inspect", "--raw", f"oci-archive:{tmp_path / 'oci.tar'}:app")
    assert manifest.digest == sha256(raw)
    assert manifest.compressed_size == sum(layer["size"] for layer in json.loads(raw)["layers"])
    assert summary(read_blobs(oci.blobs(manifest))) == stream
    oci.close()


def docker25(compression: str, tags: list[str]) -> bytes:
    """What Docker 25+ saves: an OCI layout with a manifest.json beside it naming its blobs."""
    fake = image(compression, layout="oci")
    found = members(fake.archive())
    index = json.loads(found["index.json"])
    manifest = json.loads(found["blobs/sha256/" + index["manifests"][0]["digest"][7:]])
    entry = {
        "Config": "blobs/sha256/" + manifest["config"]["digest"][7:],
        "RepoTags": tags,
        "Layers": ["blobs/sha256/" + layer["digest"][7:] for layer in manifest["layers"]],
    }
    return tar_of({**found, "manifest.json": json.dumps([entry]).encode()})


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_docker25_archive(tmp_path: Path, compression: str) -> None:
    fake = image(compression, layout="oci")
    archive = write(tmp_path / "app.tar", docker25(compression, ["app:1"]))
    source = DockerArchiveSource(archive, "app:1")
    manifest = source.manifest(source.platforms()[0])
    assert [layer.digest for layer in manifest.layers] == [sha256(layer.blob) for layer in fake.layers]
    assert manifest.compressed_size == fake.stored_size
    # the image's own manifest, saved beside manifest.json
    saved = json.loads(members(archive.read_bytes())["index.json"])["manifests"][0]
    assert (manifest.digest, manifest.media_type) == (saved["digest"], saved["mediaType"])
    assert source.platforms()[0].manifest.size == saved["size"]
    scan = read_blobs(source.blobs(manifest))
    source.close()
    assert scan.layers == read_archive([archive.read_bytes()]).layers
    # the same file read as the OCI archive it also is: the same blobs
    oci = OciArchiveSource(archive)
    oci_manifest = oci.manifest(oci.platforms()[0])
    oci.close()
    assert [(d.digest, d.size) for d in oci_manifest.layers] == [(d.digest, d.size) for d in manifest.layers]


def two_images(tmp_path: Path) -> Path:
    """One docker archive holding app:1 (plain layers) and app:2 (gzip layers)."""
    first = image("tar", tags=("app:1",))
    second = FakeImage.from_layers(
        [{"srv/two": b"2" * 3000}], tags=["app:2", "registry.test:5000/app:2"], compression="gzip"
    )
    found = {**members(first.archive()), **members(second.archive())}
    listed = json.loads(members(first.archive())["manifest.json"]) + json.loads(
        members(second.archive())["manifest.json"]
    )
    found["manifest.json"] = json.dumps(listed).encode()
    return write(tmp_path / "both.tar", tar_of(found))


def test_several_images_in_one_docker_archive(tmp_path: Path) -> None:
    archive = two_images(tmp_path)
    for ref, stored in [
        ("app:1", "tar"),
        ("docker.io/library/app:1", "tar"),
        ("app:2", "gzip"),
        ("registry.test:5000/app:2", "gzip"),
        ("@1", "gzip"),
    ]:
        source = DockerArchiveSource(archive, ref)
        scan = read_blobs(source.blobs(source.manifest(source.platforms()[0])))
        assert {layer.stored_as for layer in scan.layers} == {stored}, ref
        source.close()


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
def test_layer_members_linked_to_another(tmp_path: Path, kind: str) -> None:
    """``docker save`` of images sharing a layer writes the layer once and links the other
    ``<id>/layer.tar`` to it: the link reads as its target."""
    fake = image("tar")
    found = members(fake.archive())
    entry = json.loads(found["manifest.json"])[0]
    target = entry["Layers"][0]
    linked = "0" * 64 + "/layer.tar"
    entry["Layers"][0] = linked
    found["manifest.json"] = json.dumps([entry]).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in found.items():
            tar.addfile(tar_info(name, size=len(data)), io.BytesIO(data))
        link = tar_info(linked, type=tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE)
        link.linkname = "../" + target if kind == "symlink" else target
        tar.addfile(link)
    archive = write(tmp_path / "linked.tar", buffer.getvalue())
    source = DockerArchiveSource(archive)
    manifest = source.manifest(source.platforms()[0])
    scan = read_blobs(source.blobs(manifest))
    source.close()
    assert manifest.compressed_size == fake.stored_size
    assert summary(scan) == summary(read_archive([fake.archive()]))
