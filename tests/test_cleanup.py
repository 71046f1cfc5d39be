"""The plugin removes only what it created; the user's images survive untouched."""

from __future__ import annotations

import contextlib
import json

import docker
import pytest

from pytest_imagesize.engine.build import BuildSpec, tag_for

from .conftest import MakeImageDir, normal_tag, our_tags

pytestmark = pytest.mark.engine

SUITE = """
from pytest_imagesize import build_image
app = build_image("Dockerfile")

def test_app(app):
    assert app.size >= 4096  # Docker: exactly; Podman adds tar headers and metadata
"""


@pytest.fixture
def user_images(docker_client: docker.DockerClient):  # type: ignore[no-untyped-def]
    made: list[str] = []
    yield made
    ids = set()
    for ref in made:
        with contextlib.suppress(docker.errors.NotFound):
            image_id = str(docker_client.images.get(ref).id)
            ids.add(image_id if image_id.startswith("sha256:") else f"sha256:{image_id}")
    for image_id in ids:  # by ID with force: every tag and the image go
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.images.remove(image_id, force=True)


def test_user_image_with_the_same_content_survives(
    pytester: pytest.Pytester,
    image_dir: MakeImageDir,
    docker_client: docker.DockerClient,
    user_images: list[str],
) -> None:
    dockerfile = image_dir(4096)
    # The user built the same Dockerfile, and keeps a tag-alike in our namespace too.
    user, _ = docker_client.images.build(path=str(pytester.path), tag="user/app:1", rm=True)
    user.tag("pytest-imagesize/app", "users-own")
    user_images.extend(["user/app:1", "pytest-imagesize/app:users-own"])
    before = docker_client.images.get("user/app:1")

    pytester.makepyfile(SUITE)
    pytester.runpytest("--image-report-json=r.json").assert_outcomes(passed=1)

    after = docker_client.images.get("user/app:1")
    assert after.id == before.id
    assert sorted(after.tags) == sorted(before.tags)
    assert sorted(normal_tag(t) for t in after.tags) == ["pytest-imagesize/app:users-own", "user/app:1"]
    # The plugin did build (under its own tag) and removed that tag again. Only this test's tag is
    # looked at: other runs may share the engine, and their tags come and go.
    ours = tag_for("app", BuildSpec(dockerfile.resolve(), pytester.path.resolve()))
    measured = json.loads((pytester.path / "r.json").read_text())["images"][0]
    assert normal_tag(measured["ref"]) == ours
    assert ours not in our_tags(docker_client)
    assert "pytest-imagesize/app:users-own" in our_tags(docker_client)


def test_image_keep_leaves_the_tag_and_default_removes_it(
    pytester: pytest.Pytester,
    image_dir: MakeImageDir,
    docker_client: docker.DockerClient,
    user_images: list[str],
) -> None:
    dockerfile = image_dir(4096)
    ours = tag_for("app", BuildSpec(dockerfile.resolve(), pytester.path.resolve()))
    pytester.makepyfile(SUITE)
    pytester.runpytest("--image-keep").assert_outcomes(passed=1)
    assert ours in our_tags(docker_client)
    user_images.append(ours)
    kept_image = docker_client.images.get(ours)
    assert [normal_tag(t) for t in kept_image.tags] == [ours]  # no other name was added
    assert kept_image.labels.get("io.github.pytest-imagesize.managed") == "true"
    assert kept_image.attrs["Size"] >= 4096  # the engine's own number, whatever it counts
    # The next run finds the image built; the intermediate that the first run made is then no
    # longer known to be ours (it is not removed), so this test removes it itself.
    if kept_image.attrs["Parent"]:  # the classic builder leaves one; BuildKit none
        parent = str(kept_image.attrs["Parent"])
        user_images.append(parent if parent.startswith("sha256:") else f"sha256:{parent}")

    pytester.runpytest().assert_outcomes(passed=1)
    assert ours not in our_tags(docker_client)


def test_a_tag_we_would_use_that_names_a_user_image_is_not_overwritten(
    pytester: pytest.Pytester,
    image_dir: MakeImageDir,
    docker_client: docker.DockerClient,
    user_images: list[str],
) -> None:
    dockerfile = image_dir(4096)
    other = pytester.mkdir("other")
    (other / "f").write_bytes(b"user data")
    (other / "Dockerfile").write_text("FROM scratch\nCOPY f /f\n")
    user, _ = docker_client.images.build(path=str(other), rm=True)
    user_images.append(str(user.id))
    ours = tag_for("app", BuildSpec(dockerfile.resolve(), pytester.path.resolve()))
    repo, tag = ours.split(":")
    user.tag(repo, tag)
    user_images.append(ours)

    pytester.makepyfile(SUITE)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*tag {ours} already names an image that pytest-imagesize did not build*"])
    assert docker_client.images.get(ours).id == user.id
