"""Each image's size over the commits that changed the baseline file (``pytest-imagesize
history``, the HTML report's history charts): the series built from the file's versions, as
text and as JSON. Reading the versions from git is ``reports.git_history``; the chart is
``reports.svg_history``.

A series is one image on one platform: the baseline key ``app`` or ``app[linux/arm64]``, its
platform the key's, else the entry's recorded one, else the measuring engine's architecture (so
an image that became multi-platform keeps one series). A point is a commit where the entry first
appears or where its numbers (size, compressed size, own sizes, base image) differ from the
series' previous point; ``base_changed`` marks a point whose base image (reference or ID) is not
the previous point's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..baseline import BaselineEntry
from ..compare.wording import signed
from ..measure.index import split_member_name
from ..sizes import format_size
from ..text import shown

JSON_VERSION = 1
# a login in a reference: ``user:password@host`` (alone or after ``scheme://``), not ``name:tag@sha256:…``
_LOGIN = re.compile(r"(^|//)([^/@:\s]+):([^/@\s]+)@(?!sha\d+:)")


def displayed(text: str) -> str:
    """``text`` as a name is shown to people: a login's password masked, control and bidi
    characters escaped (``text.shown``)."""
    return shown(_LOGIN.sub(r"\1\2:***@", text))


@dataclass(frozen=True)
class Commit:
    """A commit that changed the baseline file: full SHA, committer date (ISO 8601), subject and
    the file's path in it (renames followed)."""

    sha: str
    date: str
    subject: str
    path: str

    @property
    def short(self) -> str:
        return self.sha[:7]


@dataclass(frozen=True)
class Point:
    commit: Commit
    size: int | None
    compressed_size: int | None
    own_size: int | None
    own_compressed_size: int | None
    base_ref: str | None
    base_id: str | None
    base_changed: bool = False

    def numbers(self) -> tuple[Any, ...]:
        return (
            self.size,
            self.compressed_size,
            self.own_size,
            self.own_compressed_size,
            self.base_ref,
            self.base_id,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit.sha,
            "short": self.commit.short,
            "date": self.commit.date,
            "subject": self.commit.subject,
            "path": self.commit.path,
            "size": self.size,
            "compressed_size": self.compressed_size,
            "own_size": self.own_size,
            "own_compressed_size": self.own_compressed_size,
            "base": None if self.base_ref is None else {"ref": self.base_ref, "id": self.base_id},
            "base_changed": self.base_changed,
        }


@dataclass
class Series:
    """One image on one platform; ``points`` oldest first."""

    name: str
    platform: str | None
    points: list[Point] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.name} [{self.platform}]" if self.platform else self.name

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "platform": self.platform,
            "points": [point.to_json() for point in self.points],
        }


@dataclass
class History:
    """The series of every image in the baseline file's history, and what limited it."""

    path: str  # the baseline's path in the newest commit read
    series: list[Series]
    commits: int  # versions read (damaged ones included)
    skipped: list[str] = field(default_factory=list)  # short SHAs of damaged versions
    shallow_since: str | None = None  # the oldest date a shallow clone reaches
    since: str | None = None
    skipped_reason: str | None = None  # why the first damaged version did not parse

    def find(self, name: str, platform: str | None) -> Series | None:
        """The series of a report's image: by its name (``app`` or ``app[linux/arm64]``) and
        platform; a plain name without a platform, or a series of no known platform, matches
        when it is the image's only series."""
        plain, keyed = split_member_name(name)
        wanted = keyed or platform
        candidates = [s for s in self.series if s.name == plain]
        for series in candidates:
            if series.platform == wanted:
                return series
        alone = candidates[0] if len(candidates) == 1 else None
        return alone if alone is not None and (wanted is None or alone.platform is None) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": JSON_VERSION,
            "baseline": self.path,
            "since": self.since,
            "commits": self.commits,
            "skipped": list(self.skipped),
            "shallow_since": self.shallow_since,
            "images": [series.to_json() for series in self.series],
        }


def dumps(history: History) -> str:
    """The JSON text of ``history``: indented, with each point on one line (thousands of points
    stay readable and quick to write)."""
    data = history.to_json()
    series = data.pop("images")
    head = json.dumps(data, indent=2, ensure_ascii=True)[:-2]
    blocks = []
    for one in series:
        points = ",\n".join("        " + json.dumps(p, ensure_ascii=True) for p in one.pop("points"))
        fields = json.dumps(one, ensure_ascii=True)[1:-1]
        blocks.append(f'    {{{fields},\n      "points": [\n{points}\n      ]}}')
    body = ",\n".join(blocks)
    return f'{head},\n  "images": [\n{body}\n  ]\n}}' if blocks else f'{head},\n  "images": []\n}}'


def series_platform(key: str, entry: BaselineEntry) -> tuple[str, str | None]:
    """The image name and platform a baseline key's series is filed under."""
    plain, platform = split_member_name(key)
    if platform is None:
        platform = entry.platform
        arch = entry.engine.get("arch")
        if platform is None and isinstance(arch, str) and arch:
            platform = f"linux/{arch}"
    return plain, platform


def build(
    versions: Iterable[tuple[Commit, Mapping[str, BaselineEntry]]], *, max_points: int | None = None
) -> list[Series]:
    """The series of every image from the file's versions, oldest first. ``max_points`` keeps
    each series' newest points."""
    found: dict[tuple[str, str | None], Series] = {}
    for commit, entries in versions:
        for key in sorted(entries):
            entry = entries[key]
            name, platform = series_platform(key, entry)
            series = found.get((name, platform))
            if series is None:
                series = found[(name, platform)] = Series(name, platform)
            base = entry.base
            point = Point(
                commit=commit,
                size=entry.size if entry.size_comparable else None,
                compressed_size=entry.compressed_size,
                own_size=entry.own_size,
                own_compressed_size=entry.own_compressed_size,
                base_ref=base.ref if base else None,
                base_id=base.id if base else None,
            )
            last = series.points[-1] if series.points else None
            if last is not None and last.numbers() == point.numbers():
                continue
            moved = last is not None and (last.base_ref, last.base_id) != (point.base_ref, point.base_id)
            if moved and base is not None and last is not None and last.base_ref is not None:
                point = replace(point, base_changed=True)
            series.points.append(point)
    result = sorted(found.values(), key=lambda s: (s.name, s.platform or ""))
    if max_points is not None:
        for series in result:
            del series.points[: max(0, len(series.points) - max_points)]
    return result


def _delta(old: int | None, new: int | None) -> str:
    return signed(new - old) if old is not None and new is not None else ""


def text_lines(history: History) -> list[str]:
    """A compact table per series: commit, date, size, compressed, own size, change, base."""
    lines: list[str] = []
    for series in history.series:
        if lines:
            lines.append("")
        count = len(series.points)
        lines.append(f"{displayed(series.title)}  ({count} change{'s' if count != 1 else ''})")
        lines.append(
            f"  {'commit':<8} {'date':<10} {'size':>10} {'compressed':>10} {'own':>10} {'change':>10}"
        )
        previous: Point | None = None
        for point in series.points:
            change = _delta(previous.size, point.size) if previous else "new"
            row = (
                f"  {point.commit.short:<8} {point.commit.date[:10]:<10} {format_size(point.size):>10} "
                f"{format_size(point.compressed_size):>10} {format_size(point.own_size):>10} {change:>10}"
            )
            if point.base_changed and previous is not None:
                row += f"  base {displayed(previous.base_ref or '?')} → {displayed(point.base_ref or '?')}"
            lines.append(row.rstrip())
            previous = point
    if not history.series:
        lines.append(f"no image entries in any version of {shown(history.path)}")
    return lines


def warnings(history: History) -> list[str]:
    """One line per thing that limited the history: a shallow clone, damaged versions."""
    found = []
    if history.shallow_since is not None:
        found.append(
            f"the repository is a shallow clone: history of {shown(history.path)} goes back only to "
            f"{history.shallow_since[:10]}; fetch the rest with `git fetch --unshallow` "
            "(in GitHub Actions: `fetch-depth: 0` for actions/checkout)"
        )
    if history.skipped:
        shas = ", ".join(history.skipped[:20]) + (" …" if len(history.skipped) > 20 else "")
        why = f" ({history.skipped_reason})" if history.skipped_reason else ""
        found.append(
            f"{shown(history.path)} does not parse in {len(history.skipped)} "
            f"commit{'s' if len(history.skipped) != 1 else ''}, skipped: {shas}{why}"
        )
    return found
