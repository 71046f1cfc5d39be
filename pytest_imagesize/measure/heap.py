"""glibc's malloc set for how a process uses big buffers. Nothing happens where there is no glibc
``mallopt``; a user's own settings win (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
or any ``glibc.malloc`` tunable in ``GLIBC_TUNABLES``)."""

from __future__ import annotations

import contextlib
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


def tune_malloc(mmap_threshold: int, trim_threshold: int) -> None:
    """Buffers of ``mmap_threshold`` bytes or more are mapped (and given back when freed); up to
    ``trim_threshold`` bytes freed at the top of a heap are kept for the next buffers."""
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return
    with contextlib.suppress(OSError, AttributeError, TypeError):
        import ctypes

        libc = ctypes.CDLL(None)
        if not os.environ.get("MALLOC_MMAP_THRESHOLD_"):
            libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
        if not os.environ.get("MALLOC_TRIM_THRESHOLD_"):
            libc.mallopt(M_TRIM_THRESHOLD, trim_threshold)
