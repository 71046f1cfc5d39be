"""Pure-Python reader of Go executables: what a Go binary is and where its bytes go.

Reads ELF files (amd64, arm64; static or dynamic; stripped or not) built by Go 1.18 and later from
their bytes alone: build info (``.go.buildinfo``), the function table (``.gopclntab``, present even in
stripped binaries) and the ELF section headers. No Go toolchain is needed at analysis time.

The reader (and pyelftools) loads on first use of ``analyse_go_binary``; the result types are light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .hygiene import hygiene_findings
from .model import Finding, GoBinary, GoModule, GoPackage, looks_like_elf
from .names import package_of

if TYPE_CHECKING:
    from .analyse import analyse_go_binary

__all__ = [
    "Finding",
    "GoBinary",
    "GoModule",
    "GoPackage",
    "analyse_go_binary",
    "hygiene_findings",
    "looks_like_elf",
    "package_of",
]


def __getattr__(name: str) -> Any:
    if name == "analyse_go_binary":
        from . import analyse

        return getattr(analyse, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
