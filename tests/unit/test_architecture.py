"""The package's shape: no import cycles (counting every import statement: module level,
function-local and TYPE_CHECKING ones), imports only down the layer order, docker-py only in
engine/, pytest only in the glue, and a light ``import pytest_imagesize``."""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_imagesize"

# top to bottom; a module may import its own layer and the layers below it (a module belongs to
# the layer of its longest matching prefix: measure.archive is below sources, measure above)
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("api", ("pytest_imagesize",)),
    ("pytest glue", ("plugin", "glue")),
    ("session", ("session", "settings")),
    ("cli", ("cli",)),
    ("reports", ("reports",)),
    ("checks", ("checks",)),
    ("compare", ("compare",)),
    ("baseline", ("baseline",)),
    ("measure", ("measure",)),
    ("sources", ("sources",)),  # registries, OCI layouts, archives: hand blobs to the reader below
    ("archive reader", ("measure.archive", "measure.paths")),
    ("engine", ("engine",)),
    ("base", ("errors", "sizes", "atomic", "progress", "ids", "text", "statedir")),
]
PURE = ("measure.archive", "measure.layers", "measure.paths", "measure.go", "measure.packages")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache  # the package is parsed once per session
def imports_of(path: Path) -> frozenset[str]:
    """Every module of the package or outside it that ``path`` imports, wherever the statement is."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            submodules = {f"{target}.{a.name}" for a in node.names if _exists(f"{target}.{a.name}")}
            found.update(submodules or {target})  # `from . import baseline` imports that module
    # the lazy exports of __init__ count as imports too
    if path.name == "__init__.py" and name == "pytest_imagesize":
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for value in node.values:
                    if isinstance(value, ast.Constant) and str(value.value).startswith("."):
                        found.add("pytest_imagesize" + str(value.value))
    return frozenset(found)


@functools.cache
def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:]) if "." in module else Path()
    return module.startswith("pytest_imagesize") and (
        (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()
    )


@functools.cache
def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        internal = set()
        for target in imports_of(path):
            while target and target not in modules:  # `from .engine.build import X` -> module
                target = target.rsplit(".", 1)[0] if "." in target else ""
            if target and target != name and not name.startswith(target + "."):  # not its own package
                internal.add(target)
        edges[name] = internal
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def layer_of(module: str) -> int:
    relative = module.removeprefix("pytest_imagesize").lstrip(".")
    matches = [
        (len(prefix), rank)
        for rank, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if (prefix == "pytest_imagesize" and not relative)
        or relative == prefix
        or relative.startswith(prefix + ".")
    ]
    if matches:
        return max(matches)[1]
    raise AssertionError(f"{module} is in no layer: add it to LAYERS and to CONTRIBUTING.md")


def test_finds_a_cycle_when_there_is_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_run_down_the_layer_order() -> None:
    wrong = [
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in graph().items()
        for target in targets
        if layer_of(target) < layer_of(module)
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("library", "allowed"),
    [
        ("docker", ("pytest_imagesize.engine.",)),
        ("pytest", ("pytest_imagesize.plugin", "pytest_imagesize.glue.")),
        ("zlib_ng", ("pytest_imagesize.measure.archive.",)),
    ],
)  # fmt: skip
def test_libraries_stay_in_their_modules(library: str, allowed: tuple[str, ...]) -> None:
    users = sorted(
        module_name(path)
        for path in PACKAGE.rglob("*.py")
        if any(t == library or t.startswith(library + ".") for t in imports_of(path))
    )
    assert [u for u in users if not u.startswith(allowed)] == []


def test_measurement_needs_no_engine() -> None:
    edges = graph()
    for module, targets in edges.items():
        if module.removeprefix("pytest_imagesize.").startswith(PURE):
            assert not [t for t in targets if ".engine" in t], module


def test_import_is_light() -> None:
    """The entry point imports the package in every pytest run; the CLI's size check starts fast."""
    code = (
        "import sys, pytest_imagesize\n"
        "import pytest_imagesize.cli, pytest_imagesize.checks, pytest_imagesize.measure.image\n"
        "heavy = [m for m in ('pytest', 'zlib_ng', 'pytest_imagesize.measure.archive', 'elftools',"
        " 'pytest_imagesize.reports.html') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
