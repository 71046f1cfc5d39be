"""Bad input and faults: one clear line each, no tracebacks from docker-py or urllib3."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from pathlib import Path

import docker
import pytest

from .conftest import MakeImageDir, buildx_builds
from .support.output import assert_no_noise

pytestmark = pytest.mark.engine


@pytest.mark.parametrize(
    ("marker", "shown"),
    [
        ('max_image_size("5 XB")', "'5 XB' is not a size"),
        ('max_image_size("-1MB")', "'-1MB' is negative"),
        ('max_image_size("")', "'' is empty"),
        ("max_image_size(None)", "None is not a size"),
        ("max_image_size(0)", "0 is not a usable limit"),
        ("max_image_size(1.5)", "1.5 is not a size"),
        ("max_image_size([5])", "[5] is not a size"),
        ('max_image_growth("five")', "'five' is not a percentage"),
        ('max_image_growth("-2%")', "'-2%' is not a percentage >= 0"),
        ('max_image_growth("5%", floor="1 XB")', "'1 XB' is not a size"),
    ],
)
def test_invalid_limit_fails_before_any_build(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, marker: str, shown: str
) -> None:
    # A Dockerfile that would fail loudly if anything tried to build it.
    (pytester.path / "Dockerfile").write_text("FROM scratch\nCOPY does-not-exist /x\n")
    pytester.makepyfile(
        f"""
        import pytest
        from pytest_imagesize import build_image
        app = build_image("Dockerfile")

        @pytest.mark.{marker}
        def test_bad(app):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    line = next(x for x in result.stderr.lines if x.startswith("ERROR: "))
    assert line.startswith("ERROR: test_invalid_limit_fails_before_any_build.py::test_bad: ")
    assert f"@pytest.mark.{marker.split('(')[0]}(" in line
    assert f"): {shown}" in line
    assert "does-not-exist" not in result.stdout.str() + result.stderr.str()
    assert_no_noise(result)


def test_missing_dockerfile_and_context_name_the_resolved_path(pytester: pytest.Pytester) -> None:
    pytester.mkdir("ctx")
    (pytester.path / "Dockerfile").write_text("FROM scratch\n")
    pytester.makepyfile(
        """
        from pytest_imagesize import build_image
        nofile = build_image("nope/Dockerfile.missing", context=".")
        nodir = build_image("Dockerfile", context="no-such-dir")

        def test_nofile(nofile):
            pass

        def test_nodir(nodir):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    base = str(pytester.path)
    result.stdout.fnmatch_lines(
        [
            f"*Dockerfile 'nope/Dockerfile.missing' (resolved to {base}/nope/Dockerfile.missing) does not "
            "exist: fix the path given to build_image()*",
            f"*build context {base}/no-such-dir is not a directory*",
        ],
        consecutive=False,
    )
    assert_no_noise(result)


@pytest.mark.docker_only(reason="counts attempts through Docker engine events or the docker CLI")
def test_build_failure_errors_every_user_and_is_attempted_once(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, builder: str, cli_log: Path
) -> None:
    # RUN on scratch fails: there is no /bin/sh. The classic builder creates one container per
    # attempt (an engine event); BuildKit runs one `docker buildx build` per attempt.
    (pytester.path / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /Dockerfile\nRUN echo hello\n")
    pytester.makepyfile(
        """
        from pytest_imagesize import build_image
        broken = build_image("Dockerfile")

        def test_one(broken):
            pass

        def test_two(broken):
            pass

        def test_unrelated():
            pass
        """
    )
    since = int(time.time()) - 1
    result = pytester.runpytest_subprocess()
    until = int(time.time()) + 1
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*build of */Dockerfile (context *) failed at `RUN echo hello`: *",
            "*last lines of the build log*",
        ]
    )
    reports = [line for line in result.stdout.lines if line.startswith("build of ")]
    assert len(reports) == 2 and "failed at `RUN echo hello`" in reports[0]
    if builder == "buildx":
        assert buildx_builds(cli_log) == 1
    else:
        # the RUN step's container starts from the COPY step's image (tests running beside this
        # one create containers too)
        lines = result.stdout.lines
        after_copy = lines[lines.index("Step 2/4 : COPY Dockerfile /Dockerfile") + 1 :]
        step_image = next(m[1] for m in map(re.compile(r"^ ---> ([0-9a-f]{12,})$").match, after_copy) if m)
        events = docker_client.api.events(
            since=since, until=until, decode=True, filters={"type": "container", "event": "create"}
        )
        ours = [e for e in events if str(e.get("from", "")).removeprefix("sha256:").startswith(step_image)]
        assert len(ours) == 1
    assert_no_noise(result)


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
        [f"no container engine answers at unix://{socket} within 10 s (*): start an engine*"]
    )
    assert_no_noise(result)

    skipped = pytester.runpytest_subprocess("--image-skip-without-docker", "-rs")
    skipped.assert_outcomes(passed=1, skipped=2)
    skipped.stdout.fnmatch_lines([f"SKIPPED *no container engine answers at unix://{socket}*"])


def test_existing_image_that_is_missing_names_the_reference(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from pytest_imagesize import existing_image
        app = existing_image("pytest-imagesize-test/never-built:nope")

        def test_app(app):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*image 'pytest-imagesize-test/never-built:nope' is not present on the engine at *: build*"]
    )
    assert_no_noise(result)


def test_image_deleted_before_analysis_is_a_clear_error(
    pytester: pytest.Pytester, image_dir: MakeImageDir, docker_client: docker.DockerClient
) -> None:
    directory = image_dir(3000)
    image, _ = docker_client.images.build(path=str(directory.parent), tag="pytest-imagesize-test/vanishing:1")
    pytester.makepyfile(
        """
        import docker
        from pytest_imagesize import existing_image
        app = existing_image("pytest-imagesize-test/vanishing:1")

        def test_app(app):
            docker.from_env().images.remove(app.id, force=True)
            app.compressed_size
        """
    )
    try:
        result = pytester.runpytest()
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.images.remove(str(image.id), force=True)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E   *ImageNotFound: image app (*) disappeared from the engine before its archive could be read*"]
    )


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
