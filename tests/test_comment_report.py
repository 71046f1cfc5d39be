"""The pull-request comment from a real report: a project's size tests build two FROM scratch
images on the engine, one grows past its baseline entry (a new file whose name is hostile
Markdown), and ``pytest-imagesize comment`` renders the JSON report the run wrote: the failing
growth check first, a row per image, and the grown image's movers from the report's
``changes`` (a Python package among them), with the hostile path inert in a code span as GitHub
renders it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

SUITE = """
import pytest
from pytest_imagesize import build_image

app = build_image("app/Dockerfile", context="app")
small = build_image("small/Dockerfile", context="small")

@pytest.mark.max_image_growth("5%")
def test_app(app):
    pass

@pytest.mark.max_image_size("1MB")
def test_small(small):
    pass
"""
HOSTILE = "@octocat #12 `tick` <!-- hidden [x](javascript:alert) *b*"


def write_image(directory: Path, files: dict[str, int | bytes]) -> None:
    """A FROM scratch image of the given files (a size: random bytes, so each build is a new image)."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["FROM scratch"]
    for number, (name, content) in enumerate(files.items()):
        local = f"file{number}"
        (directory / local).write_bytes(os.urandom(content) if isinstance(content, int) else content)
        lines.append(f"COPY {json.dumps([local, '/' + name])}")
    (directory / "Dockerfile").write_text("\n".join(lines) + "\n")


@pytest.mark.engine
def test_a_comment_from_a_real_report(pytester: pytest.Pytester, docker_client: object) -> None:
    pytester.makepyfile(SUITE)
    write_image(pytester.path / "app", {"bin/app": 400_000})
    write_image(pytester.path / "small", {"data": 10_000})
    pytester.runpytest("--image-baseline-update").assert_outcomes(passed=2)

    site = "usr/lib/python3/site-packages"
    record = b"grown/data.bin,,\ngrown-1.0.dist-info/RECORD,,\n"
    package: dict[str, int | bytes] = {
        f"{site}/grown/data.bin": 30_000,
        f"{site}/grown-1.0.dist-info/RECORD": record,
    }
    write_image(pytester.path / "app", {"bin/app": 400_000, HOSTILE: 150_000, **package})
    report = pytester.path / "report.json"
    pytester.runpytest(f"--image-report-json={report}").assert_outcomes(passed=1, failed=1)
    document = json.loads(report.read_text())
    app = next(image for image in document["images"] if image["name"] == "app")
    changes = app["changes"]
    grown = 150_000 + 30_000 + len(record)
    assert [(f["path"], f["a"], f["b"], f["status"]) for f in changes["files"]] == [
        ("/" + HOSTILE, None, 150_000, "added"),
        (f"/{site}/grown/data.bin", None, 30_000, "added"),
        (f"/{site}/grown-1.0.dist-info/RECORD", None, len(record), "added"),
    ]
    assert [(m["ecosystem"], m["name"], m["a"], m["b"], m["status"]) for m in changes["packages"]] == [
        ("python", "grown", None, 30_000 + len(record), "added")
    ]
    assert changes["size"]["delta"] == grown and changes["against"] == "baseline"
    small = next(image for image in document["images"] if image["name"] == "small")
    # the same build (cached): no movers, whether or not its archive was read (graph-driver Docker
    # gives the size without reading it; the containerd store and Podman read it)
    assert small["changes"]["size"]["delta"] == 0
    assert (small["changes"]["files"], small["changes"]["packages"]) == ([], [])

    result = subprocess.run(
        [sys.executable, "-m", "pytest_imagesize.cli", "comment", str(report)],
        capture_output=True,
        text=True,
        check=True,
    )
    body = result.stdout
    assert body.startswith("<!-- pytest-imagesize:default -->\n### Image sizes\n")
    assert "❌ **1 of 2 size checks failed**" in body
    failing = body.index("- ❌ `app` growth: ")
    assert "+180.05 KB since the baseline, limit 5 %, 40.0 % over" in body[failing:].splitlines()[0]
    assert failing < body.index("| image |") < body.index("<details>")
    assert "| `app` | - | 580.05 KB | +180.05 KB (+45.0 %) |" in body and "| ❌ failed |" in body
    assert "| `small` | - | 10 KB | ±0 |" in body and "| ✅ passed |" in body
    page = cmarkgfm.github_flavored_markdown_to_html(body, options=Options.CMARK_OPT_UNSAFE)
    assert f"+150 KB file <code>/{HOSTILE.replace('<', '&lt;')}</code> (new)" in page
    assert "- +30.05 KB package `grown` in `python` (new)" in body
    assert "<a " not in page and page.count("<!--") == 1
