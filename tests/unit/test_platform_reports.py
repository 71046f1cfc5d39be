"""A multi-platform image through the session and every report: one outcome and one row per
platform, named ``app[linux/arm64]``, in the terminal table, Markdown, the JSON report (schema
version 3: ``platform``, ``source``, ``config_size``, ``packages``, ``changes`` per image,
``platform`` per check) and the HTML page; pytest-xdist's wire keeps the platforms; a version-2
document still renders."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from pytest_imagesize.checks import check_from_marker, evaluate, resolve_image
from pytest_imagesize.engine.protocol import Engine
from pytest_imagesize.errors import EngineUnavailable, ImageSizeError, ImageSizeWarning
from pytest_imagesize.glue.xdist import merge_wire, to_wire
from pytest_imagesize.measure.image import Image
from pytest_imagesize.measure.index import ImageIndex
from pytest_imagesize.reports import html
from pytest_imagesize.reports.json_report import JSON_VERSION, document
from pytest_imagesize.reports.markdown import markdown
from pytest_imagesize.reports.terminal import rows, table
from pytest_imagesize.session import ImageSizeSession

from ..support.fake_engine import measured, settings
from ..support.platforms import index_of, sized

NAMES = ["app[linux/amd64]", "app[linux/arm64]"]


def session(tmp_path: Path) -> ImageSizeSession:
    def connect() -> Engine:
        raise EngineUnavailable("these tests measure their images themselves")

    return ImageSizeSession(
        settings=settings(tmp_path / "image-sizes.json"), connect=connect, sweep_leftovers=False
    )


def marker(*args: Any, **kwargs: Any) -> Any:
    return resolve_image(check_from_marker("max_image_size", args, kwargs), ["app"])


@pytest.fixture
def app() -> ImageIndex:
    return index_of("app", {"linux/amd64": 9_000, "linux/arm64": 7_000})


@pytest.fixture
def ran(tmp_path: Path, app: ImageIndex) -> ImageSizeSession:
    """A session that checked ``app`` (index) against 8 kB, then arm64 alone against 7.5 kB."""
    state = session(tmp_path)
    state.run_checks("t.py::test_all", [marker("8kB")], {"app": app})
    state.run_checks("t.py::test_arm", [marker("7.5kB", platform="linux/arm64")], {"app": app})
    return state


def test_the_session_notes_each_platform_and_one_outcome_each(ran: ImageSizeSession) -> None:
    assert list(ran.images) == NAMES
    assert [(o.test, o.image, o.platform, o.outcome) for o in ran.outcomes] == [
        ("t.py::test_all", "app[linux/amd64]", "linux/amd64", "failed"),
        ("t.py::test_all", "app[linux/arm64]", "linux/arm64", "passed"),
        ("t.py::test_arm", "app[linux/arm64]", "linux/arm64", "passed"),
    ]


def test_the_session_adds_an_index_once_and_runs_the_hook_per_platform(
    tmp_path: Path, app: ImageIndex
) -> None:
    seen: list[str] = []
    state = session(tmp_path)
    state.measured_hook = lambda image: seen.append(image.name)
    state.add(app)
    state.add(app)
    state.run_checks("t.py::test_all", [marker("8kB")], {"app": app})
    assert seen == NAMES


def test_a_warning_per_platform(tmp_path: Path, app: ImageIndex) -> None:
    state = session(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        state.run_checks("t.py::test_all", [marker("10kB", warn="8kB")], {"app": app})
    messages = [str(w.message) for w in caught if issubclass(w.category, ImageSizeWarning)]
    assert len(messages) == 1 and messages[0].startswith("image app[linux/amd64] (")


def test_a_fixture_that_gives_neither_image_nor_index(tmp_path: Path) -> None:
    with pytest.raises(ImageSizeError, match="did not give an Image"):
        session(tmp_path).run_checks("t.py::test", [marker("8kB")], {"app": [1, 2]})


def test_terminal_and_markdown_rows_per_platform(ran: ImageSizeSession) -> None:
    report = rows(ran.images, ran.outcomes)
    assert [(r["image"], r["size"], r["limit"], r["headroom"], r["verdict"]) for r in report] == [
        ("app[linux/amd64]", "9 KB", "8 KB", "1 KB over", "failed"),
        ("app[linux/arm64]", "7 KB", "8 KB, 7.5 KB", "500 B", "passed"),
    ]
    lines = table(report)
    assert lines[1].startswith("app[linux/amd64]  ") and lines[2].startswith("app[linux/arm64]  ")
    text = markdown(report, None)
    assert "| `app[linux/amd64]` | 9 KB |" in text and "| `app[linux/arm64]` | 7 KB |" in text


def test_json_version_3_fields(ran: ImageSizeSession, app: ImageIndex) -> None:
    doc = document(None, ran.images, ran.outcomes)
    assert doc["version"] == JSON_VERSION == 3
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    amd, arm = doc["images"]
    assert (amd["name"], amd["platform"], amd["source"]) == ("app[linux/amd64]", "linux/amd64", "registry")
    assert arm["platform"] == "linux/arm64"
    assert amd["config_size"] == app["linux/amd64"].config_size and amd["config_size"] > 0
    assert (amd["packages"]["databases"], amd["changes"]) == ([], None)  # analysed: no package database
    assert [(c["image"], c["platform"]) for c in doc["checks"]] == [
        ("app[linux/amd64]", "linux/amd64"),
        ("app[linux/arm64]", "linux/arm64"),
        ("app[linux/arm64]", "linux/arm64"),
    ]


def test_json_version_3_fields_of_an_engine_image() -> None:
    image, engine = measured(sized(5_000, "plain"), name="app")
    doc = document(engine.info(), {"app": image}, [evaluate(marker("8kB"), image, "t.py::t")])
    (entry,) = doc["images"]
    assert entry["name"] == "app"
    assert {k: entry[k] for k in ("platform", "source", "config_size", "packages", "changes")} == {
        "platform": None,  # an engine's image: the engine's platform, in engine.arch
        "source": "engine",
        "config_size": None,
        "packages": None,
        "changes": None,
    }
    assert doc["checks"][0]["platform"] is None
    # nothing of version 2 renamed or dropped
    assert {"name", "ref", "id", "tags", "size", "engine_size", "compressed_size", "base", "own_size"} <= set(
        entry
    )


def test_the_html_page_names_each_platform(ran: ImageSizeSession) -> None:
    page = html.render(document(None, ran.images, ran.outcomes))
    for name, platform in zip(NAMES, ["linux/amd64", "linux/arm64"], strict=True):
        assert f"<h2>{name}</h2>" in page
        assert f'data-image="{name}" data-platform="{platform}"' in page
        assert f'<span class="tag platform">{platform}</span>' in page
        assert f"<dt>Platform</dt><dd>{platform}</dd>" in page
    assert '<a href="#image-0">app[linux/amd64] · 9 KB</a>' in page
    assert "<dt>Source</dt><dd>registry</dd>" in page
    assert "Other checks" not in page  # every check found its platform's section
    assert page.count('<tr data-kind="max_image_size" data-outcome="failed">') == 1
    assert "report format 3" in page


def test_a_version_2_document_still_renders() -> None:
    image, engine = measured(sized(5_000, "plain"), name="app")
    old = document(engine.info(), {"app": image}, [])
    old["version"] = 2
    for key in ("platform", "source", "config_size", "packages", "changes"):
        del old["images"][0][key]
    page = html.render(old)
    assert "<h2>app</h2>" in page and "report format 2" in page
    assert "<dt>Platform</dt><dd>the engine&#x27;s</dd>" in page and 'data-platform=""' in page


def test_the_xdist_wire_keeps_platforms(tmp_path: Path, ran: ImageSizeSession) -> None:
    controller = session(tmp_path)
    merge_wire(controller, to_wire(ran))
    assert list(controller.images) == NAMES
    arm = controller.images["app[linux/arm64]"]
    assert (arm.platform, arm.source, arm.config_size) == (
        "linux/arm64",
        "registry",
        ran.images["app[linux/arm64]"].config_size,
    )
    assert controller.outcomes == ran.outcomes
    assert document(None, controller.images, controller.outcomes) == document(None, ran.images, ran.outcomes)


def test_an_engine_image_crosses_the_wire_as_it_was(tmp_path: Path) -> None:
    image, _ = measured(sized(5_000, "plain"), name="app")
    copy = Image.from_wire(json.loads(json.dumps(image.to_wire())))
    assert (copy.platform, copy.source, copy.config_size) == (None, "engine", None)
    old_wire = image.to_wire()
    del old_wire["where"]  # a worker of an earlier version
    assert Image.from_wire(old_wire).source == "engine"
