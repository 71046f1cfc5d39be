"""The pytest-xdist wire format: what workers measured and checked, handed to the controller as
JSON, gives the controller the same report rows, Markdown and JSON document, without an engine."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_imagesize.checks import Check, check_from_marker, resolve_image
from pytest_imagesize.engine.build import BuildResult
from pytest_imagesize.engine.protocol import Engine, ImageStore
from pytest_imagesize.errors import BuildError, EngineUnavailable
from pytest_imagesize.glue.xdist import merge_build, merge_wire, result_from_json, result_to_json, to_wire
from pytest_imagesize.reports.json_report import document
from pytest_imagesize.reports.markdown import markdown
from pytest_imagesize.reports.terminal import layer_lines, rows, table
from pytest_imagesize.session import Declaration, ImageSizeSession

from ..support.fake_engine import FakeEngine, FakeImage, settings
from .test_checks import entry, fake

BIG = FakeImage.from_layers(
    [{"usr/lib/big": b"z" * 250_000}, {"usr/lib/big": b"z" * 260_000}],
    tags=["fat:1"],
    compression="zstd",
    layout="oci",
)
APP = fake()


def session(tmp_path: Path, engine: Engine | None) -> ImageSizeSession:
    def connect() -> Engine:
        if engine is None:
            raise EngineUnavailable("no engine in the controller of this test")
        return engine

    return ImageSizeSession(
        settings=settings(tmp_path / "image-sizes.json"), connect=connect, sweep_leftovers=False
    )


def checks(image: str, *markers: tuple[str, Sequence[Any], dict[str, Any]]) -> list[Check]:
    return [resolve_image(check_from_marker(name, args, kwargs), [image]) for name, args, kwargs in markers]


def worker(tmp_path: Path, store: ImageStore = "graphdriver") -> tuple[ImageSizeSession, FakeEngine]:
    """A worker that measured both images and ran checks on them, as the plugin does."""
    engine = FakeEngine(store, [APP, BIG])
    state = session(tmp_path, engine)
    state.baseline = {"app": entry(10_000, 300)}
    app = state.provide("app", Declaration("existing", ref=APP.id))
    fat = state.provide("fat", Declaration("existing", ref="fat:1"))
    state.run_checks(
        "tests/test_a.py::test_app",
        checks(
            "app",
            ("max_image_size", ["20KB"], {}),
            ("max_image_size", [400], {"compressed": True}),
            ("max_image_layers", [2], {}),
            ("min_image_efficiency", [0.1], {}),
            ("max_wasted_bytes", [0], {}),
        ),
        {"app": app},
    )
    state.run_checks(
        "tests/test_a.py::test_app_growth",
        checks(
            "app",
            ("max_image_growth", ["5%"], {"floor": "1kB"}),
            ("max_image_growth", [1], {"compressed": True}),
        ),
        {"app": app},
    )
    state.run_checks(
        "tests/test_b.py::test_fat", checks("fat", ("max_image_size", ["1MB"], {})), {"fat": fat}
    )
    return state, engine


def report(state: ImageSizeSession) -> tuple[Any, ...]:
    found = rows(state.images, state.outcomes, state.baseline)
    return (
        found,
        table(found),
        markdown(found, state.engine_info),
        json.dumps(
            document(state.engine_info, state.images, state.outcomes, state.baseline), allow_nan=False
        ),
    )


def test_the_controller_reports_what_the_worker_measured(tmp_path: Path) -> None:
    state, engine = worker(tmp_path)
    wire = to_wire(state)
    saves = sum(engine.saves.values())
    controller = session(tmp_path, None)
    controller.baseline = state.baseline
    merge_wire(controller, wire)
    assert report(controller) == report(state)
    assert [o.outcome for o in controller.outcomes] == [
        "passed",
        "passed",
        "failed",
        "passed",
        "failed",
        "failed",
        "failed",
        "passed",
    ]
    assert controller.outcomes == state.outcomes
    assert controller.engine_info == engine.info()
    assert layer_lines(controller.images["app"]) == layer_lines(state.images["app"])
    assert sum(engine.saves.values()) == saves  # the controller read nothing


def test_the_wire_is_json_with_messages(tmp_path: Path) -> None:
    state, _ = worker(tmp_path)
    data = json.loads(to_wire(state))
    assert [image["name"] for image in data["images"]] == ["app", "fat"]
    failed = [o for o in data["outcomes"] if o["outcome"] == "failed"]
    assert failed and all(o["message"].startswith("image ") for o in failed)
    assert data["engine"]["image_store"] == "graphdriver"


def test_outcomes_of_several_workers_add_up(tmp_path: Path) -> None:
    first, _ = worker(tmp_path / "1")
    second, _ = worker(tmp_path / "2")
    controller = session(tmp_path, None)
    merge_wire(controller, to_wire(first))
    merge_wire(controller, to_wire(second))
    assert list(controller.images) == ["app", "fat"]
    assert len(controller.outcomes) == 2 * len(first.outcomes)
    (app, fat) = rows(controller.images, controller.outcomes)
    assert (app["verdict"], fat["verdict"]) == ("failed", "passed")


def test_an_analysed_copy_replaces_a_plain_one(tmp_path: Path) -> None:
    plain = session(tmp_path, FakeEngine("graphdriver", [BIG]))
    plain.provide("fat", Declaration("existing", ref="fat:1"))
    analysed = session(tmp_path, FakeEngine("graphdriver", [BIG]))
    _ = analysed.provide("fat", Declaration("existing", ref="fat:1")).compressed_size
    controller = session(tmp_path, None)
    merge_wire(controller, to_wire(plain))
    assert rows(controller.images, [])[0]["compressed"] == "-"
    merge_wire(controller, to_wire(analysed))
    assert rows(controller.images, [])[0]["compressed"] == rows(analysed.images, [])[0]["compressed"] != "-"
    merge_wire(controller, to_wire(plain))  # a plain copy arriving later does not undo it
    assert controller.images["fat"].analysed


@pytest.mark.parametrize("store", ["containerd", "podman"])
def test_an_unanalysed_image_from_another_store_is_reported(tmp_path: Path, store: ImageStore) -> None:
    engine = FakeEngine(store, [BIG])
    state = session(tmp_path, engine)
    state.provide("fat", Declaration("existing", ref="fat:1"))  # a test used it, with no check
    controller = session(tmp_path, None)
    merge_wire(controller, to_wire(state))
    assert rows(controller.images, []) == rows(state.images, [])


@pytest.mark.parametrize("store", ["containerd", "podman"])
def test_checked_images_from_other_stores_are_reported(tmp_path: Path, store: ImageStore) -> None:
    state, engine = worker(tmp_path, store)
    controller = session(tmp_path, None)
    controller.baseline = state.baseline
    merge_wire(controller, to_wire(state))
    assert report(controller) == report(state)
    assert controller.images["fat"].size == 510_000
    assert engine.saves == {APP.id: 1, BIG.id: 1}


def test_build_results_round_trip_and_merge_once(tmp_path: Path) -> None:
    built = BuildResult(
        "sha256:" + "a" * 64, "pytest-imagesize/app:1234", True, frozenset({"sha256:b"}), "buildx"
    )
    failed = BuildError("build of app failed at step 2: RUN false", frozenset({"sha256:c"}))
    for result in (built, failed):
        again = result_from_json(json.loads(json.dumps(result_to_json(result))))
        assert type(again) is type(result)
        assert str(again) == str(result) if isinstance(result, BuildError) else again == result
        assert getattr(again, "created_ids", None) == result.created_ids
    controller = session(tmp_path, None)
    for result in (built, failed, built, failed):
        merge_build(controller, result)
    assert list(controller.builds.values()) == [built, failed]
