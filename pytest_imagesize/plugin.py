"""pytest hooks: options, markers, fixture wiring, checks at call time, reports. Delegates all work."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import pytest

from . import hookspecs, report
from .checks import MARKERS, Check, closest_checks, resolve_image
from .errors import ImageSizeError
from .fixtures import SESSION_KEY, declaration_of
from .session import ImageSizeSession

CHECKS_KEY = pytest.StashKey[list[Check]]()
REPORT_MODES = ("summary", "layers")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    """A bare ``--image-report`` must not swallow the test path after it (it takes an optional
    mode): spell it ``--image-report=summary`` before pytest parses the command line for good."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--image-report" and (i + 1 == len(args) or args[i + 1] not in REPORT_MODES):
            args[i] = "--image-report=summary"
            if i + 1 < len(args):
                swallowed = args[i + 1]
                namespace = early_config.known_args_namespace
                paths = list(getattr(namespace, "file_or_dir", None) or [])
                if swallowed not in paths and not swallowed.startswith("-"):
                    namespace.file_or_dir = [*paths, swallowed]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("imagesize", "container image sizes (pytest-imagesize)")
    group.addoption(
        "--image-report",
        nargs="?",
        const="summary",
        metavar="MODE",
        dest="image_report",
        default=None,
        help="print a table of every image measured; --image-report=layers adds per-layer rows "
        "and the files that waste the most bytes",
    )
    group.addoption(
        "--image-report-json",
        dest="image_report_json",
        default=None,
        metavar="PATH",
        help="write the measured images and checks as JSON (schema version 1)",
    )
    group.addoption(
        "--image-keep",
        action="store_true",
        dest="image_keep",
        default=None,
        help="keep the images built by the tests (by default their tags are removed at the end)",
    )
    group.addoption(
        "--image-skip-without-docker",
        action="store_true",
        dest="image_skip_without_docker",
        default=None,
        help="skip tests that need an image when no container engine answers",
    )
    group.addoption(
        "--image-build-arg",
        action="append",
        dest="image_build_args",
        default=[],
        metavar="KEY=VALUE",
        help="build argument for every image build (repeatable)",
    )
    parser.addini("imagesize_keep", "keep built images after the run", type="bool", default=False)
    parser.addini(
        "imagesize_skip_without_docker",
        "skip image tests when no engine answers",
        type="bool",
        default=False,
    )


def _flag(config: pytest.Config, option: str, ini: str) -> bool:
    value = config.getoption(option)
    return bool(config.getini(ini)) if value is None else bool(value)


def _build_args(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise pytest.UsageError(
                f"--image-build-arg {value!r}: write KEY=VALUE, e.g. --image-build-arg GO_VERSION=1.24"
            )
        pairs.append((key.strip(), rest))
    return tuple(pairs)


@pytest.hookimpl(trylast=True)  # after the cacheprovider has set config.cache
def pytest_configure(config: pytest.Config) -> None:
    for text in MARKERS.values():
        config.addinivalue_line("markers", text)
    mode = config.getoption("image_report")
    if mode is not None and mode not in REPORT_MODES:
        raise pytest.UsageError(
            f"--image-report={mode}: unknown mode; use --image-report or --image-report=layers"
        )
    session = ImageSizeSession(
        keep=_flag(config, "image_keep", "imagesize_keep"),
        skip_without_engine=_flag(config, "image_skip_without_docker", "imagesize_skip_without_docker"),
        extra_build_args=_build_args(config.getoption("image_build_args") or []),
        cache=getattr(config, "cache", None),
        measured_hook=lambda image: config.hook.pytest_imagesize_image_measured(config=config, image=image),
    )
    config.stash[SESSION_KEY] = session


def _image_fixtures(item: pytest.Function) -> list[str]:
    info = getattr(item, "_fixtureinfo", None)
    defs = getattr(info, "name2fixturedefs", {}) or {}
    return [
        name
        for name in item.fixturenames
        if name in defs and defs[name] and declaration_of(defs[name][-1].func) is not None
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problems = []
    for item in items:
        markers = [
            (mark.name, mark.args, dict(mark.kwargs)) for name in MARKERS for mark in item.iter_markers(name)
        ]
        if not markers:
            continue
        try:
            if not isinstance(item, pytest.Function):
                raise ImageSizeError("image size markers apply to test functions only")
            fixtures = _image_fixtures(item)
            item.stash[CHECKS_KEY] = [resolve_image(c, fixtures) for c in closest_checks(markers)]
        except ImageSizeError as exc:
            problems.append(f"{item.nodeid}: {exc}")
    if problems:
        raise pytest.UsageError(*problems)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    checks = item.stash.get(CHECKS_KEY, [])
    if checks and isinstance(item, pytest.Function):
        session = item.config.stash[SESSION_KEY]
        try:
            outcomes = session.run_checks(item.nodeid, checks, item.funcargs)
        except ImageSizeError as exc:
            pytest.fail(str(exc), pytrace=False)
        for outcome in outcomes:
            item.user_properties.append(
                (f"image_{outcome.kind}", f"{outcome.image}: {outcome.actual} / {outcome.limit}")
            )
        failures = [o.message for o in outcomes if o.outcome == "failed"]
        if failures:
            pytest.fail("\n".join(failures), pytrace=False)
    return result


def _report_rows(config: pytest.Config, session: ImageSizeSession) -> list[dict[str, Any]]:
    rows = report.rows(session.images, session.outcomes)
    config.hook.pytest_imagesize_report_rows(config=config, rows=rows)
    return rows


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    mode = config.getoption("image_report")
    session = config.stash.get(SESSION_KEY, None)
    if not mode or session is None:
        return
    write = terminalreporter.write_line
    terminalreporter.write_sep("-", "image sizes")
    if not session.images:
        write("no image was measured in this run")
        return
    engine = session.engine.describe() if session.engine else "no engine"
    for line in report.table(_report_rows(config, session)):
        write(line)
    write(f"measured by {engine}; MB = 1,000,000 bytes; (c) = compressed size")
    if mode == "layers":
        for image in session.images.values():
            write("")
            try:
                for line in report.layer_lines(image):
                    write(line)
            except ImageSizeError as exc:
                write(f"{image.name}: layers not analysed: {exc}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    state = config.stash.get(SESSION_KEY, None)
    if state is None:
        return
    path = config.getoption("image_report_json")
    if path:
        report.write_json(Path(path), report.document(state.engine, state.images, state.outcomes))
    state.cleanup()


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(SESSION_KEY, None)
    if state is not None:
        state.close()
