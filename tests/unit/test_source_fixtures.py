"""``registry_image()`` and ``oci_image()`` in a pytest run, with no engine (the fake source in
place of ``open_source``): an ``ImageIndex`` for an index, an ``Image`` for a platform, the
registry settings from options and ini, and the one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_imagesize.measure import from_source

from ..support.fake_source import FakeSource
from .test_measure_source import AMD64, ARM64, app

Opened = list[tuple[str, Any]]


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Opened:
    """Every ``open_source`` call (text, registry options); ``docker://reg.local/app:1`` is an
    index of two platforms, anything else under ``oci:`` a single image."""
    calls: Opened = []
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def fake_open(text: str, registry_options: Any = None) -> FakeSource | None:
        calls.append((text, registry_options))
        if text == "docker://reg.local/app:1":
            images = [(AMD64, app(seed=1)), (ARM64, app(extra=b"e" * 77, seed=2))]
            return FakeSource(images, index=True, reference=text)
        if text.startswith("oci"):
            return FakeSource([(AMD64, app())], reference=text)
        return None

    def options(insecure: Any = (), ca_file: Any = None) -> Any:
        return ("options", tuple(insecure), ca_file)

    monkeypatch.setattr(from_source, "open_source", fake_open)
    monkeypatch.setattr(from_source, "registry_options", options)
    return calls


def test_registry_image_yields_an_index_or_one_platform(pytester: pytest.Pytester, opened: Opened) -> None:
    (pytester.path / "ca.pem").write_text("not checked here\n")
    registries = "imagesize_insecure_registries =\n    reg.local\n    other:5000\n"
    pytester.makeini(f"[pytest]\n{registries}imagesize_registry_ca = ca.pem\n")
    pytester.makepyfile(
        """
        from pytest_imagesize import Image, ImageIndex, registry_image

        app = registry_image("reg.local/app:1")
        arm = registry_image("docker://reg.local/app:1", platform="linux/arm64/v8")

        def test_index(app):
            assert isinstance(app, ImageIndex) and app.platforms == ["linux/amd64", "linux/arm64"]
            assert app["linux/arm64"].size == 3003 + 2077
            assert app["linux/arm64"].name == "app[linux/arm64]"

        def test_platform(arm):
            assert isinstance(arm, Image) and arm.platform == "linux/arm64" and arm.source == "oci"
        """
    )
    result = pytester.runpytest("--image-insecure-registry", "third:443", "--image-report")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["app?linux/amd64? *", "app?linux/arm64? *"])
    texts = {text for text, _ in opened}
    assert texts == {"docker://reg.local/app:1"}
    options = {options for _, options in opened}
    assert options == {("options", ("reg.local", "other:5000", "third:443"), pytester.path / "ca.pem")}
    assert "no container engine" not in result.stdout.str()


def test_oci_image_of_a_directory_and_an_archive(pytester: pytest.Pytester, opened: Opened) -> None:
    (pytester.path / "layout").mkdir()
    (pytester.path / "app.tar").write_bytes(b"")  # not read: no tar, so no kind
    pytester.makepyfile(
        """
        from pytest_imagesize import Image, oci_image

        app = oci_image("layout", ref="app:1")

        def test_directory(app):
            assert isinstance(app, Image) and app.compressed_size > 0
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert [text for text, _ in opened] == [f"oci:{pytester.path / 'layout'}:app:1"]


def test_a_missing_layout_fails_the_test_in_one_line(pytester: pytest.Pytester, opened: Opened) -> None:
    pytester.makepyfile(
        """
        from pytest_imagesize import oci_image

        app = oci_image("nowhere")

        def test_app(app):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*nowhere: no such OCI layout directory or image archive: write it first*"])


def test_bad_declarations_are_refused_at_collection(pytester: pytest.Pytester, opened: Opened) -> None:
    bad = {
        "test_empty": ('registry_image("")', "registry_image() needs a reference like"),
        "test_platform": (
            'registry_image("reg.local/app:1", platform="linux")',
            "platform 'linux' is not os/architecture",
        ),
        "test_ref": (
            'oci_image("layout", ref="")',
            "oci_image(ref=...) needs the image's name in the layout",
        ),
    }
    for module, (declaration, _) in bad.items():
        pytester.makepyfile(
            **{module: f"from pytest_imagesize import oci_image, registry_image\napp = {declaration}\n"}
        )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=3)
    for _, message in bad.values():
        assert message in result.stdout.str()


def test_a_missing_ca_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--image-registry-ca", "missing.pem")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --image-registry-ca missing.pem: no such file; name a PEM CA certificate file"]
    )
