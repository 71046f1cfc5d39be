"""Bad input the plugin refuses before it asks any engine: one ``ERROR:`` line naming what is
wrong and where (a marker, an ini value, an option, the baseline file), nothing built, nothing
changed on disk."""

from __future__ import annotations

import pytest

from ..support.output import assert_no_noise, text_of


def test_size_marker_without_image_fixture_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.max_image_size("5MB")
        def test_nothing():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *::test_nothing: *the test uses no image fixture; add one*"])


def test_bad_build_arg_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--image-build-arg", "NOEQUALS")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*error: argument --image-build-arg: 'NOEQUALS': write KEY=VALUE*"])


@pytest.mark.parametrize(
    "marker",
    ["max_image_size(10**400)", "max_image_growth(10**400)", 'max_image_growth("5%", floor=10**400)'],
)
def test_absurd_limits_are_rejected_at_collection(pytester: pytest.Pytester, marker: str) -> None:
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
    text = text_of(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    errors = [line for line in text.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, text
    assert "test_bad" in errors[0] and f"@pytest.mark.{marker.split('(')[0]}(" in errors[0], errors
    assert "too large" in errors[0], errors
    assert "does-not-exist" not in text
    assert_no_noise(text)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"version": 3, "images": {}}', "version 3 is not one this plugin reads"),
        ('{"version": 2, "images": {"app": {"size": 10000000000000000000}}}', "images['app'].size is 1000"),
        ('{"version": 1, "images": {"app": {"size": "big"}}}', "images['app'].size is 'big'"),
        ('{"version": 1, "images": []}', "'images' is missing or not an object"),
        ("[1, 2]", "the top level is not an object"),
    ],
)
def test_damaged_baseline_is_a_clear_error_and_left_untouched(
    pytester: pytest.Pytester, content: str, problem: str
) -> None:
    path = pytester.path / "image-sizes.json"
    path.write_text(content)
    before = path.read_bytes()
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--image-baseline-update")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    line = next(x for x in result.stderr.lines if x.startswith("ERROR: "))
    assert line.startswith(f"ERROR: baseline {path}: {problem}")
    assert "left untouched" in line
    assert path.read_bytes() == before
    assert sorted(p.name for p in pytester.path.iterdir() if "image-sizes" in p.name) == ["image-sizes.json"]


@pytest.mark.parametrize(
    ("ini", "error"),
    [
        ("imagesize_max_growth = five", "ERROR: ini imagesize_max_growth = five: 'five' is not a percentage"),
        (
            "imagesize_max_growth = 5%\nimagesize_growth_floor = 1 XB",
            "ERROR: ini imagesize_growth_floor = 1 XB: '1 XB' is not a size",
        ),
    ],
)
def test_bad_ini_growth_is_one_usage_error(pytester: pytest.Pytester, ini: str, error: str) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([error + "*"])
