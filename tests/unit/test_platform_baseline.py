"""Baseline entries per platform: keyed ``app[linux/arm64]`` for a multi-platform image (a plain
image keeps its name), each recording its ``platform``; an image that becomes multi-platform keeps
its history (its plain entry reads as the entry of the platform it was measured for: recorded,
else the engine's architecture, else this host's) and an update moves it; growth, the reports and
``pytest-imagesize diff`` read per platform."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_imagesize import baseline, cli
from pytest_imagesize.baseline import BaselineEntry, lookup
from pytest_imagesize.checks import Context, check_from_marker, evaluate_all, resolve_image
from pytest_imagesize.engine.protocol import Engine
from pytest_imagesize.errors import BaselineError, EngineUnavailable, ImageSizeWarning
from pytest_imagesize.measure.image import Image
from pytest_imagesize.measure.index import ImageIndex
from pytest_imagesize.measure.targets import Side
from pytest_imagesize.reports.json_report import document
from pytest_imagesize.reports.terminal import rows
from pytest_imagesize.session import ImageSizeSession
from pytest_imagesize.sources import platforms

from ..support.fake_engine import measured, settings
from ..support.platforms import index_of, sized

DOCKER_AMD = {"name": "docker", "version": "27.0.0", "storage_driver": "overlay2", "arch": "amd64"}


def session(tmp_path: Path) -> ImageSizeSession:
    def connect() -> Engine:
        raise EngineUnavailable("these tests measure their images themselves")

    return ImageSizeSession(
        settings=settings(tmp_path / "image-sizes.json"), connect=connect, sweep_leftovers=False
    )


def entry_of(image: Image, **changes: Any) -> BaselineEntry:
    """The entry a run records for ``image``, with ``changes``."""
    summary = image.summary(files=True)
    engine = dict(DOCKER_AMD)
    return replace(BaselineEntry.of(summary, engine, "2026-01-01", "abc"), **changes)


@pytest.fixture
def app() -> ImageIndex:
    return index_of("app", {"linux/amd64": 9_000, "linux/arm64": 7_000})


@pytest.fixture
def plain() -> Image:
    """The same amd64 image as ``app``'s, measured on an (amd64) engine as a single image."""
    return measured(sized(9_000, "linux/amd64"), name="app")[0]


def test_entries_are_keyed_per_platform_and_record_it(tmp_path: Path, app: ImageIndex, plain: Image) -> None:
    state = session(tmp_path)
    state.add(app)
    entries = state.baseline_entries(tmp_path)
    assert list(entries) == ["app[linux/amd64]", "app[linux/arm64]"]
    assert [(e.size, e.platform) for e in entries.values()] == [
        (9_000, "linux/amd64"),
        (7_000, "linux/arm64"),
    ]
    single = session(tmp_path)
    single.add(plain)
    (name, entry), *_ = single.baseline_entries(tmp_path).items()
    assert (name, entry.platform) == ("app", "linux/amd64")  # the engine's platform, recorded


def test_the_platform_round_trips_through_the_file(tmp_path: Path, app: ImageIndex) -> None:
    path = tmp_path / "image-sizes.json"
    arm = entry_of(app["linux/arm64"], platform="linux/arm64")
    _, changed = baseline.update(path, {"app[linux/arm64]": arm})
    assert changed == ["app[linux/arm64]"]
    data = json.loads(path.read_text())
    assert data["version"] == 2 and data["images"]["app[linux/arm64]"]["platform"] == "linux/arm64"
    assert baseline.load(path)["app[linux/arm64]"] == arm
    path.write_text(path.read_text().replace('"platform": "linux/arm64"', '"platform": 64'))
    with pytest.raises(
        BaselineError, match=r"images\['app\[linux/arm64\]'\].platform must be a string or null"
    ):
        baseline.load(path)


def test_a_plain_entry_is_the_history_of_the_platform_it_was_measured_for(
    app: ImageIndex, plain: Image
) -> None:
    old = entry_of(plain)  # no platform recorded; measured by an amd64 engine
    assert old.platform is None and old.measured_for == "linux/amd64"
    entries = {"app": old}
    assert lookup(entries, "app[linux/amd64]") is old
    assert lookup(entries, "app[linux/arm64]") is None
    assert lookup(entries, "app") is old
    assert lookup({"app": replace(old, platform="linux/arm64")}, "app[linux/arm64]") is not None
    assert lookup({"app": replace(old, engine={"name": "docker", "arch": "aarch64"})}, "app[linux/arm64]")
    # an own entry wins over the plain one
    own = replace(old, size=1)
    assert lookup({"app": old, "app[linux/amd64]": own}, "app[linux/amd64]") is own


def test_without_a_recorded_architecture_the_host_platform_counts(
    monkeypatch: pytest.MonkeyPatch, plain: Image
) -> None:
    old = entry_of(plain, engine={"name": "docker"})
    monkeypatch.setattr(platforms, "host_platform", lambda: platforms.Platform.parse("linux/arm64"))
    assert old.measured_for == "linux/arm64"
    assert lookup({"app": old}, "app[linux/arm64]") is old
    assert lookup({"app": old}, "app[linux/amd64]") is None


def test_an_update_moves_the_plain_entry_to_its_platform(
    tmp_path: Path, app: ImageIndex, plain: Image
) -> None:
    path = tmp_path / "image-sizes.json"
    baseline.update(path, {"app": entry_of(plain, date="2025-05-05", commit="old"), "other": entry_of(plain)})
    state = session(tmp_path)
    state.add(app)
    entries, changed = baseline.update(path, state.baseline_entries(tmp_path))
    assert changed == ["app[linux/amd64]", "app[linux/arm64]"]
    assert sorted(entries) == ["app[linux/amd64]", "app[linux/arm64]", "other"]
    moved = entries["app[linux/amd64]"]
    assert (moved.date, moved.commit) == ("2025-05-05", "old")  # the same numbers: its history stays
    assert moved.measured_for == "linux/amd64"
    assert entries["app[linux/arm64]"].platform == "linux/arm64"
    assert sorted(json.loads(path.read_text())["images"]) == sorted(entries)
    _, again = baseline.update(path, state.baseline_entries(tmp_path))
    assert again == []  # nothing left to move


def test_growth_reads_per_platform_through_the_moved_history(app: ImageIndex, plain: Image) -> None:
    entries = {"app": entry_of(plain, size=8_000)}  # amd64 grew from 8,000 to 9,000 bytes
    growth = resolve_image(check_from_marker("max_image_growth", ["5%"], {}), ["app"])
    amd, arm = evaluate_all(growth, app, "t.py::t", Context(entries))
    assert (amd.image, amd.outcome, amd.baseline, amd.delta) == ("app[linux/amd64]", "failed", 8_000, 1_000)
    assert amd.message.startswith("image app[linux/amd64] (") and "grew from 8,000 B" in amd.message
    assert (arm.image, arm.outcome, arm.note) == ("app[linux/arm64]", "passed", "new")


def test_reports_compare_each_platform_with_its_entry(tmp_path: Path, app: ImageIndex, plain: Image) -> None:
    entries = {
        "app": entry_of(plain, size=8_000),
        "app[linux/arm64]": entry_of(app["linux/arm64"], size=7_000),
    }
    images = {image.name: image for image in app}
    report = rows(images, [], entries)
    assert [(r["image"], r["size_delta"]) for r in report] == [
        ("app[linux/amd64]", "+12.5 % ▲"),
        ("app[linux/arm64]", "±0"),
    ]
    doc = document(None, images, [], entries)
    assert [i["baseline"]["delta"] for i in doc["images"]] == [1_000, 0]


def test_an_entry_for_another_platform_warns(tmp_path: Path, plain: Image) -> None:
    state = session(tmp_path)
    state.baseline = {"app": entry_of(plain, platform="linux/arm64")}
    growth = resolve_image(check_from_marker("max_image_growth", ["50%"], {}), ["app"])
    with pytest.warns(ImageSizeWarning, match=r"platform 'linux/arm64' vs 'linux/amd64'"):
        state.run_checks("t.py::t", [growth], {"app": plain})


def test_diff_reads_a_platforms_entry(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    app: ImageIndex,
    plain: Image,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "image-sizes.json"
    baseline.update(path, {"app": entry_of(plain, size=8_000)})
    monkeypatch.setattr(cli, "_side", lambda text, options: Side(text, options, image=app["linux/amd64"]))
    code = cli.main(["diff", "registry.example/app:1", "--baseline", str(path), "--name", "app[linux/amd64]"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert out.startswith(f"baseline {path}:app[linux/amd64] → registry.example/app:1")
    assert "+1 KB" in out
    code = cli.main(["diff", "registry.example/app:1", "--baseline", str(path), "--name", "app[linux/arm64]"])
    assert code == 2
    assert "has no entry 'app[linux/arm64]' (entries: app)" in capsys.readouterr().err


def test_an_unchanged_entry_written_before_platforms_keeps_its_bytes(tmp_path: Path, plain: Image) -> None:
    path = tmp_path / "image-sizes.json"
    baseline.update(path, {"app": entry_of(plain)})  # no platform recorded
    before = path.read_bytes()
    now = entry_of(plain, platform="linux/amd64", date="2026-02-02")  # what a run records today
    _, changed = baseline.update(path, {"app": now})
    assert changed == [] and path.read_bytes() == before
    # measured for another platform since: recorded, even with the same numbers
    _, changed = baseline.update(path, {"app": replace(now, platform="linux/arm64")})
    assert changed == ["app"] and baseline.load(path)["app"].platform == "linux/arm64"
