"""pytest-xdist: workers share builds through a directory of the controller's; the controller
merges what the workers measured, prints one report, writes one set of files and cleans up.

The wire format (a worker's ``workeroutput["imagesize"]``) is JSON: images with their analyses,
outcomes, builds (for cleanup) and the engine's facts.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from ..checks import Outcome
from ..engine.build import BuildResult
from ..engine.protocol import EngineInfo
from ..errors import BuildError, ImageSizeError
from ..measure.image import Image
from ..session import ImageSizeSession
from .terminal_progress import REPORT_ATTRIBUTE, TerminalProgress

SHARED_KEY = "imagesize_shared"
CONTROLLER_PID_KEY = "imagesize_controller_pid"
OUTPUT_KEY = "imagesize"


def result_to_json(result: BuildResult | ImageSizeError) -> dict[str, Any]:
    if isinstance(result, BuildResult):
        return {
            "ok": True,
            "image_id": result.image_id,
            "tag": result.tag,
            "created_here": result.created_here,
            "created_ids": sorted(result.created_ids),
            "builder": result.builder,
        }
    return {"ok": False, "message": str(result), "created_ids": sorted(getattr(result, "created_ids", ()))}


def result_from_json(data: dict[str, Any]) -> BuildResult | ImageSizeError:
    if data["ok"]:
        return BuildResult(
            data["image_id"],
            data["tag"],
            data["created_here"],
            frozenset(data["created_ids"]),
            data["builder"],
        )
    return BuildError(data["message"], frozenset(data["created_ids"]))


def to_wire(session: ImageSizeSession) -> str:
    """What a worker hands to the controller. The controller has no engine connection for a
    worker's images: where the size must come from the archive (no graph driver), it is read
    here, so the controller's reports have it. The progress lines of those reads (after the
    worker's last test report) travel with it."""
    for image in session.images.values():
        if not image.size_from_engine and not image.analysed:
            with contextlib.suppress(ImageSizeError):
                image.analysis()
    progress = session.progress
    pending = progress.take_pending() if isinstance(progress, TerminalProgress) else []
    return json.dumps(
        {
            "progress": pending,
            "images": [image.to_wire() for image in session.images.values()],
            "outcomes": [o.to_json() | {"message": o.message} for o in session.outcomes],
            "builds": [result_to_json(r) for r in session.builds.values()],
            "engine": None if session.engine_info is None else session.engine_info.__dict__,
        }
    )


def with_notes(text: str, notes: list[str]) -> str:
    """A worker's wire with the lines it says at the end of the run (what it left in a registry)."""
    return json.dumps(json.loads(text) | {"notes": notes}) if notes else text


def merge_wire(session: ImageSizeSession, text: str) -> None:
    data = json.loads(text)
    session.finish_notes.extend(str(note) for note in data.get("notes") or [])
    for raw in data["images"]:
        image = Image.from_wire(raw)
        known = session.images.get(image.name)
        if known is None or (not known.analysed and image.analysed):
            session.images[image.name] = image
    session.outcomes.extend(Outcome.from_json(o) for o in data["outcomes"])
    for raw in data["builds"]:
        merge_build(session, result_from_json(raw))
    if session.engine_info is None and data["engine"] is not None:
        session.engine_info = EngineInfo(**data["engine"])


def merge_build(session: ImageSizeSession, result: BuildResult | ImageSizeError) -> None:
    key = result.tag if isinstance(result, BuildResult) else str(result)
    session.builds.setdefault(key, result)


class SharedBuilds:
    """A worker's side: the first worker to need a spec builds it under a file lock; the others
    read its result. The records also let the controller clean up after a killed worker."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __call__(
        self, key: str, build: Callable[[], BuildResult | ImageSizeError]
    ) -> BuildResult | ImageSizeError:
        from filelock import FileLock

        record = self.directory / f"{key}.json"
        with FileLock(str(self.directory / f"{key}.lock")):
            if record.exists():
                return result_from_json(json.loads(record.read_text()))
            result = build()
            write_atomic(record, json.dumps(result_to_json(result)))  # the controller reads without the lock
            return result

    def results(self) -> list[BuildResult | ImageSizeError]:
        """Every build recorded by any worker (also one that was killed before reporting)."""
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                found.append(result_from_json(json.loads(path.read_text())))
            except (OSError, ValueError, KeyError):
                continue
        return found


class XdistController:
    """The controller's plugin object: hands workers the shared directory, merges their output,
    and before the report and cleanup takes every recorded build (a killed worker's too)."""

    def __init__(self, session: ImageSizeSession, add_cleanup: Callable[[Callable[[], None]], None]) -> None:
        self.session = session
        self.shared: tempfile.TemporaryDirectory[str] | None = None  # made when a worker starts
        self._add_cleanup = add_cleanup

    def shared_directory(self) -> str:
        """The directory the workers share builds through, made for the first worker (a worker
        that builds notes it in its build record: the next run removes it if this one is killed)."""
        if self.shared is None:
            self.shared = tempfile.TemporaryDirectory(prefix="pytest-imagesize-")
            self._add_cleanup(self.shared.cleanup)
        return self.shared.name

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[SHARED_KEY] = self.shared_directory()
        node.workerinput[CONTROLLER_PID_KEY] = os.getpid()

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        wire = getattr(node, "workeroutput", {}).get(OUTPUT_KEY)
        if wire:
            self._print_progress(json.loads(wire).get("progress"))
            merge_wire(self.session, wire)

    def _print_progress(self, lines: Any) -> None:
        progress = self.session.progress
        if lines and isinstance(progress, TerminalProgress):
            for line in lines:
                progress.write(str(line))

    def pytest_runtest_logreport(self, report: Any) -> None:
        """A worker's progress lines ride on its test reports: print them as each arrives."""
        self._print_progress(getattr(report, REPORT_ATTRIBUTE, None))

    def collect_recorded_builds(self) -> None:
        if self.shared is None:
            return
        for result in SharedBuilds(Path(self.shared.name)).results():
            merge_build(self.session, result)


def worker_shared_dir(workerinput: dict[str, Any] | None) -> Path | None:
    if workerinput is None or not workerinput.get(SHARED_KEY):
        return None
    return Path(workerinput[SHARED_KEY])


def worker_owner_pids(workerinput: dict[str, Any] | None) -> tuple[int, ...]:
    """A worker's build record belongs to the controller and the worker: it is a leftover only
    when both are gone (the controller removes it after its cleanup)."""
    if workerinput is None or not workerinput.get(CONTROLLER_PID_KEY):
        return (os.getpid(),)
    return (int(workerinput[CONTROLLER_PID_KEY]), os.getpid())
