"""Archives written by real tools read alike: Docker's ``docker save`` (classic or OCI layout) and
Podman's ``podman save`` (OCI and docker-archive formats) of the same image."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from pytest_imagesize.engine.address import engine_address
from pytest_imagesize.engine.docker_api import DockerEngine
from pytest_imagesize.measure.archive import ArchiveDirectory, read_archive, read_blobs
from pytest_imagesize.measure.layers import merge

from .support.archives import chunks


def config_digest(archive: Path) -> str:
    """The image ID Podman gives an image it loads: the digest of the image config, which
    ``manifest.json`` names in every layout Docker writes (``<hex>.json`` from Docker < 25,
    ``blobs/sha256/<hex>`` from Docker >= 25)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None, "docker save wrote no manifest.json"
        config = str(json.load(member)[0]["Config"])
    return config.rsplit("/", 1)[-1].removesuffix(".json")


@pytest.fixture
def podman_copy(docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A small image with a deleted file, built by Docker and copied into Podman's store.
    Yields the image's ID in Podman's store and Docker's archive of it.

    Podman names what it loads as the archive says: ``localhost/<name>`` from a Docker < 25
    archive, ``docker.io/<name>`` from a Docker >= 25 (OCI) one; so the image is found and removed
    by its ID. A label unique to this run makes that ID ours alone: runs against other engines
    share Podman's store and must not remove each other's copy."""
    podman = shutil.which("podman")
    if podman is None:
        pytest.fail("podman is missing: install Debian's podman (scripts/ensure-test-tools)")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a").write_bytes(b"A" * 5000)
    (context / "b").write_bytes(bytes(range(256)) * 40)
    (context / "Dockerfile").write_text("FROM scratch\nCOPY a /x/a\nCOPY b /x/b\nCOPY b /x/a\n")
    ref = "pytest-imagesize-test/oci:1"
    run = os.urandom(8).hex()
    if DockerEngine(docker_client, engine_address()).info().image_store == "containerd":
        # The classic builder on Docker's containerd image store writes OCI manifests that name
        # Docker's layer media type, which Podman 4.3 loads but cannot save again ("unknown media
        # type during manifest conversion"): there, BuildKit builds it (OCI types throughout).
        buildx = ["docker", "buildx", "build", "--load", "--quiet", f"--label=test-run={run}", f"--tag={ref}"]
        subprocess.run(
            [*buildx, str(context)],
            check=True,
            capture_output=True,
        )
        image = docker_client.images.get(ref)
    else:
        image, _ = docker_client.images.build(
            path=str(context), tag=ref, rm=True, forcerm=True, labels={"test-run": run}
        )
    try:
        saved = tmp_path / "docker.tar"
        with open(saved, "wb") as handle:
            for chunk in image.save(named=True):
                handle.write(chunk)
        image_id = config_digest(saved)
        loaded = subprocess.run([podman, "load", "-i", str(saved)], capture_output=True, text=True)
        assert loaded.returncode == 0, f"podman load failed: {loaded.stderr}"
        try:
            found = subprocess.run(
                [podman, "image", "inspect", "--format", "{{.ID}} {{.RepoTags}}", image_id],
                capture_output=True,
                text=True,
            )
            assert found.returncode == 0 and found.stdout.startswith(image_id), (
                f"podman load did not give image {image_id[:12]}: {loaded.stdout}{loaded.stderr}"
            )
            assert ref in found.stdout, f"podman loaded it without its name {ref}: {found.stdout}"
            yield image_id, saved
        finally:
            subprocess.run([podman, "rmi", "-f", image_id], capture_output=True)  # by ID: every name
    finally:
        docker_client.images.remove(ref, force=True)


@pytest.mark.engine
@pytest.mark.docker_only(reason="compares an archive from the Docker engine with Podman's")
@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_podman_archives_read_like_dockers(podman_copy: tuple[str, Path], tmp_path: Path, fmt: str) -> None:
    image_id, docker_tar = podman_copy
    out = tmp_path / f"{fmt}.tar"
    subprocess.run(
        ["podman", "save", "-q", "--format", fmt, "-o", str(out), image_id],
        check=True,
        capture_output=True,
    )
    if fmt == "oci-archive":
        with tarfile.open(out) as tar:
            assert "index.json" in tar.getnames()
    theirs = read_archive(chunks(out.read_bytes(), 8192))
    ours = read_archive(chunks(docker_tar.read_bytes(), 8192))
    assert [la.portable_size for la in theirs.layers] == [la.portable_size for la in ours.layers]
    assert [sorted(e.path for e in la.entries) for la in theirs.layers] == [
        sorted(e.path for e in la.entries) for la in ours.layers
    ]
    a, b = merge(theirs), merge(ours)
    assert a.wasted_bytes == b.wasted_bytes == 5000
    assert a.written == b.written == 5000 + 2 * 10240
    for x, y in zip(theirs.layers, ours.layers, strict=False):
        assert abs(x.compressed_size - y.compressed_size) <= 0.01 * y.compressed_size + 32


@pytest.mark.engine
def test_a_saved_archive_unpacked_on_disk_reads_as_its_stream(
    docker_client: docker.DockerClient, busybox_image: str, tmp_path: Path
) -> None:
    archive = b"".join(docker_client.api.get_image(busybox_image, chunk_size=1 << 20))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp_path, filter="data")
    streamed = read_archive(chunks(archive, 8192))
    unpacked = read_blobs(ArchiveDirectory(tmp_path))
    assert unpacked == streamed
    assert unpacked.layers[0].portable_size > 100_000  # busybox itself
    assert [la.diff_id for la in unpacked.layers] == docker_client.images.get(busybox_image).attrs["RootFS"][
        "Layers"
    ]
