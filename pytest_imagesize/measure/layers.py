"""The layers laid on top of each other: the final filesystem, wasted bytes, efficiency (pure).

Layers are merged the way the engine's overlay does it: in each layer, whiteouts (``.wh.NAME``)
and opaque markers (``.wh..wh..opq``) first hide what lower layers had, then the layer's own
entries are laid on top. Every regular-file copy written by any layer is either the one copy
that survives in the final filesystem or a hidden copy; ``wasted_bytes`` counts the hidden copies
once each and never the survivor. The merge is linear in the number of entries: a directory
index finds what a whiteout hides without scanning every path.
"""

from __future__ import annotations

import heapq
import posixpath
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .paths import OPAQUE, WHITEOUT_PREFIX, clean_path

if TYPE_CHECKING:
    from .archive import ArchiveScan, TarEntry

TOP_WASTED = 200


class FileRecord(NamedTuple):
    """A file of the final filesystem and the layer (0 = oldest) its surviving copy came from.
    ``size`` is the data bytes of a regular file (0 for anything else). Immutable; a named tuple
    because images hold hundreds of thousands of them (five times cheaper to make than a frozen
    dataclass)."""

    path: str
    kind: str  # "file", "dir", "symlink", "hardlink", "other"
    size: int
    mode: int
    uid: int
    gid: int
    link: str
    layer: int


@dataclass(frozen=True)
class HiddenCopy:
    """A copy of a file that a later layer hid or deleted: bytes shipped for nothing."""

    path: str
    size: int
    layer: int


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "^", "]") else i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = segment[i + 1 : end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                escaped = "".join("\\" + c if c in "\\^][" else c for c in body)
                out.append(f"[^/{escaped}]" if negate else f"[{escaped}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for an absolute glob: ``**`` as a whole segment matches zero or more segments;
    ``*``, ``?`` and ``[...]`` match within one segment; hidden names match like any other and
    every character (newlines included) may appear in a name."""
    segments = clean_path(pattern).split("/")[1:]
    parts = []
    for segment in segments:
        if segment == "**":
            parts.append("(?:/[^/]+)*")
        elif segment:
            parts.append("/" + _segment_regex(segment))
    return re.compile("".join(parts) or "/", re.DOTALL)


class FileTree:
    """The final filesystem of an image, by absolute path."""

    def __init__(self, records: dict[str, FileRecord]) -> None:
        self.__records: dict[str, FileRecord] | None = records
        self._rows: list[Sequence[Any]] = []

    @classmethod
    def from_rows(cls, rows: list[Sequence[Any]]) -> FileTree:
        """A tree from ``[path, kind, size, mode, uid, gid, link, layer]`` rows (a cache entry),
        built on first use: a command that never looks at the files does not pay for them."""
        tree = cls({})
        tree.__records = None
        tree._rows = rows
        return tree

    @property
    def _records(self) -> dict[str, FileRecord]:
        if self.__records is None:
            self.__records = {
                str(r[0]): FileRecord(
                    str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), str(r[6]), int(r[7])
                )
                for r in self._rows
            }
            self._rows = []
        return self.__records

    def __len__(self) -> int:
        return len(self._records) if self.__records is not None else len({r[0] for r in self._rows})

    def __iter__(self) -> Iterator[FileRecord]:
        return iter(self._records.values())

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.has(path)

    def has(self, path: str) -> bool:
        return clean_path(path) in self._records

    def get(self, path: str) -> FileRecord | None:
        return self._records.get(clean_path(path))

    def glob(self, pattern: str) -> list[str]:
        """Paths matching ``pattern`` (see :func:`glob_regex`), sorted."""
        regex = glob_regex(pattern)
        return sorted(p for p in self._records if regex.fullmatch(p))


@dataclass(frozen=True)
class LayerStats:
    """What one layer holds and costs."""

    size: int  # portable size: bytes of regular files + symlink target lengths it writes
    compressed_size: int  # its blob as a registry stores it (gzip unless stored otherwise)
    written: int  # bytes of regular files this layer wrote
    wasted: int  # of those, bytes hidden in the final filesystem
    diff_id: str | None = None  # sha256 of the uncompressed layer, when the archive says


@dataclass
class Merged:
    """The result of laying the layers on top of each other."""

    layers: list[LayerStats]
    files: FileTree
    hidden: list[HiddenCopy]  # the largest hidden copies, largest first (at most TOP_WASTED)

    @property
    def size(self) -> int:
        """The portable size: what the layers write, summed."""
        return sum(layer.size for layer in self.layers)

    @property
    def compressed_size(self) -> int:
        return sum(layer.compressed_size for layer in self.layers)

    @property
    def written(self) -> int:
        return sum(layer.written for layer in self.layers)

    @property
    def wasted_bytes(self) -> int:
        return sum(layer.wasted for layer in self.layers)

    @property
    def efficiency(self) -> float:
        """1 - wasted / written (1.0 for an image that writes nothing)."""
        return 1.0 if self.written == 0 else 1.0 - self.wasted_bytes / self.written


class _Tree:
    """Final-filesystem state with a directory index, so that removing a subtree costs the size
    of the subtree, not of the whole filesystem."""

    def __init__(self) -> None:
        self.records: dict[str, FileRecord] = {}
        self.children: dict[str, set[str]] = {}

    def put(self, record: FileRecord) -> None:
        self.records[record.path] = record
        path = record.path
        while path != "/":  # link every ancestor: a tar need not list the directories
            parent = path[: path.rfind("/")] or "/"
            siblings = self.children.setdefault(parent, set())
            if path in siblings:
                break
            siblings.add(path)
            path = parent

    def pop(self, path: str) -> FileRecord | None:
        record = self.records.pop(path, None)
        if record is not None and path != "/":
            siblings = self.children.get(path[: path.rfind("/")] or "/")
            if siblings is not None:
                siblings.discard(path)
        return record

    def pop_children(self, path: str) -> list[FileRecord]:
        """Remove everything below ``path`` (not ``path`` itself)."""
        removed: list[FileRecord] = []
        stack = [path]
        while stack:
            directory = stack.pop()
            for child in self.children.pop(directory, set()):
                record = self.records.pop(child, None)
                if record is not None:
                    removed.append(record)
                stack.append(child)
        return removed


def merge(scan: ArchiveScan) -> Merged:
    """Lay the layers on top of each other and account for every byte they wrote."""
    tree = _Tree()
    written = [0] * len(scan.layers)
    hidden = [0] * len(scan.layers)
    copies: list[tuple[int, str, int]] = []  # heap of the largest hidden copies

    def hide(record: FileRecord) -> None:
        if record.kind == "file" and record.size:
            hidden[record.layer] += record.size
            item = (record.size, record.path, record.layer)
            if len(copies) < TOP_WASTED:
                heapq.heappush(copies, item)
            elif item > copies[0]:
                heapq.heapreplace(copies, item)

    def remove_tree(path: str) -> None:
        record = tree.pop(path)
        if record is not None:
            hide(record)
        for child in tree.pop_children(path):
            hide(child)

    for index, layer in enumerate(scan.layers):
        own: list[TarEntry] = []
        for entry in layer.entries:
            cut = entry.path.rfind("/")  # paths are clean and absolute: posixpath.split, faster
            parent, base = entry.path[:cut] or "/", entry.path[cut + 1 :]
            if base == OPAQUE:
                for child in tree.pop_children(parent):
                    hide(child)
            elif base.startswith(WHITEOUT_PREFIX):
                remove_tree(posixpath.join(parent, base[len(WHITEOUT_PREFIX) :]))
            else:
                own.append(entry)
        for entry in own:
            written[index] += entry.size
            previous = tree.records.get(entry.path)
            if previous is not None:
                if previous.kind == "dir" and entry.kind != "dir":
                    remove_tree(entry.path)
                else:
                    tree.pop(entry.path)
                    hide(previous)
            tree.put(
                FileRecord(
                    entry.path, entry.kind, entry.size, entry.mode, entry.uid, entry.gid, entry.link, index
                )
            )
    stats = [
        LayerStats(ls.portable_size, ls.compressed_size, written[i], hidden[i], ls.diff_id)
        for i, ls in enumerate(scan.layers)
    ]
    top = [HiddenCopy(path, size, layer) for size, path, layer in sorted(copies, reverse=True)]
    return Merged(stats, FileTree(tree.records), top)


def layer_history(config: object, layer_count: int) -> list[str | None]:
    """The instruction of each layer from the image config's history (``empty_layer`` entries
    made none); empty when the history does not pair with the layers."""
    history = config.get("history") if isinstance(config, dict) else None
    if not isinstance(history, list):
        return []
    made = [h for h in history if isinstance(h, dict) and not h.get("empty_layer")]
    if len(made) != layer_count:
        return []
    return [str(h.get("created_by") or h.get("comment") or "") or None for h in made]
