"""Ctrl-C mid-build and mid-analysis, and an xdist worker killed mid-run: nothing the plugin
created stays on the engine and the baseline is kept. Every image these tests build has a fixture
name with a unique nonce, so what they left behind can be told from what concurrent runs on the
shared engine build."""

from __future__ import annotations

import docker
import pytest

from .conftest import MakeImageDir, write_scratch_dockerfile
from .support.baselines import recorded, write_baseline
from .support.faults import (
    PODMAN_BUILD_GOES_ON,
    KnownBug,
    expect,
    kill_pids,
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

pytestmark = pytest.mark.engine


# ---------------------------------------------------------------------------- Ctrl-C


@pytest.fixture
def system_builders(docker_client: docker.DockerClient, engine_name: str) -> list[str]:
    from pytest_imagesize.engine.buildx import buildx_available

    return ["classic"] + (["buildx"] if engine_name == "docker" and buildx_available() is None else [])


@pytest.mark.parametrize("build_with", ["classic", "buildx"])
def test_ctrl_c_mid_build_leaves_nothing_and_keeps_the_baseline(
    pytester: pytest.Pytester,
    request: pytest.FixtureRequest,
    docker_client: docker.DockerClient,
    busybox_image: str,
    system_builders: list[str],
    engine_name: str,
    build_with: str,
) -> None:
    if build_with not in system_builders:
        pytest.skip("buildx needs a Docker engine with the docker-buildx plugin")
    if engine_name == "podman":  # any other failure still fails the test
        request.applymarker(pytest.mark.xfail(strict=False, raises=KnownBug, reason=PODMAN_BUILD_GOES_ON))
    name, seconds = nonce(), sleep_seconds()
    (pytester.path / "Dockerfile").write_text(
        f"FROM {busybox_image}\nRUN echo {name} > /marker\nRUN busybox sleep {seconds}\n"
    )
    baseline = write_baseline(pytester.path / "image-sizes.json", {name: recorded()}, version=2)
    pytester.makepyfile(
        f"""
        from pytest_imagesize import build_image
        {name} = build_image("Dockerfile")

        def test_app({name}):
            pass
        """
    )
    run = start_pytest(pytester.path, [f"--image-builder={build_with}", "--image-baseline-update"])
    problems = []
    try:
        wait_for(lambda: pids_with_args("sleep", seconds), 120, f"the build's `RUN busybox sleep {seconds}`")
        run.interrupt()
        code, text = run.wait(120)
        assert code == pytest.ExitCode.INTERRUPTED, text
        assert (pytester.path / "image-sizes.json").read_bytes() == baseline
        assert "urllib3" not in text and "Traceback" not in text, text
        # the build stops with the run: no sleeping build step, no buildx process naming our tag
        try:
            wait_for(lambda: not pids_with_args("sleep", seconds), 30, "the interrupted build step to stop")
        except AssertionError as exc:
            problems.append(str(exc))
        wait_for(lambda: not pids_with_text(f"pytest-imagesize/{name}:"), 60, "the buildx process to end")
    finally:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        kill_pids(pids_with_args("sleep", seconds))  # never leave our build step sleeping for hours
    try:
        next_run(pytester, {}, busybox_image)
        left = our_leftovers(docker_client, name)
        if left:
            problems.append(f"left on the engine after the next run: {left}")
        assert (pytester.path / "image-sizes.json").read_bytes() == baseline
        expect(not problems, "; ".join(problems))
    finally:
        remove_ours(docker_client, name)  # whatever the outcome, the shared engine keeps nothing of ours


def test_ctrl_c_mid_analysis_leaves_nothing_and_keeps_the_baseline(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, busybox_image: str
) -> None:
    name = nonce()
    write_scratch_dockerfile(pytester.path, 20_000_000)
    baseline = write_baseline(pytester.path / "image-sizes.json", {name: recorded()}, version=2)
    marker = pytester.path / "reading"
    pytester.makepyfile(
        f"""
        import pathlib, time
        from pytest_imagesize import build_image
        from pytest_imagesize.engine.docker_api import DockerEngine
        {name} = build_image("Dockerfile")
        _save = DockerEngine.save

        def save(self, image_id):
            chunks = _save(self, image_id)
            yield next(chunks)
            pathlib.Path({str(marker)!r}).touch()
            time.sleep(120)  # Ctrl-C arrives here, with the archive half read
            yield from chunks

        def test_read({name}, monkeypatch):
            monkeypatch.setattr(DockerEngine, "save", save)
            assert {name}.compressed_size > 0
        """
    )
    run = start_pytest(pytester.path, ["--image-baseline-update"])
    try:
        wait_for(marker.exists, 120, "the analysis to start reading the archive")
        run.interrupt()
        code, text = run.wait(60)
    finally:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
    assert code == pytest.ExitCode.INTERRUPTED, text
    assert (pytester.path / "image-sizes.json").read_bytes() == baseline
    assert "urllib3" not in text, text
    assert our_leftovers(docker_client, name) == []  # this run's own cleanup ran
    next_run(pytester, {}, busybox_image)
    assert our_leftovers(docker_client, name) == []


# ---------------------------------------------------------------------------- pytest-xdist


def test_killed_xdist_worker_still_cleans_up(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, image_dir: MakeImageDir
) -> None:
    name = nonce()
    image_dir(2000)
    pytester.makepyfile(
        f"""
        import os, signal
        from pytest_imagesize import build_image
        {name} = build_image("Dockerfile")

        def test_dies({name}):
            os.kill(os.getpid(), signal.SIGKILL)

        def test_other():
            pass
        """
    )
    code, text, _ = run_pytest(pytester.path, ["-n", "2"])
    assert code == pytest.ExitCode.TESTS_FAILED, text
    assert "crashed" in text, text
    assert our_leftovers(docker_client, name) == []
