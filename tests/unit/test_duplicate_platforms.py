"""An index listing one platform twice (two ``linux/amd64`` manifests, e.g. of different
``os.version``): each image gets a name of its own, ``app[linux/amd64]`` then
``app[linux/amd64#2]`` in the index's order, in the measured index, the CLI's rows (from the
manifests alone and measured), the keys of ``packages``/``go --json --all-platforms`` and the
pairing of ``diff --all-platforms``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_imagesize import cli
from pytest_imagesize.measure import stored, targets
from pytest_imagesize.measure.from_source import measure_source
from pytest_imagesize.measure.index import ImageIndex, platform_labels
from pytest_imagesize.sources.model import ImageSource

from ..support.fake_source import FakeSource
from .test_measure_source import AMD64, ARM64, app


def twice_amd64(reference: str = "oci:app") -> FakeSource:
    return FakeSource(
        [(AMD64, app(seed=1)), (ARM64, app(seed=2)), (AMD64, app(extra=b"w" * 500, seed=3))],
        index=True,
        reference=reference,
    )


def test_labels_number_a_platform_listed_again() -> None:
    labels = platform_labels(["linux/amd64", "linux/arm64", "linux/amd64", None, "linux/amd64", None])
    assert labels == ["linux/amd64", "linux/arm64", "linux/amd64#2", "?", "linux/amd64#3", "?#2"]


def test_each_image_of_a_platform_listed_twice_has_its_own_name() -> None:
    index = measure_source(twice_amd64(), name="app", all_platforms=True)
    assert isinstance(index, ImageIndex)
    assert [image.name for image in index] == ["app[linux/amd64]", "app[linux/arm64]", "app[linux/amd64#2]"]
    assert [image.platform for image in index] == ["linux/amd64", "linux/arm64", "linux/amd64"]
    first, second = index["linux/amd64"], index["linux/amd64#2"]
    assert first.name == "app[linux/amd64]" and second.name == "app[linux/amd64#2]"
    assert second.compressed_size != first.compressed_size  # not the same image twice


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    made = {"oci:app": twice_amd64(), "oci:old": twice_amd64("oci:old")}

    def fake_open(text: str, registry_options: object = None) -> ImageSource | None:
        return made.get(text)

    for module in (targets, stored):
        monkeypatch.setattr(module, "open_source", fake_open)
        monkeypatch.setattr(module, "host_platform", lambda: AMD64)

    def call(*args: str) -> tuple[int, str, str]:
        status = cli.main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return call


def test_the_check_from_the_manifests_has_a_row_for_each(run: Run) -> None:
    status, out, err = run(
        "check", "oci:app", "--max", "1MB", "--compressed", "--all-platforms", "--no-cache"
    )
    assert status == 0, err
    assert [line.split(": ")[0] for line in out.splitlines()] == [
        "OK oci:app[linux/amd64]",
        "OK oci:app[linux/arm64]",
        "OK oci:app[linux/amd64#2]",
    ]


def test_the_measured_table_and_a_failing_check_name_each(run: Run) -> None:
    status, out, _ = run("inspect", "oci:app", "--all-platforms", "--no-cache")
    assert status == 0
    rows = [line.split()[0] for line in out.splitlines()[1:]]
    assert rows == ["oci:app[linux/amd64]", "oci:app[linux/arm64]", "oci:app[linux/amd64#2]"]
    status, out, _ = run("check", "oci:app", "--max", "5100", "--all-platforms", "--no-cache")
    assert status == 1
    assert [line.split(": ")[0] for line in out.splitlines() if line.startswith(("OK", "FAIL"))] == [
        "OK oci:app[linux/amd64]",
        "OK oci:app[linux/arm64]",
        "FAIL oci:app[linux/amd64#2]",
    ]


def test_diff_of_every_platform_pairs_each_with_its_namesake(run: Run) -> None:
    status, out, _ = run("diff", "oci:app", "oci:old", "--all-platforms", "--no-cache")
    assert status == 0, out  # the same images on both sides: nothing changed, nothing unpaired
    headers = [line for line in out.splitlines() if "→" in line and line.startswith("oci:")]
    assert headers == [
        "oci:old[linux/amd64] → oci:app[linux/amd64]",
        "oci:old[linux/arm64] → oci:app[linux/arm64]",
        "oci:old[linux/amd64#2] → oci:app[linux/amd64#2]",
    ]


@pytest.mark.parametrize("command", ["packages", "go"])
def test_the_json_of_every_platform_keeps_each(run: Run, command: str) -> None:
    status, out, err = run(command, "oci:app", "--json", "--all-platforms", "--no-cache")
    assert status == 0, err
    assert list(json.loads(out)["platforms"]) == ["linux/amd64", "linux/arm64", "linux/amd64#2"]
