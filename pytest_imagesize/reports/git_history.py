"""Every committed version of the baseline file, read from git in three processes whatever the
number of commits: ``git rev-parse`` (the repository, whether it is a shallow clone), ``git log
--follow --raw`` (the commits that changed the file, renames followed, with each version's blob
ID) and one ``git cat-file --batch`` for every blob (and the shallow boundary's commits, for how far
the history goes), each version parsed as git gives it. Each version is read by ``baseline.parse``,
so every format the plugin reads is read here; one laid out as ``baseline.render`` writes it is
read without the fields a series does not use (file manifests, directory totals, Go modules,
layers: most of its bytes). A version that does not parse is skipped and named.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ..baseline import BaselineEntry, parse
from ..errors import BaselineError, ImageSizeError
from ..text import shown
from .history import Commit, History, build

REPORT_MAX_COMMITS = 300  # the HTML report's charts: the newest commits that changed the file
_RECORD = "\x1e"
_FIELD = "\x1f"
_FORMAT = f"--format={_RECORD}%H{_FIELD}%cI{_FIELD}%s"


class _GitFailed(Exception):
    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr


def _git(args: Sequence[str], cwd: Path, stdin: bytes = b"", timeout: float | None = None) -> bytes:
    """git's output. Its input and errors go through temporary files, so that the output is
    read in one go, not polled with the other pipes."""
    env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
    with tempfile.TemporaryFile() as given, tempfile.TemporaryFile() as errors:
        given.write(stdin)
        given.seek(0)
        try:
            done = subprocess.run(
                ["git", "-c", "log.showSignature=false", *args],
                cwd=cwd,
                stdin=given,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=env,
                timeout=timeout,
            )
        except FileNotFoundError:
            raise ImageSizeError("history: git is not installed (or not on PATH); install git") from None
        except subprocess.TimeoutExpired:
            raise ImageSizeError(f"history: git {args[0]} took longer than {timeout:g} s in {cwd}") from None
        if done.returncode != 0:
            errors.seek(0)
            raise _GitFailed(errors.read(4000).decode("utf-8", "replace").strip())
    return done.stdout


def _existing_directory(path: Path) -> Path:
    directory = path.parent
    while not directory.is_dir() and directory != directory.parent:
        directory = directory.parent
    return directory


def _log(
    directory: Path, pathspec: str, revision: str | None, max_commits: int | None, timeout: float | None
) -> list[tuple[Commit, str]]:
    """The commits that changed the file, newest first, with the file's blob in each (a commit
    that deleted it is left out)."""
    args = ["--literal-pathspecs", "log", "-z", "--follow", "--no-abbrev", "--raw", "--no-color", _FORMAT]
    if max_commits is not None:
        args.append(f"--max-count={max_commits}")
    args += [revision or "HEAD", "--", pathspec]
    out = _git(args, directory, timeout=timeout).decode("utf-8", "replace")
    found = []
    for record in out.split(_RECORD)[1:]:
        header, _, rest = record.partition("\0")
        fields = header.split(_FIELD, 2)
        if len(fields) != 3:
            continue
        sha, date, subject = fields
        tokens = rest.lstrip("\n").split("\0")
        index = 0
        while index < len(tokens):
            raw = tokens[index]
            index += 1
            if not raw.startswith(":"):
                continue
            parts = raw[1:].split()
            if len(parts) < 5:
                continue
            blob, status = parts[3], parts[4]
            paths = 2 if status[:1] in ("R", "C") else 1
            path = tokens[index + paths - 1] if index + paths - 1 < len(tokens) else pathspec
            index += paths
            if status.startswith("D") or not blob.strip("0"):
                continue
            found.append((Commit(sha, date, subject.replace("\0", ""), path), blob))
            break
    return found


# The fields of an entry that a series does not use and that make most of a version's bytes (the
# file manifest, directory totals, Go modules and packages, layers), as ``baseline.render`` writes
# them: a line opening the field at an entry field's indentation, a line closing it at the same.
_FIELD_LINE = b'\n      "'
_BULKY = tuple(
    (f'{key}": {opening}\n'.encode(), f"\n      {closing}".encode())
    for key, opening, closing in (
        ("dirs", "{", "}"),
        ("files", "{", "}"),
        ("go", "{", "}"),
        ("go_packages", "{", "}"),
        ("layers", "[", "]"),
        ("packages", "{", "}"),
    )
)
_RENDERED = b'{\n  "images": {\n    "'  # the start of a file ``baseline.render`` wrote
_BULKY_FIRST = frozenset(opening[0] for opening, _ in _BULKY)


def _without_bulk(data: bytes, start: int = 0, end: int | None = None) -> bytes | None:
    """``data[start:end]`` with the bulky fields of each entry emptied, when the file is laid
    out as ``baseline.render`` writes it (no other field inside one); None when it is not, or
    has none."""
    end = len(data) if end is None else end
    if not data.startswith(_RENDERED, start, end):  # another indentation: fields at other depths
        return None
    kept: list[bytes] = []
    position = start
    at = data.find(_FIELD_LINE, start, end)
    while at != -1:
        key = at + len(_FIELD_LINE)
        if key < end and data[key] in _BULKY_FIRST:
            for opening, closing in _BULKY:
                if data.startswith(opening, key):
                    body = key + len(opening) - 2  # the bracket
                    close = data.find(closing, body, end)
                    if close == -1 or data.find(_FIELD_LINE, body, close) != -1:
                        return None
                    kept.append(data[position : body + 1])
                    position = close + 1
                    at = close
                    break
        at = data.find(_FIELD_LINE, at + 1, end)
    if not kept:
        return None
    kept.append(data[position:end])
    return b"".join(kept)


def _parse(path: Path, data: bytes, start: int = 0, end: int | None = None) -> Mapping[str, BaselineEntry]:
    """A version's entries by ``baseline.parse`` (every format the plugin reads), read without
    the fields a series does not use where the layout allows; a version that does not parse so is
    parsed whole before it counts as damaged. ``UnicodeDecodeError`` for a file that is not UTF-8."""
    slim = _without_bulk(data, start, end)
    if slim is not None:
        try:
            return parse(path, slim.decode("utf-8"))
        except (BaselineError, UnicodeDecodeError):
            pass
    return parse(path, data[start:end].decode("utf-8"))


def _objects(directory: Path, ids: Sequence[str], timeout: float | None) -> Iterator[tuple[str, bytes]]:
    """Each of the objects ``ids`` (once) with its contents, as one ``git cat-file --batch``
    gives them: read while git goes on (an absent one is left out)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return
    env = {**os.environ, "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
    with tempfile.TemporaryFile() as given:
        given.write(("\n".join(wanted) + "\n").encode())
        given.seek(0)
        process = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=directory,
            stdin=given,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        process.kill()

    timer = threading.Timer(timeout, kill) if timeout is not None else None
    if timer is not None:
        timer.start()
    assert process.stdout is not None
    try:
        for object_id in wanted:
            header = process.stdout.readline().split()
            if not header:
                break  # git ended early: what it did not give counts as missing
            if len(header) != 3:
                continue  # "<id> missing"
            size = int(header[2])
            data = process.stdout.read(size)
            process.stdout.read(1)
            if len(data) != size:
                break
            yield object_id, data
    finally:
        if timer is not None:
            timer.cancel()
        process.stdout.close()
        if process.poll() is None:
            process.kill()
        process.wait()
    if killed.is_set():
        raise ImageSizeError(
            f"history: git cat-file took longer than {timeout:g} s in {shown(str(directory))}"
        )


def _committer_date(commit: bytes) -> datetime.datetime | None:
    for line in commit.split(b"\n\n", 1)[0].split(b"\n"):
        if line.startswith(b"committer "):
            try:
                return datetime.datetime.fromtimestamp(int(line.rsplit(b" ", 2)[1]), datetime.UTC)
            except (ValueError, IndexError):
                return None
    return None


def _shallow_boundary(directory: Path, shallow_file: str) -> list[str]:
    try:
        text = (directory / shallow_file).read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


def read(
    path: Path,
    *,
    since: str | None = None,
    max_commits: int | None = None,
    timeout: float | None = None,
) -> History:
    """The history of the baseline file at ``path`` (its newest commits first limited to
    ``max_commits``; only commits after ``since`` when given). ``ImageSizeError`` (one line) when
    ``path`` is not in a git repository, ``since`` is no revision, or the file was never
    committed."""
    path = Path(os.path.abspath(path))
    if path.is_dir():
        raise ImageSizeError(
            f"history: {shown(str(path))} is a directory; name the baseline file with --baseline PATH"
        )
    directory = _existing_directory(path)
    try:
        found = _git(
            ["rev-parse", "--show-toplevel", "--is-shallow-repository", "--git-path", "shallow"],
            directory,
            timeout=timeout,
        )
    except _GitFailed as failed:
        if "not a git repository" in failed.stderr:
            raise ImageSizeError(
                f"history: {shown(str(directory))} is not in a git repository; run it in the repository that "
                "commits the baseline, or name a baseline inside one with --baseline PATH"
            ) from None
        raise ImageSizeError(
            f"history: git cannot read {shown(str(directory))}: {shown(failed.stderr[:200])}"
        ) from None
    lines = os.fsdecode(found).splitlines()
    shallow = len(lines) > 1 and lines[1].strip() == "true"
    shallow_file = lines[2] if len(lines) > 2 else ""
    pathspec = os.path.relpath(path, directory)
    shown_path = shown(str(path))
    revision = None
    if since is not None:
        try:
            start = _git(
                ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{since}^{{commit}}"],
                directory,
                timeout=timeout,
            )
        except _GitFailed:
            raise ImageSizeError(
                f"history: --since {shown(since)}: no such revision in this repository; name a commit, "
                "branch or tag (in a shallow clone, fetch it first)"
            ) from None
        revision = f"{start.decode().strip()}..HEAD"
    try:
        commits = _log(directory, pathspec, revision, max_commits, timeout)
    except _GitFailed as failed:
        if "does not have any commits" not in failed.stderr and "unknown revision" not in failed.stderr:
            raise ImageSizeError(
                f"history: git log failed in {shown(str(directory))}: {shown(failed.stderr[:200])}"
            ) from None
        commits = []
    if not commits and (revision is None or not _log(directory, pathspec, None, 1, timeout)):
        raise ImageSizeError(
            f"history: {shown_path} was never committed in this repository; commit the baseline "
            "(written by --image-baseline-update) or name another file with --baseline PATH"
        )
    boundary = _shallow_boundary(directory, shallow_file) if shallow else []
    path_of = {blob: commit.path for commit, blob in reversed(commits)}
    parsed: dict[str, Mapping[str, BaselineEntry] | BaselineError] = {}
    dates: list[datetime.datetime] = []
    for object_id, data in _objects(directory, list(path_of) + boundary, timeout):
        if object_id not in path_of:  # a commit of the shallow boundary
            date = _committer_date(data)
            dates.extend([date] if date is not None else [])
            continue
        try:
            parsed[object_id] = _parse(Path(path_of[object_id]), data)
        except UnicodeDecodeError:
            parsed[object_id] = BaselineError("not UTF-8 text")
        except BaselineError as exc:
            parsed[object_id] = exc

    versions: list[tuple[Commit, Mapping[str, BaselineEntry]]] = []
    skipped: list[str] = []
    reason: str | None = None
    for commit, blob in reversed(commits):
        result = parsed.get(blob, BaselineError(f"the blob {blob[:12]} is missing from the repository"))
        if isinstance(result, BaselineError):
            skipped.append(commit.short)
            reason = reason or str(result).split(";")[0]
            continue
        versions.append((commit, result))

    shallow_since = None
    if shallow:
        shallow_since = min(dates).isoformat() if dates else (commits[-1][0].date if commits else "?")
    newest_path = commits[0][0].path if commits else pathspec
    return History(
        path=newest_path,
        series=build(versions),
        commits=len(commits),
        skipped=skipped,
        shallow_since=shallow_since,
        since=since,
        skipped_reason=reason,
    )


def for_report(path: Path) -> History | None:
    """The history for the HTML report's charts: the newest ``REPORT_MAX_COMMITS`` commits that
    changed the baseline; None, without a word, when there is none to read (no git, not a
    repository, never committed, git failing)."""
    try:
        if not path.is_file():
            return None
        return read(path, max_commits=REPORT_MAX_COMMITS, timeout=30)
    except (ImageSizeError, _GitFailed, OSError, ValueError):
        return None
