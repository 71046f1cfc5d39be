"""Builders (classic, BuildKit through buildx) and engines reached over TCP."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from pytest_imagesize.engine.build import BuildSpec, tag_for

from .conftest import DOCKER_BYTES, MakeImageDir, buildx_builds, our_tags

pytestmark = pytest.mark.engine

CACHE_MOUNT = "FROM {base}\nRUN --mount=type=cache,target=/root/.cache echo built > /built\n"
SUITE = """
import pytest
from pytest_imagesize import build_image
app = build_image("Dockerfile")

def test_app(app):
    assert app.has_file("/built")
"""


@pytest.fixture
def needs_buildx(docker_client: docker.DockerClient) -> None:
    from pytest_imagesize.engine.buildx import buildx_available

    if "podman" in str(docker_client.version().get("Components", "")).lower():
        pytest.skip("BuildKit through buildx needs a Docker engine; this run is against Podman")
    problem = buildx_available()
    assert problem is None, f"{problem} (scripts/ensure-buildx installs it)"


def test_cache_mount_builds_with_buildx(
    pytester: pytest.Pytester, busybox_image: str, needs_buildx: None, cli_log: Path
) -> None:
    (pytester.path / "Dockerfile").write_text(CACHE_MOUNT.format(base=busybox_image))
    pytester.makepyfile(SUITE)
    pytester.runpytest_subprocess("--image-builder=buildx").assert_outcomes(passed=1)
    assert buildx_builds(cli_log) == 1


def test_auto_picks_buildx_on_docker(
    pytester: pytest.Pytester,
    busybox_image: str,
    needs_buildx: None,
    cli_log: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("IMAGESIZE_BUILDER", raising=False)
    (pytester.path / "Dockerfile").write_text(CACHE_MOUNT.format(base=busybox_image))
    pytester.makepyfile(SUITE)
    pytester.runpytest_subprocess("--image-builder=auto").assert_outcomes(passed=1)
    assert buildx_builds(cli_log) == 1


@pytest.mark.docker_only(reason="Docker's classic builder; Podman's buildah supports --mount")
def test_cache_mount_under_classic_says_buildkit_is_needed(
    pytester: pytest.Pytester, busybox_image: str
) -> None:
    (pytester.path / "Dockerfile").write_text(CACHE_MOUNT.format(base=busybox_image))
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--image-builder=classic")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*the --mount option requires BuildKit; this Dockerfile needs BuildKit: run pytest with "
            "--image-builder=buildx (or auto, with the docker buildx plugin installed)*"
        ]
    )


def test_buildx_failure_shows_the_failing_step_once(
    pytester: pytest.Pytester, busybox_image: str, needs_buildx: None, cli_log: Path
) -> None:
    (pytester.path / "Dockerfile").write_text(
        f"FROM {busybox_image}\nRUN echo step one\nRUN false\nRUN echo never\n"
    )
    pytester.makepyfile(
        "from pytest_imagesize import build_image\napp = build_image('Dockerfile')\n"
        "def test_a(app):\n    pass\n\ndef test_b(app):\n    pass\n"
    )
    result = pytester.runpytest_subprocess("--image-builder=buildx")
    result.assert_outcomes(errors=2)
    reports = [line for line in result.stdout.lines if line.startswith("build of ")]
    assert len(reports) == 2
    assert "failed at `RUN false`: " in reports[0] and "exit code: 1" in reports[0]
    result.stdout.fnmatch_lines(["--- last lines of the build log ---", "*RUN false*"], consecutive=False)
    assert buildx_builds(cli_log) == 1


def test_buildx_missing_is_one_clear_line(
    pytester: pytest.Pytester, image_dir: MakeImageDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_dir(100)
    real = shutil.which("docker")
    shim = tmp_path / "no-buildx"
    shim.mkdir()
    # what the docker CLI answers when the buildx plugin is not installed
    (shim / "docker").write_text(
        '#!/bin/sh\nif [ "$1" = buildx ]; then\n'
        "  echo \"docker: 'buildx' is not a docker command.\" >&2; exit 1\nfi\n"
        f'exec {real} "$@"\n'
    )
    (shim / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}:{os.environ['PATH']}")
    pytester.makepyfile(
        "from pytest_imagesize import build_image\napp = build_image('Dockerfile')\n"
        "def test_app(app):\n    pass\n"
    )
    result = pytester.runpytest_subprocess("--image-builder=buildx")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "--image-builder=buildx: `docker buildx version` failed: the docker-buildx plugin is not "
            "installed; install docker-buildx or use --image-builder=classic"
        ]
    )
    # auto falls back to the classic builder
    pytester.runpytest_subprocess("--image-builder=auto").assert_outcomes(passed=1)


def test_buildx_builder_name_is_passed_on(
    pytester: pytest.Pytester, image_dir: MakeImageDir, needs_buildx: None, cli_log: Path
) -> None:
    image_dir(100)
    pytester.makepyfile(
        "from pytest_imagesize import build_image\napp = build_image('Dockerfile')\n"
        "def test_app(app):\n    pass\n"
    )
    result = pytester.runpytest_subprocess("--image-builder=buildx", "--image-buildx-builder=no-such-builder")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*build of * failed: *no-such-builder*"])
    assert any("--builder no-such-builder" in line for line in cli_log.read_text().splitlines())


def test_interrupted_buildx_build_leaves_nothing_behind(
    pytester: pytest.Pytester, busybox_image: str, needs_buildx: None, docker_client: docker.DockerClient
) -> None:
    # Whatever this build could leave (an image, a container from one) carries this run's label:
    # other runs may share the engine, so it is this build's products that are looked for.
    run = f"pytest-imagesize-test.run={os.urandom(8).hex()}"
    # the run's label in the RUN line too: BuildKit's cache key of a RUN step ignores labels, and a
    # `RUN sleep 60` once completed on this engine would be a cache hit with nothing to interrupt
    (pytester.path / "Dockerfile").write_text(
        f"FROM {busybox_image}\nLABEL {run}\nRUN echo {run} > /dev/null && sleep 60\n"
    )
    pytester.makepyfile(
        "from pytest_imagesize import build_image\napp = build_image('Dockerfile')\n"
        "def test_app(app):\n    pass\n"
    )
    ours = tag_for("app", BuildSpec((pytester.path / "Dockerfile").resolve(), pytester.path.resolve()))
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--image-builder=buildx"],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not _buildx_running(pytester.path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _buildx_running(pytester.path), "the build never started"
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        # leave nothing running: the pytest run, and the buildx build it started (by their pids)
        for pid in _buildx_pids(pytester.path):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"pytest did not stop within 60 s of Ctrl-C:\n{output[-3000:]}")
    assert "KeyboardInterrupt" in output or "Interrupted" in output, output
    time.sleep(1)
    assert not _buildx_running(pytester.path), "docker buildx build kept running"
    assert docker_client.containers.list(all=True, filters={"label": run}) == []
    assert docker_client.api.images(all=True, filters={"label": run}) == []
    assert ours not in our_tags(docker_client)


def _buildx_pids(context: Path) -> list[int]:
    """The ``docker buildx build`` processes building ``context`` (a directory of this test's)."""
    out = subprocess.run(["pgrep", "-af", "buildx build"], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if str(context) in line]


def _buildx_running(context: Path) -> bool:
    return bool(_buildx_pids(context))


# ------------------------------------------------------------------ an engine over TCP


@pytest.fixture
def tcp_engine() -> Iterator[str]:
    """The local engine's socket forwarded to a TCP port on 127.0.0.1: docker-py and the CLI then
    talk to it exactly as to a remote engine at tcp://HOST:PORT."""
    target = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not target.startswith("unix://"):
        pytest.skip(f"DOCKER_HOST={target} is not a local socket to forward")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(target[len("unix://") :])
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{port}"
    stop.set()
    thread.join(timeout=5)
    server.close()


@DOCKER_BYTES
def test_engine_over_tcp(
    pytester: pytest.Pytester, image_dir: MakeImageDir, tcp_engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_dir(4096)
    monkeypatch.setenv("DOCKER_HOST", tcp_engine)
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image
        app = build_image("Dockerfile")

        @pytest.mark.max_image_size(4096)
        def test_app(app):
            assert app.size == 4096
            assert app.compressed_size > 4096
        """
    )
    result = pytester.runpytest_subprocess("--image-report")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["app  * 4.1 KB *passed"])
