"""forbid_packages on the example's single-stage image (built on the debootstrapped stand-in of
the Go image, ``example_project/scripts/make-standins``): the marker that passes on the runtime
image fails here, one line per Go toolchain package with its version, measured size, layer and
instruction; the HTML report of the run lists the image's packages."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import docker
import pytest

pytestmark = pytest.mark.engine

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"

TEST_FILE = """
import pytest
from pytest_imagesize import build_image

fat = build_image({dockerfile!r}, context={context!r})

@pytest.mark.forbid_packages(
    "gcc*", "g++*", "clang*", "golang*", "*-dev", "make", "apt", "dpkg",
    allow=("gcc-*-base",), strict=True,
)
def test_runtime_image_has_no_build_tools(fat):
    pass
"""


@pytest.fixture(scope="module")
def standins(docker_client: docker.DockerClient) -> dict[str, str]:
    """The stand-in base images' build arguments (made from the cached tree when missing)."""
    done = subprocess.run(
        ["bash", str(EXAMPLE / "scripts" / "make-standins")], capture_output=True, text=True, timeout=1200
    )
    if done.returncode != 0:
        pytest.fail(f"make-standins failed: {done.stderr.strip().splitlines()[-1:]}")
    return dict(line.split("=", 1) for line in done.stdout.split() if "=" in line)


def test_the_single_stage_image_fails_naming_its_go_toolchain_packages(
    pytester: pytest.Pytester, standins: dict[str, str]
) -> None:
    pytester.makepyfile(
        test_fat=TEST_FILE.format(dockerfile=str(EXAMPLE / "Dockerfile.single"), context=str(EXAMPLE))
    )
    report = pytester.path / "report.html"
    result = pytester.runpytest(
        "--image-build-arg",
        f"GO_IMAGE={standins['GO_IMAGE']}",
        f"--image-report-html={report}",
        "--image-report=packages",
    )
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    # the toolchain packages, largest first, each on its own line with its size and the layer
    # that wrote it (the stand-in's one imported layer: Docker says "Imported from -", Podman names
    # the file it added)
    found = re.findall(
        r"^E?\s+(golang-\S+) (\S+) \(deb\) ([\d.]+ [KMG]?B), layer 0: "
        r"(?:Imported from -|ADD file:[0-9a-f]+ in /)$",
        text,
        re.M,
    )
    names = [name for name, _, _ in found]
    assert names[:2] == ["golang-1.24-src", "golang-1.24-go"], text
    assert {"golang-go", "golang-src"} <= set(names)
    assert found[1][1].startswith("1.24") and found[1][2].endswith(" MB")
    assert float(found[1][2].split()[0]) > 50  # the compiler and its tools: over 50 MB
    assert re.search(r"^E?\s+dpkg \S+ \(deb\) [\d.]+ MB, layer 0", text, re.M), text
    assert "gcc-14-base" not in text.split("forbidden package")[1].split("image sizes")[0]  # allowed
    assert re.search(r"has \d+ forbidden packages \([\d.]+ MB\) \(@pytest\.mark\.forbid_packages\(", text)
    # --image-report=packages: the image's packages after the table
    assert re.search(r"^\s+[\d.]+ MB\s+[\d.]+ %\s+golang-1\.24-go \(deb\)", text, re.M), text
    page = report.read_text()
    assert 'data-package="golang-1.24-go" data-ecosystem="deb"' in page
    assert 'class="tm-packages"' in page
