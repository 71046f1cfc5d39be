"""The archive reader's probe for Go binaries: every ELF file of every layer is looked at while
the layer streams by (no container, no second read); those with Go build info are analysed."""

from __future__ import annotations

from typing import Any

from ..archive import FileProbe
from .analyse import analyse_go_binary, looks_like_elf

MAX_BINARY = 1 << 30
BUILDINFO_MAGIC = b"\xff Go buildinf:"  # a file larger than this is not held in memory to be read


class GoProbe(FileProbe):
    def wants(self, path: str, size: int, head: bytes) -> bool:
        return size <= MAX_BINARY and looks_like_elf(head)

    def worth(self, data: bytes | bytearray) -> bool:
        return BUILDINFO_MAGIC in data  # most ELF files of an image are not Go: let them go, in C

    def take(self, path: str, data: bytes | bytearray) -> Any:
        return analyse_go_binary(path, data)
