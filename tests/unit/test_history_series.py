"""The size history's pure parts: series from baseline versions (points only where the numbers
move, base-image changes, platforms), its text and JSON, the slimmed read of a version, and the
SVG chart (positions, escaping). Reading git is tested in tests/test_history_git.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_imagesize import baseline, cli
from pytest_imagesize.errors import BaselineError
from pytest_imagesize.measure.packages.kept import PackageSummary
from pytest_imagesize.reports import git_history, svg_history
from pytest_imagesize.reports.history import Commit, History, build, dumps, text_lines, warnings
from pytest_imagesize.settings import DEFAULT_BASELINE

HOSTILE = 'app<script>alert(1)</script>"\u202e\x1b[31m'


def entry(size: int, *, base: str = "debian:12", base_id: str = "sha256:aa", **extra: Any) -> dict[str, Any]:
    return {
        "size": size,
        "compressed_size": size // 3,
        "own_size": size // 2,
        "own_compressed_size": size // 6,
        "layers": [{"instruction": "RUN x", "size": size}],
        "engine": {"name": "docker", "arch": "amd64"},
        "base": {"ref": base, "id": base_id, "size": 1000, "compressed_size": 300},
        "files": {"/a": 10, "/b": 20},
        "dirs": {"/usr": 30},
        **extra,
    }


def version(images: dict[str, Any], number: int = 2) -> dict[str, Any]:
    return baseline.parse(Path("image-sizes.json"), json.dumps({"version": number, "images": images}))


def commit(n: int) -> Commit:
    return Commit(f"{n:040x}", f"2026-11-{n + 1:02d}T10:00:00+00:00", f"change {n}", DEFAULT_BASELINE)


def test_points_only_where_the_numbers_move_and_base_changes_are_marked() -> None:
    versions = [
        (commit(0), version({"app": entry(100)})),
        (commit(1), version({"app": entry(100, date="2026-11-02")})),  # only the date: no point
        (commit(2), version({"app": entry(150)})),
        (commit(3), version({"app": entry(150, base="debian:13", base_id="sha256:bb")})),
    ]
    [series] = build(versions)
    assert (series.name, series.platform) == ("app", "linux/amd64")
    assert [p.commit.sha for p in series.points] == [commit(n).sha for n in (0, 2, 3)]
    assert [p.size for p in series.points] == [100, 150, 150]
    assert [p.base_changed for p in series.points] == [False, False, True]
    assert series.points[1].own_size == 75
    assert series.points[1].compressed_size == 50


def test_an_image_that_became_multi_platform_keeps_one_series() -> None:
    versions = [
        (commit(0), version({"app": entry(100)})),  # measured by an amd64 engine, no platform field
        (commit(1), version({"app[linux/amd64]": entry(120), "app[linux/arm64]": entry(90)})),
    ]
    found = build(versions)
    assert [(s.name, s.platform, [p.size for p in s.points]) for s in found] == [
        ("app", "linux/amd64", [100, 120]),
        ("app", "linux/arm64", [90]),
    ]
    history = History(DEFAULT_BASELINE, found, commits=2)
    assert history.find("app[linux/arm64]", "linux/arm64") is found[1]
    assert history.find("app", "linux/amd64") is found[0]
    assert history.find("app", None) is None  # two series: which one is not known
    assert history.find("other", None) is None
    unknown = {"size": 5, "compressed_size": 1, "engine": {}}  # measured where no platform was recorded
    alone = History(DEFAULT_BASELINE, build([(commit(0), version({"tool": unknown}))]), commits=1)
    assert alone.find("tool", "linux/arm64") is alone.series[0]


def test_version_1_sizes_that_are_not_comparable_are_left_out() -> None:
    podman = {"size": 500, "compressed_size": 100, "layers": [], "engine": {"name": "podman"}}
    [series] = build([(commit(0), version({"app": podman}, number=1))])
    assert series.points[0].size is None
    assert series.points[0].compressed_size == 100
    chart = svg_history.chart(series)
    assert 'data-field="compressed_size"' in chart and 'data-value="100"' in chart


def test_max_points_keeps_the_newest() -> None:
    versions = [(commit(n), version({"app": entry(100 + n)})) for n in range(6)]
    [series] = build(versions, max_points=4)
    assert [p.size for p in series.points] == [102, 103, 104, 105]


def test_text_json_and_warnings() -> None:
    versions = [(commit(n), version({"app": entry(1_000_000 + n * 1000)})) for n in range(3)]
    history = History(
        "ci/image-sizes.json",
        build(versions),
        commits=4,
        skipped=["abcdef0"],
        shallow_since="2026-10-01T00:00:00+00:00",
        skipped_reason="baseline x: not valid JSON",
    )
    lines = text_lines(history)
    assert lines[0] == "app [linux/amd64]  (3 changes)"
    assert lines[2].split()[:4] == ["0000000", "2026-11-01", "1", "MB"]
    assert lines[3].split()[-2:] == ["+1", "KB"]
    data = json.loads(dumps(history))
    assert data == history.to_json()
    assert data["images"][0]["points"][1]["size"] == 1_001_000
    assert data["images"][0]["points"][0]["base"] == {"ref": "debian:12", "id": "sha256:aa"}
    assert json.loads(dumps(History("x", [], commits=0))) == History("x", [], commits=0).to_json()
    said = warnings(history)
    assert len(said) == 2
    assert "goes back only to 2026-10-01" in said[0] and "git fetch --unshallow" in said[0]
    assert "fetch-depth: 0" in said[0]
    assert "1 commit, skipped: abcdef0 (baseline x: not valid JSON)" in said[1]


def test_the_cli_default_is_the_plugins_default_baseline() -> None:
    assert cli._parser().parse_args(["history"]).baseline == DEFAULT_BASELINE


@pytest.mark.parametrize("platforms", [False, True])
def test_slimmed_read_gives_the_same_entries_as_the_whole_file(platforms: bool) -> None:
    go = {"/app": {"example.com/m": 5}}
    entries = {
        f"app{n}" + ("[linux/arm64]" if platforms else ""): baseline.BaselineEntry(
            size=100 + n,
            compressed_size=50,
            layers=(baseline.BaselineLayer("RUN ]\n      }", 7, "sha256:1"),),
            engine={"arch": "arm64"},
            own_size=40,
            own_compressed_size=20,
            files={'/x"\n      }': 3},
            dirs={"/d": 4},
            go=go,
            go_packages=go,
            packages={"deb:libc6": PackageSummary(9, '2.41"\n      }', 0)},
            packages_complete=True,
        )
        for n in range(3)
    }
    text = baseline.render(entries).encode()
    slim = git_history._without_bulk(b"xx" + text + b"yy", 2, len(text) + 2)
    assert slim is not None
    assert b"example.com/m" not in slim and b'"/d"' not in slim and b"RUN" not in slim
    assert b"libc6" not in slim
    whole = baseline.parse(Path("b"), text.decode())
    assert baseline.parse(Path("b"), slim.decode()).keys() == whole.keys()
    read = git_history._parse(Path("b"), text, 0, len(text))
    assert build([(commit(0), read)])[0].points == build([(commit(0), whole)])[0].points
    # not laid out as render writes it: read whole
    assert git_history._without_bulk(json.dumps(json.loads(text)).encode()) is None
    shifted = text.replace(b'\n        "/d"', b'\n      "size": 1,\n        "/d"')
    assert git_history._without_bulk(shifted) is None
    # indented by 3: an image named "files" opens at an entry field's depth
    other = json.dumps(json.loads(text) | {"images": {"files": {"size": 5, "compressed_size": 1}}}, indent=3)
    assert git_history._without_bulk(other.encode()) is None
    assert git_history._parse(Path("b"), other.encode(), 0, len(other))["files"].size == 5


def test_damage_in_a_slimmed_field_still_counts() -> None:
    text = baseline.render({"app": baseline.BaselineEntry(100, 50, (), {}, files={"/a": 1})})
    damaged = text.replace('"size": 100', '"size": "big"').encode()
    with pytest.raises(BaselineError):
        git_history._parse(Path("b"), damaged, 0, len(damaged))
    damaged = text.replace('"/a": 1', '"/a": "big"').encode()  # in a field the series does not use
    assert git_history._parse(Path("b"), damaged, 0, len(damaged))["app"].size == 100
    text = baseline.render(
        {"app": baseline.BaselineEntry(100, 50, (), {}, packages={"deb:x": PackageSummary(1)})}
    )
    damaged = text.replace('"size": 1,', '"size": "big",').encode()  # a package's, not the image's
    assert git_history._parse(Path("b"), damaged, 0, len(damaged))["app"].size == 100


def _circles(svg: str) -> list[dict[str, str]]:
    return [dict(re.findall(r'([\w-]+)="([^"]*)"', c)) for c in re.findall(r"<circle [^>]*>", svg)]


def test_chart_points_sit_where_their_sizes_say() -> None:
    sizes = [1_000, 5_000, 3_000, 3_000_000]
    versions = [(commit(n), version({"app": entry(s)})) for n, s in enumerate(sizes)]
    [series] = build(versions)
    svg = svg_history.chart(series)
    head = dict(re.findall(r'([\w-]+)="([^"]*)"', svg[: svg.index(">")]))
    low, high = int(head["data-ymin"]), int(head["data-ymax"])
    top, bottom = float(head["data-top"]), float(head["data-bottom"])
    left, right = float(head["data-left"]), float(head["data-right"])
    circles = _circles(svg)
    assert [int(c["data-size"]) for c in circles] == sizes
    for i, (circle, size) in enumerate(zip(circles, sizes, strict=True)):
        assert float(circle["cy"]) == pytest.approx(
            bottom - (size - low) * (bottom - top) / (high - low), abs=0.01
        )
        assert float(circle["cx"]) == pytest.approx(left + i * (right - left) / (len(sizes) - 1), abs=0.01)
    assert "<script" not in svg and "style=" not in svg
    assert svg.count("<title") == 1 + len(sizes)


def test_chart_escapes_hostile_names_and_marks_base_changes() -> None:
    versions = [
        (commit(0), version({HOSTILE: entry(100)})),
        (commit(1), version({HOSTILE: entry(200, base='evil"><img src=x onerror=alert(1)>')})),
    ]
    history = History(DEFAULT_BASELINE, build(versions), commits=2)
    page = svg_history.page(history)
    assert "<script>" not in page and "<img" not in page and "\u202e" not in page and "\x1b" not in page
    assert "&lt;script&gt;" in page and "\\u202e" in page
    assert page.count('class="base-change"') == 1
    assert "<script" not in page.split("</title>", 1)[1]  # no script anywhere on the page
    assert "default-src &#x27;none&#x27;" in page  # nothing loads, nothing runs


def test_json_of_any_name_prints() -> None:
    versions = [(commit(0), version({"app\udc80\u00e9": entry(100)}))]
    text = dumps(History(DEFAULT_BASELINE, build(versions), commits=1))
    text.encode("ascii")
    assert json.loads(text)["images"][0]["name"] == "app\udc80\u00e9"
    assert text_lines(History(DEFAULT_BASELINE, build(versions), commits=1))[0].startswith("app\\udc80\u00e9")


def test_a_login_in_a_name_or_base_is_masked_where_people_read_it() -> None:
    secret = "https://bob:hunter2@registry.example.com/app"
    versions = [
        (commit(0), version({"bob:hunter2@registry.example.com/tool": entry(100)})),
        (commit(1), version({"bob:hunter2@registry.example.com/tool": entry(200, base=secret)})),
        (
            commit(2),
            version(
                {"bob:hunter2@registry.example.com/tool": entry(300, base=f"alpine:3.19@sha256:{'a' * 64}")}
            ),
        ),
    ]
    history = History(DEFAULT_BASELINE, build(versions), commits=3)
    page = svg_history.page(history)
    text = "\n".join(text_lines(history))
    for shown_text in (page, text):
        assert "hunter2" not in shown_text
        assert "bob:***@registry.example.com/tool" in shown_text
    assert "https://bob:***@registry.example.com/app" in text
    assert "alpine:3.19@sha256:" in text  # a tag before a digest is no login
