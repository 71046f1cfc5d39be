"""The terminal table and the JSON report, from real builds: portable sizes to the byte on every
engine (Docker with either image store, Podman)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_imagesize.sizes import format_size

from .conftest import MakeImageDir

pytestmark = pytest.mark.engine

SUITE = """
import pytest
from pytest_imagesize import build_image

big = build_image("big/Dockerfile")
small = build_image("small/Dockerfile")

@pytest.mark.max_image_size("10kB", image="small")
def test_small(small):
    pass

@pytest.mark.max_image_size(20_000, image="big")
def test_big(big):
    pass

def test_no_check(big):
    pass
"""


def compressed_cells(report_path: Path) -> dict[str, str]:
    """What the table's compressed column must show per image: the compressed size the same run's
    JSON report gives, "-" where it gives none. Which images have one follows from how the store
    counts: Docker's graph-driver store gives the portable size itself, so an image whose checks all
    passed had no archive read (a failure may read it, to explain itself); every other store reads
    the archive for the size, and so knows the compressed size too."""
    data = json.loads(report_path.read_text())
    portable = data["engine"]["image_store"] == "graphdriver"
    failed = {check["image"] for check in data["checks"] if check["outcome"] == "failed"}
    cells = {}
    for image in data["images"]:
        compressed = image["compressed_size"]
        if not portable:
            assert compressed is not None, (data["engine"], image)
        elif image["name"] not in failed:
            assert compressed is None, (data["engine"], image)
        cells[image["name"]] = "-" if compressed is None else format_size(compressed)
    return cells


def test_report_table_lists_every_measured_image(
    pytester: pytest.Pytester, image_dir: MakeImageDir, engine_name: str
) -> None:
    image_dir(25_000, "big")
    image_dir(4_000, "small")
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--image-report", "--image-report-json=r.json")
    result.assert_outcomes(passed=2, failed=1)
    compressed = compressed_cells(pytester.path / "r.json")
    result.stdout.fnmatch_lines(
        [
            "*- image sizes -*",
            "image  id *size  compressed  layers  limit  *headroom  verdict",
            f"small  ????????????   4 KB  {compressed['small']:>10}       1  10 KB  *6 KB  passed",
            f"big    ????????????  25 KB  {compressed['big']:>10}       1  20 KB  *5 KB over  failed",
            f"measured by {engine_name} *",
        ]
    )


def test_bare_report_flag_does_not_swallow_a_path(pytester: pytest.Pytester, image_dir: MakeImageDir) -> None:
    image_dir(4_000, "small")
    pytester.makepyfile(
        test_one="""
        from pytest_imagesize import build_image
        small = build_image("small/Dockerfile")
        def test_small(small):
            pass
        """,
        test_other="def test_other():\n    assert False\n",
    )
    result = pytester.runpytest("--image-report", "test_one.py")
    result.assert_outcomes(passed=1)  # test_one.py was the path to run, not the report's value
    result.stdout.fnmatch_lines(["*- image sizes -*", "small  ????????????  *4 KB  * 1  -  *-  -"])


def test_json_report_follows_schema_version_2(pytester: pytest.Pytester, image_dir: MakeImageDir) -> None:
    image_dir(25_000, "big")
    image_dir(4_000, "small")
    pytester.makepyfile(SUITE)
    pytester.runpytest("--image-report-json=out/report.json").assert_outcomes(passed=2, failed=1)
    data = json.loads((pytester.path / "out" / "report.json").read_text())
    assert data["version"] == 3
    assert set(data["engine"]) == {"name", "version", "storage_driver", "arch", "image_store"}
    store = data["engine"]["image_store"]
    assert store in ("graphdriver", "containerd", "podman")
    images = {image["name"]: image for image in data["images"]}
    # the portable size, to the byte, on every engine
    assert images["small"]["size"] == 4_000
    assert images["big"]["size"] == 25_000
    assert images["big"]["layers"][0]["size"] == 25_000
    assert images["big"]["layers"][0]["diff_id"].startswith("sha256:")
    assert isinstance(images["big"]["engine_size"], int)
    assert images["big"]["id"].startswith("sha256:")
    assert images["big"]["ref"].startswith("pytest-imagesize/big:")
    for image in images.values():
        assert image["base"] is None
        # what the archive gives is there together, or not at all (never guessed)
        analysed = image["compressed_size"] is not None
        assert (image["wasted_bytes"] is not None) == analysed
        assert (image["layers"][0]["compressed_size"] is not None) == analysed
        assert image["go_binaries"] == ([] if analysed else None)
    if store == "graphdriver":
        # the engine's own number is the portable one; small passed its check: no archive read
        assert images["big"]["engine_size"] == 25_000
        assert images["small"]["engine_size"] == 4_000
        assert images["small"]["compressed_size"] is None
    else:  # the size came from the archive, which also gave the rest
        for image in images.values():
            assert image["compressed_size"] > image["size"]  # random bytes do not compress
            assert image["wasted_bytes"] == 0
    checks = sorted(data["checks"], key=lambda c: c["image"])
    assert checks == [
        {
            "test": "test_json_report_follows_schema_version_2.py::test_big",
            "image": "big",
            "platform": None,
            "kind": "max_image_size",
            "compressed": False,
            "limit": 20_000,
            "warn": None,
            "actual": 25_000,
            "outcome": "failed",
        },
        {
            "test": "test_json_report_follows_schema_version_2.py::test_small",
            "image": "small",
            "platform": None,
            "kind": "max_image_size",
            "compressed": False,
            "limit": 10_000,
            "warn": None,
            "actual": 4_000,
            "outcome": "passed",
        },
    ]


def test_warn_threshold_passes_with_a_warning_and_shows_warned(
    pytester: pytest.Pytester, image_dir: MakeImageDir
) -> None:
    image_dir(9_000)
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image
        app = build_image("Dockerfile")

        @pytest.mark.max_image_size("10kB", warn="8kB")
        def test_app(app):
            pass
        """
    )
    result = pytester.runpytest("--image-report", "--image-report-json=r.json")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*ImageSizeWarning: image app (*) size is 9,000 B (9 KB), above the warning threshold*",
            "app  * 9 KB  * warned",
        ]
    )
    data = json.loads((pytester.path / "r.json").read_text())
    assert data["checks"][0]["outcome"] == "warned"
