"""A baseline with a key given twice in one object is refused in one line naming the key, and an
update leaves it untouched; updates leave no lock file in the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagesize import baseline
from pytest_imagesize.baseline import BaselineEntry
from pytest_imagesize.errors import BaselineError

ENTRY = '{"size": 6639775, "compressed_size": null, "layers": [], "engine": {}}'


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"version": 2, "images": {"app": ' + ENTRY + ', "app": {"size": 1, "engine": {}}}}', "app"),
        ('{"version": 2, "images": {"app": {"size": 1, "engine": {}}, "app": ' + ENTRY + "}}", "app"),
        ('{"version": 2, "version": 1, "images": {}}', "version"),
        ('{"version": 2, "images": {"app": {"size": 1, "size": 2, "engine": {}}}}', "size"),
    ],
)
def test_duplicate_keys_are_refused_and_the_file_is_left(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "image-sizes.json"
    path.write_text(text)
    with pytest.raises(BaselineError) as caught:
        baseline.load(path)
    message = str(caught.value)
    assert f"the key {key!r} appears twice" in message and "\n" not in message
    measured = {"app": BaselineEntry(5, None, (), {})}
    with pytest.raises(BaselineError):
        baseline.update(path, measured)
    assert path.read_text() == text


def test_an_update_leaves_no_lock_file_in_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    project = tmp_path / "project"
    project.mkdir()
    path = project / "image-sizes.json"
    baseline.update(path, {"app": BaselineEntry(5, None, (), {})})
    baseline.update(path, {"app": BaselineEntry(6, None, (), {})})
    assert sorted(p.name for p in project.iterdir()) == ["image-sizes.json"]
    assert baseline.lock_path(path).is_relative_to(tmp_path / "state")
