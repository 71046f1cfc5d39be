"""The baseline file: measured sizes committed with the code, to catch slow growth.

Format version 2, written with sorted keys and two-space indent so review diffs stay small::

    {"version": 2,
     "images": {"slim": {"size": 6639775, "compressed_size": 2797140,
                         "layers": [{"instruction": "...", "size": 860135, "diff_id": "sha256:..."}],
                         "engine": {"name": "docker", "image_store": "graphdriver", ...},
                         "date": "2026-11-29", "commit": "abc1234"}}}

``size`` is the portable size (the same on every engine). ``files`` is a manifest of the largest
files (the 200 largest plus every file of at least 1 % of the image); ``files_complete`` says
whether it lists every regular file of the image: if true, a path it lacks is absent from the
image; if false or not recorded (files written without the field), a path it lacks counts as
absent only when larger than its smallest entry.

A version-1 file still reads; its entries measured by an engine whose own ``.Size`` was not the
portable size (Podman, Docker's containerd store) are not comparable for ``size`` and are
rewritten by the next update.

Each platform of a multi-platform image has its own entry, keyed ``name[platform]``
(``app[linux/arm64]``); a single-platform image keeps its plain name. Entries record the
``platform`` they were measured for. An image that becomes multi-platform keeps its history: its
plain entry counts as the entry of the platform it was measured for (recorded; else the measuring
engine's architecture; else this host's), and an update moves it to that platform's key.

Updates merge into the file field by field under a lock in the per-user state directory (concurrent
runs on one checkout exclude each other; nothing is added to the project) and replace it
atomically; a value that was not measured never replaces a recorded one; a file that does not parse
is never overwritten; an entry's ``date`` and ``commit`` change only when its numbers do.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .atomic import write_atomic
from .errors import BaselineError
from .measure.index import split_member_name
from .measure.packages.kept import PackageSummary, summaries_from_json, summaries_json
from .measure.summary import BaseSummary, ImageSummary, LayerSummary
from .sizes import MAX_BYTES
from .statedir import lock_for

VERSION = 2
READABLE_VERSIONS = (1, 2)
GRAPH_DRIVERS = frozenset({"overlay2", "overlay", "aufs", "btrfs", "zfs", "devicemapper", "vfs"})
LOCK_TIMEOUT = 120.0


@dataclass(frozen=True)
class BaselineLayer:
    instruction: str
    size: int
    diff_id: str | None = None
    from_base: bool = False


@dataclass(frozen=True)
class BaselineEntry:
    """One image's baseline values (``None``: not measured)."""

    size: int | None
    compressed_size: int | None
    layers: tuple[BaselineLayer, ...]
    engine: Mapping[str, Any]
    date: str | None = None
    commit: str | None = None
    version: int = VERSION  # the file version the entry was read from
    base: BaseSummary | None = None
    own_size: int | None = None
    own_compressed_size: int | None = None
    files: Mapping[str, int] = field(default_factory=dict)  # the largest files, path -> bytes
    files_complete: bool | None = None  # whether ``files`` lists every regular file (None: unknown)
    dirs: Mapping[str, int] = field(default_factory=dict)  # directories to depth 3 -> bytes
    go: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # Go binary -> module -> bytes
    go_packages: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # own binaries' packages
    platform: str | None = None  # what it was measured for, "linux/arm64" (None: not recorded)
    packages: Mapping[str, PackageSummary] = field(default_factory=dict)  # "deb:gcc" -> its summary
    packages_complete: bool | None = None  # whether ``packages`` lists every package (None: unknown)

    @classmethod
    def of(
        cls,
        summary: ImageSummary,
        engine: Mapping[str, Any],
        date: str | None,
        commit: str | None,
        platform: str | None = None,
    ) -> BaselineEntry:
        return cls(
            platform=platform,
            size=summary.size,
            compressed_size=summary.compressed_size,
            layers=tuple(
                BaselineLayer(la.instruction, la.size, la.diff_id, la.from_base) for la in summary.layers
            ),
            engine=engine,
            date=date,
            commit=commit,
            base=summary.base,
            own_size=summary.own_size,
            own_compressed_size=summary.own_compressed_size,
            files=dict(summary.files),
            files_complete=summary.files_complete,
            dirs=dict(summary.dirs),
            go={binary: dict(modules) for binary, modules in summary.go.items()},
            go_packages={binary: dict(packages) for binary, packages in summary.go_packages.items()},
            packages=dict(summary.packages),
            packages_complete=summary.packages_complete,
        )

    def summary(self) -> ImageSummary:
        """The entry as a summary to compare an image with (the size only where comparable)."""
        return ImageSummary(
            size=self.size if self.size_comparable else None,
            compressed_size=self.compressed_size,
            layers=tuple(
                LayerSummary(la.diff_id, la.size, la.instruction, la.from_base) for la in self.layers
            ),
            base=self.base,
            own_size=self.own_size,
            own_compressed_size=self.own_compressed_size,
            files=self.files,
            files_complete=self.files_complete,
            dirs=self.dirs,
            go=self.go,
            go_packages=self.go_packages,
            packages=self.packages,
            packages_complete=self.packages_complete,
        )

    @property
    def size_comparable(self) -> bool:
        """Whether ``size`` is the portable size: always in version 2; in version 1 only when
        Docker with a graph driver measured it (its ``.Size`` is the portable size)."""
        if self.version >= 2:
            return True
        return self.engine.get("name") == "docker" and self.engine.get("storage_driver") in GRAPH_DRIVERS

    def numbers(self) -> dict[str, Any]:
        """What the entry says about the image, without when and where it was recorded."""
        data = self.to_json()
        for key in ("date", "commit", "engine", "platform"):
            data.pop(key, None)
        return data

    @property
    def measured_for(self) -> str:
        """The platform the entry was measured for: the recorded one; else, for an entry written
        before platforms were recorded, the measuring engine's architecture (as ``linux/<arch>``)
        where it was recorded, else this host's platform."""
        from .sources.platforms import Platform, host_platform

        if self.platform:
            return self.platform
        arch = self.engine.get("arch")
        return str(Platform.of("linux", arch) if isinstance(arch, str) and arch else host_platform())

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "compressed_size": self.compressed_size,
            "layers": [
                {
                    "instruction": la.instruction,
                    "size": la.size,
                    **({"diff_id": la.diff_id} if la.diff_id else {}),
                    **({"from_base": True} if la.from_base else {}),
                }
                for la in self.layers
            ],
            "engine": dict(self.engine),
            "date": self.date,
            "commit": self.commit,
            **self._explaining_json(),
        }

    def _explaining_json(self) -> dict[str, Any]:
        """The version-2 fields that explain growth; left out when never measured (a version-1
        entry rewritten keeps its shape)."""
        data: dict[str, Any] = {}
        if self.platform is not None:
            data["platform"] = self.platform
        if self.base is not None:
            data["base"] = {
                "ref": self.base.ref,
                "id": self.base.id,
                "size": self.base.size,
                "compressed_size": self.base.compressed_size,
            }
        if self.own_size is not None:
            data["own_size"] = self.own_size
            data["own_compressed_size"] = self.own_compressed_size
        if self.files:
            data["files"] = dict(sorted(self.files.items()))
        if self.files_complete is not None:
            data["files_complete"] = self.files_complete
        if self.dirs:
            data["dirs"] = dict(sorted(self.dirs.items()))
        if self.go:
            data["go"] = {b: dict(sorted(m.items())) for b, m in sorted(self.go.items())}
        if self.go_packages:
            data["go_packages"] = {b: dict(sorted(p.items())) for b, p in sorted(self.go_packages.items())}
        if self.packages_complete is not None:
            data["packages"] = summaries_json(self.packages)
            data["packages_complete"] = self.packages_complete
        return data


def merge_entry(old: BaselineEntry | None, new: BaselineEntry) -> BaselineEntry:
    """``new`` over ``old`` field by field: what ``new`` did not measure keeps its old value; the
    date and commit stay when the numbers did not change."""
    if old is None:
        return new
    if not old.size_comparable:
        old = replace(old, size=None)
    # What the file walk gives (the manifest and its completeness, directory totals, Go modules and
    # packages) goes together, from the side that walked the files: an image that lost its last Go
    # binary has none. A manifest kept from an older measurement of another size is not known to
    # be complete any more.
    walked = new.files or new.files_complete is not None
    files_from = new if walked else old
    complete = files_from.files_complete
    if not walked and new.size is not None and new.size != old.size:
        complete = None
    merged = replace(
        new,
        size=new.size if new.size is not None else old.size,
        compressed_size=new.compressed_size if new.compressed_size is not None else old.compressed_size,
        layers=new.layers or old.layers,
        base=new.base if new.base is not None else old.base,
        own_size=new.own_size if new.own_size is not None else old.own_size,
        own_compressed_size=new.own_compressed_size
        if new.own_compressed_size is not None
        else old.own_compressed_size,
        files=files_from.files,
        files_complete=complete,
        dirs=files_from.dirs,
        go=files_from.go,
        go_packages=files_from.go_packages,
        packages=files_from.packages,
        packages_complete=files_from.packages_complete,
        platform=new.platform or old.platform,
    )
    if merged.numbers() == old.numbers() and old.version == VERSION:
        # the same numbers: recorded as they were (the platform, unless it says another one)
        same = new.platform is None or old.measured_for == new.platform
        platform = old.platform if same else new.platform
        return replace(merged, date=old.date, commit=old.commit, engine=old.engine, platform=platform)
    return merged


def _problem(path: Path, what: str) -> BaselineError:
    return BaselineError(
        f"baseline {path}: {what}; fix or delete the file (it was left untouched), "
        "then run with --image-baseline-update to write it again"
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 30 else text[:24] + "..."


def _bytes(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_BYTES


def _entry(path: Path, name: str, data: Any, version: int) -> BaselineEntry:
    where = f"images[{name!r}]"
    if not isinstance(data, dict):
        raise _problem(path, f"{where} is {type(data).__name__}, expected an object")
    for key in ("size", "compressed_size"):
        value = data.get(key)
        if not (value is None and (key == "compressed_size" or version >= 2)) and not _bytes(value):
            raise _problem(
                path, f"{where}.{key} is {_shown(value)}, expected bytes as a whole number up to 2**63-1"
            )
    layers_raw = data.get("layers", [])
    if not isinstance(layers_raw, list) or not all(
        isinstance(x, dict)
        and _bytes(x.get("size"))
        and isinstance(x.get("instruction", ""), str)
        and isinstance(x.get("diff_id", ""), (str, type(None)))
        for x in layers_raw
    ):
        raise _problem(path, f"{where}.layers must be a list of {{instruction, size}} objects")
    engine = data.get("engine", {})
    if not isinstance(engine, dict):
        raise _problem(path, f"{where}.engine must be an object")
    for key in ("date", "commit", "platform"):
        if data.get(key) is not None and not isinstance(data.get(key), str):
            raise _problem(path, f"{where}.{key} must be a string or null")
    return BaselineEntry(
        size=data.get("size"),
        compressed_size=data.get("compressed_size"),
        layers=tuple(
            BaselineLayer(
                str(x.get("instruction", "")), int(x["size"]), x.get("diff_id"), x.get("from_base") is True
            )
            for x in layers_raw
        ),
        engine=engine,
        date=data.get("date"),
        commit=data.get("commit"),
        platform=data.get("platform"),
        version=version,
        base=_base(path, where, data.get("base")),
        own_size=_optional_bytes(path, f"{where}.own_size", data.get("own_size")),
        own_compressed_size=_optional_bytes(
            path, f"{where}.own_compressed_size", data.get("own_compressed_size")
        ),
        files=_byte_map(path, f"{where}.files", data.get("files")),
        files_complete=_optional_bool(path, f"{where}.files_complete", data.get("files_complete")),
        dirs=_byte_map(path, f"{where}.dirs", data.get("dirs")),
        go={
            str(binary): _byte_map(path, f"{where}.go[{binary!r}]", modules)
            for binary, modules in _mapping(path, f"{where}.go", data.get("go")).items()
        },
        go_packages={
            str(binary): _byte_map(path, f"{where}.go_packages[{binary!r}]", packages)
            for binary, packages in _mapping(path, f"{where}.go_packages", data.get("go_packages")).items()
        },
        **_packages(path, where, data),
    )


def _packages(path: Path, where: str, data: dict[str, Any]) -> dict[str, Any]:
    try:
        packages = summaries_from_json(data.get("packages"))
    except ValueError as exc:
        raise _problem(path, f"{where}.packages{exc}") from None
    complete = _optional_bool(path, f"{where}.packages_complete", data.get("packages_complete"))
    return {"packages": packages, "packages_complete": complete}


def _mapping(path: Path, where: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _problem(path, f"{where} must be an object")
    return value


def _byte_map(path: Path, where: str, value: Any) -> dict[str, int]:
    mapping = _mapping(path, where, value)
    if not all(_bytes(v) for v in mapping.values()):
        raise _problem(path, f"{where} must map names to bytes (whole numbers up to 2**63-1)")
    return {str(k): int(v) for k, v in mapping.items()}


def _optional_bool(path: Path, where: str, value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise _problem(path, f"{where} is {_shown(value)}, expected true, false or null")
    return value


def _optional_bytes(path: Path, where: str, value: Any) -> int | None:
    if value is None:
        return None
    if not _bytes(value):
        raise _problem(path, f"{where} is {_shown(value)}, expected bytes or null")
    return int(value)


def _base(path: Path, where: str, value: Any) -> BaseSummary | None:
    if value is None:
        return None
    data = _mapping(path, f"{where}.base", value)
    if not isinstance(data.get("ref"), str) or not isinstance(data.get("id"), (str, type(None))):
        raise _problem(path, f"{where}.base needs a ref and an id")
    return BaseSummary(
        ref=data["ref"],
        id=data.get("id"),
        size=_optional_bytes(path, f"{where}.base.size", data.get("size")) or 0,
        compressed_size=_optional_bytes(path, f"{where}.base.compressed_size", data.get("compressed_size")),
    )


class _DuplicateKey(ValueError):
    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are each given once (JSON allows repeats; the last would win)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def parse(path: Path, text: str) -> dict[str, BaselineEntry]:
    try:
        data = json.loads(text, object_pairs_hook=_unique_object)
    except _DuplicateKey as exc:
        raise _problem(path, f"the key {_shown(exc.where)} appears twice in one object") from None
    except (ValueError, RecursionError) as exc:
        raise _problem(path, f"not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(data, dict):
        raise _problem(path, "the top level is not an object")
    version = data.get("version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise _problem(
            path, f"version {_shown(version)} is not one this plugin reads (expected {VERSION} or 1)"
        )
    images = data.get("images")
    if not isinstance(images, dict):
        raise _problem(path, "'images' is missing or not an object")
    return {str(name): _entry(path, str(name), value, int(version)) for name, value in images.items()}


def lookup(entries: Mapping[str, BaselineEntry], name: str) -> BaselineEntry | None:
    """The entry of an image by its reported name. ``app[linux/arm64]`` without an entry of its
    own finds the plain entry ``app`` when that was measured for ``linux/arm64`` (the history of
    an image that became multi-platform)."""
    found = entries.get(name)
    if found is not None:
        return found
    plain, platform = split_member_name(name)
    earlier = entries.get(plain) if platform is not None else None
    return earlier if earlier is not None and earlier.measured_for == platform else None


def load(path: Path) -> dict[str, BaselineEntry]:
    """The baseline's entries; an absent file is an empty baseline."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise BaselineError(f"baseline {path}: cannot read it ({reason})") from None
    return parse(path, text)


def render(entries: Mapping[str, BaselineEntry]) -> str:
    document = {"version": VERSION, "images": {n: e.to_json() for n, e in sorted(entries.items())}}
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def lock_path(path: Path) -> Path:
    """The baseline's lock file where its directory cannot be locked itself (see ``_locked``): in
    the per-user state directory (named by the baseline's resolved path), never in the project,
    where a lock file would be one ``git add -A`` away from a commit."""
    return lock_for(path, "baseline")


class _LockTimeout(Exception):
    pass


def _flock_directory(directory: Path) -> int | None:
    """A descriptor of ``directory`` holding an exclusive ``flock`` on it, or None where the
    system or its file system cannot lock a directory. ``_LockTimeout`` after ``LOCK_TIMEOUT``."""
    try:
        import fcntl

        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except (ImportError, OSError, AttributeError):
        return None
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise _LockTimeout(str(directory)) from None
            time.sleep(0.05)
        except OSError:
            os.close(fd)
            return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Held while the baseline is read, merged and written. The lock is the baseline's directory
    itself (``flock``): every run on the machine takes the same one whatever its user, ``HOME``
    or ``XDG_STATE_HOME``, and no file is left in the project. Where a directory cannot be
    locked, a lock file in the per-user state directory stands in."""
    fd = _flock_directory(path.parent)
    if fd is not None:
        try:
            yield
        finally:
            os.close(fd)
        return
    from filelock import FileLock, Timeout  # only updates need it

    try:
        with FileLock(str(lock_path(path)), timeout=LOCK_TIMEOUT):
            yield
    except Timeout:
        raise _LockTimeout(str(lock_path(path))) from None


def _read_only(path: Path) -> bool:
    """No write permission, or no write bit at all (which root would otherwise ignore)."""
    return not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222


def resolve(rootdir: Path, value: str | os.PathLike[str], explicit: bool) -> Path:
    """Where the baseline is. A symlink is followed only to a target inside the rootdir, or to
    one the user named explicitly (``--image-baseline``/ini); anything else is refused."""
    given = rootdir / Path(value)
    target = given.resolve()
    if given.is_symlink() and not explicit:
        try:
            target.relative_to(rootdir.resolve())
        except ValueError:
            raise BaselineError(
                f"baseline {given} is a symlink to {target}, outside the project ({rootdir}); "
                "it is not read or written: remove the symlink, or name the file with --image-baseline"
            ) from None
    return target


def update(path: Path, measured: Mapping[str, BaselineEntry]) -> tuple[dict[str, BaselineEntry], list[str]]:
    """Merge ``measured`` into the file: other images' entries stay as they are. Returns the
    entries now in the file and the names of those whose numbers changed."""
    if path.exists() and _read_only(path):
        raise BaselineError(f"baseline {path}: the file is read-only; make it writable to update it")
    if path.parent.exists() and _read_only(path.parent):
        raise BaselineError(f"baseline {path}: its directory is read-only; make it writable to update it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path):
            entries = load(path)  # raises, and writes nothing, when the file is damaged
            changed = []
            for name, entry in measured.items():
                old = lookup(entries, name)
                moved = name not in entries and old is not None
                if moved:  # the plain entry of an image now multi-platform moves to name[platform]
                    entries.pop(split_member_name(name)[0])
                merged = merge_entry(old, entry)
                if old is None or moved or merged.to_json() != old.to_json() or old.version != VERSION:
                    changed.append(name)
                entries[name] = merged
            if changed or not path.exists():
                write_atomic(path, render(entries))
    except _LockTimeout as held:
        raise BaselineError(
            f"baseline {path}: another run held its lock ({held}) for {LOCK_TIMEOUT:g} s; "
            "wait for it to finish (a lock file left by no running process may be deleted)"
        ) from None
    except OSError as exc:
        raise BaselineError(f"baseline {path}: cannot write it ({exc.strerror or exc})") from None
    return dict(sorted(entries.items())), changed


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
    """What differs between two engine descriptions (or ``{"platform": ...}`` pairs) in a way that
    changes portable sizes: only the architecture or platform (the same Dockerfile gives other
    binaries); engines and stores do not."""
    return [
        f"{key} {old.get(key)!r} vs {new.get(key)!r}"
        for key in ("arch", "platform")
        if old.get(key) is not None and new.get(key) is not None and old.get(key) != new.get(key)
    ]
