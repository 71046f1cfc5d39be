"""Shared helpers. Tests marked ``engine`` talk to a real container engine (DOCKER_HOST)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

LABEL = "io.github.pytest-imagesize.managed"

MakeImageDir = Callable[..., Path]


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """The engine the suite runs against; the suite fails (never skips) when none answers."""
    client = docker.from_env()
    client.ping()
    yield client
    # Leave the engine as we found it: drop anything pytest-imagesize tagged during the suite.
    for image in client.images.list(filters={"label": f"{LABEL}=true"}):
        for tag in image.tags:
            if tag.startswith("pytest-imagesize/"):
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


def our_tags(client: docker.DockerClient) -> list[str]:
    return sorted(
        tag for image in client.images.list() for tag in image.tags if tag.startswith("pytest-imagesize/")
    )
