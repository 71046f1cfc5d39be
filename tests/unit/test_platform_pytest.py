"""Through pytest: a marker on a fixture that yields a multi-platform image is ONE test, failing
when any platform fails, its message one paragraph per failing platform; the reports carry one
row and one outcome per platform; the baseline takes one entry per platform and moves the plain
entry of an image that became multi-platform. The fixture measures fake images (no engine)."""

from __future__ import annotations

import json

import pytest

from ..support.baselines import entry, write_baseline
from ..support.output import text_of

CONFTEST = """
from tests.support.platforms import index_fixture

app = index_fixture("app", {"linux/amd64": 9_000, "linux/arm64": 7_000, "linux/arm/v7": 9_500})
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    return pytester


def test_one_test_fails_naming_each_failing_platform(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.max_image_size("8kB")
        def test_small(app):
            pass
        """
    )
    result = suite.runpytest("--image-report")
    text = text_of(result)
    result.assert_outcomes(failed=1)
    failures = text.split("short test summary info")[0]  # with CI set, the summary repeats them
    failing = [line for line in failures.splitlines() if line.startswith("image app[")]
    assert len(failing) == 2, text
    assert failing[0].startswith("image app[linux/amd64] (") and failing[0].endswith(
        "size is 9,000 B (9 KB), over the limit of 8,000 B (8 KB) by 1,000 B (1 KB) "
        "(@pytest.mark.max_image_size('8kB'))"
    )
    assert failing[1].startswith("image app[linux/arm/v7] (") and "by 1,500 B (1.5 KB)" in failing[1]
    assert "app[linux/arm64] (" not in text.split("image sizes")[0]  # the passing platform is not blamed
    table = text.split("- image sizes -")[1].splitlines()[2:5]
    assert [line.split()[:1] + line.split()[-3:] for line in table] == [
        ["app[linux/amd64]", "KB", "over", "failed"],
        ["app[linux/arm64]", "1", "KB", "passed"],
        ["app[linux/arm/v7]", "KB", "over", "failed"],
    ]


def test_platform_and_per_platform_limits(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.max_image_size("7.5kB", platform="linux/arm64/v8")
        def test_arm_is_smaller(app):
            pass

        @pytest.mark.max_image_size({"linux/amd64": "9kB", "*": "9.5kB"})
        def test_each_its_own(app):
            pass

        @pytest.mark.max_image_size("1kB", platform="linux/s390x")
        def test_no_such_platform(app):
            pass

        @pytest.mark.max_image_layers({"linux/amd64": 2})
        def test_a_platform_without_a_limit(app):
            pass
        """
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_no_such_platform _*",
            "@pytest.mark.max_image_size('1kB', platform='linux/s390x'): image app has no linux/s390x "
            "image; it has linux/amd64, linux/arm64, linux/arm/v7: pick one of those with platform=",
            "*_ test_a_platform_without_a_limit _*",
            "@pytest.mark.max_image_layers({'linux/amd64': 2}): no limit for linux/arm64, linux/arm/v7 "
            "of image app; add a key for each, or '*' for every platform not named",
            "*= short test summary info =*",
        ]
    )


def test_a_bad_platform_in_a_marker_is_a_usage_error(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.max_image_size({"linux": "9kB"})
        def test_bad(app):
            pass
        """
    )
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: *::test_bad: @pytest.mark.max_image_size({'linux': '9kB'}): "
            "platform 'linux' is not os/arch*"
        ]
    )


def test_reports_and_baseline_per_platform(suite: pytest.Pytester) -> None:
    # the image was single-platform (measured by an amd64 engine) and grew on amd64 since
    write_baseline(suite.path / "image-sizes.json", {"app": entry(8_000, date="2025-01-01")}, version=2)
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.max_image_growth("5%")
        @pytest.mark.max_image_size("10kB")
        def test_app(app):
            pass
        """
    )
    result = suite.runpytest(
        "--image-report-json=out.json", "--image-report-md=out.md", "--image-baseline-update"
    )
    text = text_of(result)
    result.assert_outcomes(failed=1)
    assert "image app[linux/amd64] (" in text and "grew from 8,000 B (8 KB) to 9,000 B (9 KB)" in text
    assert "image app[linux/arm64] (" not in text  # new on arm64: nothing to compare with
    data = json.loads((suite.path / "out.json").read_text())
    assert data["version"] == 3
    assert [(i["name"], i["platform"], i["source"]) for i in data["images"]] == [
        ("app[linux/amd64]", "linux/amd64", "registry"),
        ("app[linux/arm64]", "linux/arm64", "registry"),
        ("app[linux/arm/v7]", "linux/arm/v7", "registry"),
    ]
    assert data["images"][0]["baseline"]["delta"] == 1_000 and data["images"][1]["baseline"] is None
    assert [(c["image"], c["platform"], c["kind"], c["outcome"]) for c in data["checks"]] == [
        ("app[linux/amd64]", "linux/amd64", "max_image_size", "passed"),
        ("app[linux/arm64]", "linux/arm64", "max_image_size", "passed"),
        ("app[linux/arm/v7]", "linux/arm/v7", "max_image_size", "passed"),
        ("app[linux/amd64]", "linux/amd64", "max_image_growth", "failed"),
        ("app[linux/arm64]", "linux/arm64", "max_image_growth", "passed"),
        ("app[linux/arm/v7]", "linux/arm/v7", "max_image_growth", "passed"),
    ]
    markdown = (suite.path / "out.md").read_text()
    assert "| `app[linux/amd64]` | 9 KB (+12.5 % ▲) |" in markdown
    assert "| `app[linux/arm/v7]` | 9.5 KB (new) |" in markdown
    stored = json.loads((suite.path / "image-sizes.json").read_text())["images"]
    assert sorted(stored) == ["app[linux/amd64]", "app[linux/arm/v7]", "app[linux/arm64]"]
    assert [stored[k]["platform"] for k in ("app[linux/amd64]", "app[linux/arm64]")] == [
        "linux/amd64",
        "linux/arm64",
    ]
    assert stored["app[linux/amd64]"]["size"] == 9_000


def test_a_growth_marker_for_one_platform_leaves_the_ini_default_on_every_platform(
    suite: pytest.Pytester,
) -> None:
    write_baseline(suite.path / "image-sizes.json", {"app": entry(8_000)}, version=2)  # amd64 grew
    suite.makeini("[pytest]\nimagesize_max_growth = 5%\n")
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.max_image_growth("50%", platform="linux/amd64")
        def test_app(app):
            pass
        """
    )
    result = suite.runpytest("--image-report-json=out.json")
    result.assert_outcomes(failed=1)
    checks = json.loads((suite.path / "out.json").read_text())["checks"]
    assert [(c["image"], c["limit"], c["outcome"]) for c in checks] == [
        ("app[linux/amd64]", 50.0, "passed"),
        ("app[linux/amd64]", 5.0, "failed"),  # the ini default still applies to every platform
        ("app[linux/arm64]", 5.0, "passed"),
        ("app[linux/arm/v7]", 5.0, "passed"),
    ]
