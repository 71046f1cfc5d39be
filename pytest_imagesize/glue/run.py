"""The plugin's side of one pytest run: set the session up from the settings, check each test's
images, print the terminal report, write the report files and the baseline, clean up."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

import pytest

from .. import baseline
from ..checks import Check
from ..compare.changes import compare
from ..compare.wording import base_drift, movers_lines
from ..engine.protocol import Engine
from ..errors import ImageSizeError
from ..measure.cache import DirectoryCache, NoCache
from ..reports import json_report, outputs, terminal
from ..session import ImageSizeSession
from ..settings import Settings
from .fixtures import SESSION_KEY
from .terminal_progress import REPORT_ATTRIBUTE, TerminalProgress
from .xdist import (
    OUTPUT_KEY,
    SharedBuilds,
    XdistController,
    to_wire,
    with_notes,
    worker_owner_pids,
    worker_shared_dir,
)

CONTROLLER = "imagesize-xdist"


class SigtermAsInterrupt:
    """SIGTERM (CI cancellation) handled like Ctrl-C for one pytest session: the handler raises
    KeyboardInterrupt, so builds stop and the cleanup runs; Python's default would end the
    process without either. Installed only in the main thread and only where SIGTERM has its
    default action (a handler the user installed is left alone); the previous one is restored.
    While a Ctrl-C is being handled, and from the session's end on (cleanup, pytest's summary), a
    SIGTERM is noted, not raised (GitHub Actions sends SIGINT, then SIGTERM): the run then ends as
    interrupted, with its builds stopped and its cleanup done."""

    def __init__(self) -> None:
        self.previous: Any = None
        self.installed = False
        self.shielded = False
        self.received = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        self.previous = signal.signal(signal.SIGTERM, self._handle)
        self.installed = True

    def _handle(self, signum: int, frame: Any) -> None:
        self.received = True
        stopping = isinstance(sys.exc_info()[1], KeyboardInterrupt)  # Ctrl-C is being handled
        if not self.shielded and not stopping:  # every SIGTERM: an earlier one may have been absorbed
            raise KeyboardInterrupt("terminated by SIGTERM")

    def restore(self) -> None:
        if self.installed and signal.getsignal(signal.SIGTERM) == self._handle:
            signal.signal(signal.SIGTERM, self.previous)
        self.installed = False


SIGTERM_KEY = pytest.StashKey[SigtermAsInterrupt]()


def catch_sigterm(config: pytest.Config) -> None:
    handler = SigtermAsInterrupt()
    handler.install()
    config.stash[SIGTERM_KEY] = handler


def release_sigterm(config: pytest.Config) -> None:
    handler = config.stash.get(SIGTERM_KEY, None)
    if handler is not None:
        handler.restore()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def start_session(config: pytest.Config, settings: Settings) -> ImageSizeSession:
    """The run's session: engine factory, cache, baseline, and pytest-xdist wiring."""

    def connect() -> Engine:
        from ..engine.docker_api import DockerEngine

        return DockerEngine.connect(settings.engine_timeout)

    try:
        entries = baseline.load(settings.baseline_path)
    except ImageSizeError as exc:
        raise pytest.UsageError(str(exc)) from None
    session = ImageSizeSession(
        settings=settings,
        connect=connect,
        cache=NoCache() if settings.no_cache else DirectoryCache(),
        measured_hook=lambda image: config.hook.pytest_imagesize_image_measured(config=config, image=image),
        baseline=entries,
    )
    workerinput = getattr(config, "workerinput", None)
    shared = worker_shared_dir(workerinput)
    if shared is not None:
        session.share_build = SharedBuilds(shared)
        session.temp_dirs = (str(shared),)
    session.owner_pids = worker_owner_pids(workerinput)
    session.progress = TerminalProgress(
        config.pluginmanager.get_plugin("terminalreporter"),
        settings.progress,
        config.get_verbosity(),
        worker=workerinput is not None,
        capture=config.pluginmanager.get_plugin("capturemanager"),
    )
    config.pluginmanager.register(session.progress, "imagesize-progress")
    session.sweep_leftovers = workerinput is None
    if config.pluginmanager.hasplugin("xdist") and not _is_worker(config):
        config.pluginmanager.register(XdistController(session, config.add_cleanup), CONTROLLER)
    return session


class PytestRun:
    """Reads the session for one pytest config; every hook goes through one of these methods."""

    def __init__(self, config: pytest.Config, session: ImageSizeSession) -> None:
        self.config = config
        self.session = session

    @classmethod
    def of(cls, config: pytest.Config) -> PytestRun:
        return cls(config, config.stash[SESSION_KEY])

    def check_item(self, item: pytest.Function, checks: list[Check]) -> None:
        """Evaluate a test's checks after its body ran; fail it with their messages."""
        __tracebackhide__ = True
        try:
            outcomes = self.session.run_checks(item.nodeid, checks, item.funcargs)
        except ImageSizeError as exc:
            message = str(exc)
        else:
            message = ""
            for outcome in outcomes:
                for prop in outcome.junit_properties() + self._image_properties(outcome.image):
                    if prop not in item.user_properties:
                        item.user_properties.append(prop)
            message = "\n".join(o.message for o in outcomes if o.outcome == "failed")
        if message:  # raised outside the except block: one message, no exception chain
            pytest.fail(message, pytrace=False)

    def _image_properties(self, name: str) -> list[tuple[str, object]]:
        image = self.session.images.get(name)
        if image is None:
            return []
        props: list[tuple[str, object]] = [("image_size", image.size)]
        if image.analysed:
            props.append(("image_compressed_size", image.compressed_size))
        return props

    def attach_progress(self, report: pytest.TestReport) -> None:
        """Worker: the progress lines since the last report travel with this one."""
        progress = self.session.progress
        if isinstance(progress, TerminalProgress) and _is_worker(self.config) and progress.pending:
            setattr(report, REPORT_ATTRIBUTE, progress.take_pending())

    def base_notes(self) -> list[str]:
        """One line per image whose base image changed since the baseline, and base/own sizes."""
        notes = []
        for name, image in self.session.images.items():
            entry = baseline.lookup(self.session.baseline, name)
            try:
                base = image.base
                drift = base_drift(entry.base, base) if entry is not None else None
            except ImageSizeError:
                continue
            if drift:
                notes.append(f"{name}: {drift}")
        return notes

    def growth_details(self) -> dict[str, list[str]]:
        """For each image that grew since the baseline, its top movers (reads its analysis)."""
        details = {}
        for name, image in self.session.images.items():
            entry = baseline.lookup(self.session.baseline, name)
            if entry is None or entry.size is None or not entry.size_comparable:
                continue
            try:
                if image.size <= entry.size:
                    continue
                full = {r.path: r.size for r in image.files if r.kind == "file"}
                comparison = compare(entry.summary(), image.summary(files=True), b_files=full)
            except ImageSizeError:
                continue
            details[name] = [line.strip("\n") for line in movers_lines(comparison)]
        return details

    def report_rows(self) -> list[dict[str, Any]]:
        rows = terminal.rows(self.session.images, self.session.outcomes, self.session.baseline or None)
        self.config.hook.pytest_imagesize_report_rows(config=self.config, rows=rows)
        return rows

    def terminal_summary(self, reporter: Any) -> None:
        if _is_worker(self.config):
            return
        for problem in self.session.finish_problems:
            reporter.write_line(f"ERROR: {problem}", red=True)
        for note in self.session.finish_notes:
            reporter.write_line(note, yellow=True)
        for note in self.base_notes():
            reporter.write_line(note, yellow=True)
        if self.session.baseline_changes is not None:
            changed = ", ".join(self.session.baseline_changes) or "nothing changed"
            reporter.write_line(f"baseline {self.session.settings.baseline_path} updated: {changed}")
        mode = self.session.settings.report_mode
        if not mode:
            return
        reporter.write_sep("-", "image sizes")
        if not self.session.images:
            reporter.write_line("no image was measured in this run")
            return
        info = self.session.engine_info
        for line in terminal.table(self.report_rows()):
            reporter.write_line(line)
        engine = info.describe() if info else "no engine"
        reporter.write_line(
            f"measured by {engine}; portable sizes (README: Size semantics); MB = 1,000,000 bytes; "
            "(c) = compressed size"
        )
        if mode in ("layers", "go", "packages"):
            from ..reports.packages import package_lines

            lines_of = {"layers": terminal.layer_lines, "go": terminal.go_lines}.get(mode, package_lines)
            for image in self.session.images.values():
                reporter.write_line("")
                try:
                    for line in lines_of(image):
                        reporter.write_line(line)
                except ImageSizeError as exc:
                    reporter.write_line(f"{image.name}: not analysed: {exc}")

    def finish(self, pytest_session: pytest.Session) -> None:
        """Worker: hand the results over. Controller or single process: report files, the
        baseline (only after a run that finished normally), cleanup (always)."""
        state = self.session
        if _is_worker(self.config):
            wire = to_wire(state)
            state.remove_layouts()  # its images are read (to_wire): the layouts are not needed
            said = len(state.finish_notes)
            state.delete_pushed()  # nor what it pushed to a registry (its one line goes along)
            wire = with_notes(wire, state.finish_notes[said:])
            self.config.workeroutput[OUTPUT_KEY] = wire  # type: ignore[attr-defined]
            return
        controller = self.config.pluginmanager.get_plugin(CONTROLLER)
        if isinstance(controller, XdistController):
            controller.collect_recorded_builds()
        terminate = self.config.stash.get(SIGTERM_KEY, None)
        if (
            terminate is not None
            and getattr(pytest_session, "exitstatus", None) == pytest.ExitCode.INTERRUPTED
        ):
            terminate.shielded = True  # already stopping: a SIGTERM must not cut the cleanup short
        try:
            state.measure_before_cleanup(bool(self.session.settings.report_mode))
            self._write_reports()
            self._update_baseline(pytest_session)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM while reports are written: clean up, no traceback
            pytest_session.exitstatus = pytest.ExitCode.INTERRUPTED
            state.finish_notes.append(
                "pytest-imagesize: interrupted while writing reports; reports not yet written and the "
                "baseline are left as they were"
            )
        finally:
            if terminate is not None:
                # a SIGTERM from now on must not cut the cleanup or pytest's summary short (GitHub
                # Actions sends SIGINT, then SIGTERM): it is noted, and the run ends as interrupted
                terminate.shielded = True
            state.cleanup()
        if terminate is not None and terminate.received:
            pytest_session.exitstatus = pytest.ExitCode.INTERRUPTED
        if state.finish_problems and pytest_session.exitstatus == pytest.ExitCode.OK:
            pytest_session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write_reports(self) -> None:
        settings = self.session.settings
        if not (settings.report_json or settings.report_md or settings.report_html or _step_summary()):
            return
        images = self.session.images
        treemaps: dict[str, dict[str, Any] | None] = {}
        try:
            if settings.report_html:  # the page shows what fills each image: read every archive
                from ..reports.treemap import summarise

                for name, image in images.items():
                    treemaps[name] = summarise(image.files, wasted=image.analysis().hidden)
            document = json_report.document(
                self.session.engine_info, images, self.session.outcomes, self.session.baseline
            )
            rows = self.report_rows()
        except ImageSizeError as exc:
            self.session.finish_problems.append(f"pytest-imagesize: reports not written: {exc}")
            return
        self.session.finish_problems.extend(
            outputs.write_report_files(
                json_path=settings.report_json,
                markdown_path=settings.report_md,
                html_path=settings.report_html,
                document=document,
                rows=rows,
                engine=self.session.engine_info,
                treemaps=treemaps,
                notes=self.base_notes(),
                details=self.growth_details() if settings.report_md or _step_summary() else None,
                baseline_path=settings.baseline_path,
            )
        )

    def _update_baseline(self, pytest_session: pytest.Session) -> None:
        settings = self.session.settings
        if not settings.baseline_update or not self.session.images:
            return
        if pytest_session.exitstatus in (
            pytest.ExitCode.INTERRUPTED,
            pytest.ExitCode.INTERNAL_ERROR,
            pytest.ExitCode.USAGE_ERROR,
        ):
            self.session.finish_problems.append(
                "pytest-imagesize: the run did not finish normally; "
                f"baseline {settings.baseline_path} left as it was"
            )
            return
        try:
            _, changed = baseline.update(
                settings.baseline_path, self.session.baseline_entries(self.config.rootpath)
            )
        except ImageSizeError as exc:
            self.session.finish_problems.append(str(exc))
            return
        self.session.baseline_changes = changed


def _step_summary() -> bool:
    return bool(os.environ.get("GITHUB_STEP_SUMMARY"))
