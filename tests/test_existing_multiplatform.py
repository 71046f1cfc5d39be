"""``existing_image`` and the CLI's engine names of a multi-platform image in Docker's containerd
image store: every platform the store holds is measured (attestations never a platform), to the
byte as the OCI-export path measures the same build; a platform the index names but the store
does not hold is one line. Built with ``docker buildx build --platform linux/amd64,linux/arm64``
onto ``FROM scratch`` (no emulation). Needs the containerd image store; skips elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagesize.engine.docker_api import DockerEngine
from pytest_imagesize.measure.from_source import measure_source
from pytest_imagesize.measure.index import ImageIndex
from pytest_imagesize.sources.oci_layout import OciLayoutSource

from .sources.registry_support import running_registry
from .support.faults import nonce

pytestmark = pytest.mark.engine

PAYLOAD = {"amd64": 1000, "arm64": 3000, "arm": 2000}
DOCKERFILE = """\
FROM --platform=$BUILDPLATFORM scratch AS build
COPY payload-* /out/
FROM scratch
ARG TARGETARCH
COPY --from=build /out/payload-${TARGETARCH} /payload
"""
TEST_FILE = """
import json
import pytest
from pytest_imagesize import existing_image

app = existing_image({ref!r})

@pytest.mark.max_image_size("2KB")
def test_sizes(app):
    found = {{image.platform: [image.size, image.compressed_size] for image in app}}
    with open("sizes.json", "w") as out:
        json.dump(found, out)
"""


@pytest.fixture(scope="module")
def containerd_store() -> Iterator[DockerEngine]:
    engine = DockerEngine.connect()
    info = engine.info()
    if info.name != "docker" or info.image_store != "containerd":
        engine.close()
        pytest.skip(
            "a multi-platform existing_image needs Docker's containerd image store (docker-containerd)"
        )
    yield engine
    engine.close()


def context(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text(DOCKERFILE)
    for arch, size in PAYLOAD.items():
        (directory / f"payload-{arch}").write_bytes(nonce().encode().ljust(size, b"x"))
    return directory


def buildx(engine: DockerEngine, *args: str) -> None:
    done = subprocess.run(
        ["docker", "buildx", "build", "--progress=plain", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "DOCKER_HOST": engine.address},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def oci_sizes(layout: Path) -> dict[str, list[int]]:
    source = OciLayoutSource(layout)
    try:
        index = measure_source(source, all_platforms=True)
        assert isinstance(index, ImageIndex)
        return {str(image.platform): [image.size, image.compressed_size] for image in index}
    finally:
        source.close()


@pytest.fixture
def multi(containerd_store: DockerEngine, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A two-platform image (with buildx's attestation manifests) loaded into the store, and
    the OCI layout of the same build."""
    ctx = context(tmp_path / "ctx")
    ref = f"pytest-imagesize-test/multi:{nonce()[:12].lower()}"
    buildx(containerd_store, "--platform", "linux/amd64,linux/arm64", "-t", ref, str(ctx))
    layout = tmp_path / "oci"
    platforms = "linux/amd64,linux/arm64"
    buildx(
        containerd_store, "--platform", platforms, "--output", f"type=oci,tar=false,dest={layout}", str(ctx)
    )
    try:
        yield ref, layout
    finally:
        containerd_store.remove_image(ref)


def test_existing_image_measures_each_platform_as_the_oci_export(
    multi: tuple[str, Path], pytester: pytest.Pytester
) -> None:
    ref, layout = multi
    kinds = {m["Kind"] for m in DockerEngine.connect().image_manifests(ref)}
    assert kinds == {"image", "attestation"}  # attestations are there, and are no platform
    pytester.makepyfile(test_multi=TEST_FILE.format(ref=ref))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)  # arm64's 3000 bytes are over 2KB; amd64's 1000 are not
    failures = [line for line in result.outlines if "over" in line and "app[" in line]
    assert any("app[linux/arm64]" in line for line in failures), result.outlines
    assert not any("app[linux/amd64]" in line for line in failures)
    measured = json.loads((pytester.path / "sizes.json").read_text())
    assert measured == oci_sizes(layout)
    assert measured["linux/arm64"][0] == PAYLOAD["arm64"]


def test_the_cli_lists_every_platform_of_an_engine_image(multi: tuple[str, Path]) -> None:
    ref, layout = multi
    done = subprocess.run(
        [sys.executable, "-m", "pytest_imagesize.cli", "inspect", "--all-platforms", "--json", ref],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {row["platform"]: [row["size"], row["compressed_size"]] for row in rows} == oci_sizes(layout)
    assert {row["source"] for row in rows} == {"engine"}


def test_a_platform_the_store_does_not_hold_is_one_line(
    containerd_store: DockerEngine, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """Three platforms pushed to a registry, two of them pulled: those two are measured."""
    with running_registry(tmp_path / "registry") as registry:
        ref = f"{registry.address}/multi:1"
        platforms = "linux/amd64,linux/arm64,linux/arm/v7"
        buildx(
            containerd_store,
            "--platform",
            platforms,
            "--output",
            f"type=image,name={ref},push=true",
            str(context(tmp_path / "ctx")),
        )
        containerd_store.remove_image(ref)
        env = {**os.environ, "DOCKER_HOST": containerd_store.address}
        for platform in ("linux/amd64", "linux/arm64"):
            subprocess.run(
                ["docker", "pull", "-q", "--platform", platform, ref], check=True, env=env, timeout=300
            )
        try:
            pytester.makepyfile(test_multi=TEST_FILE.format(ref=ref))
            result = pytester.runpytest("-W", "default")
        finally:
            containerd_store.remove_image(ref)
    result.assert_outcomes(failed=1)
    measured = json.loads((pytester.path / "sizes.json").read_text())
    assert sorted(measured) == ["linux/amd64", "linux/arm64"]
    notes = [line for line in result.outlines if "not in the engine's image store" in line]
    assert len(notes) == 1, result.outlines
    assert "linux/arm/v7" in notes[0]
