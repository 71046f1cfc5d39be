"""Progress lines for builds and archive reads: on lines of their own, through pytest's terminal."""

from __future__ import annotations

import re

import pytest

from .conftest import MakeImageDir

pytestmark = pytest.mark.engine

SUITE = """
import pytest
from pytest_imagesize import build_image
app = build_image("Dockerfile")

@pytest.mark.max_image_size("1MB", compressed=True)
def test_a(app):
    pass

def test_b(app):
    pass
"""


def test_build_and_read_have_start_and_end_lines(pytester: pytest.Pytester, image_dir: MakeImageDir) -> None:
    image_dir(3000)
    pytester.makepyfile(test_app=SUITE)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2)
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if line.startswith("building app (Dockerfile, "))
    assert re.fullmatch(r"built app in \d+\.\d s(: 3 KB)?", lines[start + 1]), lines[start + 1]
    read_start = start + 2
    assert lines[read_start].startswith("reading app (~") and lines[read_start].endswith(" archive) ...")
    assert re.fullmatch(r"read app in \d+\.\d s: 3 KB, [\d.]+ KB compressed", lines[read_start + 1])
    # pytest's own result line is taken up again below ours, with its file name
    assert lines[read_start + 2].startswith("test_app.py ..")


def test_quiet_drops_start_lines_and_off_drops_all(
    pytester: pytest.Pytester, image_dir: MakeImageDir
) -> None:
    image_dir(2000)
    pytester.makepyfile(test_app=SUITE)
    quiet = pytester.runpytest_subprocess("-q")
    quiet.assert_outcomes(passed=2)
    assert not [line for line in quiet.stdout.lines if line.startswith(("building app", "reading app"))]
    assert [line for line in quiet.stdout.lines if line.startswith("built app in ")]
    off = pytester.runpytest_subprocess("--image-progress=off")
    off.assert_outcomes(passed=2)
    assert not [line for line in off.stdout.lines if re.match(r"(building|built|reading|read) app", line)]


def test_xdist_workers_lines_reach_the_controller(pytester: pytest.Pytester, image_dir: MakeImageDir) -> None:
    image_dir(2500)
    pytester.makepyfile(test_app=SUITE)
    result = pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=2)
    text = result.stdout.str()
    assert text.count("built app in ") == 1  # one build, reported once
    assert "read app in " in text


def test_a_workers_read_after_its_last_test_still_reaches_the_controller(
    pytester: pytest.Pytester, image_dir: MakeImageDir, engine_name: str
) -> None:
    if engine_name != "podman":
        pytest.skip("only where the size comes from the archive (Podman) does a worker read after its tests")
    image_dir(2200)
    pytester.makepyfile(
        test_app="""
from pytest_imagesize import build_image
app = build_image("Dockerfile")

def test_uses_the_image_without_measuring_it(app):
    pass
"""
    )
    result = pytester.runpytest_subprocess("-n", "1")
    result.assert_outcomes(passed=1)
    # the worker reads the archive as it hands over its results, after its last test report
    assert [line for line in result.stdout.lines if line.startswith("read app in ")], result.stdout.str()
