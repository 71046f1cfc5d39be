"""What our builds put on the engine, written down as it appears, so that a run killed before its
cleanup (SIGKILL, a dead engine, Ctrl-C at the wrong moment) is cleaned up by the next run.

Each run (and each pytest-xdist worker) keeps one record file in the per-user state directory
(``$XDG_STATE_HOME/pytest-imagesize/leftovers``, else ``~/.local/state/...``), one line per image
ID, tag, build container or temporary directory, flushed as the build stream names it. A run that
cleaned up deletes its records; a record is named by its processes' IDs and start times, so a
process ID used again does not make a dead run look alive. At the start of a run, the records of
runs whose processes are all gone are swept: their images are removed when nothing else names
them (the same rules as a normal cleanup), their temporary directories are deleted, then the
records go.

The records of live runs also say who uses a tag: our tags name the build inputs, so two sessions
building the same thing at once share one; a tag is removed only when no other live run's record
names it (the last session to finish removes it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from ..errors import EngineUnavailable, ImageNotFound, ImageSizeError
from ..statedir import state_root
from .build import LABEL, REPOSITORY_PREFIX
from .cleanup import normal_ref, remove_intermediates
from .protocol import Engine

TEMP_PREFIXES = ("imagesize-buildx-", "pytest-imagesize-")  # the temporary directories we make


def state_directory() -> Path:
    return state_root() / "leftovers"


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from ``/proc``), or None where that
    cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # after the command name, which may hold spaces
    return fields[19] if len(fields) > 19 and fields[19].isdigit() else None


def process_token(pid: int) -> str:
    """``pid`` and its start time (``1234.98765``): a process ID used again by a later process
    (containers start every run with the same few) does not make a dead run's record look alive."""
    started = _started(pid)
    return f"{pid}.{started}" if started else str(pid)


def _alive(token: str) -> bool:
    pid_text, _, started = token.partition(".")
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not started or _started(pid) in (None, started)


class BuildRecord:
    """The record file of one process of one run on one engine."""

    def __init__(
        self, engine_address: str, owner_pids: tuple[int, ...], directory: Path | None = None
    ) -> None:
        self.directory = (directory or state_directory()) / hashlib.sha256(
            engine_address.encode()
        ).hexdigest()[:16]
        self.owner_pids = owner_pids  # every pid that must be gone before others may sweep this
        self._tokens = [process_token(p) for p in owner_pids]
        self.path = self.directory / ("-".join(self._tokens) + ".jsonl")
        self._seen: set[tuple[str, str]] = set()

    @property
    def image_ids(self) -> set[str]:
        """The image IDs noted so far (short or full, as the build stream gave them)."""
        return {value for kind, value in self._seen if kind == "id"}

    @property
    def tags(self) -> set[str]:
        """Our tags that this process's builds were given (also one that was interrupted)."""
        return {value for kind, value in self._seen if kind == "tag"}

    @property
    def container_ids(self) -> set[str]:
        """The build-step containers noted so far (an interrupted build can leave one)."""
        return {value for kind, value in self._seen if kind == "container"}

    def add(self, kind: str, value: str) -> None:
        """Note an image ID (``"id"``), a tag of ours (``"tag"``), a build container
        (``"container"``), a temporary directory (``"dir"``), a Podman manifest list of ours
        (``"manifest"``), a Podman build's token (``"podman-build"``, its build containers) or a
        registry reference a build pushed to (``"pushed"``: the engine may name it locally too);
        best effort, never fails a build."""
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
            targets = [*self.directory.glob(f"{self._tokens[0]}-*.jsonl"), self.path]
        for path in targets:
            with contextlib.suppress(OSError):
                path.unlink()


def _entries(path: Path) -> Iterator[tuple[str, str]]:
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, TypeError):
                kind, value = json.loads(line)
                yield str(kind), str(value)


def _records(directory: Path, alive: bool) -> list[Path]:
    """The record files of live runs (``alive``) or of runs whose processes are all gone."""
    found = []
    for path in sorted(directory.glob("*.jsonl")):
        tokens = path.stem.split("-")
        try:
            live = any(_alive(token) for token in tokens)
        except ValueError:
            continue
        if live == alive:
            found.append(path)
    return found


def _dead_records(directory: Path) -> list[Path]:
    return _records(directory, alive=False)


def used_elsewhere(directory: Path, tag: str, own_pid: int | None) -> bool:
    """Whether a live run other than the one of ``own_pid`` (a process and its xdist workers)
    noted ``tag`` (it built, or is building, the same inputs)."""
    for path in _records(directory, alive=True):
        if own_pid is not None and path.stem.split("-")[0].partition(".")[0] == str(own_pid):
            continue
        if any(kind == "tag" and value == tag for kind, value in _entries(path)):
            return True
    return False


def remove_temporary(path: str) -> None:
    """Delete a temporary directory a record names (only one of ours, by its name)."""
    if Path(path).name.startswith(TEMP_PREFIXES) and os.path.isabs(path):
        shutil.rmtree(path, ignore_errors=True)


def remove_manifest_list(name: str) -> None:
    """Remove a Podman manifest list of ours (our repository prefix) with the podman CLI; the
    Docker API cannot name one. Gone, or no podman CLI, is fine."""
    if not normal_ref(name).startswith(REPOSITORY_PREFIX):
        return
    podman = shutil.which("podman")
    if podman is None:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        exists = subprocess.run([podman, "manifest", "exists", name], capture_output=True, timeout=120)
        if exists.returncode == 0:
            subprocess.run([podman, "manifest", "rm", name], capture_output=True, timeout=120)


BUILD_TOKEN_ARG = "PYTEST_IMAGESIZE_BUILD"  # a build argument that marks a Podman build as ours


def remove_build_containers(token: str) -> int:
    """Remove the build containers (buildah's working containers, which an interrupted
    ``podman build`` leaves) of the Podman build given ``--build-arg PYTEST_IMAGESIZE_BUILD=token``:
    buildah keeps a build's arguments with each of its containers. Returns how many went."""
    podman = shutil.which("podman")
    if podman is None or not token.isalnum():
        return 0
    removed = 0
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        store = subprocess.run(
            [podman, "info", "--format", "{{.Store.GraphRoot}}\t{{.Store.GraphDriverName}}"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        root, _, driver = store.stdout.strip().partition("\t")
        listed = subprocess.run(
            [podman, "ps", "-a", "-q", "--no-trunc", "--external"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        marker = f'"{BUILD_TOKEN_ARG}":"{token}"'
        for container in listed.stdout.split():
            state = Path(root) / f"{driver}-containers" / container / "userdata" / "buildah.json"
            try:
                ours = marker in state.read_text(encoding="utf-8", errors="replace").replace(" ", "")
            except OSError:
                continue  # not a build container (or not one we can read)
            if ours:
                done = subprocess.run([podman, "rm", "-f", container], capture_output=True, timeout=120)
                removed += done.returncode == 0
    return removed


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
                    if not used_elsewhere(record_dir, value, None):
                        removed += remove_tag_of_ours(engine, value)
                elif kind == "dir":
                    remove_temporary(value)
                elif kind == "pushed":  # buildx's docker driver names a pushed image locally too
                    removed += remove_pushed_name(engine, value)
                elif kind == "id":
                    ids.append(value)
                elif kind == "container":  # a step container a killed build left: it holds its image
                    engine.remove_container(value)
                elif kind == "manifest":  # before the ids: the list holds its images
                    remove_manifest_list(value)
                elif kind == "podman-build":  # a killed `podman build` leaves its build containers
                    remove_build_containers(value)
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


def remove_tag_of_ours(engine: Engine, tag: str) -> int:
    """Remove ``tag`` when it is in our namespace and names an image with our label; 1 if it went."""
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


PUSHED_TAG_PREFIX = "pytest-imagesize-"  # the run-unique tags of images pushed to a registry


def remove_pushed_name(engine: Engine, ref: str) -> int:
    """Remove the engine's name for an image a build pushed (``host/repo:pytest-imagesize-...``)
    when it names an image with our label; 1 if it went."""
    if not ref.rpartition(":")[2].startswith(PUSHED_TAG_PREFIX):
        return 0
    try:
        data = engine.inspect_image(ref)
    except ImageNotFound:
        return 0
    if ((data.get("Config") or {}).get("Labels") or {}).get(LABEL) != "true":
        return 0
    engine.remove_image(ref)
    return 1
