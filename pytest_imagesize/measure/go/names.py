"""Which package a Go symbol belongs to, and which module a package belongs to.

The package rule is Go's own (debug/gosym ``Sym.PackageName``): drop generic instantiation arguments
(from the first ``[`` to the last ``]``), then the package is everything before the first ``.`` after
the last ``/``. Two refinements, so that every byte lands somewhere useful:

* equality/hash functions the compiler makes for a type (``type:.eq.T``, ``type..eq.T`` before Go 1.20)
  belong to T's package;
* other compiler internals (``go:``/``type:`` prefixes, ``go.``/``type.`` before Go 1.20) and names
  without a package go to the ``runtime`` bucket.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

RUNTIME = "runtime"
STD = "std"

_EQ_PREFIXES = ("type:.eq.", "type..eq.", "type:.hash.", "type..hash.")
_INTERNAL_PREFIXES = ("go:", "type:", "type.")
# before Go 1.20 compiler symbols used "go." -- which also starts real module paths (go.uber.org/zap)
_OLD_GO_INTERNAL = (
    "go.buildid", "go.itab.", "go.string.", "go.func.", "go.shape.", "go.info.", "go.builtin.",
    "go.importpath.", "go.map.", "go.constinfo.", "go.cuinfo.", "go.interface", "go.weak.",
    "go.link.", "go.track.", "go.runtime",
)  # fmt: skip


def package_of(name: str) -> str:
    """The package path a function (or other symbol) name belongs to; ``runtime`` for internals."""
    start = name.find("[")
    if start >= 0:
        end = name.rfind("]")
        if end > start:
            name = name[:start] + name[end + 1 :]
    if name.startswith(_OLD_GO_INTERNAL):
        return RUNTIME
    if name.startswith(_INTERNAL_PREFIXES):
        for prefix in _EQ_PREFIXES:
            if name.startswith(prefix):
                inner = name[len(prefix) :].lstrip("*")
                if (inner[:1].isalpha() or inner[:1] == "_") and " " not in inner and "{" not in inner:
                    return package_of(inner)
                return RUNTIME
        return RUNTIME
    slash = name.rfind("/")
    if slash < 0:
        slash = 0
    dot = name.find(".", slash)
    if dot <= 0:
        return RUNTIME
    return name[:dot]


def is_std_package(pkg: str) -> bool:
    """Standard-library packages have no dot in their first path element (``vendor/golang.org/...``
    is the standard library's own vendored copy)."""
    first = pkg.split("/", 1)[0]
    return "." not in first or pkg.startswith("vendor/")


class ModuleMatcher:
    """Groups package paths into modules by the longest module-path prefix."""

    def __init__(self, main_module: str, modules: Iterable[str]) -> None:
        self.main_module = main_module
        self._modules = sorted(
            set(modules) | ({main_module} if main_module else set()), key=len, reverse=True
        )
        self._cache: dict[str, str] = {}

    def module_of(self, pkg: str) -> str:
        hit = self._cache.get(pkg)
        if hit is not None:
            return hit
        found = ""
        for mod in self._modules:
            if pkg == mod or pkg.startswith(mod + "/"):
                found = mod
                break
        if not found:  # Go's rule cuts "gopkg.in/yaml.v3" to "gopkg.in/yaml": match the dotted module
            found = next(
                (m for m in self._modules if m.startswith(pkg + ".") and "/" not in m[len(pkg) :]), ""
            )
        if not found:
            if pkg == "main" or pkg.startswith("main/"):
                found = self.main_module or "main"
            elif is_std_package(pkg):
                found = STD
            else:
                found = "unknown"
        self._cache[pkg] = found
        return found

    def group(self, sizes: Mapping[str, int]) -> dict[str, int]:
        out: dict[str, int] = {}
        for pkg, size in sizes.items():
            mod = self.module_of(pkg)
            out[mod] = out.get(mod, 0) + size
        return out
