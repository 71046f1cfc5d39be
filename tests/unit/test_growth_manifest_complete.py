"""A baseline's file manifest that lists every regular file: a path it lacks is absent, so a file
added since (however small) is a mover; the completeness round-trips through the baseline file,
and files written without it read as "not known" (a missing path is then absent only when larger
than the manifest's smallest entry)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_imagesize import baseline
from pytest_imagesize.baseline import BaselineEntry, BaselineLayer, merge_entry
from pytest_imagesize.compare.changes import compare
from pytest_imagesize.errors import BaselineError
from pytest_imagesize.measure.layers import FileRecord
from pytest_imagesize.measure.summary import ImageSummary, manifest_complete

MB, KB = 1_000_000, 1_000
BEFORE = {"/big": MB, "/medium": 500 * KB}
NOW = {**BEFORE, "/small": 300 * KB}
ENGINE = {"name": "docker", "version": "20.10.24", "storage_driver": "overlay2", "arch": "amd64"}


def summary(files: dict[str, int], complete: bool | None) -> ImageSummary:
    return ImageSummary(size=sum(files.values()), files=files, files_complete=complete)


# ---------------------------------------------------------------------------- the comparison rule


def test_a_file_absent_from_a_complete_manifest_is_added_however_small() -> None:
    comparison = compare(summary(BEFORE, True), summary(NOW, True), b_files=NOW)
    assert [(m.key, m.a, m.b, m.status) for m in comparison.files] == [("/small", None, 300 * KB, "added")]


def test_a_file_absent_from_a_partial_or_unknown_manifest_is_not_known_to_be_new() -> None:
    for complete in (False, None):
        comparison = compare(summary(BEFORE, complete), summary(NOW, True), b_files=NOW)
        assert comparison.files == [], complete
    # larger than the partial manifest's smallest entry: it would have been listed, so it is new
    bigger = {**BEFORE, "/large": 600 * KB}
    comparison = compare(summary(BEFORE, None), summary(bigger, True), b_files=bigger)
    assert [m.key for m in comparison.files] == ["/large"]


def test_a_complete_manifest_on_the_new_side_shows_a_small_file_removed() -> None:
    comparison = compare(summary(NOW, True), summary(BEFORE, True))
    assert [(m.key, m.status) for m in comparison.files] == [("/small", "removed")]
    assert compare(summary(NOW, True), summary(BEFORE, None)).files == []


def test_manifest_complete_counts_regular_files_only() -> None:
    def record(path: str, kind: str, size: int) -> FileRecord:
        return FileRecord(path, kind, size, 0o644, 0, 0, "", 0)

    files = [record("/big", "file", MB), record("/etc", "dir", 0), record("/link", "symlink", 0)]
    assert manifest_complete(files, {"/big": MB}) is True
    assert manifest_complete([*files, record("/tiny", "file", 1)], {"/big": MB}) is False


# ---------------------------------------------------------------------------- the baseline file


def entry(complete: bool | None, files: dict[str, int] = BEFORE) -> BaselineEntry:
    layers = (BaselineLayer("COPY . /", sum(files.values()), "sha256:aa"),)
    return BaselineEntry(
        sum(files.values()),
        None,
        layers,
        ENGINE,
        "2026-12-01",
        "abc1234",
        files=files,
        files_complete=complete,
    )


@pytest.mark.parametrize("complete", [True, False])
def test_completeness_round_trips_through_the_file(tmp_path: Path, complete: bool) -> None:
    text = baseline.render({"app": entry(complete)})
    assert json.loads(text)["images"]["app"]["files_complete"] is complete
    loaded = baseline.parse(tmp_path / "image-sizes.json", text)["app"]
    assert loaded.files_complete is complete
    assert loaded.summary().files_complete is complete
    assert baseline.render(baseline.parse(tmp_path / "x.json", text)) == text


def test_a_file_written_without_the_field_reads_as_not_known_and_stays_without_it(tmp_path: Path) -> None:
    old_file = """{
  "images": {
    "app": {
      "commit": "abc1234",
      "compressed_size": null,
      "date": "2026-12-01",
      "engine": {"arch": "amd64", "name": "docker", "storage_driver": "overlay2", "version": "20.10.24"},
      "files": {"/big": 1000000, "/medium": 500000},
      "layers": [{"diff_id": "sha256:aa", "instruction": "COPY . /", "size": 1500000}],
      "size": 1500000
    }
  },
  "version": 2
}
"""
    loaded = baseline.parse(tmp_path / "image-sizes.json", old_file)["app"]
    assert loaded.files_complete is None
    assert loaded.files == BEFORE
    assert "files_complete" not in json.loads(baseline.render({"app": loaded}))["images"]["app"]
    # and the comparison keeps the rule for manifests of unknown completeness
    assert compare(loaded.summary(), summary(NOW, True), b_files=NOW).files == []


def test_a_completeness_that_is_not_a_boolean_is_one_clear_line(tmp_path: Path) -> None:
    data = entry(True).to_json() | {"files_complete": "yes"}
    with pytest.raises(BaselineError) as info:
        baseline.parse(tmp_path / "image-sizes.json", json.dumps({"version": 2, "images": {"app": data}}))
    assert "images['app'].files_complete is 'yes', expected true, false or null" in str(info.value)
    assert "\n" not in str(info.value)


def test_merging_takes_the_manifest_and_its_completeness_together() -> None:
    assert merge_entry(entry(None), entry(True, NOW)).files_complete is True
    assert merge_entry(entry(True), entry(False, NOW)).files_complete is False
    # a run that did not read the files keeps the recorded manifest and its completeness
    unmeasured = BaselineEntry(1_500_000, None, (), ENGINE)
    merged = merge_entry(entry(True), unmeasured)
    assert (merged.files, merged.files_complete) == (BEFORE, True)
    # an old entry updated by a run that read the files gains the field
    assert "files_complete" in merge_entry(entry(None), entry(True)).to_json()


def test_a_manifest_kept_from_another_size_is_not_known_complete() -> None:
    unmeasured = BaselineEntry(1_800_000, None, (), ENGINE)  # grew, files not read
    merged = merge_entry(entry(True), unmeasured)
    assert merged.files == BEFORE and merged.files_complete is None


def test_what_the_file_walk_gives_comes_from_the_side_that_walked() -> None:
    old = replace(entry(True), go={"/app": {"std": 100}}, dirs={"/app": 1_500_000})
    merged = merge_entry(old, entry(True, NOW))  # walked again: no Go binary, no /app any more
    assert merged.go == {} and merged.dirs == entry(True, NOW).dirs
