"""The build records of runs: a killed run's temporary directories are removed by the next run's
sweep, and a tag that another live run noted is left to it (by the sweep and by a cleanup)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagesize.engine.build import LABEL, BuildResult
from pytest_imagesize.engine.leftovers import BuildRecord, sweep, used_elsewhere
from pytest_imagesize.engine.protocol import Engine
from pytest_imagesize.session import ImageSizeSession

from ..support.fake_engine import FakeEngine, FakeImage, settings

TAG = "pytest-imagesize/app:0123456789abcdef"


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


@pytest.fixture
def live_pid() -> Iterator[int]:
    """A process of this test that stands for another pytest run still going on."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


def engine_with_tag() -> tuple[FakeEngine, FakeImage]:
    fake = FakeImage.from_layers([{"app": b"a" * 100}], tags=[TAG], labels={LABEL: "true"})
    return FakeEngine("containerd", [fake]), fake


def test_a_dead_runs_temporary_directory_is_swept(tmp_path: Path) -> None:
    engine, _ = engine_with_tag()
    temp = tmp_path / "imagesize-buildx-abc"
    (temp / "sub").mkdir(parents=True)
    (temp / "sub" / "iid").write_text("x")
    other = tmp_path / "not-ours"
    other.mkdir()
    record = BuildRecord(engine.address, (dead_pid(),), tmp_path / "state")
    record.add("dir", str(temp))
    record.add("dir", str(other))  # a damaged record never removes what is not ours
    sweep(engine, tmp_path / "state")
    assert not temp.exists() and other.exists()
    assert not record.path.exists()


def test_a_tag_another_live_run_uses_is_left_by_the_sweep(tmp_path: Path, live_pid: int) -> None:
    engine, fake = engine_with_tag()
    BuildRecord(engine.address, (dead_pid(),), tmp_path / "state").add("tag", TAG)
    live = BuildRecord(engine.address, (live_pid,), tmp_path / "state")
    live.add("tag", TAG)
    assert used_elsewhere(live.directory, TAG, None)
    assert not used_elsewhere(live.directory, TAG, live_pid)
    sweep(engine, tmp_path / "state")
    assert engine.inspect_image(TAG)["Id"] == fake.id


def _session(engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ImageSizeSession:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))

    def connect() -> Engine:
        return engine

    session = ImageSizeSession(
        settings=settings(tmp_path / "image-sizes.json"), connect=connect, sweep_leftovers=False
    )
    return session


def test_a_cleanup_leaves_a_tag_another_live_session_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, live_pid: int
) -> None:
    engine, fake = engine_with_tag()
    session = _session(engine, tmp_path, monkeypatch)
    session.record().add("tag", TAG)
    session.builds["k"] = BuildResult(fake.id, TAG, created_here=True)
    other = BuildRecord(engine.address, (live_pid,))
    other.add("tag", TAG)
    session.cleanup()
    assert engine.inspect_image(TAG)["Id"] == fake.id
    assert any("another pytest run" in note for note in session.finish_notes)
    other.path.unlink()
    again = _session(engine, tmp_path, monkeypatch)
    again.record().add("tag", TAG)
    again.builds["k"] = BuildResult(fake.id, TAG, created_here=False)
    again.cleanup()  # the last one removes it
    assert TAG not in str([engine.inspect_image(i).get("RepoTags") for i in engine.image_ids()])


def test_a_cleanup_removes_the_tag_of_a_build_stopped_as_it_tagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, fake = engine_with_tag()
    session = _session(engine, tmp_path, monkeypatch)
    session.record().add("tag", TAG)  # noted before the build, which was interrupted: no result
    session.cleanup()  # buildx notes no image IDs: the tag alone must be enough
    assert fake.id not in engine.image_ids()
    assert not session.record().path.exists()
    assert os.listdir(session.record().directory) == []


def test_the_xdist_directory_is_made_only_for_workers_and_noted_by_a_worker_that_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_imagesize.glue.xdist import XdistController

    engine, _ = engine_with_tag()
    cleanups: list[object] = []
    controller = XdistController(_session(engine, tmp_path, monkeypatch), cleanups.append)
    assert controller.shared is None and not cleanups  # no -n: no directory
    node = type("Node", (), {"workerinput": {}})()
    controller.pytest_configure_node(node)
    shared = node.workerinput["imagesize_shared"]
    assert Path(shared).is_dir() and len(cleanups) == 1
    worker = _session(engine, tmp_path, monkeypatch)
    worker.temp_dirs = (shared,)
    assert ("dir", shared) in [tuple(line) for line in _lines(worker.record())]
    assert controller.shared is not None
    controller.shared.cleanup()


def _lines(record: BuildRecord) -> list[list[str]]:
    import json

    return [json.loads(line) for line in record.path.read_text().splitlines()]


def test_a_record_whose_process_id_was_used_again_is_a_dead_runs(tmp_path: Path, live_pid: int) -> None:
    """Containers start every run with the same few process IDs: a record written by an earlier
    process of the same ID (another start time) is swept, not taken for a live run's."""
    engine = FakeEngine()
    directory = BuildRecord(engine.address, (live_pid,), tmp_path).directory
    directory.mkdir(parents=True)
    (directory / f"{live_pid}.1.jsonl").write_text(f'["dir", "{tmp_path}/pytest-imagesize-old"]\n')
    (tmp_path / "pytest-imagesize-old").mkdir()
    assert not used_elsewhere(directory, "x", None)  # not taken for a live run
    sweep(engine, tmp_path)
    assert not (tmp_path / "pytest-imagesize-old").exists()
    live = BuildRecord(engine.address, (live_pid,), tmp_path)
    live.add("tag", TAG)
    assert live.path.name != f"{live_pid}.1.jsonl" and used_elsewhere(directory, TAG, None)
