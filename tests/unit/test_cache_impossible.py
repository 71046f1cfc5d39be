"""Cache entries that parse but whose numbers cannot be true are analysed again, not trusted."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from pytest_imagesize.measure.analysis import read_image_archive
from pytest_imagesize.measure.cache import DirectoryCache

from ..support.fake_engine import FakeEngine, FakeImage

BASE: dict[str, Any] = {
    "usr/lib/big": bytes(range(256)) * 400,
    "usr/bin/tool": b"t" * 3000,
    "bin/sh": ("symlink", "/usr/bin/tool"),
}


def _analyse(engine: FakeEngine, fake: FakeImage, store: DirectoryCache, expected: int | None = None) -> int:
    return read_image_archive(engine, fake.id, "app", len(fake.layers), store, expected_size=expected).size


def _damage(directory: Path, change: Any) -> None:
    for path in sorted(directory.glob("*/*.json")):
        data = json.loads(path.read_text())
        change(data["value"])
        path.write_text(json.dumps(data))


def _negative_layer(value: dict[str, Any]) -> None:
    if "layers" in value:
        value["layers"][1][0] = -3_000_005


def _layer_grown(value: dict[str, Any]) -> None:
    if "layers" in value:  # a layer writes more than the final filesystem and the hidden bytes hold
        value["layers"][1][0] += 5000
        value["layers"][1][2] += 5000
    else:
        value["size"] += 7


def _file_negative(value: dict[str, Any]) -> None:
    if "files" in value:
        value["files"][0][2] = -1


@pytest.mark.parametrize("change", [_negative_layer, _layer_grown, _file_negative])
def test_impossible_numbers_are_analysed_again(tmp_path: Path, change: Any) -> None:
    fake = FakeImage.from_layers([BASE, {"srv/main": b"m" * 2000, "usr/bin/tool": b"u" * 10}])
    engine = FakeEngine("containerd", [fake])
    store = DirectoryCache(tmp_path / "c")
    size = _analyse(engine, fake, store)
    saves = engine.saves[fake.id]
    _damage(tmp_path / "c", change)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert _analyse(engine, fake, DirectoryCache(tmp_path / "c")) == size
    assert engine.saves[fake.id] == saves + 1  # read again, not taken from the cache


def test_layers_that_do_not_add_up_to_the_engines_size_are_analysed_again(tmp_path: Path) -> None:
    fake = FakeImage.from_layers([BASE, {"srv/main": b"m" * 2000}])
    engine = FakeEngine("containerd", [fake])
    store = DirectoryCache(tmp_path / "c")
    size = _analyse(engine, fake, store)
    saves = engine.saves[fake.id]
    assert _analyse(engine, fake, store, expected=size) == size
    assert engine.saves[fake.id] == saves  # a true entry is used
    assert _analyse(engine, fake, store, expected=size + 1) == size
    assert engine.saves[fake.id] == saves + 1
