"""The fault suite: engines killed mid-build and mid-read, Ctrl-C, a hung engine socket, a killed
xdist worker, baseline edge cases and error messages. Each case checks that the run says what went
wrong in one clear line and that nothing the plugin created stays on the engine (at the latest
after the next run, which sweeps the build records of dead runs).

Engines that get killed are disposable: a private dockerd from scripts/engine-dockerd (its own
data root), else a private ``podman system service``; the system engine is never stopped. Every
image these tests build has a fixture name with a unique nonce, so what they left behind can be
told from what concurrent runs on the shared engine build.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from .conftest import MakeImageDir, write_scratch_dockerfile
from .support.baselines import entry, write_baseline
from .support.faults import (
    DisposableEngine,
    KnownBug,
    PrivateDockerd,
    PrivatePodman,
    dockerd_unusable,
    expect,
    image_list,
    import_busybox,
    kill_pids,
    lines_with,
    our_leftovers,
    pids_with_args,
    pids_with_text,
    remove_ours,
    run_pytest,
    start_pytest,
    wait_for,
)
from .support.output import NOISE, assert_no_noise

pytestmark = pytest.mark.engine

WENT_AWAY = "the container engine went away during the build of"


def nonce() -> str:
    """A fixture name no other run uses: it is in our tag, and findable in the engine's images."""
    return f"fs{secrets.token_hex(5)}"


def sleep_seconds() -> str:
    """A sleep length no other process on the machine has on its command line."""
    return str(5000 + secrets.randbelow(90000))


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


def next_run(pytester: pytest.Pytester, engine_env: dict[str, str], busybox: str) -> None:
    """The next run after a crash: any run that reaches the engine sweeps dead runs' records."""
    (pytester.path / "next").mkdir(exist_ok=True)
    (pytester.path / "next" / "test_next.py").write_text(
        "from pytest_imagesize import existing_image\n"
        f"base = existing_image({busybox!r})\n\n"
        "def test_base(base):\n    assert base.size > 0\n"
    )
    code, text, _ = run_pytest(pytester.path / "next", [], engine_env, name="next")
    assert code == 0, text


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


# ---------------------------------------------------------------------------- Ctrl-C


def recorded(size: int = 1000, compressed: int | None = 500) -> dict[str, object]:
    """An image's entry in a version-2 baseline, as an earlier run recorded it."""
    fields = {"date": "2000-01-01", "commit": "0123456789ab"}
    return entry(size, compressed, {"name": "docker"}, instruction="COPY blob /blob", **fields)


@pytest.fixture
def system_builders(docker_client: docker.DockerClient, engine_name: str) -> list[str]:
    from pytest_imagesize.engine.buildx import buildx_available

    return ["classic"] + (["buildx"] if engine_name == "docker" and buildx_available() is None else [])


PODMAN_BUILD_GOES_ON = (
    "Podman 4.3's compat build API goes on with a build after its client disconnects and offers no "
    "way to stop it: the step image stays in use until that build ends. The plugin keeps its build "
    "record until everything is removed (session.cleanup), so the first run after the build ended "
    "removes it; this test's next run comes while the build may still be running"
)


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
        env["IMAGESIZE_ENGINE_TIMEOUT"] = "2"
    else:
        pytester.makeini("[pytest]\nimagesize_engine_timeout = 2\n")
    code, text, elapsed = run_pytest(pytester.path, [], env, timeout=120)
    assert code == pytest.ExitCode.TESTS_FAILED, text
    assert "1 passed, 2 errors" in text, text
    assert elapsed < 15, f"{elapsed:.1f} s against a hung socket\n{text}"
    hits = lines_with(text, f"no container engine answers at {hung} within 2 s (no answer: timed out)")
    assert len(hits) == 2, text  # one line per test that needs an image
    assert_no_noise(text)

    code, text, elapsed = run_pytest(pytester.path, ["--image-skip-without-docker", "-rs"], env, timeout=120)
    assert code == pytest.ExitCode.OK, text
    assert "1 passed, 2 skipped" in text, text
    assert elapsed < 15, f"{elapsed:.1f} s against a hung socket\n{text}"


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


# ---------------------------------------------------------------------------- baselines


def two_images(pytester: pytest.Pytester, first: str, second: str) -> None:
    write_scratch_dockerfile(pytester.path / "a", 3000)
    write_scratch_dockerfile(pytester.path / "b", 4000)
    pytester.makepyfile(
        f"""
        from pytest_imagesize import build_image
        {first} = build_image("a/Dockerfile")
        {second} = build_image("b/Dockerfile")

        def test_first({first}):
            pass

        def test_second({second}):
            pass
        """
    )


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_partial_update_keeps_recorded_values_and_an_unchanged_update_keeps_the_bytes(
    pytester: pytest.Pytester, docker_client: docker.DockerClient
) -> None:
    first, second = nonce(), nonce()
    two_images(pytester, first, second)
    path = pytester.path / "image-sizes.json"
    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update"])
    assert code == 0, text
    full = strict_json(path.read_text())["images"]
    assert full[first]["compressed_size"] and full[second]["compressed_size"]

    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update", "-k", "test_first"])
    assert code == 0, text
    partial = strict_json(path.read_text())["images"]
    assert partial[second] == full[second]
    for key in ("size", "compressed_size"):
        assert partial[first][key] == full[first][key], key

    # an older recording with the same numbers: the date and commit stay, the file is unchanged
    document = strict_json(path.read_text())
    for image in document["images"].values():
        image["date"], image["commit"] = "2000-01-01", "0123456789ab"
    before = (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    path.write_bytes(before)
    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update"])
    assert code == 0, text
    assert path.read_bytes() == before
    assert len(lines_with(text, "updated: nothing changed")) == 1, text
    assert our_leftovers(docker_client, first) == [] and our_leftovers(docker_client, second) == []


def test_failing_checks_do_not_stop_the_update(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, image_dir: MakeImageDir
) -> None:
    name = nonce()
    image_dir(5000)
    path = pytester.path / "image-sizes.json"
    write_baseline(path, {name: recorded(1000)}, version=2)
    pytester.makepyfile(
        f"""
        import pytest
        from pytest_imagesize import build_image
        {name} = build_image("Dockerfile")

        @pytest.mark.max_image_growth("1%")
        def test_growth({name}):
            pass

        @pytest.mark.max_image_size(100)
        def test_size({name}):
            pass
        """
    )
    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update"])
    assert code == pytest.ExitCode.TESTS_FAILED, text
    assert "2 failed" in text, text
    headers = [line for line in text.splitlines() if line.startswith(f"image {name} (")]
    assert len(headers) == 2, text  # one line per failing test says what failed
    assert "grew from 1,000 B" in headers[0] and "over the limit of 100 B" in headers[1], headers
    assert lines_with(text, "pytest_imagesize/") == [], text  # no traceback of plugin frames
    assert_no_noise(text)
    assert len(lines_with(text, f"baseline {path} updated: {name}")) == 1, text
    assert strict_json(path.read_text())["images"][name]["size"] >= 5000
    assert our_leftovers(docker_client, name) == []


def test_zero_baseline_gives_strict_json_report(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, image_dir: MakeImageDir
) -> None:
    name = nonce()
    image_dir(2000)
    write_baseline(pytester.path / "image-sizes.json", {name: recorded(0, 0)}, version=2)
    pytester.makepyfile(
        f"""
        import pytest
        from pytest_imagesize import build_image
        {name} = build_image("Dockerfile")

        @pytest.mark.max_image_growth("5%")
        def test_growth({name}):
            pass
        """
    )
    code, text, _ = run_pytest(pytester.path, ["--image-report-json=report.json"])
    assert code == pytest.ExitCode.TESTS_FAILED, text
    assert "Infinity" not in text and "inf%" not in text, text
    report = strict_json((pytester.path / "report.json").read_text())
    growth = [o for o in report["checks"] if o["kind"] == "max_image_growth"]
    assert len(growth) == 1 and growth[0]["actual"] is None and growth[0]["delta"] >= 2000, growth
    assert len([line for line in text.splitlines() if line.startswith(f"image {name} (")]) == 1, text
    assert_no_noise(text)
    assert our_leftovers(docker_client, name) == []


def test_absurd_baseline_size_is_one_line_and_cleanup_runs(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, image_dir: MakeImageDir
) -> None:
    name = nonce()
    image_dir(2000)
    path = pytester.path / "image-sizes.json"
    data = write_baseline(path, {name: recorded(987654321)}, version=2).replace(
        b"987654321", b"1" + b"0" * 400
    )
    assert b"0" * 400 in data
    path.write_bytes(data)
    pytester.makepyfile(
        f"""
        import pytest
        from pytest_imagesize import build_image
        {name} = build_image("Dockerfile")

        @pytest.mark.max_image_growth("5%")
        def test_growth({name}):
            pass
        """
    )
    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update"])
    assert code != pytest.ExitCode.OK, text
    hits = lines_with(text, f"baseline {path}")
    assert len(hits) == 1, text
    assert "0" * 100 not in hits[0], hits[0]  # the number is shortened, not printed whole
    assert_no_noise(text)
    assert path.read_bytes() == data
    assert our_leftovers(docker_client, name) == []


def one_image(pytester: pytest.Pytester, image_dir: MakeImageDir, name: str) -> None:
    image_dir(1500)
    pytester.makepyfile(
        f"""
        from pytest_imagesize import build_image
        {name} = build_image("Dockerfile")

        def test_app({name}):
            pass
        """
    )


def test_dangling_baseline_symlink_outside_is_refused(
    pytester: pytest.Pytester, image_dir: MakeImageDir, tmp_path: Path
) -> None:
    one_image(pytester, image_dir, nonce())
    outside = tmp_path / "outside"
    (pytester.path / "image-sizes.json").symlink_to(outside / "sizes.json")
    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update"])
    assert code == pytest.ExitCode.USAGE_ERROR, text
    hits = lines_with(text, "is a symlink to")
    assert len(hits) == 1 and "outside the project" in hits[0], text
    assert not outside.exists(), "something was created outside the rootdir"
    assert_no_noise(text)


def test_baseline_symlink_to_etc_passwd_is_refused(
    pytester: pytest.Pytester, image_dir: MakeImageDir
) -> None:
    one_image(pytester, image_dir, nonce())
    passwd = Path("/etc/passwd")
    before = (passwd.read_bytes(), passwd.stat().st_mtime_ns, sorted(os.listdir("/etc")))
    (pytester.path / "image-sizes.json").symlink_to(passwd)
    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update"])
    assert code == pytest.ExitCode.USAGE_ERROR, text
    hits = lines_with(text, "/etc/passwd")
    assert len(hits) == 1 and "is a symlink to /etc/passwd" in hits[0], text
    assert "fix or delete" not in hits[0] and "edit" not in hits[0], hits[0]
    assert (passwd.read_bytes(), passwd.stat().st_mtime_ns, sorted(os.listdir("/etc"))) == before
    assert_no_noise(text)


def test_explicit_baseline_outside_the_rootdir_is_allowed(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, image_dir: MakeImageDir, tmp_path: Path
) -> None:
    name = nonce()
    one_image(pytester, image_dir, name)
    outside = tmp_path / "elsewhere" / "sizes.json"
    code, text, _ = run_pytest(pytester.path, [f"--image-baseline={outside}", "--image-baseline-update"])
    assert code == 0, text
    assert strict_json(outside.read_text())["images"][name]["size"] > 0
    assert len(lines_with(text, f"baseline {outside} updated: {name}")) == 1, text
    assert our_leftovers(docker_client, name) == []


# ---------------------------------------------------------------------------- messages


def test_analysis_error_prints_once(pytester: pytest.Pytester, docker_client: docker.DockerClient) -> None:
    name = nonce()
    directory = write_scratch_dockerfile(pytester.path / "img", 3000).parent
    ref = f"pytest-imagesize-faults/{name}:1"
    image, _ = docker_client.images.build(path=str(directory), tag=ref)
    pytester.makepyfile(
        f"""
        import docker
        from pytest_imagesize import existing_image
        app = existing_image({ref!r})

        def test_app(app):
            docker.from_env().images.remove(app.id, force=True)
            app.compressed_size
        """
    )
    try:
        code, text, _ = run_pytest(pytester.path, [])
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.images.remove(str(image.id), force=True)
    assert code == pytest.ExitCode.TESTS_FAILED, text
    assert len(lines_with(text, "disappeared from the engine")) == 1, text
    assert_no_noise(text)


def test_read_file_of_a_missing_path_is_one_line(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, image_dir: MakeImageDir
) -> None:
    name = nonce()
    image_dir(1000)
    pytester.makepyfile(
        f"""
        from pytest_imagesize import build_image
        {name} = build_image("Dockerfile")

        def test_read({name}):
            {name}.read_file("/no/such/file")
        """
    )
    code, text, _ = run_pytest(pytester.path, [])
    assert code == pytest.ExitCode.TESTS_FAILED, text
    assert len(lines_with(text, "has no file /no/such/file")) == 1, text
    assert lines_with(text, "pytest_imagesize/") == [], text  # no traceback of plugin frames
    assert_no_noise(text)
    assert our_leftovers(docker_client, name) == []


def test_cli_inspect_of_an_empty_reference_is_one_accurate_line(docker_client: docker.DockerClient) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "pytest_imagesize.cli", "inspect", ""],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done
    output = (done.stdout + done.stderr).strip().splitlines()
    assert len(output) == 1, output
    assert "empty image reference" in output[0], output
    assert "lost the container engine" not in output[0]
