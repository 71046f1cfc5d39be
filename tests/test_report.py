"""The terminal table and the JSON report, from real builds."""

from __future__ import annotations

import json

import pytest

from .conftest import DOCKER_BYTES, MakeImageDir

pytestmark = [
    pytest.mark.engine,
    DOCKER_BYTES,
]

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


def test_report_table_lists_every_measured_image(pytester: pytest.Pytester, image_dir: MakeImageDir) -> None:
    image_dir(25_000, "big")
    image_dir(4_000, "small")
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--image-report")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- image sizes -*",
            "image  id *size  compressed  layers  limit  *headroom  verdict",
            "small  ????????????   4 KB           -       1  10 KB  *6 KB  passed",
            "big    ????????????  25 KB           -       1  20 KB  *5 KB over  failed",
            "measured by docker *",
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
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["small  * 4 KB  *"])


def test_json_report_follows_schema_version_2(pytester: pytest.Pytester, image_dir: MakeImageDir) -> None:
    image_dir(25_000, "big")
    image_dir(4_000, "small")
    pytester.makepyfile(SUITE)
    pytester.runpytest("--image-report-json=out/report.json").assert_outcomes(passed=2, failed=1)
    data = json.loads((pytester.path / "out" / "report.json").read_text())
    assert data["version"] == 2
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
    assert images["big"]["base"] is None and images["big"]["go_binaries"] is None
    if store == "graphdriver":
        # the engine's own number is the portable one: no archive was read, nothing guessed
        assert images["big"]["engine_size"] == 25_000
        assert images["big"]["compressed_size"] is None
        assert images["big"]["wasted_bytes"] is None
        assert images["big"]["layers"][0]["compressed_size"] is None
    else:  # the size came from the archive, which also gave the rest
        assert images["big"]["compressed_size"] > 25_000
        assert images["big"]["wasted_bytes"] == 0
    checks = sorted(data["checks"], key=lambda c: c["image"])
    assert checks == [
        {
            "test": "test_json_report_follows_schema_version_2.py::test_big",
            "image": "big",
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
