"""Bad input and faults: one clear line each, no tracebacks from docker-py or urllib3."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from .conftest import MakeImageDir, buildx_builds, write_scratch_dockerfile
from .support.faults import lines_with, nonce, our_leftovers, run_pytest
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
