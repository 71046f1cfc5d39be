"""Fixtures shared by the source tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .local_images import Untouched, watched


@pytest.fixture
def untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Untouched]:
    """The test's directory and TMPDIR, watched: nothing may be left there or changed."""
    yield from watched(tmp_path, monkeypatch)
