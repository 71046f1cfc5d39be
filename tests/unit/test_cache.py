"""The per-user analysis cache on bad ground (read-only, full, damaged, another version's entries,
two writers at once) and the per-layer reuse it makes possible. No engine: a fake one."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import warnings
from pathlib import Path
from typing import Any

import pytest

from pytest_imagesize.errors import CacheWarning
from pytest_imagesize.measure import analysis as analysis_module
from pytest_imagesize.measure import cache
from pytest_imagesize.measure.analysis import CACHE_VERSION, layer_key, read_image_archive
from pytest_imagesize.measure.archive import gzip_size
from pytest_imagesize.measure.archive import layer as layer_module
from pytest_imagesize.measure.cache import DirectoryCache

from ..support.fake_engine import FakeEngine, FakeImage

Fresh = tuple[FakeEngine, FakeImage, tuple[int, int, int]]
BASE: dict[str, Any] = {"usr/lib/big": bytes(range(256)) * 400, "usr/bin/tool": b"t" * 3000, "etc": ("dir",)}


def image(top: bytes = b"v1", base: dict[str, Any] | None = None, tag: str = "app:1") -> FakeImage:
    return FakeImage.from_layers([base or BASE, {"srv/main": b"main " + top * 200}], tags=[tag])


def analyse(engine: FakeEngine, fake: FakeImage, store: DirectoryCache) -> tuple[int, int, int]:
    result = read_image_archive(engine, fake.id, "app", len(fake.layers), store)
    return result.size, result.compressed_size, len(result.files)


def cache_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]


@pytest.fixture
def fresh(tmp_path: Path) -> Fresh:
    """An engine with one image and what a cache-less analysis of it finds."""
    fake = image()
    engine = FakeEngine("containerd", [fake])
    return engine, fake, analyse(engine, fake, DirectoryCache(tmp_path / "reference"))


@pytest.mark.parametrize(
    "failure",
    [OSError(errno.EROFS, "Read-only file system"), OSError(errno.ENOSPC, "No space left on device")],
    ids=["read-only", "full"],
)
def test_a_cache_that_cannot_be_written_warns_once_and_the_analysis_goes_on(
    fresh: Fresh,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: OSError,
) -> None:
    engine, fake, expected = fresh

    def refuse(path: Path, text: str) -> None:
        raise failure

    monkeypatch.setattr(cache, "write_atomic", refuse)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = DirectoryCache(tmp_path / "c")
        assert analyse(engine, fake, store) == expected
        assert analyse(engine, fake, store) == expected  # same cache object: no second warning
    [message] = cache_warnings(caught)
    assert "\n" not in message and str(failure.strerror) in message and "redone next time" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory(fresh: Fresh, tmp_path: Path) -> None:
    engine, fake, expected = fresh
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert analyse(engine, fake, DirectoryCache(directory)) == expected
        assert len(cache_warnings(caught)) == 1
    finally:
        directory.chmod(0o755)


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("*/*.json"))


@pytest.mark.parametrize("damage", ["truncated", "not-json-bytes", "other-version", "wrong-shape"])
def test_damaged_entries_warn_once_and_are_replaced(fresh: Fresh, tmp_path: Path, damage: str) -> None:
    engine, fake, expected = fresh
    directory = tmp_path / "c"
    assert analyse(engine, fake, DirectoryCache(directory)) == expected
    files = entries(directory)
    assert len(files) == 1 + len(fake.layers)  # the image, and each layer by diff ID
    for path in files:
        text = path.read_text()
        if damage == "truncated":
            path.write_text(text[: len(text) // 2])
        elif damage == "not-json-bytes":
            path.write_bytes(b"\xff\xfe\x00garbage")
        elif damage == "other-version":
            data = json.loads(text)
            data["value"]["version"] = CACHE_VERSION - 1
            path.write_text(json.dumps(data))
        else:
            data = json.loads(text)
            data["value"] = {"version": CACHE_VERSION, "layers": "nonsense", "entries": [[1, 2]]}
            path.write_text(json.dumps(data))
    saves = engine.saves[fake.id]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert analyse(engine, fake, DirectoryCache(directory)) == expected
    assert engine.saves[fake.id] == saves + 1
    [message] = cache_warnings(caught)
    assert "\n" not in message and "analysed again and replaced" in message
    # replaced: whole entries of this version, and the next analysis reads nothing
    for path in entries(directory):
        assert json.loads(path.read_text())["value"]["version"] == CACHE_VERSION
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert analyse(engine, fake, DirectoryCache(directory)) == expected
    assert engine.saves[fake.id] == saves + 1
    assert not cache_warnings(caught)


def _writer(directory: str, key: str, marker: str, rounds: int) -> None:
    store = DirectoryCache(Path(directory))
    value = {"marker": marker, "payload": [marker * 50] * 4000}  # ~200 KB: many write() calls
    for _ in range(rounds):
        store.set(key, value)


def test_two_processes_filling_the_same_entry_leave_a_whole_one(tmp_path: Path) -> None:
    key = "analysis/docker-graphdriver/sha256:" + "ab" * 32
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_writer, args=(str(tmp_path), key, m, 40)) for m in "xy"]
    for process in writers:
        process.start()
    reader = DirectoryCache(tmp_path)
    seen = set()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        while any(p.is_alive() for p in writers):
            value = reader.get(key)
            if value is not None:
                assert value["payload"] == [value["marker"] * 50] * 4000  # never half of one
                seen.add(value["marker"])
    for process in writers:
        process.join()
        assert process.exitcode == 0
    assert not cache_warnings(caught)
    final = reader.get(key)
    assert final["marker"] in "xy" and final["payload"] == [final["marker"] * 50] * 4000
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [reader._path(key).name]  # no leftovers


# ---------------------------------------------------------------- per-layer reuse


class CountingCompressor(gzip_size.BlockCompressor):
    fed = 0

    def feed(self, data: Any) -> None:
        CountingCompressor.fed += len(data)
        super().feed(data)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[CountingCompressor]:
    CountingCompressor.fed = 0
    monkeypatch.setattr(layer_module, "BlockCompressor", CountingCompressor)
    return CountingCompressor


def test_a_rebuilt_image_compresses_only_its_changed_layer(
    tmp_path: Path, counting: type[CountingCompressor]
) -> None:
    first, rebuilt = image(b"v1"), image(b"v2", tag="app:2")
    engine = FakeEngine("containerd", [first, rebuilt])
    store = DirectoryCache(tmp_path)
    analyse(engine, first, store)
    assert counting.fed == sum(len(layer.tar) for layer in first.layers)
    counting.fed = 0
    warm = read_image_archive(engine, rebuilt.id, "app", 2, store)
    assert counting.fed == len(rebuilt.layers[1].tar)  # the base layer was only hashed
    assert engine.saves[rebuilt.id] == 1  # the stream is still read, once
    cold = read_image_archive(engine, rebuilt.id, "app", 2, DirectoryCache(tmp_path / "empty"))
    assert warm.to_json() == cold.to_json()  # same numbers, files and waste either way


def test_images_sharing_a_base_measure_it_once(tmp_path: Path, counting: type[CountingCompressor]) -> None:
    one, other = image(b"one", tag="one:1"), image(b"other", tag="other:1")
    engine = FakeEngine("podman", [one, other])
    store = DirectoryCache(tmp_path)
    analyse(engine, one, store)
    counting.fed = 0
    analyse(engine, other, store)
    assert counting.fed == len(other.layers[1].tar)


def test_a_wrong_pairing_falls_back_to_measuring(tmp_path: Path) -> None:
    """A cached layer whose tar is as long as another, unknown layer: that layer is taken for it,
    the hash says otherwise, and the archive is read again and measured whole."""
    fake = FakeImage.from_layers([{"a": b"a" * 700}, {"b": b"b" * 700}], tags=["twins:1"])
    engine = FakeEngine("containerd", [fake])
    expected = analyse(engine, fake, DirectoryCache(tmp_path / "reference"))
    store = DirectoryCache(tmp_path / "c")
    first, second = fake.layers
    assert len(first.tar) == len(second.tar)
    bogus = {
        "version": CACHE_VERSION,
        "diff_id": first.diff_id,
        "tar_size": len(first.tar),
        "size": 1,
        "compressed": 1,
        "entries": [],
        "probed": {},
    }
    store.set(layer_key(first.diff_id), bogus)  # only the first layer is "known"
    saves = engine.saves[fake.id]
    result = read_image_archive(engine, fake.id, "twins", 2, store)
    # whichever layer came first was taken for the known one; when it was the second layer, the
    # hash told, and the archive was read again
    assert engine.saves[fake.id] in (saves + 1, saves + 2)
    assert result.size in (expected[0], 1 + 700)
    assert [la.diff_id for la in result.layers] == [first.diff_id, second.diff_id]


def test_a_layer_entry_under_another_diff_id_is_not_trusted(tmp_path: Path) -> None:
    fake = image()
    engine = FakeEngine("containerd", [fake])
    store = DirectoryCache(tmp_path)
    analyse(engine, fake, store)
    layer = fake.layers[0]
    data = store.get(layer_key(layer.diff_id))
    data["diff_id"] = "sha256:" + "0" * 64
    store.set(layer_key(layer.diff_id), data)
    assert analysis_module.layer_from_json(store.get(layer_key(layer.diff_id)), layer.diff_id) is None
