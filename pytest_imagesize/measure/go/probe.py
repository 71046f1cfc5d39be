"""The archive reader's probe for Go binaries: every ELF file of every layer is looked at while
the layer streams by (no container, no second read); those with Go build info or Go's build-ID
note (a Go binary cut short before its build info) are analysed, in a
process of our own (``worker.py``) or, when that process can't be used, in this one."""

from __future__ import annotations

from typing import Any

from ..archive import FileProbe
from .elfcut import GO_NOTE_LE
from .model import looks_like_elf
from .worker import GoWorker

MAX_BINARY = 1 << 30  # a file larger than this is not held in memory to be read
BUILDINFO_MAGIC = b"\xff Go buildinf:"


class GoProbe(FileProbe):
    def __init__(self) -> None:
        self._worker = GoWorker()
        self._worker.start()

    def wants(self, path: str, size: int, head: bytes) -> bool:
        return size <= MAX_BINARY and looks_like_elf(head)

    # most ELF files of an image are not Go: let them go at once
    needle = (BUILDINFO_MAGIC, GO_NOTE_LE)

    def take(self, path: str, data: bytes | bytearray) -> Any:
        if not self._worker.failed:
            try:
                return self._worker.analyse(path, data)
            except Exception:  # whatever went wrong there: this binary and the next ones, here
                self._worker.give_up()
        from .analyse import analyse_go_binary

        return analyse_go_binary(path, data)

    def close(self) -> None:
        self._worker.close()
