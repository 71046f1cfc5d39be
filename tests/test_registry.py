"""Compressed sizes agree with what a real registry stores after ``docker push`` (within 1 %)."""

from __future__ import annotations

import os
from pathlib import Path

import docker
import pytest

from pytest_imagesize import measure_image

from .conftest import pushed_layer_sizes

pytestmark = [pytest.mark.engine, pytest.mark.docker_only(reason="compares with what `docker push` stores")]

# On a graph driver the plugin estimates the gzip a push would make, modelled on Go's
# compress/gzip up to Go 1.26 (zlib-ng level 6). Go 1.27 replaced compress/flate's levels 1-6 with
# faster encoders: an engine built with it pushes binary layers about 2 % larger and long repeats
# about twice as large (measured byte-exactly against Go 1.27.3; README "Size semantics").
GO_127 = (1, 27)
# the layers where that shows beyond 1 %: repeats ("abc" * 400,000) and a busybox binary
OFF_ON_GO_127 = ("mixed", "busybox")


@pytest.fixture(autouse=True)
def _known_compressor_gap(docker_client: docker.DockerClient, request: pytest.FixtureRequest) -> None:
    info = docker_client.info()
    store_is_containerd = any("snapshotter" in str(pair) for pair in info.get("DriverStatus") or [])
    go = str(docker_client.version().get("GoVersion", "go0.0")).removeprefix("go").split(".")
    version = tuple(int(part) for part in go[:2] if part.isdigit())
    if not store_is_containerd and version >= GO_127 and any(n in request.node.name for n in OFF_ON_GO_127):
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                raises=AssertionError,
                reason=f"engine built with Go {'.'.join(go)}: its push compresses with Go 1.27's new "
                "encoders, which the plugin's estimate does not model (README: Size semantics)",
            )
        )


def build(client: docker.DockerClient, directory: Path, files: dict[str, bytes], dockerfile: str) -> str:
    directory.mkdir(parents=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    (directory / "Dockerfile").write_text(dockerfile)
    tag = f"pytest-imagesize-test/registry-case:{directory.name}"  # keeps it alive while pushed
    image, _ = client.images.build(path=str(directory), tag=tag, rm=True, forcerm=True)
    return str(image.id)


CASES = {
    "random": ({"blob": os.urandom(3_000_000)}, "FROM scratch\nCOPY blob /blob\n"),
    "text": (
        {"blob": b"".join(b"line %d of a log file that compresses well\n" % i for i in range(60_000))},
        "FROM scratch\nCOPY blob /blob\n",
    ),
    "mixed": (
        {"a": os.urandom(500_000), "b": b"abc" * 400_000, "c": bytes(range(256)) * 4000},
        "FROM scratch\nCOPY a /a\nCOPY b /b\nCOPY c /c\n",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_compressed_size_matches_the_registry(
    case: str, tmp_path: Path, docker_client: docker.DockerClient, registry: str
) -> None:
    files, dockerfile = CASES[case]
    image_id = build(docker_client, tmp_path / case, files, dockerfile)
    try:
        image = measure_image(image_id, client=docker_client)
        ours = [layer.compressed_size for layer in image.layers] if image.compressed_size else []
        theirs = pushed_layer_sizes(docker_client, registry, image_id, f"check-{case}")
        assert len(ours) == len(theirs)
        total_ours, total_theirs = sum(x or 0 for x in ours), sum(theirs)
        assert abs(total_ours - total_theirs) <= 0.01 * total_theirs, (ours, theirs)
        for mine, real in zip(ours, theirs, strict=False):
            assert mine is not None
            assert abs(mine - real) <= max(0.01 * real, 64), (ours, theirs)
    finally:
        docker_client.images.remove(image_id, force=True)


def test_busybox_layer_and_a_run_layer_match_the_registry(
    tmp_path: Path, docker_client: docker.DockerClient, registry: str, busybox_image: str
) -> None:
    image_id = build(
        docker_client,
        tmp_path / "bb",
        {"notes": b"some notes\n" * 1000},
        f"FROM {busybox_image}\nCOPY notes /notes\nRUN cp /notes /notes2 && rm /notes\n",
    )
    try:
        image = measure_image(image_id, client=docker_client)
        theirs = pushed_layer_sizes(docker_client, registry, image_id, "check-busybox")
        assert abs(image.compressed_size - sum(theirs)) <= 0.01 * sum(theirs)
        assert image.wasted_bytes == 11_000
    finally:
        docker_client.images.remove(image_id, force=True)
