"""example_project/scripts/make-standins: one clear line when it cannot do its job, and no
half-imported image left behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import docker
import pytest

pytestmark = pytest.mark.engine

SCRIPT = Path(__file__).resolve().parent.parent / "example_project" / "scripts" / "make-standins"
ABSENT = {"GO_STANDIN": "pytest-imagesize-test/no-go:1", "RUNTIME_STANDIN": "pytest-imagesize-test/no-rt:1"}


def run(env: dict[str, str], cache: Path) -> subprocess.CompletedProcess[str]:
    """The script with an empty cache of debootstrapped trees (a cached one skips debootstrap)."""
    return subprocess.run(
        ["bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **ABSENT, "STANDIN_CACHE": str(cache), **env},
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, "make-standins: no Docker engine answers"),
        ({"DEBOOTSTRAP": "/nonexistent/debootstrap"}, "make-standins: debootstrap is not installed"),
        (
            {"DEBOOTSTRAP": "true", "STANDIN_APT_DIR": "/nonexistent/apt"},
            "make-standins: no Debian mirror found in /nonexistent/apt/sources.list",
        ),
        (
            {"DEBOOTSTRAP": "false", "STANDIN_MIRROR": "http://127.0.0.1:9/debian"},
            "make-standins: debootstrap of trixie from http://127.0.0.1:9/debian failed",
        ),
    ],
    ids=["engine-down", "no-debootstrap", "no-apt-sources", "debootstrap-fails"],
)
def test_fails_with_one_line_and_leaves_no_image(
    env: dict[str, str], message: str, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    before = set(docker_client.api.images(quiet=True, all=True))
    result = run(env, tmp_path / "cache")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(message), result.stderr
    assert "Traceback" not in result.stderr
    assert set(docker_client.api.images(quiet=True, all=True)) == before
    for ref in ABSENT.values():
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(ref)
    assert not list((tmp_path / "cache").glob("*.tar*"))  # no tree of a failed run kept
