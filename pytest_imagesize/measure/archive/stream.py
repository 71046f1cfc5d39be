"""Receiving bytes: a chunk stream received ahead by a thread of its own (``Prefetched``), read in
order without copying its chunks (``ChunkReader``), and a bounded part of it (``Member``)."""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

UNBOUNDED = 1 << 62  # the size of a Member that runs to the end of its stream

Sink = Callable[[Any], None]

_CHUNK, _END, _ERROR = 0, 1, 2  # what the receiving thread queued


class Prefetched:
    """The chunks of an iterable, received by a thread of its own up to ``limit`` bytes ahead of
    the consumer (bounded: the receiving thread waits when the consumer lags). An error raised
    while receiving is raised to the consumer at that point of the stream. ``close`` stops the
    thread and closes the iterable (for a save stream: the engine's response)."""

    def __init__(self, chunks: Iterable[bytes], limit: int, name: str = "imagesize-receive") -> None:
        self._limit = limit
        self._items: deque[tuple[int, Any]] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._receive, args=(chunks,), name=name, daemon=True)
        self._thread.start()

    def _receive(self, chunks: Iterable[bytes]) -> None:
        iterator: Iterator[bytes] | None = None
        try:
            iterator = iter(chunks)
            for chunk in iterator:
                if not self._put(_CHUNK, chunk, len(chunk)):
                    return
            self._put(_END, None, 0)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_ERROR, exc, 0)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

    def set_limit(self, limit: int) -> None:
        """Receive up to ``limit`` bytes ahead from now on."""
        with self._cond:
            self._limit = limit
            self._cond.notify_all()

    def _put(self, kind: int, value: Any, size: int) -> bool:
        with self._cond:
            while self._bytes >= self._limit and not self._stop:
                self._cond.wait(0.5)
            if self._stop:
                return False
            self._items.append((kind, value))
            self._bytes += size
            self._cond.notify()
            return True

    def __iter__(self) -> Iterator[bytes]:
        cond, items = self._cond, self._items
        while True:
            with cond:
                while not items:
                    if self._stop:  # closed: a consumer in another thread ends here
                        return
                    cond.wait()
                kind, value = items.popleft()
                if kind == _CHUNK:
                    self._bytes -= len(value)
                    cond.notify()
            if kind == _CHUNK:
                yield value
            elif kind == _END:
                return
            else:
                raise value

    def close(self, wait: float | None = 5) -> None:
        """Stop receiving; wait up to ``wait`` seconds (None: until it has stopped) for the thread."""
        with self._cond:
            self._stop = True
            self._items.clear()
            self._cond.notify_all()
        self._thread.join(timeout=wait)


class ChunkReader:
    """The bytes of a chunk iterator, consumed in order without copying the chunks. What is
    consumed while a sink is set (``sink_to``) goes to it too, in ranges of whole chunks where
    possible (not one call per tar header): the range consumed from the current chunk is handed
    over when the next chunk is fetched or the sink changes."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buf: bytes = b""
        self._pos = 0
        self._mark = 0  # where in _buf the bytes not yet handed to the sink start
        self._sink: Sink | None = None
        self.taken = 0  # bytes consumed so far

    def sink_to(self, sink: Sink | None) -> None:
        """Hand what is consumed from now on to ``sink`` too (None: to nothing)."""
        self._flush()
        self._sink = sink

    def _flush(self) -> None:
        if self._sink is not None and self._pos > self._mark:
            if self._mark == 0 and self._pos == len(self._buf):
                self._sink(self._buf)
            else:
                self._sink(memoryview(self._buf)[self._mark : self._pos])
        self._mark = self._pos

    def _fill(self) -> bool:
        self._flush()
        for chunk in self._chunks:
            if chunk:
                self._buf = bytes(chunk) if not isinstance(chunk, bytes) else chunk
                self._pos = self._mark = 0
                return True
        self._buf, self._pos, self._mark = b"", 0, 0
        return False

    def peek(self, n: int) -> bytes:
        """Up to ``n`` bytes, not consumed."""
        while len(self._buf) - self._pos < n:
            self._flush()
            rest = self._buf[self._pos :]
            if not self._fill():
                self._buf = rest
                break
            self._buf = rest + self._buf
        return self._buf[self._pos : self._pos + n]

    def read(self, n: int) -> bytes:
        """``n`` bytes, fewer only at the end of the stream."""
        pos = self._pos
        if len(self._buf) - pos >= n:
            self._pos = pos + n
            self.taken += n
            return self._buf[pos : pos + n]
        parts = []
        need = n
        while need:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._fill():
                    break
                continue
            take = min(avail, need)
            parts.append(self._buf[self._pos : self._pos + take])
            self._pos += take
            need -= take
        data = b"".join(parts)
        self.taken += len(data)
        return data

    def readinto(self, target: memoryview) -> int:
        """Fill ``target`` (fewer bytes only at the end of the stream); returns how many. Copies
        each chunk once, so a big file costs its own size, not twice that."""
        done, want = 0, len(target)
        while done < want:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._fill():
                    break
                continue
            take = min(avail, want - done)
            target[done : done + take] = memoryview(self._buf)[self._pos : self._pos + take]
            self._pos += take
            done += take
        self.taken += done
        return done

    def skip(self, n: int) -> int:
        """Consume ``n`` bytes (fewer only at the end of the stream); returns how many."""
        pos = self._pos
        if len(self._buf) - pos >= n:
            self._pos = pos + n
            self.taken += n
            return n
        done = 0
        while done < n:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._fill():
                    break
                continue
            take = min(avail, n - done)
            self._pos += take
            done += take
        self.taken += done
        return done


class Member:
    """The next ``size`` bytes of a reader (one blob of a stream, or all of a stream with
    ``UNBOUNDED``), counting what was taken."""

    def __init__(self, source: Any, size: int) -> None:
        self._source = source
        self.remaining = size
        self.taken = 0

    def read(self, n: int) -> bytes:
        data: bytes = self._source.read(min(n, self.remaining))
        self.remaining -= len(data)
        self.taken += len(data)
        return data

    def readinto(self, target: memoryview) -> int:
        done: int = self._source.readinto(target[: self.remaining])
        self.remaining -= done
        self.taken += done
        return done

    def skip(self, n: int) -> int:
        done: int = self._source.skip(min(n, self.remaining))
        self.remaining -= done
        self.taken += done
        return done
