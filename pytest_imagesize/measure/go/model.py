"""What a Go binary is and where its bytes go: the result types, and their JSON form (the cache)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ELF_MAGIC = b"\x7fELF"


def looks_like_elf(head: bytes | bytearray) -> bool:
    """Cheap test on a file's first bytes: is it an ELF file (the only kind analysed)?"""
    return head[:4] == ELF_MAGIC


@dataclass
class GoModule:
    """A module linked into the binary: its version, its replacement (``=>`` target) and its bytes."""

    version: str
    replace: str | None = None
    size: int = 0


@dataclass
class GoPackage:
    """A package's bytes: ``size`` (code + its share of the runtime tables), of which ``code`` is code."""

    size: int = 0
    code: int = 0


@dataclass
class GoBinary:
    """One Go executable found in an image, read from its bytes alone.

    ``packages`` + ``other`` + ``unattributed`` add up to ``size`` exactly. ``problem`` is one line saying
    what could not be read or did not hold together when the binary was only partly understood (else
    None); ``partial`` is then True when the figures by package and module are incomplete (the bytes
    of what could not be read are in ``other`` or ``unattributed``).
    """

    path: str
    size: int
    go_version: str = ""
    main_module: str = ""
    modules: dict[str, GoModule] = field(default_factory=dict)
    packages: dict[str, GoPackage] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    is_test: bool = False
    stripped: bool = False
    static: bool = True
    packed: bool = False
    unattributed: int = 0
    other: dict[str, int] = field(default_factory=dict)
    problem: str | None = None
    #: bytes of .symtab/.strtab and DWARF sections (what ``-ldflags="-s -w"`` would save)
    debug_bytes: int = 0
    partial: bool = False

    def attributed_total(self) -> int:
        """packages + other + unattributed: equals ``size`` for every analysed binary."""
        return sum(p.size for p in self.packages.values()) + sum(self.other.values()) + self.unattributed

    def top_modules(self, n: int) -> list[tuple[str, GoModule]]:
        """The ``n`` biggest modules, biggest first (ties by path)."""
        return sorted(self.modules.items(), key=lambda kv: (-kv[1].size, kv[0]))[:n]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "go_version": self.go_version,
            "main_module": self.main_module,
            "is_test": self.is_test,
            "stripped": self.stripped,
            "static": self.static,
            "packed": self.packed,
            "settings": dict(self.settings),
            "modules": [
                {"path": p, "version": m.version, "replace": m.replace, "size": m.size}
                for p, m in sorted(self.modules.items(), key=lambda kv: (-kv[1].size, kv[0]))
            ],
            "packages": [
                {"path": p, "size": g.size, "code": g.code}
                for p, g in sorted(self.packages.items(), key=lambda kv: (-kv[1].size, kv[0]))
            ],
            "other": dict(sorted(self.other.items(), key=lambda kv: (-kv[1], kv[0]))),
            "unattributed": self.unattributed,
            "problem": self.problem,
            "debug_bytes": self.debug_bytes,
            "partial": self.partial,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> GoBinary:
        return cls(
            path=str(obj["path"]),
            size=int(obj["size"]),
            go_version=str(obj.get("go_version", "")),
            main_module=str(obj.get("main_module", "")),
            is_test=bool(obj.get("is_test", False)),
            stripped=bool(obj.get("stripped", False)),
            static=bool(obj.get("static", True)),
            packed=bool(obj.get("packed", False)),
            settings={str(k): str(v) for k, v in obj.get("settings", {}).items()},
            modules={
                str(m["path"]): GoModule(
                    str(m["version"]), None if m.get("replace") is None else str(m["replace"]), int(m["size"])
                )
                for m in obj.get("modules", [])
            },
            packages={
                str(p["path"]): GoPackage(int(p["size"]), int(p["code"])) for p in obj.get("packages", [])
            },
            other={str(k): int(v) for k, v in obj.get("other", {}).items()},
            unattributed=int(obj.get("unattributed", 0)),
            problem=None if obj.get("problem") is None else str(obj["problem"]),
            debug_bytes=int(obj.get("debug_bytes", 0)),
            partial=bool(obj.get("partial", False)),
        )


@dataclass(frozen=True)
class Finding:
    """A build-hygiene finding about one binary: which rule, what is wrong, what it costs, how to fix."""

    rule: str
    path: str
    problem: str
    cost_bytes: int | None
    fix: str
