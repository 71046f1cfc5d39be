"""pytest hooks: options, markers, fixture wiring, checks at call time, reports. Delegates all work."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Generator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from . import baseline, hookspecs, report
from .build import BUILDERS
from .checks import MARKERS, Check, closest_checks, resolve_image
from .errors import ImageSizeError
from .fixtures import SESSION_KEY, declaration_of
from .session import ImageSizeSession, ImageSizeWarning
from .sizes import parse_percent, parse_size

CHECKS_KEY = pytest.StashKey[list[Check]]()
REPORT_MODES = ("summary", "layers")
DEFAULT_BASELINE = "image-sizes.json"


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
    add = group.addoption
    add(
        "--image-report",
        nargs="?",
        const="summary",
        metavar="MODE",
        dest="image_report",
        default=None,
        help="print a table of every image measured; --image-report=layers adds per-layer rows "
        "and the files that waste the most bytes",
    )
    add(
        "--image-report-json",
        dest="image_report_json",
        default=None,
        metavar="PATH",
        help="write the measured images and checks as JSON (schema version 1)",
    )
    add(
        "--image-report-md",
        dest="image_report_md",
        default=None,
        metavar="PATH",
        help="write a Markdown table for a PR comment (also appended to $GITHUB_STEP_SUMMARY)",
    )
    add(
        "--image-keep",
        action="store_true",
        dest="image_keep",
        default=None,
        help="keep the images built by the tests (by default their tags are removed at the end)",
    )
    add(
        "--image-skip-without-docker",
        action="store_true",
        dest="image_skip_without_docker",
        default=None,
        help="skip tests that need an image when no container engine answers",
    )
    add(
        "--image-build-arg",
        action="append",
        dest="image_build_args",
        default=[],
        metavar="KEY=VALUE",
        help="build argument for every image build (repeatable)",
    )
    add(
        "--image-builder",
        dest="image_builder",
        default=None,
        metavar="auto|classic|buildx",
        help="how to build: the engine's classic builder, BuildKit through `docker buildx build "
        "--load`, or auto (buildx when available on a Docker engine; the default). Also ini "
        "imagesize_builder and the IMAGESIZE_BUILDER environment variable",
    )
    add(
        "--image-buildx-builder",
        dest="image_buildx_builder",
        default=None,
        metavar="NAME",
        help="buildx builder to use (docker buildx build --builder NAME); default: BUILDX_BUILDER "
        "or the CLI's current builder",
    )
    add(
        "--image-baseline",
        dest="image_baseline",
        default=None,
        metavar="PATH",
        help=f"baseline file of image sizes (default: {DEFAULT_BASELINE} in the rootdir)",
    )
    add(
        "--image-baseline-update",
        action="store_true",
        dest="image_baseline_update",
        default=False,
        help="write this run's measured sizes into the baseline file (other entries are kept)",
    )
    parser.addini("imagesize_keep", "keep built images after the run", type="bool", default=False)
    parser.addini(
        "imagesize_skip_without_docker", "skip image tests when no engine answers", type="bool", default=False
    )
    parser.addini("imagesize_builder", "auto, classic or buildx", default=None)
    parser.addini("imagesize_buildx_builder", "buildx builder name", default=None)
    parser.addini("imagesize_baseline", f"baseline file (default {DEFAULT_BASELINE})", default=None)
    parser.addini(
        "imagesize_max_growth", "growth limit against the baseline for every image, e.g. 5%", default=None
    )
    parser.addini("imagesize_growth_floor", "bytes an image may always grow by, e.g. 1MB", default=None)


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


def baseline_path(config: pytest.Config) -> Path:
    value = config.getoption("image_baseline") or config.getini("imagesize_baseline") or DEFAULT_BASELINE
    return (config.rootpath / Path(str(value))).resolve()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(trylast=True)  # after the cacheprovider has set config.cache
def pytest_configure(config: pytest.Config) -> None:
    for text in MARKERS.values():
        config.addinivalue_line("markers", text)
    mode = config.getoption("image_report")
    if mode is not None and mode not in REPORT_MODES:
        raise pytest.UsageError(
            f"--image-report={mode}: unknown mode; use --image-report or --image-report=layers"
        )
    builder = (
        config.getoption("image_builder")
        or config.getini("imagesize_builder")
        or os.environ.get("IMAGESIZE_BUILDER")
        or "auto"
    )
    if builder not in BUILDERS:
        raise pytest.UsageError(f"--image-builder={builder}: use one of {', '.join(BUILDERS)}")
    try:
        entries = baseline.load(baseline_path(config))
    except ImageSizeError as exc:
        raise pytest.UsageError(str(exc)) from None
    session = ImageSizeSession(
        keep=_flag(config, "image_keep", "imagesize_keep"),
        skip_without_engine=_flag(config, "image_skip_without_docker", "imagesize_skip_without_docker"),
        extra_build_args=_build_args(config.getoption("image_build_args") or []),
        cache=getattr(config, "cache", None),
        measured_hook=lambda image: config.hook.pytest_imagesize_image_measured(config=config, image=image),
        baseline=entries,
        builder=builder,
        buildx_builder=config.getoption("image_buildx_builder") or config.getini("imagesize_buildx_builder"),
    )
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and workerinput.get("imagesize_shared"):
        session.shared_dir = Path(workerinput["imagesize_shared"])
    config.stash[SESSION_KEY] = session
    if config.pluginmanager.hasplugin("xdist") and not _is_worker(config):
        config.pluginmanager.register(XdistController(config, session), "imagesize-xdist")


class XdistController:
    """With pytest-xdist: workers share builds through a lock directory; the controller merges
    what they measured, prints one report and writes one set of files."""

    def __init__(self, config: pytest.Config, session: ImageSizeSession) -> None:
        self.session = session
        self.shared = tempfile.TemporaryDirectory(prefix="pytest-imagesize-")
        config.add_cleanup(self.shared.cleanup)

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["imagesize_shared"] = self.shared.name

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        wire = getattr(node, "workeroutput", {}).get("imagesize")
        if wire:
            self.session.merge_wire(wire)


def _image_fixtures(item: pytest.Function) -> list[str]:
    info = getattr(item, "_fixtureinfo", None)
    defs = getattr(info, "name2fixturedefs", {}) or {}
    return [
        name
        for name in item.fixturenames
        if name in defs and defs[name] and declaration_of(defs[name][-1].func) is not None
    ]


def _default_growth(config: pytest.Config) -> Check | None:
    """The ini growth limit, parsed once; ``None`` when none is set."""
    percent = config.getini("imagesize_max_growth")
    if not percent:
        return None
    floor = config.getini("imagesize_growth_floor") or None
    try:
        limit = parse_percent(percent)
    except ImageSizeError as exc:
        raise pytest.UsageError(f"ini imagesize_max_growth = {percent}: {exc}") from None
    try:
        floor_bytes = 0 if floor is None else parse_size(floor)
    except ImageSizeError as exc:
        raise pytest.UsageError(f"ini imagesize_growth_floor = {floor}: {exc}") from None
    text = f"ini imagesize_max_growth = {percent}" + (f", imagesize_growth_floor = {floor}" if floor else "")
    return Check("max_image_growth", limit, text, floor=floor_bytes)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problems = []
    default_growth = _default_growth(config)
    for item in items:
        markers = [(m.name, m.args, dict(m.kwargs)) for name in MARKERS for m in item.iter_markers(name)]
        fixtures = _image_fixtures(item) if isinstance(item, pytest.Function) else []
        if not markers and not (default_growth and fixtures):
            continue
        try:
            if not isinstance(item, pytest.Function):
                raise ImageSizeError("image size markers apply to test functions only")
            checks = [resolve_image(c, fixtures) for c in closest_checks(markers)]
            if default_growth is not None:
                checks += _growth_defaults(default_growth, checks, fixtures)
            item.stash[CHECKS_KEY] = checks
        except ImageSizeError as exc:
            problems.append(f"{item.nodeid}: {exc}")
    if problems:
        raise pytest.UsageError(*problems)


def _growth_defaults(default: Check, checks: list[Check], fixtures: list[str]) -> list[Check]:
    """The ini growth limit for each image a test uses that has no growth marker of its own."""
    covered = {c.image for c in checks if c.kind == "max_image_growth" and not c.compressed}
    return [replace(default, image=name) for name in fixtures if name not in covered]


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
            image = session.images.get(outcome.image)
            props = [
                ("image", outcome.image),
                (f"image_{outcome.kind}_limit", outcome.limit),
                (f"image_{outcome.kind}_outcome", outcome.outcome),
            ]
            if image is not None:
                props.append(("image_size", image.size))
                if image.analysed:
                    props.append(("image_compressed_size", image.compressed_size))
            for prop in props:
                if prop not in item.user_properties:
                    item.user_properties.append(prop)
        _warn_incomparable(item, session, outcomes)
        failures = [o.message for o in outcomes if o.outcome == "failed"]
        if failures:
            pytest.fail("\n".join(failures), pytrace=False)
    return result


def _warn_incomparable(item: pytest.Item, session: ImageSizeSession, outcomes: Sequence[Any]) -> None:
    for outcome in outcomes:
        entry = session.baseline.get(outcome.image)
        image = session.images.get(outcome.image)
        if outcome.kind != "max_image_growth" or entry is None or image is None or image.engine is None:
            continue
        differences = baseline.comparable(entry.engine, image.engine.to_json())
        if differences:
            warnings.warn(
                ImageSizeWarning(
                    f"image {outcome.image}: the baseline was measured on another engine "
                    f"({'; '.join(differences)}); sizes may not be comparable"
                ),
                stacklevel=1,
            )


def _report_rows(config: pytest.Config, session: ImageSizeSession) -> list[dict[str, Any]]:
    rows = report.rows(session.images, session.outcomes, session.baseline or None)
    config.hook.pytest_imagesize_report_rows(config=config, rows=rows)
    return rows


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None or _is_worker(config):
        return
    for problem in session.finish_problems:
        terminalreporter.write_line(f"ERROR: {problem}", red=True)
    mode = config.getoption("image_report")
    if not mode:
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
    if _is_worker(config):
        config.workeroutput["imagesize"] = state.to_wire()  # type: ignore[attr-defined]
        return
    problems = state.finish_problems
    json_path = config.getoption("image_report_json")
    try:
        if json_path:
            report.write_json(Path(json_path), report.document(state.engine, state.images, state.outcomes))
        md_path = config.getoption("image_report_md")
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if md_path or summary:
            text = report.markdown(_report_rows(config, state), state.engine)
            if md_path:
                report.write_atomic(Path(md_path), text)
            if summary:
                with open(summary, "a", encoding="utf-8") as handle:
                    handle.write(text)
    except OSError as exc:
        problems.append(f"pytest-imagesize: cannot write a report: {exc}")
    if config.getoption("image_baseline_update") and state.images:
        try:
            baseline.update(baseline_path(config), state.baseline_entries(config.rootpath))
        except ImageSizeError as exc:
            problems.append(str(exc))
    state.cleanup()
    if problems and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(SESSION_KEY, None)
    if state is not None:
        state.close()
