"""forbid_packages on package lists built here (the readers are tested on real databases
elsewhere): globs, ecosystems, exceptions, the one line per offending package, and the image
without a package database (a warning, or a failure with strict=True)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_imagesize.checks import Context, Outcome, check_from_marker, evaluate, evaluate_all, resolve_image
from pytest_imagesize.measure.image import Image
from pytest_imagesize.measure.packages.model import ImagePackages, Package

from ..support.fake_engine import FakeImage, measured
from ..support.platforms import index_of

GO = Package("deb", "golang-1.24-go", "1.24.4-1", "amd64", 120_300_000, 121_000_000, 900, (0, 1))
PACKAGES = [
    GO,
    Package("deb", "libc6-dev", "2.41-12", "amd64", 12_000_000, None, 300, (1,)),
    Package("deb", "gcc-14-base", "14.2.0-19", "amd64", 100_000, None, 5, (0,)),
    Package("deb", "libc6", "2.41-12", "amd64", 13_000_000, None, 400, (0,)),
    Package("python", "gcc-wrapper", "1.0", "", 5_000, None, 3, (1,)),
    Package("npm", "<script>alert(1)</script>-dev", "1.0", "", 4_000, None, 2, (1,)),
]


@pytest.fixture(scope="module")
def image() -> Image:
    fake = FakeImage.from_layers(
        [{"base": b"x" * 100}, {"tools": b"y" * 100}],
        created_by=["ADD rootfs.tar /", "RUN /bin/sh -c apt-get install -y golang-go"],
    )
    measured_image = measured(fake, name="app")[0]
    measured_image.analysis().packages = ImagePackages(
        packages=list(PACKAGES), unowned=50, total=200, databases=["deb: var/lib/dpkg/status (4 packages)"]
    )
    return measured_image


@pytest.fixture(scope="module")
def bare() -> Image:
    return measured(FakeImage.from_layers([{"app": b"z" * 10}]), name="bare")[0]


def run(image: Image, *args: Any, **kwargs: Any) -> Outcome:
    check = resolve_image(check_from_marker("forbid_packages", args, kwargs), [image.name])
    return evaluate(check, image, "tests/test_x.py::test_x", Context())


def test_one_line_per_forbidden_package_with_version_size_layer_and_instruction(image: Image) -> None:
    outcome = run(image, "gcc*", "*-dev", "golang-*", "apt", ecosystem="deb", allow=("gcc-*-base",))
    assert outcome.outcome == "failed"
    first, *lines = outcome.message.splitlines()
    assert "has 2 forbidden packages (132.3 MB) (@pytest.mark.forbid_packages(" in first
    assert lines == [
        "  golang-1.24-go 1.24.4-1 (deb) 120.3 MB, layer 1: RUN apt-get install -y golang-go",
        "  libc6-dev 2.41-12 (deb) 12 MB, layer 1: RUN apt-get install -y golang-go",
    ]
    assert [d["name"] for d in outcome.details] == ["golang-1.24-go", "libc6-dev"]
    assert outcome.note == "2 found"


def test_every_ecosystem_by_default_and_a_tuple_of_them(image: Image) -> None:
    names = [d["name"] for d in run(image, "gcc*", "*-dev").details]
    assert names == ["libc6-dev", "gcc-14-base", "gcc-wrapper", "<script>alert(1)</script>-dev"]
    assert [d["name"] for d in run(image, "gcc*", ecosystem=("python", "npm")).details] == ["gcc-wrapper"]


def test_a_clean_image_passes(image: Image) -> None:
    outcome = run(image, "apt", "dpkg", "rpm")
    assert (outcome.outcome, outcome.message, outcome.note) == ("passed", "", "none found")


def test_no_package_database_warns_in_one_line_or_fails_when_strict(image: Image, bare: Image) -> None:
    warned = run(bare, "gcc*")
    assert warned.outcome == "warned"
    assert "\n" not in warned.message
    assert "has no package database of any ecosystem, so @pytest.mark.forbid_packages(" in warned.message
    assert "pass strict=True to fail on this" in warned.message
    assert run(bare, "gcc*", strict=True).outcome == "failed"
    # a database of another ecosystem than the ones looked at is no database either
    assert run(image, "requests", ecosystem="python").outcome == "passed"  # python packages exist
    assert run(image, "x", ecosystem="rpm").outcome == "warned"


def test_each_platform_is_checked_with_its_own_packages() -> None:
    app = index_of("app", {"linux/amd64": 9_000, "linux/arm64": 7_000})
    for platform, packages in (("linux/amd64", []), ("linux/arm64", [GO])):
        app[platform].analysis().packages = ImagePackages(packages=packages, databases=["deb: x (1 package)"])
    check = resolve_image(check_from_marker("forbid_packages", ("golang-*",), {}), ["app"])
    outcomes = evaluate_all(check, app, "tests/test_x.py::test_x")
    assert [(o.image, o.platform, o.outcome) for o in outcomes] == [
        ("app[linux/amd64]", "linux/amd64", "passed"),
        ("app[linux/arm64]", "linux/arm64", "failed"),
    ]
    assert outcomes[1].message.startswith("image app[linux/arm64] (")
    one = resolve_image(
        check_from_marker("forbid_packages", ("golang-*",), {"platform": "linux/amd64"}), ["app"]
    )
    assert [o.outcome for o in evaluate_all(one, app, "t.py::t")] == ["passed"]
