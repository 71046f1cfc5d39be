"""Go binaries analysed in a process of our own, beside the archive reader.

The analysis is Python and numpy work that would hold the reader's GIL and leave its objects and
numpy (~30 MB) in the reader's memory. A child process (this module's ``main``, on the parent's
``sys.path``), started when an archive is asked for (it loads the reader while the engine prepares
the archive; killed at once if no Go binary came), says ``HELLO``, then gets each binary over its
stdin and answers with the ``GoBinary`` as JSON on its stdout:

    request:  path length, data length (2 x uint32, big-endian), path (UTF-8), data
    answer:   length (uint32, at most MAX_ANSWER), JSON of ``GoBinary.to_json()`` or ``null``

The child ends when its stdin closes: when the archive is read, when the reader fails, and when the
parent dies however it dies. It ignores Ctrl-C (the parent handles it and closes the pipe). If the
child cannot be started or fails, the binary is analysed in the parent, as before, and so are all
later ones of this process.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import signal
import struct
import subprocess
import sys
from typing import IO

from .model import GoBinary

_HEADER = struct.Struct(">II")
_ANSWER = struct.Struct(">I")
HELLO = b"pytest-imagesize go worker 1\n"  # the child's first words: anything else is not our child
MAX_ANSWER = 64 << 20
WAIT_AT_CLOSE = 5.0  # seconds the child gets to see the end of its input before it is killed
# The child imports exactly what this process would: the same sys.path (not the current directory
# that ``python -m`` would put first), then runs the loop.
_BOOT = "import json, sys; sys.path[:] = json.loads(sys.argv[1]); from {0} import main; main()"
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
MMAP_THRESHOLD_MAX = 32 << 20  # glibc's largest: buffers up to this size come from the heap
TRIM_THRESHOLD = 1 << 30  # free memory at the heap's top kept up to this much
# numpy's BLAS would start a thread per core, which the reader never uses (only its spinning);
# a user's own setting wins
_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_broken = False  # a child failed in this process: later archives read their binaries in-process


class WorkerFailed(Exception):
    """The child process cannot be started, was closed, or answered nonsense."""


class GoWorker:
    """One child process; ``close`` ends it."""

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        self._used = False
        self._closed = False
        self.failed = _broken  # the child can't be used: the caller analyses in-process

    def start(self) -> None:
        """Start the child now (it loads the reader while the engine prepares the archive)."""
        if self.failed:
            return
        try:
            self._start()
        except (OSError, WorkerFailed):
            self.give_up()

    def give_up(self) -> None:
        """The child failed: end it; this process reads Go binaries itself from now on."""
        global _broken
        _broken = self.failed = True
        self.close()

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.pid

    def analyse(self, path: str, data: bytes | bytearray) -> GoBinary | None:
        """The child's analysis of one file; raises (WorkerFailed, OSError, EOFError, ...) when the
        child fails or answers nonsense."""
        child = self._start()
        assert child.stdin is not None and child.stdout is not None
        if not self._used:
            self._used = True
            if _exactly(child.stdout, len(HELLO)) != HELLO:
                raise WorkerFailed("the Go reader's process did not introduce itself")
        name = path.encode("utf-8", "surrogateescape")
        child.stdin.write(_HEADER.pack(len(name), len(data)) + name)
        child.stdin.write(data)
        child.stdin.flush()
        size = _ANSWER.unpack(_exactly(child.stdout, _ANSWER.size))[0]
        if size > MAX_ANSWER:
            raise WorkerFailed(f"the Go reader's process answered {size} bytes")
        answer = json.loads(_exactly(child.stdout, size))
        return None if answer is None else GoBinary.from_json(answer)

    def _start(self) -> subprocess.Popen[bytes]:
        if self._closed:
            raise WorkerFailed("the Go reader's process was closed")
        if self._child is None:
            if not sys.executable or getattr(sys, "frozen", False):
                raise WorkerFailed("no Python interpreter to start")
            self._child = subprocess.Popen(
                [sys.executable, "-c", _BOOT.format(__name__), json.dumps(sys.path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, **{k: v for k, v in _ONE_THREAD.items() if not os.environ.get(k)}},
            )
        return self._child

    def close(self) -> None:
        self._closed = True
        child, self._child = self._child, None
        if child is None:
            return
        if not self._used:  # nothing asked of it: no need to wait for it to load the reader
            child.kill()
        with contextlib.suppress(OSError):
            if child.stdin is not None:
                child.stdin.close()
        try:
            child.wait(WAIT_AT_CLOSE)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        finally:
            if child.stdout is not None:
                child.stdout.close()


def _exactly(stream: IO[bytes] | io.BufferedIOBase, n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) < n:
        raise EOFError("the Go analysis process ended")
    return data


def serve(requests: io.BufferedIOBase, answers: IO[bytes]) -> None:
    """The child's loop: analyse each binary received until the input ends."""
    import numpy  # noqa: F401  (loaded before the first binary comes: the reader uses it)

    from .analyse import analyse_go_binary

    gc.freeze()  # the modules' objects: not walked again by every full collection of the analysis
    while True:
        header = requests.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        name_len, size = _HEADER.unpack(header)
        path = _exactly(requests, name_len).decode("utf-8", "surrogateescape")
        data = bytearray(size)
        if requests.readinto(data) < size:  # a buffered reader fills it unless the input ends
            return
        found = analyse_go_binary(path, data)
        del data
        body = json.dumps(None if found is None else found.to_json()).encode()
        answers.write(_ANSWER.pack(len(body)) + body)
        answers.flush()


def _keep_freed_memory() -> None:
    """Buffers up to 32 MiB come from the heap and glibc keeps what is freed for reuse, so each
    binary (received, then read in numpy arrays) mostly reuses the pages of the one before instead
    of faulting in fresh ones. This process's peak memory is that of the biggest binary's analysis
    either way.

    ``mallopt`` settings hold for the whole process and cannot be read back or undone, so they are
    made only here, in the process the plugin starts and owns, never in the user's pytest process
    (whose malloc keeps glibc's own adaptive thresholds). Nothing happens where there is no glibc
    ``mallopt``; a user's own settings win (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
    or any ``glibc.malloc`` tunable in ``GLIBC_TUNABLES``)."""
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return
    with contextlib.suppress(OSError, AttributeError, TypeError):
        import ctypes

        libc = ctypes.CDLL(None)
        if not os.environ.get("MALLOC_MMAP_THRESHOLD_"):
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
        if not os.environ.get("MALLOC_TRIM_THRESHOLD_"):
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)


def main() -> None:
    """The child: answers go to a private copy of stdout; anything else printed goes to stderr."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and closes our input
    _keep_freed_memory()
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    with contextlib.suppress(BrokenPipeError, EOFError), answers:
        answers.write(HELLO)
        answers.flush()
        serve(sys.stdin.buffer, answers)  # type: ignore[arg-type]
