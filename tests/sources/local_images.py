"""Images on disk for the local sources' tests: fake images' archives, converted by skopeo into
OCI layouts and archives, an OCI layout written by hand (two platforms and an attestation), and
what the reader makes of a layer scan, compared without the blob keys."""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_imagesize.measure.archive import ArchiveScan

from ..support.archives import layer_tar, tar_info
from ..support.fake_engine import FakeImage

LAYERS: list[dict[str, Any]] = [
    {"bin/app": bytes(range(256)) * 400, "bin/sh": ("symlink", "app"), "etc": ("dir",)},
    {"etc/passwd": b"root:x:0:0::/root:/sbin/nologin\n" * 3, "etc/hosts": ("hardlink", "etc/passwd")},
    {"bin/app": ("whiteout",), "srv/data": b"d" * 5_000},
]
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def skopeo(*args: str) -> bytes:
    """skopeo's output; the test fails with its stderr when it fails."""
    done = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def image(
    compression: str = "gzip", layout: str = "classic", tags: tuple[str, ...] = ("app:1",)
) -> FakeImage:
    return FakeImage.from_layers(LAYERS, tags=tags, compression=compression, layout=layout)  # type: ignore[arg-type]


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def unpack(archive: bytes, root: Path) -> Path:
    """An OCI archive made by FakeImage(layout="oci"), unpacked: an OCI layout directory."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    return root


def summary(scan: ArchiveScan) -> list[tuple[Any, ...]]:
    """What a scan says of each layer, without the blob keys and compressed sizes (which depend
    on how the blob is stored)."""
    return [(layer.entries, layer.portable_size, layer.diff_id) for layer in scan.layers]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and mtime: to tell nothing was written."""
    found = {}
    for path in sorted(root.rglob("*")):
        stat = path.lstat()
        found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return found


def open_fds() -> int:
    """Files open in this process, once what earlier tests dropped is collected."""
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


class Blobs:
    """A hand-written OCI layout's blobs, each stored under blobs/sha256 as it is added."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True)
        write(root / "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')

    def add(self, data: bytes, media_type: str, **extra: Any) -> dict[str, Any]:
        write(self.root / "blobs" / "sha256" / sha256(data)[7:], data)
        return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}

    def add_json(self, document: Any, media_type: str, **extra: Any) -> dict[str, Any]:
        return self.add(json.dumps(document).encode(), media_type, **extra)

    def index_json(self, manifests: list[dict[str, Any]]) -> None:
        write(self.root / "index.json", json.dumps({"schemaVersion": 2, "manifests": manifests}).encode())


def gz(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, mtime=0)


def platform_image(
    blobs: Blobs, arch: str, shared: dict[str, Any], own: bytes, variant: str = ""
) -> dict[str, Any]:
    """A manifest for ``arch`` whose layers are the shared one and ``own`` (a layer tar)."""
    own_layer = blobs.add(gz(own), OCI_LAYER)
    config = {
        "architecture": arch,
        "os": "linux",
        **({"variant": variant} if variant else {}),
        "rootfs": {"type": "layers", "diff_ids": [shared["annotations_diff_id"], sha256(own)]},
    }
    config_descriptor = blobs.add_json(config, OCI_CONFIG)
    shared_descriptor = {k: v for k, v in shared.items() if k != "annotations_diff_id"}
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_descriptor,
        "layers": [shared_descriptor, own_layer],
    }
    platform = {"architecture": arch, "os": "linux", **({"variant": variant} if variant else {})}
    return blobs.add_json(manifest, OCI_MANIFEST, platform=platform)


def attestation(blobs: Blobs, subject: str) -> dict[str, Any]:
    statement = blobs.add(b'{"_type": "https://in-toto.io/Statement/v0.1"}', "application/vnd.in-toto+json")
    config = blobs.add_json({"architecture": "unknown", "os": "unknown", "rootfs": {}}, OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [statement]}
    return blobs.add_json(
        manifest,
        OCI_MANIFEST,
        platform={"architecture": "unknown", "os": "unknown"},
        annotations={
            "vnd.docker.reference.digest": subject,
            "vnd.docker.reference.type": "attestation-manifest",
        },
    )


def two_platforms(root: Path, *, with_images: bool = True) -> dict[str, Any]:
    """An OCI layout as BuildKit writes a multi-platform build: index.json -> an image index blob
    (named multi:1) -> linux/amd64 and linux/arm64 manifests sharing their first layer, and an
    attestation manifest. Returns the descriptors written, by name."""
    blobs = Blobs(root)
    shared_tar = layer_tar({"etc/os-release": b"ID=test\n" * 50})
    shared = {**blobs.add(gz(shared_tar), OCI_LAYER), "annotations_diff_id": sha256(shared_tar)}
    amd64 = platform_image(blobs, "amd64", shared, layer_tar({"bin/app": b"\x01" * 3000}))
    arm64 = platform_image(blobs, "arm64", shared, layer_tar({"bin/app": b"\x02" * 4000}), variant="v8")
    entries = ([amd64, arm64] if with_images else []) + [attestation(blobs, amd64["digest"])]
    index = blobs.add_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, OCI_INDEX)
    named = {
        **index,
        "annotations": {
            "io.containerd.image.name": "docker.io/library/multi:1",
            "org.opencontainers.image.ref.name": "1",
        },
    }
    blobs.index_json([named])
    return {"index": index, "amd64": amd64, "arm64": arm64, "shared": shared}


def tar_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            tar.addfile(tar_info(name, size=len(data)), io.BytesIO(data))
    return buffer.getvalue()


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


class Untouched:
    """A directory for a test's images; ``freeze()`` once they are written, and at the end
    (``watched``) neither it nor the temp directory has changed and no file is left open."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, tuple[int, int]] | None = None
        self.fds = 0

    def freeze(self) -> None:
        self.files, self.fds = snapshot(self.root), open_fds()


def watched(tmp_path: Path, monkeypatch: Any) -> Iterator[Untouched]:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    (tmp_path / "images").mkdir()
    untouched = Untouched(tmp_path / "images")
    yield untouched
    assert untouched.files is not None, "freeze() was never called"
    assert snapshot(untouched.root) == untouched.files
    assert open_fds() == untouched.fds
    assert list(scratch.iterdir()) == []


def one_line(error: Any, untouched: Untouched) -> str:
    """The error's message (a ``pytest.ExceptionInfo``), one line; no file is left open, the error
    still held."""
    assert open_fds() == untouched.fds
    text = str(error.value)
    assert "\n" not in text and text
    return text
