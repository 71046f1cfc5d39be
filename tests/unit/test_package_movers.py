"""Packages in the baseline and in growth explanations, on package lists built here: the kept
list (≥ 1 % of the image plus the 50 largest) and whether it is complete, a round trip through
the baseline file, old entries without packages, and the movers' wording and JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_imagesize import baseline
from pytest_imagesize.compare.changes import compare
from pytest_imagesize.compare.wording import comparison_json, movers_lines
from pytest_imagesize.errors import BaselineError
from pytest_imagesize.measure.image import Image
from pytest_imagesize.measure.packages.kept import TOP_PACKAGES, kept
from pytest_imagesize.measure.packages.model import ImagePackages, Package
from pytest_imagesize.measure.summary import ImageSummary

from ..support.baselines import recorded, write_baseline
from ..support.fake_engine import FakeImage, measured

MB = 1_000_000


def many(n: int, total: int) -> ImagePackages:
    """``n`` small packages and two large ones, of ``total`` bytes."""
    small = [Package("deb", f"lib{i:03d}", "1", "amd64", 1_000 + i, None, 1, (0,)) for i in range(n)]
    big = [
        Package("deb", "libllvm19", "1:19.1.7-3", "amd64", 38 * MB, None, 9, (1,)),
        Package("python", "numpy", "2.3.0", "", 30 * MB, None, 900, (1,)),
    ]
    return ImagePackages(packages=big + small, unowned=10, total=total, databases=["deb: x"])


@pytest.fixture(scope="module")
def image() -> Image:
    fake = FakeImage.from_layers(
        [{"base": b"x" * 100}, {"tools": b"y" * 100}],
        created_by=["ADD rootfs.tar /", "RUN /bin/sh -c apt-get install -y clang"],
    )
    measured_image = measured(fake, name="app")[0]
    measured_image.analysis().packages = many(200, 500 * MB)
    return measured_image


def test_kept_is_the_top_50_plus_every_package_of_one_percent() -> None:
    report = many(200, 60 * MB)
    report.packages.append(Package("npm", "huge-but-late", "1", "", 700_000, None, 1, (1,)))
    names = [p.name for p in kept(report)]
    assert names[:2] == ["libllvm19", "numpy"] and len(names) == TOP_PACKAGES
    report.total = 50 * MB  # 1 % is now 500 kB: the 700 kB package is kept beyond the top 50
    assert "huge-but-late" in [p.name for p in kept(report)]


def test_the_baseline_keeps_the_packages_and_whether_the_list_is_complete(
    image: Image, tmp_path: Path
) -> None:
    summary = image.summary(files=True)
    assert summary.packages_complete is False and len(summary.packages) == TOP_PACKAGES
    entry = baseline.BaselineEntry.of(summary, {"name": "docker"}, "2026-12-02", "abc")
    text = json.dumps(entry.to_json())
    assert len(text) < 100_000  # a 500 MB image's entry stays small
    path = tmp_path / "image-sizes.json"
    write_baseline(path, {"app": json.loads(text)}, version=2)
    again = baseline.load(path)["app"]
    assert again.packages == entry.packages and again.packages_complete is False
    assert again.packages["deb:libllvm19"].layer == 1


def test_an_old_entry_without_packages_reads_and_explains_nothing_about_packages(
    image: Image, tmp_path: Path
) -> None:
    path = tmp_path / "image-sizes.json"
    write_baseline(path, {"app": recorded()}, version=2)
    old = baseline.load(path)["app"]
    assert old.packages == {} and old.packages_complete is None
    assert compare(old.summary(), image.summary(files=True)).packages == []


def test_a_damaged_package_entry_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "image-sizes.json"
    write_baseline(path, {"app": {**recorded(), "packages": {"deb:x": {"size": "big"}}}}, version=2)
    with pytest.raises(BaselineError, match=r"images\['app'\]\.packages\['deb:x'\]: size is 'big'") as info:
        baseline.load(path)
    assert "\n" not in str(info.value)


def test_movers_new_grown_gone_and_below_the_cut(image: Image) -> None:
    now = image.summary(files=True)
    packages = dict(now.packages)
    packages.pop("deb:libllvm19")  # new since
    packages["python:numpy"] = replace(packages["python:numpy"], size=20 * MB, version="2.2.0")
    packages["deb:gcc-14"] = replace(packages["python:numpy"], size=25 * MB)  # gone since
    packages["deb:lib000"] = replace(packages["deb:lib199"], size=500)  # below now's cut: not a mover
    before = replace(now, packages=packages)
    comparison = compare(before, now)
    assert [(m.key, m.status) for m in comparison.packages] == [
        ("deb:libllvm19", "added"),
        ("deb:gcc-14", "removed"),
        ("python:numpy", "grown"),
    ]
    lines = movers_lines(comparison)
    start = lines.index("  packages that moved:")
    assert lines[start + 1 : start + 4] == [
        "          +38 MB  package libllvm19 (deb) new in layer 1: RUN apt-get install -y clang",
        "          -25 MB  package gcc-14 (deb) gone",
        "          +10 MB  package numpy (python) (20 MB → 30 MB, 2.2.0 → 2.3.0)",
    ]
    data = comparison_json(comparison, "a", "b")["packages"]
    assert data[0] == {
        "ecosystem": "deb",
        "name": "libllvm19",
        "a": None,
        "b": 38 * MB,
        "delta": 38 * MB,
        "status": "added",
        "a_version": None,
        "b_version": "1:19.1.7-3",
        "layer": 1,
    }


def test_no_movers_when_a_side_is_not_known() -> None:
    a, b = ImageSummary(size=1), ImageSummary(size=2, packages_complete=True)
    assert compare(a, b).packages == []
