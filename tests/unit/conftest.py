"""tests/unit needs only the virtualenv. No engine is reachable from here (DOCKER_HOST and
CONTAINER_HOST name a socket nobody listens on) and ``go`` on PATH is a stand-in that fails, so a
test that needs either fails in ``make test-unit`` instead of passing only where one happens to
be installed. Tests that need an engine or Go belong in tests/ or tests/go.

Two costs of no use here are left out: hypothesis's third-party plugins (trio's, which the browser
tests' selenium brings in, takes a tenth of a second to import in every xdist worker), and the
child process that analyses Go binaries, which the archive reader starts for every image and kills
unused when no Go binary comes: the fake images here hold none, so the reader is told the child
can't be used (its way for a failed child) and starts none (the child is tested in
tests/go/test_worker.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_imagesize.measure.go import worker

os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")  # read when a test module imports hypothesis

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
    monkeypatch.setattr(worker, "_broken", True)  # no Go binaries: no child process to read them
    monkeypatch.setenv("DOCKER_HOST", NOWHERE)
    monkeypatch.setenv("CONTAINER_HOST", NOWHERE)
    monkeypatch.setenv("PATH", f"{_no_go_bin}{os.pathsep}{os.environ.get('PATH', '')}")
