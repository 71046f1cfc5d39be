"""The engine lost: killed mid-build and mid-read, a hung engine socket, no engine at all, an engine
gone mid-run. Each case checks that the run says what went wrong in one clear line and that
nothing the plugin created stays on the engine (at the latest after the next run, which sweeps the
build records of dead runs). The other fault tests: tests/test_faults_*.py.

Engines that get killed are disposable: a private dockerd from scripts/engine-dockerd (its own
data root), else a private ``podman system service``; the system engine is never stopped. Every
image these tests build has a fixture name with a unique nonce, so what they left behind can be
told from what concurrent runs on the shared engine build.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import MakeImageDir, write_scratch_dockerfile
from .support.faults import (
    DisposableEngine,
    PrivateDockerd,
    PrivatePodman,
    dockerd_unusable,
    expect,
    image_list,
    import_busybox,
    kill_pids,
    lines_with,
    next_run,
    nonce,
    our_leftovers,
    pids_with_args,
    pids_with_text,
    remove_ours,
    run_pytest,
    sleep_seconds,
    start_pytest,
    wait_for,
)
from .support.output import NOISE, assert_no_noise

pytestmark = pytest.mark.engine

WENT_AWAY = "the container engine went away during the build of"


# ---------------------------------------------------------------------------- disposable engines


@pytest.fixture(scope="class")
def disposable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DisposableEngine]:
    """A private engine the tests of a class may kill: scripts/engine-dockerd's current dockerd (so
    buildx can be tested), else a private Podman service."""
    directory = tmp_path_factory.mktemp("engine")
    engine: DisposableEngine
    problem = dockerd_unusable()
    if problem is None:
        engine = PrivateDockerd(directory)
        try:
            engine.start()
        except RuntimeError as exc:
            problem = str(exc)
    if problem is not None:
        if shutil.which("podman") is None:
            pytest.skip(f"no engine that may be killed: {problem}; and podman is not installed")
        engine = PrivatePodman(directory)
        engine.dockerd_problem = problem
        engine.start()
    try:
        with engine.client() as client:
            engine.busybox = import_busybox(client, "pytest-imagesize-faults/busybox:1")
        yield engine
    finally:
        if isinstance(engine, PrivateDockerd):
            engine.stop()
            shutil.rmtree(engine.data_root, ignore_errors=True)
        else:
            with engine.client() as client:
                for marker in engine.markers:  # Podman's storage is shared: only what our tests made
                    remove_ours(client, marker)
                if engine.busybox:  # by ID: every tag (Podman's import adds "latest")
                    client.images.remove(str(client.images.get(engine.busybox).id), force=True)
            engine.stop()


def engine_state(engine: DisposableEngine) -> set[str]:
    """The images and containers on a private dockerd (before a test's runs)."""
    if engine.kind != "docker":
        return set()
    with engine.client() as client:
        return {image_id for image_id, _ in image_list(client)} | {
            f"container {c['Id']}" for c in client.api.containers(all=True)
        }


def engine_left(engine: DisposableEngine, marker: str, before: set[str]) -> list[str]:
    """What the runs of this test put on the disposable engine and left there: our tags and the
    images whose history names ``marker``; on a private dockerd (a data root of our own, used by
    this module only) any image or container that was not there before."""
    engine.markers.append(marker)
    with engine.client() as client:
        left = our_leftovers(client, marker)
        if engine.kind == "docker":
            for image_id, tags in image_list(client):
                if image_id not in before:
                    left.append(f"{image_id[:19]} {tags or 'untagged'}, not there before")
            for container in client.api.containers(all=True):
                if f"container {container['Id']}" not in before:
                    state, image = container.get("State"), container.get("Image")
                    left.append(f"container {container['Id'][:12]} ({state}, image {image})")
    return sorted(set(left))


class TestKilledEngine:
    """The engine dies under a run: one line, and the next run leaves the engine as it was."""

    @pytest.mark.parametrize(
        "build_with",
        [
            "classic",
            "buildx",
        ],
    )
    def test_engine_killed_mid_build_is_one_line_and_next_run_sweeps(
        self, pytester: pytest.Pytester, disposable: DisposableEngine, build_with: str
    ) -> None:
        if build_with == "buildx" and disposable.kind != "docker":
            pytest.skip(
                "buildx needs a Docker engine and scripts/engine-dockerd gave none: "
                + disposable.dockerd_problem
            )
        name, seconds = nonce(), sleep_seconds()
        busybox: str = disposable.busybox
        (pytester.path / "Dockerfile").write_text(
            f"FROM {busybox}\nRUN echo {name} > /marker\nRUN sleep {seconds}\n"
        )
        pytester.makepyfile(
            f"""
            from pytest_imagesize import build_image
            {name} = build_image("Dockerfile")

            def test_app({name}):
                pass

            def test_without_image():
                pass
            """
        )
        before = engine_state(disposable)
        run = start_pytest(pytester.path, [f"--image-builder={build_with}"], disposable.env())
        try:
            wait_for(lambda: pids_with_args("sleep", seconds), 120, f"the build's `RUN sleep {seconds}`")
            disposable.crash()
            code, text = run.wait(120)
        finally:
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()
            disposable.restart()
            kill_pids(pids_with_args("sleep", seconds))
        assert code == pytest.ExitCode.TESTS_FAILED, text
        assert "1 passed, 1 error" in text, text
        wait_for(lambda: not pids_with_text(f"pytest-imagesize/{name}:"), 30, "the buildx process to end")
        next_run(pytester, disposable.env(), busybox)
        problems = []
        left = engine_left(disposable, name, before)
        if left:
            problems.append(f"left on the engine after the next run: {left}")
        went_away = lines_with(text, WENT_AWAY)
        if len(went_away) != 1:
            problems.append(f"{len(went_away)} lines say the engine went away")
        noise = [word for word in NOISE if word in text]
        if noise:
            problems.append(f"noise in the output: {noise}")
        expect(not problems, "; ".join(problems) + f"\n{text[-3000:]}")
        assert f"{pytester.path}/Dockerfile" in went_away[0], went_away
        assert f"({build_with} builder)" in went_away[0] or disposable.kind == "podman", went_away

    def test_engine_killed_mid_read_is_one_line_and_next_run_sweeps(
        self, pytester: pytest.Pytester, disposable: DisposableEngine
    ) -> None:
        """The engine dies while `docker save` streams a 100 MB archive."""
        name = nonce()
        write_scratch_dockerfile(pytester.path, 100_000_000)
        pid = disposable.pid
        before = engine_state(disposable)
        pytester.makepyfile(
            f"""
            import os, signal
            from pytest_imagesize import build_image
            from pytest_imagesize.engine.docker_api import DockerEngine
            {name} = build_image("Dockerfile")
            _save = DockerEngine.save

            def save(self, image_id):
                chunks = _save(self, image_id)
                yield next(chunks)
                os.kill({pid}, signal.SIGKILL)  # the engine dies with the archive half read
                yield from chunks

            def test_read({name}, monkeypatch):
                monkeypatch.setattr(DockerEngine, "save", save)
                assert {name}.compressed_size > 0
            """
        )
        try:
            code, text, _ = run_pytest(pytester.path, ["--image-builder=classic"], disposable.env())
        finally:
            disposable.restart()
        assert code == pytest.ExitCode.TESTS_FAILED, text
        lost = lines_with(text, "lost the container engine at")
        reading = [line for line in lost if "while saving image" in line]
        assert len(reading) == 1 and reading[0].startswith("E   "), text
        assert f"image {name} (" in reading[0], reading
        # the only other mention: the cleanup could not run, and says who will do it
        assert [
            line for line in lost if line not in reading and "the next run removes them" not in line
        ] == []
        assert_no_noise(text)

        next_run(pytester, disposable.env(), disposable.busybox)
        assert engine_left(disposable, name, before) == []

    def test_engine_killed_mid_read_by_the_cli_is_one_line(
        self, tmp_path: Path, disposable: DisposableEngine
    ) -> None:
        """The CLI streams the archive itself (the quick engine): the engine dies half-way."""
        import subprocess
        import textwrap

        write_scratch_dockerfile(tmp_path, 100_000_000)
        tag = f"pytest-imagesize-faults/cli-read:{nonce()}"
        with disposable.client() as client:
            client.images.build(path=str(tmp_path), tag=tag, rm=True, forcerm=True)
        script = textwrap.dedent(
            f"""
            import os, signal, sys
            from pytest_imagesize import cli
            from pytest_imagesize.engine.quick import QuickEngine
            _save = QuickEngine.save

            def save(self, image_id):
                chunks = _save(self, image_id)
                yield next(chunks)
                os.kill({disposable.pid}, signal.SIGKILL)  # the engine dies with the archive half read
                yield from chunks

            QuickEngine.save = save
            sys.argv = ["pytest-imagesize", "inspect", {tag!r}, "--layers", "--no-cache"]
            sys.exit(cli.main())
            """
        )
        try:
            done = subprocess.run(
                [sys.executable, "-c", script],
                env=disposable.env(),
                capture_output=True,
                text=True,
                timeout=300,
                cwd=tmp_path,
            )
        finally:
            disposable.restart()
            with disposable.client() as client:
                client.images.remove(tag, force=True)
        output = (done.stdout + done.stderr).strip().splitlines()
        assert done.returncode == 2, (done.returncode, output)
        assert len(output) == 1, output
        assert "lost the container engine at" in output[0] and "while saving image" in output[0], output
        assert "damaged" not in output[0] and "truncated" not in output[0], output  # the engine's line


# ---------------------------------------------------------------------------- a hung engine


def image_tests(pytester: pytest.Pytester, image_dir: MakeImageDir) -> None:
    image_dir(1000)
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image, existing_image
        app = build_image("Dockerfile")
        other = existing_image("myorg/app:ci")

        @pytest.mark.max_image_size("1MB")
        def test_app(app):
            pass

        def test_other(other):
            pass

        def test_without_image():
            pass
        """
    )


@pytest.mark.parametrize("configured_by", ["environment", "ini"])
def test_hung_engine_errors_quickly_in_one_line(
    pytester: pytest.Pytester, image_dir: MakeImageDir, hung: str, configured_by: str
) -> None:
    image_tests(pytester, image_dir)
    env = {"DOCKER_HOST": hung, "IMAGESIZE_ENGINE_TIMEOUT": ""}
    if configured_by == "environment":
        env["IMAGESIZE_ENGINE_TIMEOUT"] = "1"
    else:
        pytester.makeini("[pytest]\nimagesize_engine_timeout = 1\n")
    code, text, elapsed = run_pytest(pytester.path, [], env, timeout=120)
    assert code == pytest.ExitCode.TESTS_FAILED, text
    assert "1 passed, 2 errors" in text, text
    assert elapsed < 15, f"{elapsed:.1f} s against a hung socket\n{text}"
    hits = lines_with(text, f"no container engine answers at {hung} within 1 s (no answer: timed out)")
    assert len(hits) == 2, text  # one line per test that needs an image
    assert_no_noise(text)

    code, text, elapsed = run_pytest(pytester.path, ["--image-skip-without-docker", "-rs"], env, timeout=120)
    assert code == pytest.ExitCode.OK, text
    assert "1 passed, 2 skipped" in text, text
    assert elapsed < 15, f"{elapsed:.1f} s against a hung socket\n{text}"


# ---------------------------------------------------------------------------- no engine, an engine gone


def test_unreachable_engine_errors_in_one_line_and_can_skip(
    pytester: pytest.Pytester, image_dir: MakeImageDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_dir(1000)
    socket = pytester.path / "nothing-listens.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket}")
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image, existing_image
        app = build_image("Dockerfile")
        other = existing_image("myorg/app:ci")

        @pytest.mark.max_image_size("1MB")
        def test_app(app):
            pass

        def test_other(other):
            pass

        def test_without_image():
            pass
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            f"no container engine answers at unix://{socket} within 10 s (*): start an engine*"
            "; --image-skip-without-docker skips image tests instead"
        ]
    )
    assert_no_noise(result)

    skipped = pytester.runpytest_subprocess("--image-skip-without-docker", "-rs")
    skipped.assert_outcomes(passed=1, skipped=2)
    skipped.stdout.fnmatch_lines([f"SKIPPED *no container engine answers at unix://{socket}*"])
    skipped.stdout.no_fnmatch_line("*skips image tests instead*")


def test_engine_gone_mid_run_is_one_line(
    pytester: pytest.Pytester, image_dir: MakeImageDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private Podman service that stops between two tests: the next engine access is one line."""
    if shutil.which("podman") is None:
        pytest.fail("podman is missing: install Debian's podman (scripts/ensure-test-tools)")
    image_dir(2000)
    sock = tmp_path / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
        pytester.makepyfile(
            f"""
            import os, signal, time
            from pytest_imagesize import build_image
            app = build_image("Dockerfile")

            def test_build(app):
                assert app.size > 0

            def test_engine_goes_away(app):
                os.kill({service.pid}, signal.SIGTERM)
                time.sleep(2)

            def test_needs_the_engine(app):
                app.read_file("/blob")
            """
        )
        # Podman builds with its own builder (buildx needs a Docker engine)
        result = pytester.runpytest_subprocess("--image-builder=classic")
    finally:
        service.terminate()
        service.wait(timeout=30)
        built = subprocess.run(
            ["podman", "images", "-q", "--filter", "label=io.github.pytest-imagesize.managed=true"],
            capture_output=True,
            text=True,
        ).stdout.split()
        if built:
            subprocess.run(["podman", "rmi", "-f", *built], capture_output=True)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"E   *EngineUnavailable: image app (*): lost the container engine at unix://{sock} while "
            "reading /blob from image * (*): start an engine*"
        ]
    )
    assert "urllib3" not in result.stdout.str()
