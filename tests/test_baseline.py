"""Baselines and growth limits, Markdown and JUnit output, hooks, and pytest-xdist."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import docker
import pytest

from pytest_imagesize.sizes import format_size

from .conftest import DOCKER_BYTES, MakeImageDir, buildx_builds
from .support.baselines import ENGINE, entry, write_baseline

GROWTH_SUITE = """
import pytest
from pytest_imagesize import build_image
app = build_image("Dockerfile")

@pytest.mark.max_image_growth("5%")
def test_percent_only(app):
    pass

@pytest.mark.max_image_growth("5%", floor="20kB")
def test_within_floor(app):
    pass

@pytest.mark.max_image_growth("10%")
def test_equal_percent(app):
    pass

@pytest.mark.max_image_growth(9.99, floor=9_999)
def test_above_both(app):
    pass
"""


@pytest.mark.engine
@DOCKER_BYTES
def test_growth_fails_only_above_percent_and_floor(
    pytester: pytest.Pytester, image_dir: MakeImageDir
) -> None:
    image_dir(110_000)
    write_baseline(pytester.path / "image-sizes.json", {"app": entry(100_000)})
    pytester.makepyfile(GROWTH_SUITE)
    result = pytester.runpytest("-v", "--image-report")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_percent_only FAILED*",
            "*test_within_floor PASSED*",
            "*test_equal_percent PASSED*",
            "*test_above_both FAILED*",
        ],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(
        [
            "image app (*) size grew from 100,000 B (100 KB) to 110,000 B (110 KB): +10,000 B (10 KB) "
            "(+10.00 %), over both the 5 % limit and the 0 B floor (@pytest.mark.max_image_growth('5%'))",
            # the baseline's layer has no diff ID (format 1): it pairs with none of the image's
            "  layers (paired by diff ID):",
            "    +     110 KB  added: COPY * /blob",
            "    -     100 KB  removed: COPY file:old in /blob",
            "  files that moved most:",
            "         +110 KB  /blob (new)",
        ]
    )
    result.stdout.fnmatch_lines(["image *vs baseline", "app *+10 KB (+10.0 % ▲)"])


@pytest.mark.engine
def test_new_image_passes_and_is_flagged(pytester: pytest.Pytester, image_dir: MakeImageDir) -> None:
    image_dir(1000)
    write_baseline(pytester.path / "image-sizes.json", {"other": entry(5)})
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image
        app = build_image("Dockerfile")

        @pytest.mark.max_image_growth("1%")
        def test_app(app):
            pass
        """
    )
    result = pytester.runpytest("--image-report", "--image-report-json=r.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["app  * growth 1 % * new  passed * new"])
    check = json.loads((pytester.path / "r.json").read_text())["checks"][0]
    assert (check["kind"], check["outcome"], check["note"], check["baseline"]) == (
        "max_image_growth",
        "passed",
        "new",
        None,
    )


@pytest.mark.engine
@DOCKER_BYTES
def test_update_writes_this_run_and_keeps_other_entries(
    pytester: pytest.Pytester, image_dir: MakeImageDir
) -> None:
    image_dir(2000, "app")
    (pytester.path / "app" / "Dockerfile").write_text("FROM scratch\nCOPY blob /blob\n")
    write_baseline(pytester.path / "sizes.json", {"other": entry(5, 3), "app": entry(1)})
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image
        app = build_image("app/Dockerfile")

        @pytest.mark.max_image_size("1MB", compressed=True)
        def test_app(app):
            pass
        """
    )
    result = pytester.runpytest("--image-baseline=sizes.json", "--image-baseline-update")
    result.assert_outcomes(passed=1)
    text = (pytester.path / "sizes.json").read_text()
    data = json.loads(text)
    assert list(data["images"]) == ["app", "other"]
    assert data["images"]["other"] == {**entry(5, 3), "date": None, "commit": None}
    app = data["images"]["app"]
    assert app["size"] == 2000 and app["compressed_size"] > 2000
    assert app["engine"]["name"] == "docker" and set(app["engine"]) == {*ENGINE, "image_store"}
    assert data["version"] == 2
    assert app["date"] == time.strftime("%Y-%m-%d")
    assert app["layers"][0]["size"] == 2000 and app["layers"][0]["instruction"].startswith("COPY")
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.engine
@DOCKER_BYTES
def test_read_only_baseline_with_update_is_an_error_and_nothing_is_written(
    pytester: pytest.Pytester, image_dir: MakeImageDir
) -> None:
    image_dir(1000)
    path = pytester.path / "image-sizes.json"
    before = write_baseline(path, {"other": entry(5)})
    path.chmod(0o444)
    pytester.makepyfile(
        "from pytest_imagesize import build_image\napp = build_image('Dockerfile')\n"
        "def test_app(app):\n    pass\n"
    )
    listing = sorted(p.name for p in pytester.path.iterdir())
    result = pytester.runpytest("--image-baseline-update")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [f"ERROR: baseline {path}: the file is read-only; make it writable to update it"]
    )
    assert path.read_bytes() == before
    noise = {".pytest_cache", ".docker"}  # pytest's cache; the docker CLI's home (HOME is here)
    after = sorted(p.name for p in pytester.path.iterdir() if p.name not in noise)
    assert after == [n for n in listing if n not in noise]


@pytest.mark.engine
def test_baseline_of_another_engine_compares_and_an_incomparable_one_says_so(
    pytester: pytest.Pytester, image_dir: MakeImageDir
) -> None:
    image_dir(1000)
    podman = {**ENGINE, "name": "podman", "storage_driver": "overlay"}
    suite = (
        "import pytest\nfrom pytest_imagesize import build_image\napp = build_image('Dockerfile')\n"
        "@pytest.mark.max_image_growth('1%')\ndef test_app(app):\n    pass\n"
    )
    pytester.makepyfile(suite)
    # another graph driver measured the same portable size: compared (it fails: +100 %), no warning
    write_baseline(
        pytester.path / "image-sizes.json", {"app": entry(500, engine={**ENGINE, "storage_driver": "vfs"})}
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*size grew from 500 B (500 B) to 1,000 B (1 KB)*"])
    # Podman's own size in a format-1 entry: not compared, one warning saying how to rewrite it
    write_baseline(pytester.path / "image-sizes.json", {"app": entry(500, engine=podman)})
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*holds podman overlay's own size, not the portable size*--image-baseline-update*"]
    )


@pytest.mark.engine
@DOCKER_BYTES
def test_ini_growth_default_applies_to_every_image(
    pytester: pytest.Pytester, image_dir: MakeImageDir
) -> None:
    image_dir(1100, "a")
    image_dir(1000, "b")
    write_baseline(pytester.path / "image-sizes.json", {"grown": entry(1000), "same": entry(1000)})
    pytester.makeini("[pytest]\nimagesize_max_growth = 5%\nimagesize_growth_floor = 50\n")
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image
        grown = build_image("a/Dockerfile")
        same = build_image("b/Dockerfile")

        def test_grown(grown):
            pass

        def test_same(same):
            pass

        @pytest.mark.max_image_growth("20%")
        def test_marker_wins(grown):
            pass
        """
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_grown FAILED*",
            "*grew from 1,000 B (1 KB) to 1,100 B (1.1 KB): +100 B (100 B) (+10.00 %), over both the 5 % "
            "limit and the 50 B floor (ini imagesize_max_growth = 5%, imagesize_growth_floor = 50)",
        ],
        consecutive=False,
    )


@pytest.mark.engine
@DOCKER_BYTES
def test_markdown_report_step_summary_and_junit_properties(
    pytester: pytest.Pytester, image_dir: MakeImageDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_dir(5160, "slim")
    image_dir(9000, "fat")
    write_baseline(pytester.path / "image-sizes.json", {"slim": entry(5000, 4000)})
    summary = pytester.path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image
        slim = build_image("slim/Dockerfile")
        fat = build_image("fat/Dockerfile")

        @pytest.mark.max_image_size("10kB", compressed=True)
        def test_slim(slim):
            pass

        @pytest.mark.max_image_size("8kB")
        def test_fat(fat):
            pass
        """
    )
    result = pytester.runpytest(
        "--image-report-md=pr.md", "--junitxml=junit.xml", "--image-report-json=report.json"
    )
    result.assert_outcomes(passed=1, failed=1)
    text = (pytester.path / "pr.md").read_text()
    lines = text.splitlines()
    assert lines[:4] == [
        "### Image sizes",
        "",
        "| image | size | compressed | layers | limit | headroom | verdict |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    slim_row = next(x for x in lines if x.startswith("| `slim`"))
    assert slim_row.startswith("| `slim` | 5.16 KB (+3.2 % ▲) | ")
    report = json.loads((pytester.path / "report.json").read_text())
    compressed = next(i["compressed_size"] for i in report["images"] if i["name"] == "slim")
    headroom = format_size(10_000 - compressed)  # the limit less the compressed size, from the JSON
    assert slim_row.endswith(f" | 1 | 10 KB (c) | {headroom} | ✅ passed |")
    compressed_cell = slim_row.split(" | ")[2]
    assert compressed_cell.endswith(" % ▲)")  # 4000 B baseline: random bytes grew
    # fat has only a size check, which fails: its compressed size is what the same run's JSON
    # gives. Every store but Docker's graph driver reads the archive for the size, so it is known
    # there; on the graph driver the engine's size is the portable one, and only explaining the
    # failure may read the archive.
    fat = next(i for i in report["images"] if i["name"] == "fat")
    if report["engine"]["image_store"] != "graphdriver":
        assert fat["compressed_size"] is not None
    fat_compressed = "-" if fat["compressed_size"] is None else f"{format_size(fat['compressed_size'])} (new)"
    assert f"| `fat` | 9 KB (new) | {fat_compressed} | 1 | 8 KB | 1 KB over | ❌ failed |" in lines
    assert summary.read_text() == "earlier step\n" + text

    cases = {c.get("name"): c for c in ET.parse(pytester.path / "junit.xml").iter("testcase")}
    props = {p.get("name"): p.get("value") for p in cases["test_slim"].iter("property")}
    assert props["image"] == "slim"
    assert props["image_size"] == "5160"
    assert int(props["image_compressed_size"] or 0) > 5160
    assert props["image_max_image_size_limit"] == "10000"
    assert props["image_max_image_size_outcome"] == "passed"


@pytest.mark.engine
@DOCKER_BYTES
def test_hooks_see_measured_images_and_can_add_report_columns(
    pytester: pytest.Pytester, image_dir: MakeImageDir
) -> None:
    image_dir(3000)
    pytester.makeconftest(
        """
        from pytest_imagesize import build_image
        app = build_image("Dockerfile")
        seen = []

        def pytest_imagesize_image_measured(config, image):
            seen.append((image.name, image.size))

        def pytest_imagesize_report_rows(config, rows):
            for row in rows:
                row["extra"]["team"] = "payments"

        def pytest_sessionfinish(session):
            print("measured:", seen)
        """
    )
    pytester.makepyfile("def test_a(app):\n    pass\n\ndef test_b(app):\n    pass\n")
    result = pytester.runpytest("-s", "--image-report")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*measured: [[]('app', 3000)[]]", "image *verdict  team", "app * payments"], consecutive=False
    )


@pytest.mark.engine
@pytest.mark.docker_only(reason="counts builds through Docker engine events or the docker CLI")
def test_xdist_builds_each_image_once_and_reports_once(
    pytester: pytest.Pytester,
    image_dir: MakeImageDir,
    docker_client: docker.DockerClient,
    builder: str,
    cli_log: Path,
) -> None:
    image_dir(7000, "one")
    image_dir(8000, "two")
    tests = "\n".join(
        f"@pytest.mark.max_image_size('1MB', image='{img}')\ndef test_{img}_{i}(one, two):\n    pass\n"
        for img in ("one", "two")
        for i in range(4)
    )
    pytester.makepyfile(
        "import pytest\nfrom pytest_imagesize import build_image\n"
        "one = build_image('one/Dockerfile')\ntwo = build_image('two/Dockerfile')\n" + tests
    )
    start = int(time.time()) - 1
    result = pytester.runpytest_subprocess("-n", "2", "--image-report", "--image-report-json=r.json")
    result.assert_outcomes(passed=8)
    time.sleep(1.1)
    if builder == "buildx":  # one `docker buildx build` per image
        assert buildx_builds(cli_log) == 2
        ours = [f"pytest-imagesize/{n}" for n in ("one", "two")]
    else:  # the classic build tags once per image
        events = docker_client.api.events(
            since=start, until=int(time.time()) + 1, decode=True, filters={"type": "image", "event": "tag"}
        )
        tags = [e["Actor"]["Attributes"]["name"] for e in events]
        ours = [t for t in tags if t.startswith(("pytest-imagesize/one:", "pytest-imagesize/two:"))]
        assert sorted(ours) == sorted(set(ours)) and len(ours) == 2, tags
    out = result.stdout.str()
    assert out.count("- image sizes -") == 1
    result.stdout.fnmatch_lines(["one  * 7 KB *passed", "two  * 8 KB *passed"], consecutive=False)
    data = json.loads((pytester.path / "r.json").read_text())
    assert sorted(i["name"] for i in data["images"]) == ["one", "two"]
    assert len(data["checks"]) == 8
    remaining = [
        t for i in docker_client.images.list() for t in i.tags if t.split(":")[0] in ours or t in ours
    ]
    assert remaining == []  # the controller cleaned up after both workers
