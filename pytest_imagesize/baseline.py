"""The baseline file: measured sizes committed with the code, to catch slow growth.

Format (version 1), written with sorted keys and two-space indent so review diffs stay small::

    {"version": 1,
     "images": {"slim": {"size": 6639775, "compressed_size": 2797140, "layers": [...],
                         "engine": {...}, "date": "2026-11-29", "commit": "abc1234"}}}

Updates merge into the file under an exclusive lock and replace it atomically, so concurrent
writers lose nothing; a file that does not parse is never overwritten.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ImageSizeError
from .report import write_atomic

VERSION = 1


class BaselineError(ImageSizeError):
    """The baseline file cannot be read or written."""


@dataclass(frozen=True)
class Entry:
    """One image's baseline values."""

    size: int
    compressed_size: int | None
    layers: tuple[tuple[str, int], ...]  # (instruction, size) per layer, oldest first
    engine: dict[str, Any]
    date: str | None = None
    commit: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "compressed_size": self.compressed_size,
            "layers": [{"instruction": i, "size": s} for i, s in self.layers],
            "engine": dict(self.engine),
            "date": self.date,
            "commit": self.commit,
        }


def _problem(path: Path, what: str) -> BaselineError:
    return BaselineError(
        f"baseline {path}: {what}; fix or delete the file (it was left untouched), "
        "then run with --image-baseline-update to write it again"
    )


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _entry(path: Path, name: str, data: Any) -> Entry:
    where = f"images[{name!r}]"
    if not isinstance(data, dict):
        raise _problem(path, f"{where} is {type(data).__name__}, expected an object")
    if not _int(data.get("size")):
        raise _problem(path, f"{where}.size is {data.get('size')!r}, expected bytes as a whole number")
    compressed = data.get("compressed_size")
    if compressed is not None and not _int(compressed):
        raise _problem(path, f"{where}.compressed_size is {compressed!r}, expected bytes or null")
    layers_raw = data.get("layers", [])
    if not isinstance(layers_raw, list) or not all(
        isinstance(x, dict) and _int(x.get("size")) and isinstance(x.get("instruction", ""), str)
        for x in layers_raw
    ):
        raise _problem(path, f"{where}.layers must be a list of {{instruction, size}} objects")
    engine = data.get("engine", {})
    if not isinstance(engine, dict):
        raise _problem(path, f"{where}.engine must be an object")
    for key in ("date", "commit"):
        if data.get(key) is not None and not isinstance(data.get(key), str):
            raise _problem(path, f"{where}.{key} must be a string or null")
    return Entry(
        size=data["size"],
        compressed_size=compressed,
        layers=tuple((str(x.get("instruction", "")), int(x["size"])) for x in layers_raw),
        engine=engine,
        date=data.get("date"),
        commit=data.get("commit"),
    )


def parse(path: Path, text: str) -> dict[str, Entry]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _problem(path, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _problem(path, "the top level is not an object")
    if data.get("version") != VERSION:
        raise _problem(
            path, f"version {data.get('version')!r} is not one this plugin reads (expected {VERSION})"
        )
    images = data.get("images")
    if not isinstance(images, dict):
        raise _problem(path, "'images' is missing or not an object")
    return {str(name): _entry(path, str(name), value) for name, value in images.items()}


def load(path: Path) -> dict[str, Entry]:
    """The baseline's entries; an absent file is an empty baseline."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise BaselineError(f"baseline {path}: cannot read it ({exc.strerror})") from None
    return parse(path, text)


def render(entries: Mapping[str, Entry]) -> str:
    document = {"version": VERSION, "images": {n: e.to_json() for n, e in entries.items()}}
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # The lock lives outside the user's tree (no stray file beside a committed baseline).
    lock_dir = Path(tempfile.gettempdir()) / "pytest-imagesize-locks"
    lock_dir.mkdir(exist_ok=True)
    lock_path = lock_dir / (hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24] + ".lock")
    try:
        handle = open(lock_path, "a")  # noqa: SIM115 - held for the block
    except OSError as exc:
        raise BaselineError(
            f"baseline {path}: cannot update it ({exc.strerror} for {lock_path}); "
            "make the directory writable or point --image-baseline elsewhere"
        ) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()


def _read_only(path: Path) -> bool:
    """No write permission, or no write bit at all (which root would otherwise ignore)."""
    return not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222


def update(path: Path, measured: Mapping[str, Entry]) -> dict[str, Entry]:
    """Merge ``measured`` into the file: other images' entries stay as they are."""
    if path.exists() and _read_only(path):
        raise BaselineError(f"baseline {path}: the file is read-only; make it writable to update it")
    if path.parent.exists() and _read_only(path.parent):
        raise BaselineError(f"baseline {path}: its directory is read-only; make it writable to update it")
    with _locked(path):
        entries = load(path)  # raises, and writes nothing, when the file is damaged
        entries.update(measured)
        ordered = dict(sorted(entries.items()))
        try:
            write_atomic(path, render(ordered))
        except OSError as exc:
            raise BaselineError(f"baseline {path}: cannot write it ({exc.strerror})") from None
    return ordered


def git_commit(directory: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def today() -> str:
    return datetime.date.today().isoformat()


def comparable(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between two engine descriptions in a way that changes sizes."""
    return [
        f"{key} {old.get(key)!r} vs {new.get(key)!r}"
        for key in ("name", "storage_driver", "arch")
        if old.get(key) is not None and new.get(key) is not None and old.get(key) != new.get(key)
    ]
