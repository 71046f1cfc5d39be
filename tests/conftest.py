"""Shared helpers. Tests marked ``engine`` talk to a real container engine (DOCKER_HOST)."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # docker-py is imported by the fixtures that talk to an engine
    import docker

LABEL = "io.github.pytest-imagesize.managed"

# Tests that assert Docker's own byte counts: Podman counts tar headers and metadata too.
DOCKER_BYTES = pytest.mark.docker_only(
    reason="Docker's .Size counts layer contents to the byte; Podman adds tar headers and metadata"
)

MakeImageDir = Callable[..., Path]


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """The engine the suite runs against; the suite fails (never skips) when none answers."""
    import docker

    client = docker.from_env()
    client.ping()
    yield client
    # Leave the engine as we found it: drop anything pytest-imagesize tagged during the suite.
    for image in client.images.list(filters={"label": f"{LABEL}=true"}):
        for tag in image.tags:
            if normal_tag(tag).startswith("pytest-imagesize/"):
                client.images.remove(tag, noprune=False)
    client.close()


def write_scratch_dockerfile(
    directory: Path, nbytes: int, *, filename: str = "Dockerfile", blob: str = "blob"
) -> Path:
    """A FROM scratch image holding one file of ``nbytes`` random bytes: an image of exactly
    ``nbytes`` bytes on Docker's overlay2 (random bytes also make every build unique)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / blob).write_bytes(os.urandom(nbytes))
    dockerfile = directory / filename
    dockerfile.write_text(f"FROM scratch\nCOPY {blob} /{blob}\n")
    return dockerfile


@pytest.fixture
def image_dir(pytester: pytest.Pytester, docker_client: docker.DockerClient) -> MakeImageDir:
    """``image_dir(nbytes, sub="img")`` writes a scratch image of nbytes under pytester.path/sub."""

    def make(nbytes: int, sub: str = ".", **kwargs: str) -> Path:
        return write_scratch_dockerfile(pytester.path / sub, nbytes, **kwargs)

    return make


def normal_tag(tag: str) -> str:
    """Podman reports docker.io/... or localhost/... where Docker says the short name."""
    return tag.removeprefix("docker.io/").removeprefix("localhost/")


def our_tags(client: docker.DockerClient) -> list[str]:
    return sorted(
        normal_tag(tag)
        for image in client.images.list()
        for tag in image.tags
        if normal_tag(tag).startswith("pytest-imagesize/")
    )


BUSYBOX = Path("/bin/busybox")
BUSYBOX_REF = "pytest-imagesize-test/busybox:1"


@pytest.fixture(scope="session")
def busybox_image(docker_client: docker.DockerClient) -> Iterator[str]:
    """A tiny image with a shell: Debian's static busybox, brought in with ``docker import``
    (nothing can be pulled here). Tests build ``FROM`` it to get RUN steps that delete files."""
    import io
    import tarfile

    if not BUSYBOX.is_file():
        pytest.fail(f"{BUSYBOX} is missing: install Debian's busybox-static (scripts/ensure-test-tools)")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in ("sh", "rm", "mkdir", "echo", "cp", "chmod", "touch", "true"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        for directory in ("tmp", "etc", "proc", "sys", "dev"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
    repository, tag = BUSYBOX_REF.split(":")
    answer = docker_client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=tag)
    image_id = json.loads(answer.strip().splitlines()[-1]).get("status", "")
    image_id = json.loads(answer.strip().splitlines()[-1]).get("id") or image_id
    docker_client.api.tag(image_id, repository, tag)  # Podman 4.3's import ignores the tag
    # Podman names it localhost/... or docker.io/...: FROM needs that full name there
    name = next(t for t in docker_client.images.get(image_id).tags if t.endswith(BUSYBOX_REF))
    yield name
    docker_client.images.remove(image_id, force=True)  # by ID: every tag (and Podman's "latest")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's docker-registry, served on 127.0.0.1 only; yields its host:port."""
    import shutil
    import subprocess
    import time
    import urllib.request

    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail(
            "docker-registry is missing: install Debian's docker-registry (scripts/ensure-test-tools)"
        )
    root = tmp_path_factory.mktemp("registry")
    address = f"127.0.0.1:{free_port()}"
    config = root / "config.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: {address}\nlog:\n  level: warn\n"
    )
    with open(root / "log", "wb") as log:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://{address}/v2/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"docker-registry did not start: {(root / 'log').read_text()[-2000:]}")
                time.sleep(0.1)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=20)


def pushed_layer_sizes(client: docker.DockerClient, registry: str, image_id: str, name: str) -> list[int]:
    """Push ``image_id`` to the local registry; return the manifest's layer sizes (pull sizes)."""

    repository = f"{registry}/{name}"
    client.api.tag(image_id, repository, "t")
    try:
        for chunk in client.api.push(repository, "t", stream=True, decode=True):
            if "error" in chunk:
                raise AssertionError(f"push failed: {chunk['error']}")
    finally:
        client.api.remove_image(f"{repository}:t", noprune=True)
    manifest = registry_manifest(registry, name, "t")
    if "manifests" in manifest:  # an index (containerd image store, BuildKit): our platform's manifest
        import platform

        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        chosen = next(
            m
            for m in manifest["manifests"]
            if (m.get("platform") or {}).get("architecture") == arch
            and (m.get("platform") or {}).get("os") == "linux"
        )
        manifest = registry_manifest(registry, name, chosen["digest"])
    return [int(layer["size"]) for layer in manifest["layers"]]


MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


def registry_manifest(registry: str, name: str, reference: str) -> dict[str, Any]:
    """A manifest or index from the registry, in whichever format the engine pushed."""
    import urllib.request

    request = urllib.request.Request(
        f"http://{registry}/v2/{name}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


@pytest.fixture(scope="session")
def builder(docker_client: docker.DockerClient) -> str:
    """The builder the plugin picks in this run: IMAGESIZE_BUILDER, else auto (buildx when
    ``docker buildx version`` works on a Docker engine). CI runs the suite with each."""
    from pytest_imagesize.engine.buildx import buildx_available

    wanted = os.environ.get("IMAGESIZE_BUILDER", "auto")
    if wanted != "auto":
        return wanted
    is_docker = "podman" not in str(docker_client.version().get("Components", "")).lower()
    return "buildx" if is_docker and buildx_available() is None else "classic"


@pytest.fixture
def cli_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a ``docker`` shim first on PATH that logs each call, then runs the real CLI; returns
    the log. Counts BuildKit builds, which leave no engine events on Docker 20.10."""
    import shutil

    real = shutil.which("docker")
    assert real is not None, "the docker CLI is needed"
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    log = tmp_path / "docker-calls.log"
    shim = shim_dir / "docker"
    shim.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim_dir}:{os.environ['PATH']}")
    log.touch()
    return log


def buildx_builds(log: Path) -> int:
    return sum(1 for line in log.read_text().splitlines() if line.startswith("buildx build"))


@pytest.fixture(scope="session")
def engine_name(docker_client: docker.DockerClient) -> str:
    components = str(docker_client.version().get("Components", "")).lower()
    return "podman" if "podman" in components else "docker"


_XDG_HOMES = itertools.count()


@pytest.fixture(autouse=True)
def _own_cache_and_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test has its own analysis cache and build records (XDG_CACHE_HOME, XDG_STATE_HOME):
    a test that counts archive reads must not find another test's cached analysis."""
    # not made here: most tests write neither, and the plugin makes what it writes to
    home = tmp_path_factory.getbasetemp() / "xdg" / str(next(_XDG_HOMES))  # mktemp lists them all
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))


@pytest.fixture(autouse=True)
def _docker_only(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("docker_only")
    if marker is None:
        return
    if request.getfixturevalue("engine_name") == "podman":
        pytest.skip(f"Docker-specific: {marker.kwargs.get('reason') or marker.args[0]}")


@pytest.fixture
def hung(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a socket that accepts connections and never answers."""
    from .support.faults import hung_socket

    with hung_socket(tmp_path_factory.mktemp("hung") / "hung.sock") as address:
        yield address
