"""Against Podman's Docker-compatible API (DOCKER_HOST=unix:///…/podman.sock): the portable size to
the byte, and Podman's own number (``engine_size``) checked against Podman's own CLI. Skipped against
Docker; `.ci/run` runs the suite on both."""

from __future__ import annotations

import json
import shutil
import subprocess

import docker
import pytest

from .conftest import MakeImageDir, normal_tag, our_tags

pytestmark = pytest.mark.engine


@pytest.fixture(autouse=True)
def _podman_only(engine_name: str) -> None:
    if engine_name != "podman":
        pytest.skip("runs against Podman (DOCKER_HOST at a podman system service socket)")
    assert shutil.which("podman"), "the podman CLI is needed as the oracle"


def podman_size(ref: str) -> int:
    out = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Size}}", ref],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def test_sizes_are_portable_limits_work_at_the_byte_and_podmans_own_is_kept(
    pytester: pytest.Pytester, image_dir: MakeImageDir, docker_client: docker.DockerClient
) -> None:
    image_dir(4321)
    pytester.makepyfile(
        "from pytest_imagesize import build_image\napp = build_image('Dockerfile')\n"
        "def test_app(app):\n    pass\n"
    )
    pytester.runpytest("--image-keep", "--image-report-json=r.json").assert_outcomes(passed=1)
    data = json.loads((pytester.path / "r.json").read_text())
    assert data["engine"]["name"] == "podman"
    assert data["engine"]["image_store"] == "podman"
    image = data["images"][0]
    assert image["size"] == 4321  # the portable size: the bytes of the one file
    # Podman's own number, as its CLI says: the layer tar (headers, padding) and the metadata
    podmans = podman_size(image["id"])
    assert image["engine_size"] == podmans
    assert podmans > 4321
    assert image["compressed_size"] is not None  # the size came from the archive, which gave this too

    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image
        app = build_image('Dockerfile')

        @pytest.mark.max_image_size(4321)
        def test_equal(app):
            pass

        @pytest.mark.max_image_size(4320)
        def test_one_byte_less(app):
            pass
        """
    )
    result = pytester.runpytest("--image-report")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*size is 4,321 B (*), over the limit of 4,320 B (*) by 1 B*", "measured by podman *"],
        consecutive=False,
    )
    assert not [t for t in our_tags(docker_client) if t.startswith("pytest-imagesize/app:")]


def test_existing_image_by_short_and_full_name(
    pytester: pytest.Pytester, image_dir: MakeImageDir, docker_client: docker.DockerClient
) -> None:
    directory = image_dir(1000)
    image, _ = docker_client.images.build(path=str(directory.parent), tag="pytest-imagesize-test/podman:1")
    try:
        full = next(t for t in image.tags if normal_tag(t) == "pytest-imagesize-test/podman:1")
        pytester.makepyfile(
            f"""
            from pytest_imagesize import existing_image
            short = existing_image("pytest-imagesize-test/podman:1")
            full = existing_image("{full}")

            def test_same(short, full):
                assert short.id == full.id
                assert short.size == full.size == 1000
                assert short.engine_size == {podman_size(full)}
                assert short.find("/*") == ["/blob"]
            """
        )
        pytester.runpytest().assert_outcomes(passed=1)
        assert docker_client.images.get(full).id == image.id  # existing images are never removed
    finally:
        docker_client.images.remove(str(image.id), force=True)
