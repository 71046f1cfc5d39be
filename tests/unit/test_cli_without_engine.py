"""The CLI with no engine to talk to: one line on stderr, exit status 2, and quickly (a socket
nobody listens on, asked in this process; one that accepts and never answers, asked through
``python -m``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_imagesize import cli


def test_unreachable_engine_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    status = cli.main(["inspect", "pytest-imagesize-test/cli:1"])
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert err.startswith(
        f"pytest-imagesize: error: no container engine answers at unix://{tmp_path}/none.sock"
    )
    assert len(err.strip().splitlines()) == 1
    assert "start an engine" in err
    assert "--image-" not in err  # the pytest options are no help to the command


def test_hung_engine_cli_answers_quickly(hung: str) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest_imagesize.cli", "check", "myorg/app:ci", "--max", "1MB"],
        env={**os.environ, "DOCKER_HOST": hung, "IMAGESIZE_ENGINE_TIMEOUT": "0.05"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done
    output = (done.stdout + done.stderr).strip().splitlines()
    assert len(output) == 1, output
    assert "no container engine answers at" in output[0] and "within 0.05 s" in output[0], output
    assert elapsed < 15, f"{elapsed:.1f} s"
