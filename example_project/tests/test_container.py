"""The small image still works: it starts and answers on a published loopback port."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import docker
import pytest
from docker.models.containers import Container

from pytest_imagesize import Image


@pytest.fixture
def running(engine: docker.DockerClient, slim: Image) -> Iterator[tuple[Container, str]]:
    # a host port of None lets the engine pick a free one (the stubs only allow int)
    container = engine.containers.run(  # type: ignore[call-overload]
        slim.id, detach=True, ports={"8080/tcp": ("127.0.0.1", None)}, labels={"example": "hello"}
    )
    try:
        container.reload()
        port = container.ports["8080/tcp"][0]["HostPort"]
        yield container, f"http://127.0.0.1:{port}"
    finally:  # removed even when the test fails
        container.remove(force=True)


def test_answers_healthz_within_seconds(running: tuple[Container, str]) -> None:
    container, url = running
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                assert response.status == 200
                assert response.read() == b"ok\n"
                return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                pytest.fail(f"no answer on {url}/healthz within 10 s; logs: {container.logs()!r}")
            time.sleep(0.1)


def test_version_flag(engine: docker.DockerClient, slim: Image) -> None:
    output = engine.containers.run(slim.id, command=["-version"], remove=True)
    assert output.strip() == b"1.0.0"
