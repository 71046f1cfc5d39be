"""Growth that explains itself, run on copies of this project: a dependency added to the service
is named in the failure; a base-image change is told apart from the service's own change."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import docker
import pytest

pytest_plugins = ["pytester"]

HERE = Path(__file__).resolve().parents[1]

SIZE_TEST = """
import pytest
from pytest_imagesize import build_image

slim = build_image("../Dockerfile", context="..", build_args={"VERSION": "1.0.0"})

@pytest.mark.max_image_growth("1%", scope="{scope}")
def test_slim(slim):
    pass
"""


def copy_project(pytester: pytest.Pytester, scope: str) -> Path:
    project = pytester.path / "project"
    shutil.copytree(
        HERE,
        project,
        ignore=shutil.ignore_patterns("tests", "image-sizes.json", "__pycache__", ".pytest_cache"),
    )
    (project / "tests").mkdir()
    (project / "tests" / "test_size.py").write_text(SIZE_TEST.replace("{scope}", scope))
    return project


def run(pytester: pytest.Pytester, project: Path, args: list[str]) -> pytest.RunResult:
    pytester.chdir()
    return pytester.run(
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        str(project / "tests"),
        "--rootdir",
        str(project),
        *args,
        timeout=900,
    )


def as_options(pairs: dict[str, str]) -> list[str]:
    return [arg for key, value in pairs.items() for arg in ("--image-build-arg", f"{key}={value}")]


@pytest.fixture
def build_args(request: pytest.FixtureRequest) -> dict[str, str]:
    """The stand-in bases the demo selected (--image-build-arg), passed on to the copies."""
    return dict(request.config.getoption("image_build_args") or [])


def test_a_new_dependency_is_named_in_the_growth_failure(
    pytester: pytest.Pytester, build_args: dict[str, str]
) -> None:
    project = copy_project(pytester, "image")
    first = run(pytester, project, [*as_options(build_args), "--image-baseline-update"])
    assert first.ret == 0, first.stdout.str()
    main = project / "main.go"
    main.write_text(main.read_text().replace("import (\n", 'import (\n\t_ "net/http/pprof"\n', 1))
    second = run(pytester, project, as_options(build_args))
    assert second.ret == 1, second.stdout.str()
    text = second.stdout.str()
    assert "size grew from" in text
    assert "/hello" in text  # the binary that grew, by path
    assert "net/http/pprof" in text  # the package that came in, by name


def test_a_base_image_change_is_drift_not_growth_of_our_own(
    pytester: pytest.Pytester, build_args: dict[str, str], tmp_path: Path
) -> None:
    runtime = build_args.get("RUNTIME_IMAGE", "gcr.io/distroless/static-debian12:nonroot")
    client = docker.from_env()
    (tmp_path / "extra").write_bytes(b"x" * 3_000_000)
    (tmp_path / "Dockerfile").write_text(f"FROM {runtime}\nCOPY extra /usr/share/extra\n")
    bumped, _ = client.images.build(path=str(tmp_path), tag="pytest-imagesize-example/bumped-base:1")
    try:
        project = copy_project(pytester, "own")
        first = run(pytester, project, [*as_options(build_args), "--image-baseline-update"])
        assert first.ret == 0, first.stdout.str()
        bumped_args = {**build_args, "RUNTIME_IMAGE": "pytest-imagesize-example/bumped-base:1"}
        second = run(pytester, project, [*as_options(bumped_args), "--image-report"])
        text = second.stdout.str()
        assert second.ret == 0, text  # our own layers did not grow: scope="own" passes
        assert "base image pytest-imagesize-example/bumped-base:1 changed: +3 MB" in text
    finally:
        client.images.remove(str(bumped.id), force=True)
        client.close()
