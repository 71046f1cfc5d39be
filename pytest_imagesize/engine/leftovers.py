"""What our builds put on the engine, written down as it appears, so that a run killed before its
cleanup (SIGKILL, a dead engine, Ctrl-C at the wrong moment) is cleaned up by the next run.

Each run (and each pytest-xdist worker) keeps one record file in the per-user state directory
(``$XDG_STATE_HOME/pytest-imagesize/leftovers``, else ``~/.local/state/...``), one line per image
ID or tag, flushed as the build stream names it. A run that cleaned up deletes its records. At
the start of a run, the records of runs whose processes are all gone are swept: their images are
removed when nothing else names them (the same rules as a normal cleanup), then the records go.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import EngineUnavailable, ImageNotFound, ImageSizeError
from .build import LABEL, REPOSITORY_PREFIX
from .cleanup import normal_ref, remove_intermediates
from .protocol import Engine


def state_directory() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "pytest-imagesize" / "leftovers"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BuildRecord:
    """The record file of one process of one run on one engine."""

    def __init__(
        self, engine_address: str, owner_pids: tuple[int, ...], directory: Path | None = None
    ) -> None:
        self.directory = (directory or state_directory()) / hashlib.sha256(
            engine_address.encode()
        ).hexdigest()[:16]
        self.owner_pids = owner_pids  # every pid that must be gone before others may sweep this
        self.path = self.directory / ("-".join(str(p) for p in owner_pids) + ".jsonl")
        self._seen: set[tuple[str, str]] = set()

    @property
    def image_ids(self) -> set[str]:
        """The image IDs noted so far (short or full, as the build stream gave them)."""
        return {value for kind, value in self._seen if kind == "id"}

    @property
    def container_ids(self) -> set[str]:
        """The build-step containers noted so far (an interrupted build can leave one)."""
        return {value for kind, value in self._seen if kind == "container"}

    def add(self, kind: str, value: str) -> None:
        """Note an image ID (``"id"``) or a tag of ours (``"tag"``); best effort, never fails a build."""
        if (kind, value) in self._seen:
            return
        self._seen.add((kind, value))
        with contextlib.suppress(OSError):
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps([kind, value]) + "\n")
                handle.flush()

    def done(self, prefix_only: bool = False) -> None:
        """This run cleaned up: drop its record (and, for an xdist controller, its workers')."""
        targets = [self.path]
        if prefix_only:
            targets = [*self.directory.glob(f"{self.owner_pids[0]}-*.jsonl"), self.path]
        for path in targets:
            with contextlib.suppress(OSError):
                path.unlink()


def _entries(path: Path) -> Iterator[tuple[str, str]]:
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, TypeError):
                kind, value = json.loads(line)
                yield str(kind), str(value)


def _dead_records(directory: Path) -> list[Path]:
    dead = []
    for path in sorted(directory.glob("*.jsonl")):
        try:
            pids = [int(part) for part in path.stem.split("-")]
        except ValueError:
            continue
        if not any(_alive(pid) for pid in pids):
            dead.append(path)
    return dead


def sweep(engine: Engine, directory: Path | None = None) -> int:
    """Remove what runs that died before their cleanup left on this engine. Returns how many
    images went. Only our tags (our repository prefix, our label) and untagged images are
    removed; an image that anything else names stays."""
    record_dir = BuildRecord(engine.address, (0,), directory).directory
    if not record_dir.is_dir():
        return 0
    removed = 0
    for path in _dead_records(record_dir):
        ids: list[str] = []
        try:
            for kind, value in _entries(path):
                if kind == "tag":
                    removed += _remove_our_tag(engine, value)
                elif kind == "id":
                    ids.append(value)
                elif kind == "container":  # a step container a killed build left: it holds its image
                    engine.remove_container(value)
            left = remove_intermediates(engine, full_ids(engine, ids))
        except EngineUnavailable:
            raise
        except ImageSizeError:
            continue  # try again next run
        if left:
            continue  # still in use (by a build still going on?): try again next run
        with contextlib.suppress(OSError):
            path.unlink()
    return removed


def full_ids(engine: Engine, ids: list[str] | set[str]) -> set[str]:
    found = set()
    for short in ids:
        try:
            found.add(str(engine.inspect_image(short)["Id"]))
        except ImageNotFound:
            continue
    return found


def _remove_our_tag(engine: Engine, tag: str) -> int:
    if not normal_ref(tag).startswith(REPOSITORY_PREFIX):
        return 0
    try:
        data = engine.inspect_image(tag)
    except ImageNotFound:
        return 0
    if ((data.get("Config") or {}).get("Labels") or {}).get(LABEL) != "true":
        return 0
    engine.remove_image(tag)
    return 1
