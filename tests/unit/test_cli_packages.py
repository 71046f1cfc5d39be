"""``pytest-imagesize packages`` and ``check --forbid-packages`` on an in-memory source, with a
package list built here in place of the readers' (tested on real databases elsewhere)."""

from __future__ import annotations

import json

import pytest

from pytest_imagesize.measure.image import Image
from pytest_imagesize.measure.packages.model import ImagePackages, Package

from ..support.fake_source import FakeSource
from .test_cli_sources import Run, run, sources  # noqa: F401  (fixtures)
from .test_measure_source import AMD64, app

REPORT = ImagePackages(
    packages=[
        Package("deb", "golang-1.24-go", "1.24.4-1", "amd64", 2_500, 120_000_000, 9, (1,)),
        Package("deb", "gcc-14-base", "14.2.0-19", "amd64", 300, 1_000, 2, (0,)),
        Package("deb", "base-files", "13.8", "amd64", 200, None, 3, (0,)),
    ],
    unowned=2_003,
    total=5_003,
    databases=["deb: var/lib/dpkg/status (3 packages)"],
)


@pytest.fixture
def with_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "package_report", property(lambda self: REPORT))


def test_packages_lists_the_largest_with_ecosystems_and_unowned(
    sources: dict[str, FakeSource],  # noqa: F811
    run: Run,  # noqa: F811
    with_packages: None,
) -> None:
    sources["oci:app"] = FakeSource([(AMD64, app())], reference="oci:app")
    status, out, err = run("packages", "oci:app", "--no-cache", "--top", "2")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].endswith(": 3 packages: deb 3 (3 KB); 2 KB unowned of 5 KB of files")
    assert lines[1] == "  database: deb: var/lib/dpkg/status (3 packages)"
    assert lines[3].split() == [
        "2.5",
        "KB",
        "50.0",
        "%",
        "golang-1.24-go",
        "(deb)",
        "1.24.4-1",
        "1",
        "120",
        "MB",
    ]
    assert lines[-1] == "  ... and 1 smaller package"
    status, out, _ = run("packages", "oci:app", "--no-cache", "--json")
    data = json.loads(out)
    assert data["image"] == "oci:app" and data["packages"][0]["name"] == "golang-1.24-go"
    assert data["unowned"] == 2_003


def test_check_forbid_packages(
    sources: dict[str, FakeSource],  # noqa: F811
    run: Run,  # noqa: F811
    with_packages: None,
) -> None:
    sources["oci:app"] = FakeSource([(AMD64, app())], reference="oci:app")
    status, out, _ = run(
        "check",
        "oci:app",
        "--no-cache",
        "--forbid-packages",
        "gcc*,golang-*",
        "--allow-packages",
        "gcc-*-base",
    )
    assert status == 1
    assert "golang-1.24-go 1.24.4-1 (deb) 2.5 KB, layer 1: RUN make data" in out
    assert "gcc-14-base" not in out
    status, out, _ = run("check", "oci:app", "--no-cache", "--forbid-packages", "apt", "--max", "1MB")
    assert status == 0 and "no forbidden packages" in out and "size" in out


def test_check_without_a_package_database_warns_or_fails_when_strict(
    sources: dict[str, FakeSource],  # noqa: F811
    run: Run,  # noqa: F811
) -> None:
    sources["oci:app"] = FakeSource([(AMD64, app())], reference="oci:app")
    status, out, _ = run("check", "oci:app", "--no-cache", "--forbid-packages", "gcc*")
    assert status == 0 and out.startswith("WARN oci:app") and "no package database" in out
    status, out, _ = run("check", "oci:app", "--no-cache", "--forbid-packages", "gcc*", "--packages-strict")
    assert status == 1 and out.startswith("FAIL oci:app")
    status, _, err = run(
        "check", "oci:app", "--no-cache", "--forbid-packages", "gcc*", "--package-ecosystem", "pip"
    )
    assert status == 2 and "ecosystem=('pip',)" in err and len(err.splitlines()) == 1
