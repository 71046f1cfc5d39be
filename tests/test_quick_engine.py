"""The quick engine (standard-library HTTP over the engine's Unix socket) against docker-py's, on
the engine the suite runs against: the same answers and archives, the same one-line errors, and
a size check that never imports docker-py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from pytest_imagesize.engine.docker_api import DockerEngine
from pytest_imagesize.engine.quick import QuickEngine, connect, socket_path
from pytest_imagesize.errors import ImageNotFound, ImageSizeError
from pytest_imagesize.measure.archive import read_archive

from .conftest import write_scratch_dockerfile

pytestmark = pytest.mark.engine
REF = "pytest-imagesize-test/quick:1"


@pytest.fixture(scope="module")
def quick_image(
    docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("quick")
    write_scratch_dockerfile(directory, 5_432)
    docker_client.images.build(path=str(directory), tag=REF, rm=True, forcerm=True)
    yield REF
    docker_client.images.remove(REF, force=True)


@pytest.fixture
def engines() -> Iterator[tuple[QuickEngine, DockerEngine]]:
    if socket_path() is None:
        pytest.skip("the engine is not at a local Unix socket (DOCKER_HOST)")
    quick = connect()
    assert isinstance(quick, QuickEngine)
    slow = DockerEngine.connect()
    yield quick, slow
    quick.close()
    slow.close()


def test_the_same_answers_as_docker_py(engines: tuple[QuickEngine, DockerEngine], quick_image: str) -> None:
    quick, slow = engines
    assert quick.info() == slow.info()
    data = quick.inspect_image(quick_image)
    assert data == slow.inspect_image(quick_image)
    assert quick.history(data["Id"]) == slow.history(data["Id"])
    assert any(tag == quick_image or tag.endswith(f"/{quick_image}") for tag in data["RepoTags"])


def test_a_missing_image_is_the_same_line(engines: tuple[QuickEngine, DockerEngine]) -> None:
    quick, slow = engines
    ref = "pytest-imagesize-test/not-there:1"
    with pytest.raises(ImageNotFound) as fast_error:
        quick.inspect_image(ref)
    with pytest.raises(ImageNotFound) as slow_error:
        slow.inspect_image(ref)
    assert str(fast_error.value) == str(slow_error.value)


def test_what_it_does_not_answer_goes_to_docker_py(
    engines: tuple[QuickEngine, DockerEngine], quick_image: str
) -> None:
    quick, _ = engines
    image_id = quick.inspect_image(quick_image)["Id"]
    assert image_id in quick.image_ids()
    assert quick._full is not None  # made for that question


def test_it_streams_the_archive_docker_py_would(
    engines: tuple[QuickEngine, DockerEngine], quick_image: str
) -> None:
    quick, slow = engines
    image_id = quick.inspect_image(quick_image)["Id"]
    chunks = list(quick.save(image_id))
    assert quick._full is None  # no docker-py for the archive
    ours, theirs = read_archive(chunks), read_archive(slow.save(image_id))
    assert [(layer.diff_id, layer.portable_size, layer.tar_size) for layer in ours.layers] == [
        (layer.diff_id, layer.portable_size, layer.tar_size) for layer in theirs.layers
    ]
    assert [layer.portable_size for layer in ours.layers] == [5_432]


def test_a_refused_save_is_the_same_line(
    engines: tuple[QuickEngine, DockerEngine], docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    quick, slow = engines
    write_scratch_dockerfile(tmp_path, 1_234)
    image, _ = docker_client.images.build(path=str(tmp_path), rm=True, forcerm=True)
    docker_client.images.remove(str(image.id), force=True)  # gone since it was measured
    errors = []
    for engine in (quick, slow):
        with pytest.raises(ImageSizeError) as error:
            list(engine.save(str(image.id)))
        errors.append(error.value)
    assert [type(e) for e in errors] == [ImageNotFound, ImageNotFound]
    assert str(errors[0]) == str(errors[1])
    assert "disappeared from the engine" in str(errors[0])


def test_a_passing_size_check_needs_no_docker_py(
    engines: tuple[QuickEngine, DockerEngine], quick_image: str
) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from pytest_imagesize import cli
        sys.argv = ["pytest-imagesize", "check", {quick_image!r}, "--max", "5432"]
        code = cli.main()
        print("docker-py:", "docker" in sys.modules)
        sys.exit(code)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ), timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert f"OK {quick_image}: size 5,432 B" in done.stdout
    # Where the engine's .Size is the portable size no archive is read; elsewhere the quick engine
    # streams it: docker-py is never needed
    assert done.stdout.strip().endswith("docker-py: False")
