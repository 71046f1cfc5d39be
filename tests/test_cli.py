"""The ``pytest-imagesize`` command (the disl use case): exit codes and one-line errors."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import docker
import pytest

from .conftest import DOCKER_BYTES, write_scratch_dockerfile

pytestmark = [
    pytest.mark.engine,
    DOCKER_BYTES,
]
REF = "pytest-imagesize-test/cli:1"


@pytest.fixture(scope="module")
def cli_image(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("cli")
    write_scratch_dockerfile(directory, 4321)
    docker_client.images.build(path=str(directory), tag=REF, rm=True, forcerm=True)
    yield REF
    docker_client.images.remove(REF, force=True)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_imagesize.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_check_passes_at_the_limit_and_fails_above(cli_image: str) -> None:
    ok = cli("check", cli_image, "--max", "4321")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"OK {cli_image}: size 4,321 B (4.32 KB) <= 4.32 KB"
    over = cli("check", cli_image, "--max", "4.32kB")
    assert over.returncode == 1
    first = over.stdout.splitlines()[0]
    assert fnmatch.fnmatchcase(
        first,
        f"FAIL {cli_image}: image {cli_image} (*) size is 4,321 B (4.32 KB), over the limit of "
        "4,320 B (4.32 KB) by 1 B (1 B) (--max 4.32kB)",
    ), first
    assert "largest layers:" in over.stdout


def test_check_compressed(cli_image: str) -> None:
    result = cli("check", cli_image, "--max", "4000", "--compressed")
    assert result.returncode == 1  # random bytes do not compress
    assert result.stdout.startswith(f"FAIL {cli_image}: image {cli_image} (")
    assert "compressed size is 4," in result.stdout


def test_inspect_json_and_layers(cli_image: str) -> None:
    result = cli("inspect", cli_image, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["size"] == 4321 and data["compressed_size"] > 4321 and data["wasted_bytes"] == 0
    layers = cli("inspect", cli_image, "--layers")
    assert layers.returncode == 0
    assert "COPY file:" in layers.stdout and "efficiency 1.0000" in layers.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", REF, "--max", "5 XB"], "pytest-imagesize: error: --max '5 XB': '5 XB' is not a size"),
        (
            ["check", "pytest-imagesize-test/absent:0", "--max", "1MB"],
            "pytest-imagesize: error: image 'pytest-imagesize-test/absent:0' is not present on the engine",
        ),
    ],
)
def test_bad_input_is_one_line(cli_image: str, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
