"""tests/unit runs with nothing but the virtualenv (tests/unit/conftest.py): no engine, no Go."""

from __future__ import annotations

import os
import subprocess

import pytest


def test_no_engine_answers() -> None:
    import docker  # here, not at collection: no other unit test module needs docker-py loaded

    assert os.environ["DOCKER_HOST"].startswith("unix:///nonexistent/")
    with pytest.raises(docker.errors.DockerException):
        docker.from_env().ping()


def test_go_is_a_stand_in_that_fails() -> None:
    done = subprocess.run(["go", "version"], capture_output=True, text=True)
    assert done.returncode == 127
    assert "tests/unit has no Go toolchain" in done.stderr
