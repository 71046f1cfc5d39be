"""The baseline file: merging entries field by field, updates that change nothing leave the file
byte for byte, version-1 files, values beyond 2**63-1, damaged files left untouched, which engines'
numbers compare, concurrent updates."""

from __future__ import annotations

import json
import multiprocessing
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_imagesize import baseline
from pytest_imagesize.baseline import BaselineEntry, BaselineLayer, merge_entry
from pytest_imagesize.errors import BaselineError
from pytest_imagesize.sizes import MAX_BYTES

from ..support.baselines import ENGINE, entry, write_baseline

DOCKER = {"name": "docker", "version": "27.0.0", "storage_driver": "overlay2", "arch": "amd64"}
DOCKER_NEWER = {**DOCKER, "version": "28.1.0"}
PODMAN = {"name": "podman", "version": "4.3.1", "storage_driver": "overlay", "arch": "amd64"}
LAYERS = (BaselineLayer("COPY big /big", 10_000, "sha256:aa"), BaselineLayer("COPY small /small", 2_000))


def old_entry(**changes: Any) -> BaselineEntry:
    entry = BaselineEntry(12_000, 311, LAYERS, DOCKER, "2026-11-01", "abc1234")
    return replace(entry, **changes)


def new_entry(**changes: Any) -> BaselineEntry:
    """What a later run measured: other date, commit and engine version."""
    return replace(old_entry(date="2026-11-30", commit="def5678", engine=DOCKER_NEWER), **changes)


# ---------------------------------------------------------------------------- merge_entry


def test_a_first_entry_is_taken_as_it_is() -> None:
    assert merge_entry(None, new_entry(compressed_size=None)) == new_entry(compressed_size=None)


def test_unchanged_numbers_keep_date_commit_and_engine() -> None:
    merged = merge_entry(old_entry(), new_entry())
    assert merged == old_entry()


def test_a_changed_size_takes_the_new_date_commit_and_engine() -> None:
    merged = merge_entry(old_entry(), new_entry(size=12_001))
    assert (merged.size, merged.compressed_size, merged.layers) == (12_001, 311, LAYERS)
    assert (merged.date, merged.commit, merged.engine) == ("2026-11-30", "def5678", DOCKER_NEWER)


def test_a_changed_compressed_size_or_layer_counts_as_a_change() -> None:
    assert merge_entry(old_entry(), new_entry(compressed_size=312)).date == "2026-11-30"
    layers = (LAYERS[0], BaselineLayer("COPY small /small", 2_001))
    assert merge_entry(old_entry(), new_entry(layers=layers)).layers == layers
    assert merge_entry(old_entry(), new_entry(layers=layers)).commit == "def5678"


def test_a_measured_value_is_never_replaced_by_none() -> None:
    merged = merge_entry(old_entry(), new_entry(compressed_size=None))
    assert merged.compressed_size == 311
    assert merged.date == "2026-11-01"  # and nothing else changed
    merged = merge_entry(old_entry(), new_entry(size=None, layers=()))
    assert (merged.size, merged.layers, merged.compressed_size) == (12_000, LAYERS, 311)
    merged = merge_entry(old_entry(compressed_size=None), new_entry(size=13_000, compressed_size=None))
    assert (merged.size, merged.compressed_size) == (13_000, None)


def test_an_incomparable_version_1_size_is_dropped_not_kept() -> None:
    podman_v1 = old_entry(engine=PODMAN, version=1, size=15_000)
    assert not podman_v1.size_comparable
    assert merge_entry(podman_v1, new_entry(size=None)).size is None
    merged = merge_entry(podman_v1, new_entry())
    assert (merged.size, merged.version, merged.date) == (12_000, 2, "2026-11-30")
    docker_v1 = old_entry(version=1)
    assert docker_v1.size_comparable
    rewritten = merge_entry(docker_v1, new_entry())
    assert (rewritten.version, rewritten.date) == (2, "2026-11-30")  # a version-1 entry is rewritten


# ---------------------------------------------------------------------------- update


def test_an_update_that_changes_nothing_leaves_the_file_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "image-sizes.json"
    entries, changed = baseline.update(path, {"app": old_entry()})
    assert changed == ["app"] and entries == {"app": old_entry()}
    first = path.read_bytes()
    assert json.loads(first)["images"]["app"]["date"] == "2026-11-01"
    entries, changed = baseline.update(path, {"app": new_entry()})
    assert changed == []
    assert path.read_bytes() == first
    entries, changed = baseline.update(path, {"app": new_entry(compressed_size=None)})
    assert changed == [] and path.read_bytes() == first


def test_an_update_rewrites_only_what_changed_and_keeps_other_images(tmp_path: Path) -> None:
    path = tmp_path / "image-sizes.json"
    baseline.update(path, {"app": old_entry(), "other": old_entry(size=99, commit="zzz")})
    entries, changed = baseline.update(path, {"app": new_entry(size=12_500)})
    assert changed == ["app"]
    assert entries["other"] == old_entry(size=99, commit="zzz")
    data = json.loads(path.read_text())
    assert data["version"] == 2
    assert data["images"]["app"]["size"] == 12_500 and data["images"]["app"]["date"] == "2026-11-30"
    assert data["images"]["other"]["commit"] == "zzz"
    assert baseline.load(path) == entries


def test_the_file_is_sorted_and_indented(tmp_path: Path) -> None:
    path = tmp_path / "image-sizes.json"
    baseline.update(path, {"b": old_entry(), "a": old_entry(layers=())})
    text = path.read_text()
    assert text.endswith("}\n") and text.index('"a"') < text.index('"b"')
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert '"diff_id": "sha256:aa"' in text and text.count("diff_id") == 1  # only when known


def version_1(images: dict[str, Any]) -> str:
    return json.dumps({"version": 1, "images": images})


def test_version_1_files_are_read(tmp_path: Path) -> None:
    path = tmp_path / "image-sizes.json"
    path.write_text(
        version_1(
            {
                "docker": {
                    "size": 100,
                    "compressed_size": None,
                    "layers": [{"instruction": "A", "size": 100}],
                    "engine": DOCKER,
                    "date": "2025-01-01",
                    "commit": "c1",
                },
                "podman": {"size": 200, "engine": PODMAN},
            }
        )
    )
    entries = baseline.load(path)
    assert entries["docker"] == BaselineEntry(
        100, None, (BaselineLayer("A", 100),), DOCKER, "2025-01-01", "c1", version=1
    )
    assert entries["docker"].size_comparable and not entries["podman"].size_comparable
    assert (entries["podman"].layers, entries["podman"].date) == ((), None)
    before = path.read_bytes()
    # an update with the same numbers still rewrites a version-1 entry as version 2
    _, changed = baseline.update(path, {"docker": replace(entries["docker"], version=2)})
    assert changed == ["docker"] and path.read_bytes() != before
    assert json.loads(path.read_text())["version"] == 2


def test_version_1_needs_a_size_where_version_2_may_have_none(tmp_path: Path) -> None:
    path = tmp_path / "image-sizes.json"
    with pytest.raises(BaselineError, match=r"images\['x'\]\.size is None"):
        baseline.parse(path, version_1({"x": {"size": None}}))
    text = json.dumps({"version": 2, "images": {"x": {"size": None, "compressed_size": 5}}})
    assert baseline.parse(path, text)["x"].size is None


@pytest.mark.parametrize(
    ("images", "where"),
    [
        ({"x": {"size": MAX_BYTES + 1}}, "images['x'].size is 9223372036854775808"),
        ({"x": {"size": 1, "compressed_size": 2**64}}, "images['x'].compressed_size is 1844674407370955"),
        ({"x": {"size": 1, "layers": [{"instruction": "A", "size": 2**63}]}}, "images['x'].layers must be"),
        ({"x": {"size": 10**400}}, "images['x'].size is " + "1" + "0" * 23 + "..., expected"),
    ],
)
def test_values_beyond_2_63_minus_1_are_rejected_in_one_line(
    tmp_path: Path, images: dict[str, Any], where: str
) -> None:
    path = tmp_path / "image-sizes.json"
    with pytest.raises(BaselineError) as info:
        baseline.parse(path, json.dumps({"version": 2, "images": images}))
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"baseline {path}: ")
    assert where in message


def test_the_largest_value_is_accepted(tmp_path: Path) -> None:
    text = json.dumps({"version": 2, "images": {"x": {"size": MAX_BYTES, "compressed_size": MAX_BYTES}}})
    assert baseline.parse(tmp_path / "b.json", text)["x"].size == MAX_BYTES


DAMAGED = [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "the top level is not an object"),
    ('{"version": 3, "images": {}}', "version 3 is not one this plugin reads (expected 2 or 1)"),
    ('{"version": true, "images": {}}', "version True is not one this plugin reads"),
    ('{"version": 2}', "'images' is missing or not an object"),
    ('{"version": 2, "images": {"x": []}}', "images['x'] is list, expected an object"),
    ('{"version": 2, "images": {"x": {"size": "12MB"}}}', "images['x'].size is '12MB', expected bytes"),
    ('{"version": 2, "images": {"x": {"size": -1}}}', "images['x'].size is -1"),
    ('{"version": 2, "images": {"x": {"size": true}}}', "images['x'].size is True"),
    ('{"version": 2, "images": {"x": {"size": 1, "layers": {}}}}', "images['x'].layers must be a list"),
    ('{"version": 2, "images": {"x": {"size": 1, "engine": []}}}', "images['x'].engine must be an object"),
    ('{"version": 2, "images": {"x": {"size": 1, "date": 5}}}', "images['x'].date must be a string or null"),
    ('{"version": 2, "images": {"x": {"size": 1e3}}}', "images['x'].size is 1000.0"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ('{"version": 2, "images": {"x": {"size": 1' + "0" * 5_000 + "}}}", "not valid JSON"),
]


@pytest.mark.parametrize(("text", "problem"), DAMAGED)
def test_updating_a_damaged_file_leaves_it_untouched(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "image-sizes.json"
    path.write_text(text)
    before = path.read_bytes()
    with pytest.raises(BaselineError) as info:
        baseline.update(path, {"app": old_entry()})
    message = str(info.value)
    assert "\n" not in message and len(message) < 400
    assert message.startswith(f"baseline {path}: ") and problem in message
    assert "left untouched" in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["image-sizes.json"]


def test_an_absent_file_is_an_empty_baseline_and_is_created(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "image-sizes.json"
    assert baseline.load(path) == {}
    baseline.update(path, {"app": old_entry()})
    assert baseline.load(path) == {"app": old_entry()}


def test_comparable_engines_differ_only_by_architecture() -> None:
    # portable sizes do not depend on the engine or its image store; the architecture does
    assert baseline.comparable(DOCKER, PODMAN) == []
    assert baseline.comparable(DOCKER, {**DOCKER, "image_store": "containerd"}) == []
    assert baseline.comparable(DOCKER, {**DOCKER, "arch": "arm64"}) == ["arch 'amd64' vs 'arm64'"]
    assert baseline.comparable(DOCKER, {"name": "docker"}) == []


@pytest.mark.parametrize(
    ("engine", "comparable"),
    [
        (ENGINE, True),
        ({**ENGINE, "storage_driver": "vfs"}, True),
        ({**ENGINE, "name": "podman", "storage_driver": "overlay"}, False),
        ({**ENGINE, "storage_driver": "overlayfs"}, False),  # Docker's containerd store
    ],
)
def test_version_1_entries_compare_only_when_graph_driver_docker_measured_them(
    tmp_path: Path, engine: dict[str, str], comparable: bool
) -> None:
    path = tmp_path / "image-sizes.json"
    write_baseline(path, {"app": entry(1000, 500, engine=engine)})
    loaded = baseline.load(path)["app"]
    assert loaded.version == 1
    assert loaded.size_comparable is comparable


def _writer(path: str, who: str, env: dict[str, str]) -> None:
    """One process's 25 updates, each of one new entry."""
    os.environ.update(env)
    for i in range(25):
        e = baseline.BaselineEntry(size=i, compressed_size=None, layers=(), engine={})
        baseline.update(Path(path), {f"{who}-{i}": e})


# Python 3.12+ warns of any fork in a process with threads (an xdist worker has one): a child
# that used a lock another thread held could hang. The writers use the baseline file and its lock
# only, which no other thread of this process holds.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded, use of fork:DeprecationWarning")
@pytest.mark.parametrize("homes", ["shared", "one each"])
def test_concurrent_updates_lose_nothing(tmp_path: Path, homes: str) -> None:
    """Also runs with a HOME and XDG_STATE_HOME each (sudo, a container mounting the checkout):
    they lock the same baseline all the same. The writers are forked (processes of their own,
    without a new interpreter's start)."""
    path = tmp_path / "image-sizes.json"

    def env(who: str) -> dict[str, str]:
        if homes == "shared":
            return {}
        return {"HOME": str(tmp_path / who), "XDG_STATE_HOME": str(tmp_path / who / "state")}

    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_writer, args=(str(path), who, env(who))) for who in ("a", "b", "c")]
    for process in procs:
        process.start()
    for process in procs:
        process.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    names = set(baseline.load(path))
    assert names == {f"{who}-{i}" for who in "abc" for i in range(25)}
