"""The final filesystem of an image as a small JSON tree for the HTML report's treemap.

:func:`summarise` turns a flat list of files (tens of thousands in a real image) into a nested tree
of at most ``max_nodes`` nodes. Directories and files are opened largest first; what does not fit
in the budget is folded, per directory, into one ``"N more files"`` node, so every byte stays in
the tree and each parent's size is exactly the sum of its children's. Go binaries, when their
build breakdown is known, become small trees of their own: modules, then packages.

The output uses plain JSON types only; node keys are ``name``, ``size``, ``layer`` (the layer
that wrote the file; for a directory the layer that wrote most of its bytes), ``children`` for
directories, ``kind``/``count`` for the nodes that are not plain files or directories, and
``label`` where the page must show the name escaped (``pytest_imagesize.text.shown``).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from .. import text

__all__ = ["WASTED_LIMIT", "summarise"]

WASTED_LIMIT = 200  # hidden copies kept for the page, largest first

_LEAF_KINDS = {"file", "symlink", "hardlink", "other"}


class _Node:
    """A directory, file or synthetic node while the tree is built."""

    __slots__ = ("children", "dir_count", "dirs", "files", "kind", "layer", "layers", "name", "size")

    def __init__(self, name: str, kind: str, size: int = 0, layer: int | None = None) -> None:
        self.name = name
        self.kind = kind  # "dir", a file kind, "go-module", "go-package", "go-other", "dir-entry"
        self.size = size  # own bytes for leaves; the subtree's total once _total() has run
        self.layer = layer
        self.children: list[_Node] = []
        self.dirs: dict[str, _Node] = {}  # named subdirectories, while building
        self.layers: dict[int, int] = {}  # bytes per layer in the subtree
        self.files = 0  # non-directory entries in the subtree
        self.dir_count = 0  # directories in the subtree, this one excluded


def _unpack(entry: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    """The named fields of an object, a mapping or a plain tuple (in ``names`` order)."""
    if isinstance(entry, tuple) and not hasattr(entry, "_fields"):
        return entry
    if isinstance(entry, dict) or (not hasattr(entry, names[0]) and isinstance(entry, Mapping)):
        return tuple(entry[name] for name in names)
    return tuple(getattr(entry, name) for name in names)


_FILE_FIELDS = ("path", "kind", "size", "layer")
_WASTED_FIELDS = ("path", "size", "layer")


def _parts(path: str) -> list[str]:
    return [part for part in str(path).split("/") if part and part != "."]


def _go_key(path: str) -> str:
    return "/" + "/".join(_parts(path))


def _build(files: Iterable[Any], wanted: set[str]) -> tuple[_Node, dict[str, _Node]]:
    """The directory tree of ``files``, and the leaves whose normalised path is in ``wanted``."""
    root = _Node("/", "dir")
    by_path: dict[str, _Node] = {}
    directories: dict[str, _Node] = {"": root}  # the text before a path's last "/" -> its node

    def directory(text: str) -> _Node:
        node = directories.get(text)
        if node is None:
            node = root
            for part in _parts(text):
                child = node.dirs.get(part)
                if child is None:
                    child = node.dirs[part] = _Node(part, "dir")
                    node.children.append(child)
                node = child
            directories[text] = node
        return node

    for entry in files:
        path, kind, size, layer = _unpack(entry, _FILE_FIELDS)[:4]
        path, kind = str(path).rstrip("/"), str(kind)
        size = int(size or 0)
        layer = None if layer is None else int(layer)
        head, _, name = path.rpartition("/")
        if name == "." or (name == ".." and head):
            head, name = path, ""  # odd spellings: let the directory walk normalise them
        if kind == "dir":
            node = directory(path)
            node.layer = layer
            if size:  # a directory entry's own bytes (zero in tar archives): keep them visibly
                node.children.append(_Node(".", "dir-entry", size, layer))
            continue
        parent = directory(head)
        leaf = _Node(name or "/", kind if kind in _LEAF_KINDS else "other", size, layer)
        parent.children.append(leaf)
        if wanted:
            key = _go_key(path)
            if key in wanted:
                by_path[key] = leaf
    return root, by_path


def _module_of(package: str, modules: list[str]) -> str | None:
    best = None
    for module in modules:
        if (package == module or package.startswith(module + "/")) and (
            best is None or len(module) > len(best)
        ):
            best = module
    return best


def _go_children(leaf: _Node, info: Mapping[str, Any]) -> list[_Node] | None:
    """Modules -> packages for one Go binary, summing exactly to ``leaf.size``; None when the
    breakdown claims more bytes than the file holds (it is then left out)."""
    layer = leaf.layer
    modules: dict[str, _Node] = {}
    module_sizes: dict[str, int] = {}
    for module in info.get("modules") or ():
        path = str(module["path"])
        node = modules.get(path)
        if node is None:
            node = modules[path] = _Node(path, "go-module", 0, layer)
            module_sizes[path] = 0
        module_sizes[path] += max(int(module.get("size") or 0), 0)
    names = sorted(modules)
    for package in info.get("packages") or ():
        path = str(package["path"])
        size = max(int(package.get("size") or 0), 0)
        owner = _module_of(path, names)
        if owner is None:
            first = path.split("/", 1)[0]
            owner = "(standard library)" if "." not in first else "(no module)"
            if owner not in modules:
                modules[owner] = _Node(owner, "go-module", 0, layer)
                module_sizes[owner] = 0
        modules[owner].children.append(_Node(path, "go-package", size, layer))
    tops: list[_Node] = []
    for name, node in modules.items():
        in_packages = sum(child.size for child in node.children)
        rest = module_sizes[name] - in_packages
        if rest > 0:
            node.children.append(_Node("other", "go-other", rest, layer))
        if not node.children:  # a module without package sizes: one block
            node.size = module_sizes[name]
        tops.append(node)
    for bucket, size in sorted((info.get("other") or {}).items()):
        tops.append(_Node(str(bucket), "go-other", max(int(size or 0), 0), layer))
    unattributed = _Node("unattributed", "go-other", max(int(info.get("unattributed") or 0), 0), layer)
    tops.append(unattributed)

    def total(node: _Node) -> int:
        return sum(total(c) for c in node.children) if node.children else node.size

    excess = sum(total(node) for node in tops) - leaf.size
    if excess < 0:
        unattributed.size -= excess
    elif excess > 0:  # the surplus comes off unattributed, then the coarse buckets; never packages
        coarse = sorted((n for n in tops if not n.children and n is not unattributed), key=lambda n: -n.size)
        for node in [unattributed, *coarse]:
            cut = min(excess, node.size)
            node.size -= cut
            excess -= cut
        if excess:
            return None
    return [node for node in tops if node.children or node.size > 0] or None


def _total(node: _Node) -> None:
    """Sizes, bytes per layer and counts of every subtree, bottom up (iteratively: deep trees)."""
    order: list[_Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.children:
            order.append(current)
            stack.extend(current.children)
        else:
            current.files = 1 if current.kind in _LEAF_KINDS or current.kind == "dir-entry" else 0
    for current in reversed(order):
        size = files = dirs = 0
        layers: dict[int, int] = {}
        for child in current.children:
            size += child.size
            files += child.files
            if child.kind == "dir":
                dirs += child.dir_count + 1
            if child.children:
                for layer, nbytes in child.layers.items():
                    layers[layer] = layers.get(layer, 0) + nbytes
            elif child.layer is not None and child.kind != "dir":
                layers[child.layer] = layers.get(child.layer, 0) + child.size
        if current.kind != "dir":  # a Go binary: one file, whatever its breakdown
            files, dirs = 1 if current.kind in _LEAF_KINDS else 0, 0
        current.size, current.files, current.dir_count, current.layers = size, files, dirs, layers
        if current.kind in ("dir", "go-module") or current.layer is None:
            current.layer = _dominant(layers, current.layer)


def _layer_bytes(node: _Node) -> dict[int, int]:
    if node.children or node.kind == "dir" or node.layer is None:
        return node.layers
    return {node.layer: node.size}


def _dominant(layers: Mapping[int, int], fallback: int | None) -> int | None:
    if not layers:
        return fallback
    return min(layers, key=lambda layer: (-layers[layer], layer))


def _noun(hidden: list[_Node]) -> str:
    kinds = {node.kind for node in hidden}
    if kinds == {"go-package"}:
        return "packages"
    if kinds == {"go-module"}:
        return "modules"
    if kinds <= {"go-package", "go-module", "go-other"}:
        return "parts"
    return "files"


def _fold(hidden: list[_Node]) -> dict[str, Any]:
    """One node standing for ``hidden`` siblings."""
    layers: dict[int, int] = {}
    for node in hidden:
        for layer, nbytes in _layer_bytes(node).items():
            layers[layer] = layers.get(layer, 0) + nbytes
    files = sum(node.files for node in hidden)
    noun = _noun(hidden)
    if noun == "files" and files == 0:
        count, noun = sum(1 + node.dir_count for node in hidden), "directories"
    else:
        count = files if noun == "files" else len(hidden)
    return {
        "name": f"{count} more {noun}",
        "size": sum(node.size for node in hidden),
        "layer": _dominant(layers, None),
        "kind": "more",
        "count": count,
    }


def _select(root: _Node, max_nodes: int) -> tuple[set[int], set[int]]:
    """The nodes shown and the nodes opened (their children shown, at least the largest), within
    ``max_nodes`` nodes counting the fold nodes; largest first.

    Opening a node and showing its largest child is one step, so no open node holds only a fold
    node. A Go binary opens early (as if its largest part were the whole file): its breakdown is
    what the treemap is for."""
    shown = {id(root)}
    opened: set[int] = set()
    hidden_left: dict[int, int] = {}  # open node -> children not shown yet
    ticket = itertools.count()
    heap: list[tuple[int, int, _Node, _Node | None]] = []  # parent None: an "open" step

    def offer_open(node: _Node) -> None:
        if node.children:
            largest = max(child.size for child in node.children)
            priority = node.size if node.kind == "file" else largest
            heapq.heappush(heap, (-priority, next(ticket), node, None))

    count = 1
    offer_open(root)
    while heap and count < max_nodes:
        _, _, node, parent = heapq.heappop(heap)
        if parent is None:  # open: show the largest child, fold the others
            children = sorted(node.children, key=lambda child: -child.size)
            cost = 1 + (1 if len(children) > 1 else 0)
            if count + cost > max_nodes:
                continue
            count += cost
            opened.add(id(node))
            hidden_left[id(node)] = len(children) - 1
            shown.add(id(children[0]))
            offer_open(children[0])
            for child in children[1:]:
                heapq.heappush(heap, (-child.size, next(ticket), child, node))
            continue
        cost = 0 if hidden_left[id(parent)] == 1 else 1  # the last one takes the fold node's place
        if count + cost > max_nodes:
            continue  # stays folded; a smaller sibling may still fit
        count += cost
        hidden_left[id(parent)] -= 1
        shown.add(id(node))
        offer_open(node)
    return shown, opened


def _emit(root: _Node, shown: set[int], opened: set[int]) -> dict[str, Any]:
    """The shown part of the tree as JSON-able dicts (iteratively: paths can be deep)."""

    def plain(node: _Node) -> dict[str, Any]:
        out: dict[str, Any] = {"name": node.name, "size": node.size, "layer": node.layer}
        label = text.shown(node.name)
        if label != node.name:  # what the page shows: the name with its control characters escaped
            out["label"] = label
        if node.kind == "dir":
            if not node.children:
                out["children"] = []
            elif id(node) not in opened:  # folded: no children, but its file count
                out["kind"] = "dir"
                out["count"] = node.files
        elif node.kind == "file":
            if node.children:
                out["kind"] = "go-binary"
        else:
            out["kind"] = node.kind
        return out

    top = plain(root)
    stack = [(root, top)]
    while stack:
        node, out = stack.pop()
        if id(node) not in opened:
            if node is root and node.children:  # max_nodes too small to open anything
                out.pop("kind", None)
                out.pop("count", None)
                out["children"] = [_fold(node.children)]
            continue
        ordered = sorted(node.children, key=lambda child: (-child.size, child.name))
        children: list[dict[str, Any]] = []
        hidden: list[_Node] = []
        for child in ordered:
            if id(child) in shown:
                child_out = plain(child)
                children.append(child_out)
                stack.append((child, child_out))
            else:
                hidden.append(child)
        if hidden:
            children.append(_fold(hidden))
        out["children"] = children
    return top


def _wasted(wasted: Iterable[Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for entry in wasted:
        path, size, layer = _unpack(entry, _WASTED_FIELDS)[:3]
        rows.append(
            {"path": str(path), "size": int(size or 0), "layer": None if layer is None else int(layer)}
        )
    rows.sort(key=lambda row: (-row["size"], row["path"]))
    return rows[:WASTED_LIMIT]


def summarise(
    files: Iterable[Any],
    *,
    wasted: Iterable[Any] = (),
    go_binaries: Iterable[Mapping[str, Any]] = (),
    max_nodes: int = 4000,
) -> dict[str, Any]:
    """The treemap tree of an image's final filesystem.

    ``files``: objects, mappings or ``(path, kind, size, layer)`` tuples, one per entry of the
    final filesystem (absolute paths; ``kind`` one of ``file``, ``dir``, ``symlink``,
    ``hardlink``, ``other``). ``wasted``: ``(path, size, layer)`` copies hidden by later layers;
    the largest :data:`WASTED_LIMIT` are returned under the root's ``"wasted"`` key (they are not
    part of the tree). ``go_binaries``: build breakdowns of Go executables, nested under their
    file as modules -> packages.

    The root also has ``files`` (entries that are not directories), ``nodes`` (in the tree),
    ``layer_bytes`` (``[layer, bytes]`` pairs, for the legend) and ``wasted``. The
    tree has at most ``max_nodes`` nodes (at least 2) and every byte of ``files``.
    """
    if max_nodes < 2:
        raise ValueError(f"max_nodes must be at least 2, got {max_nodes}")
    go_list = list(go_binaries)
    root, by_path = _build(files, {_go_key(str(info.get("path", ""))) for info in go_list})
    for info in go_list:
        leaf = by_path.get(_go_key(str(info.get("path", ""))))
        if leaf is not None and leaf.kind == "file" and not leaf.children:
            leaf.children = _go_children(leaf, info) or []
    _total(root)
    shown, opened = _select(root, max_nodes)
    tree = _emit(root, shown, opened)
    tree["files"] = root.files
    tree["layer_bytes"] = sorted([layer, nbytes] for layer, nbytes in _layer_bytes(root).items())
    tree["nodes"] = _count(tree)
    tree["wasted"] = _wasted(wasted)
    return tree


def _count(tree: Mapping[str, Any]) -> int:
    total = 0
    stack = [tree]
    while stack:
        node = stack.pop()
        total += 1
        stack.extend(node.get("children") or ())
    return total
