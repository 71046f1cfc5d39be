"""``pytest-imagesize history`` on real git repositories (git commands, no engine): renames
followed, every baseline format read, a shallow clone (one warning: how far, how to fetch more),
damaged versions skipped with one warning naming them, and the bad input that stops it with one
line and nothing written. The HTML report's charts come from the same history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_imagesize.reports import outputs

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str, when: int = 0) -> str:
    date = f"{1_760_000_000 + when * 86_400} +0000"
    env = {**os.environ, **GIT_ENV, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def entry(size: int, base: str = "debian:12", **extra: Any) -> dict[str, Any]:
    return {
        "size": size,
        "compressed_size": size // 3,
        "own_size": size // 2,
        "own_compressed_size": size // 6,
        "layers": [{"instruction": "COPY app /app", "size": size // 2}],
        "engine": {"name": "docker", "arch": "amd64"},
        "base": {"ref": base, "id": "sha256:" + base.encode().hex(), "size": size // 2, "compressed_size": 1},
        "files": {"/app": size // 2},
        **extra,
    }


def write(repo: Path, path: str, images: dict[str, Any], version: int = 2) -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"version": version, "images": images}, indent=2, sort_keys=True) + "\n")


def commit(repo: Path, when: int, message: str) -> str:
    git(repo, "add", "-A", when=when)
    git(repo, "commit", "-q", "-m", message, when=when)
    return git(repo, "rev-parse", "HEAD")


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_imagesize.cli", "history", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        timeout=120,
    )


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[str]]:
    """Six commits: a version-1 file under ci/, three growth steps, a rename to the root (with a
    platform split), a base-image change, and a commit that touches another file only."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = []
    engine = {"name": "docker", "storage_driver": "overlay2", "arch": "amd64"}
    write(
        repo,
        "ci/image-sizes.json",
        {"app": {"size": 1000, "compressed_size": 400, "engine": engine}},
        version=1,
    )
    shas.append(commit(repo, 0, "first, a version-1 baseline"))
    write(repo, "ci/image-sizes.json", {"app": entry(2000), "tool": entry(500)})
    shas.append(commit(repo, 1, "version 2"))
    write(repo, "ci/image-sizes.json", {"app": entry(2500), "tool": entry(500)})
    shas.append(commit(repo, 2, "app grows"))
    git(repo, "mv", "ci/image-sizes.json", "image-sizes.json")
    shas.append(commit(repo, 3, "move the baseline to the root"))
    arm = entry(2400)
    write(
        repo,
        "image-sizes.json",
        {"app[linux/amd64]": entry(2600), "app[linux/arm64]": arm, "tool": entry(500)},
    )
    shas.append(commit(repo, 4, "multi-platform"))
    amd = entry(2300, base="debian:13")
    write(repo, "image-sizes.json", {"app[linux/amd64]": amd, "app[linux/arm64]": arm, "tool": entry(500)})
    shas.append(commit(repo, 5, "new base image"))
    (repo / "README").write_text("unrelated\n")
    commit(repo, 6, "unrelated")
    return repo, shas


def test_series_follow_renames_and_read_every_format(repo: tuple[Path, list[str]]) -> None:
    path, shas = repo
    done = cli(path, "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    data = json.loads(done.stdout)
    assert data["baseline"] == "image-sizes.json"
    assert data["commits"] == 6  # the rename counts; the unrelated commit does not
    series = {(s["name"], s["platform"]): s["points"] for s in data["images"]}
    assert sorted(series) == [("app", "linux/amd64"), ("app", "linux/arm64"), ("tool", "linux/amd64")]
    amd64 = series[("app", "linux/amd64")]
    assert [p["commit"] for p in amd64] == [shas[0], shas[1], shas[2], shas[4], shas[5]]
    assert [p["size"] for p in amd64] == [1000, 2000, 2500, 2600, 2300]
    assert [p["compressed_size"] for p in amd64] == [400, 666, 833, 866, 766]
    assert [p["own_size"] for p in amd64] == [None, 1000, 1250, 1300, 1150]
    assert [p["path"] for p in amd64] == ["ci/image-sizes.json"] * 3 + ["image-sizes.json"] * 2
    assert [p["base_changed"] for p in amd64] == [False] * 4 + [True]
    assert amd64[0]["date"].startswith("2025-10-09")
    assert [p["size"] for p in series[("tool", "linux/amd64")]] == [500]

    text = cli(path)
    assert text.returncode == 0
    assert "app [linux/amd64]  (5 changes)" in text.stdout
    assert "base debian:12 → debian:13" in text.stdout

    since = json.loads(cli(path, "--json", "--since", shas[2]).stdout)
    # the first version after REV (the rename) starts each series
    assert [p["commit"] for p in since["images"][0]["points"]] == [shas[3], shas[4], shas[5]]


def test_html_page_and_report_chart(repo: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, _ = repo
    page = tmp_path / "history.html"
    done = cli(path, "--html", str(page))
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert text.count('<svg class="history-chart"') == 3
    assert text.count('class="base-change"') == 1
    assert "<script" not in text

    report = tmp_path / "report.html"
    document = {
        "version": 3,
        "images": [{"name": "app[linux/amd64]", "platform": "linux/amd64", "size": 2300}],
    }
    problems = outputs.write_report_files(
        json_path=None,
        markdown_path=None,
        html_path=report,
        document=document,
        rows=[],
        engine=None,
        environ={},
        baseline_path=path / "image-sizes.json",
    )
    assert problems == []
    html = report.read_text()
    assert html.count('<svg class="history-chart"') == 1
    assert 'data-image="app" data-platform="linux/amd64"' in html
    assert html.count('class="point"') == 5


def test_report_without_git_has_no_chart_and_says_nothing(tmp_path: Path) -> None:
    write(tmp_path, "image-sizes.json", {"app": entry(100)})
    report = tmp_path / "report.html"
    problems = outputs.write_report_files(
        json_path=None,
        markdown_path=None,
        html_path=report,
        document={"version": 3, "images": [{"name": "app", "size": 100}]},
        rows=[],
        engine=None,
        environ={},
        baseline_path=tmp_path / "image-sizes.json",
    )
    assert problems == []
    assert "history-chart" not in report.read_text()


def test_shallow_clone_gives_what_it_has_with_one_warning(
    repo: tuple[Path, list[str]], tmp_path: Path
) -> None:
    path, shas = repo
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "3", path.as_uri(), str(clone)],
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    done = cli(clone, "--json")
    assert done.returncode == 0, done.stderr
    warning = done.stderr.strip().splitlines()
    assert len(warning) == 1
    assert warning[0].startswith("pytest-imagesize: warning: the repository is a shallow clone")
    assert "goes back only to 2025-10-13" in warning[0]  # the oldest of the 3 commits fetched
    assert "git fetch --unshallow" in warning[0] and "fetch-depth: 0" in warning[0]
    data = json.loads(done.stdout)
    assert data["shallow_since"].startswith("2025-10-13")
    points = {(s["name"], s["platform"]): s["points"] for s in data["images"]}
    assert [p["commit"] for p in points[("app", "linux/amd64")]] == [shas[4], shas[5]]


def test_damaged_versions_are_skipped_with_one_warning(tmp_path: Path) -> None:
    repo = tmp_path / "damaged"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "image-sizes.json", {"app": entry(100)})
    good = commit(repo, 0, "good")
    (repo / "image-sizes.json").write_text('{"version": 2, "images": {"app": ')
    truncated = commit(repo, 1, "truncated")
    write(repo, "image-sizes.json", {"app": {**entry(200), "size": "big"}})
    wrong = commit(repo, 2, "a size that is no number")
    write(repo, "image-sizes.json", {"app": entry(300)})
    last = commit(repo, 3, "good again")
    done = cli(repo, "--json")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"does not parse in 2 commits, skipped: {truncated[:7]}, {wrong[:7]}" in lines[0]
    assert "not valid JSON" in lines[0]
    points = json.loads(done.stdout)["images"][0]["points"]
    assert [p["commit"] for p in points] == [good, last]


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("pytest-imagesize: error: history: ")
    return lines[0]


def test_bad_input_is_one_line_and_writes_nothing(repo: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, _ = repo
    page = tmp_path / "out.html"
    plain = tmp_path / "plain"
    plain.mkdir()
    write(plain, "image-sizes.json", {"app": entry(1)})

    line = one_line_error(cli(plain, "--html", str(page)))
    assert "is not in a git repository" in line and "--baseline PATH" in line

    line = one_line_error(cli(path, "--since", "no-such-rev", "--html", str(page)))
    assert "--since no-such-rev: no such revision" in line

    line = one_line_error(cli(path, "--baseline", "other.json", "--html", str(page)))
    assert "other.json was never committed" in line

    all_damaged = tmp_path / "all-damaged"
    all_damaged.mkdir()
    git(all_damaged, "init", "-q", "-b", "main")
    (all_damaged / "image-sizes.json").write_text("{")
    commit(all_damaged, 0, "damaged")
    line = one_line_error(cli(all_damaged, "--html", str(page)))
    assert "does not parse in any of its 1 committed versions" in line

    assert not page.exists()
