"""The size-over-commits charts in headless Chromium: ``pytest-imagesize history --html`` and the
HTML report, on a real repository's history. The DOM Chromium builds (``--dump-dom``) has one
chart per series whose points carry the JSON series' commits and sizes, sit where the chart's scale
puts those sizes, mark the base-image changes, and whose hostile image name stayed text."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pytest_imagesize.reports import outputs
from pytest_imagesize.text import shown

from .conftest import CHROME_FLAGS, _browser

HOSTILE = 'web<img src=x onerror=alert(1)>"\u202e'
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


class _Dom(HTMLParser):
    """The charts of a dumped DOM: each ``<svg>``'s attributes, its circles and base markers."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict[str, Any]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = {k: v or "" for k, v in attrs}
        if tag == "svg" and "history-chart" in found.get("class", ""):
            self.charts.append({"svg": found, "points": [], "bases": []})
        elif tag == "circle" and self.charts:
            self.charts[-1]["points"].append(found)
        elif tag == "g" and found.get("class") == "base-change" and self.charts:
            self.charts[-1]["bases"].append(int(found["data-index"]))


def _dump(page: Path) -> _Dom:
    chromium, _ = _browser()
    profile = tempfile.mkdtemp(prefix="imagesize-chromium-")
    try:
        done = subprocess.run(
            [chromium, *CHROME_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = _Dom()
    dom.feed(done.stdout)
    return dom


def _git(repo: Path, *args: str, day: int = 0) -> None:
    date = f"{1_760_000_000 + day * 86_400} +0000"
    env = {**os.environ, **GIT_ENV, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def _entry(size: int, base: str) -> dict[str, Any]:
    return {
        "size": size,
        "compressed_size": size // 3,
        "own_size": size // 2,
        "own_compressed_size": size // 6,
        "engine": {"name": "docker", "arch": "amd64"},
        "base": {"ref": base, "id": f"sha256:{len(base):064x}", "size": size // 2, "compressed_size": 1},
    }


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 commits: two images growing and shrinking, one base-image change each, a rename."""
    repo = tmp_path_factory.mktemp("history-browser")
    _git(repo, "init", "-q", "-b", "main")
    for day in range(40):
        name = "ci/sizes.json" if day < 20 else "image-sizes.json"
        if day == 20:
            _git(repo, "mv", "ci/sizes.json", name, day=day)
        images = {
            "api": _entry(
                50_000_000 + (day * 7919 % 13) * 1_000_000, "debian:12" if day < 30 else "debian:13"
            ),
            HOSTILE + "[linux/arm64]": _entry(
                9_000_000 + day * 100_000, "alpine:3.20" if day < 10 else "alpine:3.21"
            ),
        }
        path = repo / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({"version": 2, "images": images}, indent=2, sort_keys=True))
        _git(repo, "add", "-A", day=day)
        _git(repo, "commit", "-q", "-m", f"day {day}", day=day)
    return repo


def _history(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_imagesize.cli", "history", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def _check(chart: dict[str, Any], series: dict[str, Any]) -> None:
    svg = chart["svg"]
    assert svg["data-image"] == shown(series["name"])  # bidi and control characters made visible
    assert svg["data-platform"] == (series["platform"] or "")
    points = series["points"]
    assert [c["data-commit"] for c in chart["points"]] == [p["commit"] for p in points]
    assert [int(c["data-size"]) for c in chart["points"]] == [p["size"] for p in points]
    assert [int(c["data-compressed-size"]) for c in chart["points"]] == [p["compressed_size"] for p in points]
    assert chart["bases"] == [i for i, p in enumerate(points) if p["base_changed"]]
    low, high = int(svg["data-ymin"]), int(svg["data-ymax"])
    top, bottom = float(svg["data-top"]), float(svg["data-bottom"])
    left, right = float(svg["data-left"]), float(svg["data-right"])
    assert low <= min(p["size"] for p in points) and max(p["size"] for p in points) <= high
    for i, (circle, point) in enumerate(zip(chart["points"], points, strict=True)):
        y = bottom - (point["size"] - low) * (bottom - top) / (high - low)
        x = left + i * (right - left) / (len(points) - 1)
        assert float(circle["cy"]) == pytest.approx(y, abs=0.01)
        assert float(circle["cx"]) == pytest.approx(x, abs=0.01)
    ys = [float(c["cy"]) for c in chart["points"]]
    sizes = [p["size"] for p in points]
    assert ys.index(min(ys)) == sizes.index(max(sizes))  # the largest size is drawn highest


def test_history_page_points_match_the_json_series(repo: Path, tmp_path: Path) -> None:
    series = json.loads(_history(repo, "--json").stdout)["images"]
    assert [(s["name"], len(s["points"])) for s in series] == [("api", 40), (HOSTILE, 40)]
    page = tmp_path / "history.html"
    _history(repo, "--html", str(page))
    dom = _dump(page)
    assert len(dom.charts) == 2
    for chart, one in zip(dom.charts, series, strict=True):
        _check(chart, one)
    assert "img" not in dom.tags and "script" not in dom.tags  # the hostile name stayed text


def test_report_chart_points_match_the_json_series(repo: Path, tmp_path: Path) -> None:
    series = json.loads(_history(repo, "--json").stdout)["images"]
    page = tmp_path / "report.html"
    document = {
        "version": 3,
        "images": [
            {"name": "api", "platform": None, "size": 1},
            {"name": HOSTILE + "[linux/arm64]", "platform": "linux/arm64", "size": 1},
        ],
    }
    problems = outputs.write_report_files(
        json_path=None,
        markdown_path=None,
        html_path=page,
        document=document,
        rows=[],
        engine=None,
        environ={},
        baseline_path=repo / "image-sizes.json",
    )
    assert problems == []
    dom = _dump(page)
    assert len(dom.charts) == 2
    for chart, one in zip(dom.charts, series, strict=True):
        _check(chart, one)
    assert "img" not in dom.tags
