"""The example project's images, declared once and used by name in the tests."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from pytest_imagesize import build_image

# The naive single-stage build: the Go toolchain image runs the service.
fat = build_image("../Dockerfile.single", context="..")
# Multi-stage: a static binary on a distroless base, running as uid 65532.
slim = build_image("../Dockerfile", context="..", build_args={"VERSION": "1.0.0"})


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()
