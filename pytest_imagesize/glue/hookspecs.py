"""Hooks other plugins and conftest files can implement (registered via ``pytest_addhooks``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..measure.image import Image


@pytest.hookspec
def pytest_imagesize_image_measured(config: pytest.Config, image: Image) -> None:
    """Called once per image and session, right after the engine measured it.

    Use it to push sizes to a metrics system. ``image.size`` and ``image.layers`` are known;
    touching ``image.compressed_size`` here would read the archive (costly), so only do that on
    purpose.
    """


@pytest.hookspec
def pytest_imagesize_report_rows(config: pytest.Config, rows: list[dict[str, Any]]) -> None:
    """Called before the report is shown or written; change, add or remove rows in place.

    Each row is a dict with the keys of the terminal table: ``image``, ``id``, ``size``,
    ``compressed``, ``layers``, ``limit``, ``headroom``, ``verdict`` (strings), plus ``extra`` (a
    dict of further columns, shown in the terminal table and in Markdown).
    """
