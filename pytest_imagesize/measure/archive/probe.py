"""Looking inside chosen files while a layer streams by: the probe interface (``FileProbe``), the
reused memory probed files are read into, and the thread that runs the probe beside the reader."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .model import ArchiveError, LayerScan, TarEntry

PROBE_HEAD = 64  # bytes of a file the probe's ``wants`` sees
PROBE_HELD = 64 << 20  # bytes of probed files waiting for or in the probe's thread
PROBE_BUFFER = 32 << 20  # probed files up to this size are read into memory reused for the next


class FileProbe:
    """Looks inside chosen regular files while the layer streams by (e.g. Go binaries).

    ``wants`` sees a file's path, size and first bytes; for a yes, the whole file is read and,
    if it contains one of ``needle`` (a cheap test, in the reading thread, that lets most files go at
    once), ``take`` gets it and returns what to keep for it. ``take`` may run in a thread of its
    own beside the reader."""

    needle: bytes | tuple[bytes, ...] = b""  # only files that contain these bytes (any of them) are taken

    def wants(self, path: str, size: int, head: bytes) -> bool:
        return False

    def take(self, path: str, data: bytes | bytearray) -> Any:
        return None

    def needle_for(self, path: str, size: int, head: bytes) -> bytes | tuple[bytes, ...]:
        """The ``needle`` of a file ``wants`` said yes to (a probe made of others picks theirs)."""
        return self.needle

    def close(self) -> None:
        """The image is read (or its reading failed): let go of what ``take`` needed."""


class Probes(FileProbe):
    """Several probes in one read: a file goes to the first of them that wants it (each probe's
    ``wants`` depends only on the path, size and first bytes, so ``take`` asks again)."""

    def __init__(self, *probes: FileProbe) -> None:
        self._probes = probes

    def _which(self, path: str, size: int, head: bytes) -> FileProbe | None:
        for probe in self._probes:
            if probe.wants(path, size, head):
                return probe
        return None

    def wants(self, path: str, size: int, head: bytes) -> bool:
        return self._which(path, size, head) is not None

    def needle_for(self, path: str, size: int, head: bytes) -> bytes | tuple[bytes, ...]:
        probe = self._which(path, size, head)
        return b"" if probe is None else probe.needle_for(path, size, head)

    def take(self, path: str, data: bytes | bytearray) -> Any:
        probe = self._which(path, len(data), bytes(data[:PROBE_HEAD]))
        return None if probe is None else probe.take(path, data)

    def close(self) -> None:
        for probe in self._probes:
            probe.close()


class ShortFile(Exception):
    """The stream ended inside a probed file."""


class ProbeBuffer:
    """Where a probed file is copied from the stream, reused from file to file: most probed files
    are let go at once (``needle``: most ELF files of an image are not Go), and fresh memory of a
    few MiB for each of them would be mapped and faulted in page by page each time (glibc maps
    such buffers and gives them back when freed). A file taken from it is copied out (at most
    ``PROBE_BUFFER`` bytes); a bigger file is read into memory of its own, which is handed over
    as it is. One per image read: layers are parsed one at a time."""

    def __init__(self) -> None:
        self._memory = bytearray()

    def fill(
        self, source: Any, head: bytes, size: int, needle: bytes | tuple[bytes, ...]
    ) -> bytes | bytearray | None:
        """The file of ``size`` bytes (its first ones, ``head``, already read from ``source``) if
        it contains ``needle``, else None; ``ShortFile`` if the stream ends first."""
        memory = self._memory
        own = size > PROBE_BUFFER
        if own:
            memory = bytearray(size)
        elif size > len(memory):  # grown in steps: a few allocations however sizes rise
            memory = self._memory = bytearray(min(max(size, 2 * len(memory)), PROBE_BUFFER))
        with memoryview(memory) as view:
            view[: len(head)] = head
            if len(head) + source.readinto(view[len(head) : size]) < size:
                raise ShortFile
            needles = (needle,) if isinstance(needle, bytes) else needle
            if needle and all(memory.find(n, 0, size) < 0 for n in needles):
                return None
            if not own:
                return bytes(view[:size])  # the probe's own copy: this memory is reused
        return memory


def probe_file(
    probe: FileProbe, source: Any, entry: TarEntry, stored: int, scan: LayerScan, held: ProbeBuffer
) -> None:
    """Show the file whose ``stored`` bytes come next in ``source`` to ``probe``; what it keeps
    goes to ``scan.probed``."""
    head = source.read(min(PROBE_HEAD, stored))
    if probe.wants(entry.path, entry.size, head):
        try:
            data = held.fill(source, head, stored, probe.needle_for(entry.path, entry.size, head))
        except ShortFile:
            raise ArchiveError(f"layer {scan.key} is truncated") from None
        if data is None:
            return
        found = probe.take(entry.path, data)
        if found is not None:
            scan.probed[entry.path] = found


class BackgroundProbe(FileProbe):
    """Runs another probe's ``take`` in a thread of its own while the stream goes on (the reading
    thread mostly waits for the engine: the probe's work fits in those waits). At most one file
    waits while another is looked at, and while more than ``PROBE_HELD`` bytes are held the reader
    waits: memory holds two small files (or one big one) beside the reading thread's buffer
    (``ProbeBuffer``, up to ``PROBE_BUFFER``) and the file being read."""

    def __init__(self, inner: FileProbe) -> None:
        self._inner = inner
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imagesize-probe")
        self._pending: deque[tuple[Future[Any], int]] = deque()
        self._held = 0

    def wants(self, path: str, size: int, head: bytes) -> bool:
        return self._inner.wants(path, size, head)

    @property
    def needle(self) -> bytes | tuple[bytes, ...]:  # type: ignore[override]
        return self._inner.needle

    def needle_for(self, path: str, size: int, head: bytes) -> bytes | tuple[bytes, ...]:
        return self._inner.needle_for(path, size, head)

    def take(self, path: str, data: bytes | bytearray) -> Any:
        while self._pending and (len(self._pending) >= 2 or self._held + len(data) > PROBE_HELD):
            done, size = self._pending.popleft()
            self._held -= size
            done.result()
        future = self._pool.submit(self._inner.take, path, data)
        self._pending.append((future, len(data)))
        self._held += len(data)
        return future

    def settle(self, scans: Iterable[LayerScan]) -> None:
        """Replace every scan's futures by what they found (dropping files that were nothing)."""
        for scan in scans:
            for path, found in list(scan.probed.items()):
                if isinstance(found, Future):
                    result = found.result()
                    if result is None:
                        del scan.probed[path]
                    else:
                        scan.probed[path] = result

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)  # the inner probe: its owner closes it
