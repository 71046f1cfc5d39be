"""A pytest-xdist worker deletes the OCI layouts of its multi-platform builds when it hands its
results over: it runs no cleanup of its own, and the controller never learns of them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from pytest_imagesize.engine.multiplatform import LAYOUT_PREFIX
from pytest_imagesize.errors import EngineUnavailable
from pytest_imagesize.glue.run import PytestRun
from pytest_imagesize.session import ImageSizeSession

from ..support.fake_engine import settings


def _no_engine() -> Any:
    raise EngineUnavailable("no engine in this test")


def test_a_worker_removes_its_layouts_when_it_hands_over(tmp_path: Path) -> None:
    layout = tmp_path / f"{LAYOUT_PREFIX}abc"
    (layout / "blobs").mkdir(parents=True)
    (layout / "index.json").write_text("{}")
    state = ImageSizeSession(settings=settings(tmp_path / "image-sizes.json"), connect=_no_engine)
    state._layouts.append(layout)
    config = SimpleNamespace(workerinput={}, workeroutput={})
    PytestRun(cast(pytest.Config, config), state).finish(cast(pytest.Session, None))
    assert config.workeroutput  # the results went to the controller
    assert not layout.exists()
