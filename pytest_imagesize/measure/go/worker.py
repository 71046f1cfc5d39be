"""Go binaries analysed in a process of our own, beside the archive reader.

The analysis is Python and numpy work that would hold the reader's GIL and leave its objects and
numpy (~30 MB) in the reader's memory. A child process (``python -m
pytest_imagesize.measure.go.worker``), started when an archive is asked for (it loads the reader
while the engine prepares the archive; killed at once if no Go binary came), gets each binary over
its stdin and answers with the ``GoBinary`` as JSON on its stdout:

    request:  path length, data length (2 x uint32, big-endian), path (UTF-8), data
    answer:   length (uint32), JSON of ``GoBinary.to_json()`` or ``null``

The child ends when its stdin closes: when the archive is read, when the reader fails, and when the
parent dies however it dies. It ignores Ctrl-C (the parent handles it and closes the pipe). If the
child cannot be started or fails, the binary is analysed in the parent, as before, and so are the
archive's later ones.
"""

from __future__ import annotations

import contextlib
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
WAIT_AT_CLOSE = 5.0  # seconds the child gets to see the end of its input before it is killed


class GoWorker:
    """One child process, started on first use; ``close`` ends it."""

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        self._used = False
        self.failed = False  # the child could not be used: the caller analyses in-process

    def start(self) -> None:
        """Start the child now (it loads the reader while the engine prepares the archive)."""
        try:
            self._start()
        except (OSError, ValueError):
            self.failed = True

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.pid

    def analyse(self, path: str, data: bytes | bytearray) -> GoBinary | None:
        """The child's analysis of one file; raises OSError / ValueError when the child fails."""
        child = self._start()
        assert child.stdin is not None and child.stdout is not None
        self._used = True
        name = path.encode("utf-8", "surrogateescape")
        child.stdin.write(_HEADER.pack(len(name), len(data)) + name)
        child.stdin.write(data)
        child.stdin.flush()
        size = _ANSWER.unpack(_exactly(child.stdout, _ANSWER.size))[0]
        answer = json.loads(_exactly(child.stdout, size))
        return None if answer is None else GoBinary.from_json(answer)

    def _start(self) -> subprocess.Popen[bytes]:
        if self._child is None:
            if not sys.executable:
                raise ValueError("no Python interpreter to start")
            self._child = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return self._child

    def close(self) -> None:
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


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and closes our input
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes where stderr goes, not into the answers
    with contextlib.suppress(BrokenPipeError, EOFError):
        serve(sys.stdin.buffer, answers)  # type: ignore[arg-type]
