"""The same multi-stage Dockerfile built for linux/amd64 and linux/arm64 at once: the Go stage
runs on the build machine and cross-compiles, so no emulation is needed, and the images are never
loaded into the engine (an OCI layout is measured). Each platform has its own limits.

It needs an engine that can export an OCI layout: Docker with buildx and the containerd image
store (or a docker-container builder), or Podman. Elsewhere (Docker 20.10's classic store) these
tests skip with one line naming what they need."""

from __future__ import annotations

import pytest

from pytest_imagesize import Image, ImageIndex, build_image

PLATFORMS = ["linux/amd64", "linux/arm64"]

multi = build_image("../Dockerfile", context="..", build_args={"VERSION": "1.0.0"}, platforms=PLATFORMS)


@pytest.mark.max_image_size({"linux/amd64": "10MB", "linux/arm64": "10MB"})
def test_every_platform_is_small(multi: ImageIndex) -> None:
    pass


@pytest.mark.max_image_size({"linux/amd64": "3MB", "linux/arm64": "2.8MB"}, compressed=True)
def test_every_platform_pulls_small(multi: ImageIndex) -> None:
    # arm64 code is denser: its binary compresses to ~210 KB less than amd64's
    pass


def test_both_platforms_were_built(multi: ImageIndex) -> None:
    assert sorted(multi.platforms) == PLATFORMS


@pytest.mark.parametrize("platform", PLATFORMS)
def test_each_platform_ships_its_own_static_binary(multi: ImageIndex, platform: str) -> None:
    image = multi[platform]
    binaries = {binary.path: binary for binary in image.go_binaries}
    assert set(binaries) == {"/hello"}
    assert binaries["/hello"].settings.get("GOARCH") == platform.split("/")[1]
    assert binaries["/hello"].settings.get("CGO_ENABLED") == "0"
    assert not image.has_file("/bin/sh")


def test_amd64_is_the_single_platform_build(multi: ImageIndex, slim: Image) -> None:
    # the same Dockerfile and inputs: the cross-compiling build changes nothing for the host
    assert multi["linux/amd64"].size == slim.size
