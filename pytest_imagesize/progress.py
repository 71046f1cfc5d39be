"""Progress of long work (builds, archive reads) as plain events; whoever shows them implements
:class:`ProgressSink` (the pytest glue writes them through pytest's terminal reporter)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from .sizes import format_size

Stage = Literal["start", "status", "end"]


@dataclass(frozen=True)
class ProgressEvent:
    stage: Stage
    text: str


class ProgressSink(Protocol):
    def __call__(self, event: ProgressEvent) -> None: ...


def no_progress(event: ProgressEvent) -> None:
    return None


class Step:
    """One long step: a start line, status updates at most every ``interval`` seconds, an end line."""

    def __init__(self, sink: ProgressSink, start_text: str, interval: float = 0.5) -> None:
        self.name = start_text.split(" (", 1)[0]  # "building fat", for status lines
        self._sink = sink
        self._interval = interval
        self._started = time.monotonic()
        self._last_status = 0.0
        sink(ProgressEvent("start", start_text))

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started

    def status(self, text: str | Callable[[], str]) -> None:
        now = time.monotonic()
        if now - self._last_status >= self._interval:
            self._last_status = now
            self._sink(ProgressEvent("status", text() if callable(text) else text))

    def end(self, text: str) -> None:
        self._sink(ProgressEvent("end", text.replace("{seconds}", f"{self.seconds:.1f} s")))


def counted(chunks: Iterable[bytes], step: Step, what: str, total: int | None) -> Iterator[bytes]:
    """Pass ``chunks`` through, reporting ``reading fat 212/470 MB`` as they go."""
    done = 0
    of = f"/{format_size(total)}" if total else ""
    for chunk in chunks:
        done += len(chunk)
        step.status(lambda done=done: f"reading {what} {format_size(done)}{of}")  # type: ignore[misc]
        yield chunk
