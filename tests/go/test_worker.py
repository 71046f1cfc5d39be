"""The Go reader's own process: same answers as the reader in-process, falls back when it dies, and
nothing of it outlives the archive read — not even when the reading process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_imagesize.measure.go import analyse_go_binary
from pytest_imagesize.measure.go import worker as worker_module
from pytest_imagesize.measure.go.probe import GoProbe
from pytest_imagesize.measure.go.worker import GoWorker
from tests.go.conftest import GoBuilds


def gone(pid: int, within: float = 10.0) -> bool:
    """True once ``pid`` no longer runs (reaped, or a zombie whose parent is gone)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ", 1)[1].startswith("Z"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("name", ["deps-1.24-amd64-strip", "hello-1.19-arm64-full", "hello-1.24-amd64-test"])
def test_answers_as_the_reader_in_process(go_builds: GoBuilds, name: str) -> None:
    data = go_builds.data(name)
    worker = GoWorker()
    try:
        assert worker.analyse(f"/app/{name}", bytearray(data)) == analyse_go_binary(f"/app/{name}", data)
        assert worker.analyse("/etc/not-go", b"\x7fELF not go") is None
    finally:
        worker.close()
    assert worker.pid is None


@pytest.fixture(autouse=True)
def worker_not_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that breaks a worker doesn't send the rest of the session's binaries in-process."""
    monkeypatch.setattr(worker_module, "_broken", False)


def test_a_dead_worker_falls_back_to_the_reader_in_process(go_builds: GoBuilds) -> None:
    data = go_builds.data("hello-1.24-amd64-strip")
    probe = GoProbe()
    try:
        first = probe.take("/app/a", bytes(data))
        pid = probe._worker.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        assert gone(pid)
        again = probe.take("/app/a", bytes(data))  # the pipe is dead: analysed here
        assert probe._worker.failed and probe._worker.pid is None
        assert again == first == analyse_go_binary("/app/a", data)
        assert GoProbe()._worker.failed  # and so do the process's later archives
    finally:
        probe.close()


def test_stray_output_before_the_greeting_is_not_taken_for_an_answer(
    go_builds: GoBuilds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sitecustomize.py").write_text('print("site ready", flush=True)\n')
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    data = go_builds.data("hello-1.24-amd64-strip")
    probe = GoProbe()
    try:
        started = time.monotonic()
        assert probe.take("/app/a", bytes(data)) == analyse_go_binary("/app/a", data)
        assert probe._worker.failed  # it said something else first: read here instead, no hang
        assert time.monotonic() - started < 30
    finally:
        probe.close()


def test_the_worker_imports_what_this_process_imports(
    go_builds: GoBuilds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shadow = tmp_path / "pytest_imagesize"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('a different pytest_imagesize')\n")
    monkeypatch.chdir(tmp_path)  # `python -m` would import this one first
    data = go_builds.data("hello-1.24-amd64-strip")
    probe = GoProbe()
    try:
        assert probe.take("/app/a", bytes(data)) == analyse_go_binary("/app/a", data)
        assert not probe._worker.failed
    finally:
        probe.close()


def test_an_unused_worker_is_stopped_at_once() -> None:
    worker = GoWorker()
    worker.start()
    pid = worker.pid
    assert pid is not None
    started = time.monotonic()
    worker.close()
    assert time.monotonic() - started < 2.0  # killed, not waited for while it loads the reader
    assert gone(pid, 1.0)


def test_worker_ends_when_the_reading_process_is_killed(go_builds: GoBuilds) -> None:
    binary = go_builds.get("hello-1.24-amd64-strip")
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pytest_imagesize.measure.go.worker import GoWorker
                w = GoWorker()
                w.analyse("/app/x", open({str(binary)!r}, "rb").read())
                print(w.pid, flush=True)
                time.sleep(600)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert not gone(pid, 0.2)  # alive, waiting for the next binary
        parent.kill()
        parent.wait()
        assert gone(pid), f"the Go reader's process {pid} outlived the process that started it"
    finally:
        parent.kill()
        parent.wait()


@pytest.mark.parametrize("users", [None, "3"])
def test_the_worker_starts_no_blas_threads_unless_the_user_says_so(
    users: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if users is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", users)
    worker = GoWorker()
    worker.start()
    try:
        assert worker.analyse("/not-go", b"plain text") is None  # it runs and answers
        assert worker.pid is not None
        environ = Path(f"/proc/{worker.pid}/environ").read_bytes().split(b"\0")
        assert f"OPENBLAS_NUM_THREADS={users or 1}".encode() in environ
    finally:
        worker.close()
