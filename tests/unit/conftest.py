"""tests/unit needs only the virtualenv. No engine is reachable from here (DOCKER_HOST and
CONTAINER_HOST name a socket nobody listens on) and ``go`` on PATH is a stand-in that fails, so a
test that needs either fails in ``make test-unit`` instead of passing only where one happens to
be installed. Tests that need an engine or Go belong in tests/ or tests/go."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOWHERE = "unix:///nonexistent/pytest-imagesize-unit/engine.sock"
NO_GO = "tests/unit has no Go toolchain: tests that build Go programs belong in tests/go"


@pytest.fixture(scope="session")
def _no_go_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("no-go-bin")
    stand_in = directory / "go"
    stand_in.write_text(f"#!/bin/sh\necho '{NO_GO}' >&2\nexit 127\n")
    stand_in.chmod(0o755)
    return directory


@pytest.fixture(autouse=True)
def _only_the_virtualenv(monkeypatch: pytest.MonkeyPatch, _no_go_bin: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", NOWHERE)
    monkeypatch.setenv("CONTAINER_HOST", NOWHERE)
    monkeypatch.setenv("PATH", f"{_no_go_bin}{os.pathsep}{os.environ.get('PATH', '')}")
