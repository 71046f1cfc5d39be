"""Progress events written through pytest's terminal reporter, on lines of their own.

A start and an end line per build or archive read (``-q`` drops the start lines); on a terminal
(not in CI) long steps also update a status line in place. In a pytest-xdist worker the lines
ride on the test reports and the controller prints them when each report arrives.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from ..progress import ProgressEvent
from ..settings import ProgressMode

REPORT_ATTRIBUTE = "imagesize_progress"


class TerminalProgress:
    def __init__(
        self, reporter: Any, mode: ProgressMode, verbosity: int, worker: bool, capture: Any = None
    ) -> None:
        self._reporter = reporter
        self._capture = capture  # pytest's capture manager: output capture is paused while we write
        self._mode = mode
        self._quiet = verbosity < 0
        self._worker = worker
        self._live = (
            mode == "auto"
            and not worker
            and sys.stdout.isatty()
            and not os.environ.get("CI")
            and reporter is not None
        )
        self._status_shown = False
        self._interrupted = False
        self.pending: list[str] = []  # a worker's lines, until its next test report

    def __call__(self, event: ProgressEvent) -> None:
        if self._mode == "off" or (self._reporter is None and not self._worker):
            return
        if event.stage == "status":
            if self._live:
                with self._uncaptured():
                    self._reporter.ensure_newline()
                    self._reporter.rewrite(event.text[:120], erase=True)
                self._status_shown = True
            return
        if event.stage == "start" and self._quiet:
            return
        if self._worker:
            self.pending.append(event.text)
            return
        self.write(event.text)

    def write(self, text: str) -> None:
        reporter = self._reporter
        with self._uncaptured():
            if self._status_shown:
                reporter.rewrite("", erase=True)
                reporter.write("\r")
                self._status_shown = False
            if isinstance(getattr(reporter, "currentfspath", None), Path):
                self._interrupted = True  # a test file's line of dots: taken up again below
            reporter.ensure_newline()
            # e.g. after "[100%]": not at a line's start; pytest tells the column only through its
            # private terminal writer (ensure_newline knows only a test file's line of results)
            writer = getattr(reporter, "_tw", None)
            if writer is not None and int(getattr(writer, "width_of_current_line", 0) or 0):
                reporter.write("\n")
            reporter.write_line(text)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Before pytest writes a result letter after our lines, write the file's prefix again."""
        reporter = self._reporter
        if not self._interrupted or reporter is None or reporter.currentfspath is not None:
            return
        if reporter.verbosity <= 0 and (report.when == "call" or report.outcome != "passed"):
            self._interrupted = False
            path = reporter.config.rootpath / report.nodeid.split("::")[0]
            reporter.write(f"{os.path.relpath(path, reporter.startpath)} ")
            reporter.currentfspath = path

    def _uncaptured(self) -> Any:
        if self._capture is None:
            return contextlib.nullcontext()
        return self._capture.global_and_fixture_disabled()

    def take_pending(self) -> list[str]:
        lines, self.pending = self.pending, []
        return lines
