"""The archive reader and the layer merge: generated archives (hypothesis), odd tar entries,
truncation, and archives written by real tools (Docker's classic layout, Podman's OCI layout)."""

from __future__ import annotations

import gzip
import hashlib
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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_imagesize.engine.address import engine_address
from pytest_imagesize.engine.docker_api import DockerEngine
from pytest_imagesize.measure.archive import ArchiveDirectory, ArchiveError, read_archive, read_blobs
from pytest_imagesize.measure.layers import merge
from pytest_imagesize.measure.paths import clean_path as normalise

# ---------------------------------------------------------------- building archives in memory

Member = tuple[str, str, int]  # (name, kind, size)


def layer_tar(members: list[Member], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for name, kind, size in members:
            info = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                info.size = size
                data = io.BytesIO(bytes([size % 251]) * size)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, "../target"
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, "/etc/passwd"
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tar.addfile(info, data)
    return buffer.getvalue()


def classic_archive(layers: list[bytes], gzip_layers: bool = False) -> bytes:
    """What ``docker save`` wrote before Engine 25: <id>/layer.tar, config, manifest.json last."""
    buffer = io.BytesIO()
    names = []
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for i, data in enumerate(layers):
            blob = gzip.compress(data) if gzip_layers else data
            name = f"{hashlib.sha256(data + bytes([i])).hexdigest()}/layer.tar"
            names.append(name)
            add(tar, name, blob)
        config = json.dumps({"rootfs": {"diff_ids": [], "type": "layers"}, "history": []}).encode()
        add(tar, "cfg.json", config)
        add(tar, "manifest.json", json.dumps([{"Config": "cfg.json", "Layers": names}]).encode())
    return buffer.getvalue()


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


# ---------------------------------------------------------------- generated archives

names = st.sampled_from(
    [
        "a",
        "b",
        "dir",
        "dir/x",
        "dir/y",
        "./dir/z",
        "/abs/path",
        "../../escape",
        "dir/../b",
        "dir/.wh.x",
        ".wh.a",
        "dir/.wh..wh..opq",
        "x" * 150,
        "deep/" + "d" * 120 + "/f",
        "ünï/cödé",
    ]
)
kinds = st.sampled_from(["file", "file", "file", "dir", "symlink", "hardlink", "chr", "fifo"])
members = st.lists(st.tuples(names, kinds, st.integers(0, 3000)), max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    layers=st.lists(members, min_size=1, max_size=4),
    chunk=st.integers(1, 70_000),
    fmt=st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]),
)
def test_generated_archives_are_accounted_for(layers: list[list[Member]], chunk: int, fmt: int) -> None:
    tars = [layer_tar(m, fmt) for m in layers]
    scan = read_archive(chunks(classic_archive(tars), chunk))
    # portable size: file bytes plus symlink target lengths ("../target"), as the tar holds them
    portable = [
        sum(size if kind == "file" else 9 if kind == "symlink" else 0 for _, kind, size in m) for m in layers
    ]
    assert [layer.portable_size for layer in scan.layers] == portable
    for layer, tar in zip(scan.layers, tars):
        assert layer.compressed_size > 0
        assert abs(layer.compressed_size - len(gzip.compress(tar, 6))) <= 0.05 * len(tar) + 64
        assert all(entry.path.startswith("/") and "/../" not in entry.path for entry in layer.entries)
    analysis = merge(scan)
    written = sum(
        e.size
        for layer in scan.layers
        for e in layer.entries
        if "/.wh." not in e.path and not e.path.rsplit("/", 1)[-1].startswith(".wh.")
    )
    surviving = sum(r.size for r in analysis.files if r.kind == "file")
    assert analysis.written == written
    assert analysis.wasted_bytes + surviving == written
    assert 0.0 <= analysis.efficiency <= 1.0
    assert not any(p.rsplit("/", 1)[-1].startswith(".wh.") for p in (r.path for r in analysis.files))


@settings(max_examples=60, deadline=None)
@given(layers=st.lists(members, min_size=1, max_size=3), cut=st.floats(0.0, 0.999))
def test_truncated_archives_fail_cleanly(layers: list[list[Member]], cut: float) -> None:
    data = classic_archive([layer_tar(m) for m in layers])
    short = data[: int(len(data) * cut)]
    try:
        scan = read_archive(chunks(short, 4096))
    except ArchiveError as exc:
        assert "\n" not in str(exc)
    else:  # cut inside the trailing zero blocks: everything was read
        assert len(scan.layers) == len(layers)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000))
def test_garbage_fails_cleanly(data: bytes) -> None:
    with pytest.raises(ArchiveError):
        read_archive([data])


# ---------------------------------------------------------------- specific layouts and entries


def test_whiteouts_opaque_dirs_and_replacement() -> None:
    base = layer_tar(
        [
            ("etc", "dir", 0),
            ("etc/a", "file", 100),
            ("etc/b", "file", 200),
            ("opt", "dir", 0),
            ("opt/x", "file", 300),
            ("opt/sub/y", "file", 400),
        ]
    )
    top = layer_tar(
        [(".wh.opt", "file", 0), ("etc/.wh..wh..opq", "file", 0), ("etc/c", "file", 50), ("etc/b", "file", 7)]
    )
    analysis = merge(read_archive([classic_archive([base, top])]))
    assert sorted(r.path for r in analysis.files) == ["/etc", "/etc/b", "/etc/c"]
    assert analysis.wasted_bytes == 100 + 200 + 300 + 400
    assert [la.wasted for la in analysis.layers] == [1000, 0]
    assert (analysis.hidden[0].path, analysis.hidden[0].size, analysis.hidden[0].layer) == (
        "/opt/sub/y",
        400,
        0,
    )


def test_directory_replaced_by_a_file_hides_its_contents() -> None:
    base = layer_tar([("d", "dir", 0), ("d/f", "file", 10)])
    top = layer_tar([("d", "file", 5)])
    analysis = merge(read_archive([classic_archive([base, top])]))
    assert [r.path for r in analysis.files] == ["/d"]
    assert analysis.wasted_bytes == 10


def test_gzip_compressed_layer_blobs_are_read_and_sized_as_stored() -> None:
    tar = layer_tar([("f", "file", 1000)])
    scan = read_archive([classic_archive([tar], gzip_layers=True)])
    assert scan.layers[0].compressed_size == len(gzip.compress(tar))
    assert [e.path for e in scan.layers[0].entries] == ["/f"]


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("a/b", "/a/b"),
        ("./a", "/a"),
        ("/abs", "/abs"),
        ("../../x", "/x"),
        ("a/../../b", "/b"),
        ("//a//b/", "/a/b"),
        (".", "/"),
        ("", "/"),
    ],
)
def test_member_names_cannot_climb_out(name: str, path: str) -> None:
    assert normalise(name) == path


def test_manifest_naming_a_missing_layer_is_an_error() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        add(tar, "manifest.json", json.dumps([{"Config": "c.json", "Layers": ["x/layer.tar"]}]).encode())
    with pytest.raises(ArchiveError, match=r"lacks layer x/layer\.tar"):
        read_archive([buffer.getvalue()])


# ---------------------------------------------------------------- archives from real tools


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
    for x, y in zip(theirs.layers, ours.layers):
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
