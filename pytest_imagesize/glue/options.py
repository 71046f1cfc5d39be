"""Command-line options and ini values, declared once and read once into a frozen ``Settings``
(``settings.py``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import cast

import pytest

from .. import baseline
from ..checks import SCOPES, Check, Scope
from ..errors import ImageSizeError
from ..settings import BUILDERS, DEFAULT_BASELINE, PROGRESS_MODES, REPORT_MODES, BuilderName, Settings
from ..sizes import parse_percent, parse_size


def _build_arg(value: str) -> tuple[str, str]:
    key, sep, rest = value.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(
            f"{value!r}: write KEY=VALUE, e.g. --image-build-arg GO_VERSION=1.24"
        )
    return key.strip(), rest


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 86400:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds > 0")
    return seconds


def _push_to(value: str) -> str:
    from ..measure.pushed import parse_push_target

    try:
        return str(parse_push_target(value))
    except ImageSizeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_options(parser: pytest.Parser) -> None:
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
        "and the files that waste the most bytes; --image-report=go the Go binaries' top modules "
        "and packages; --image-report=packages the largest OS and language packages",
    )
    add(
        "--image-report-json",
        dest="image_report_json",
        default=None,
        metavar="PATH",
        type=Path,
        help="write the measured images and checks as JSON (schema version 3)",
    )
    add(
        "--image-report-md",
        dest="image_report_md",
        default=None,
        metavar="PATH",
        type=Path,
        help="write a Markdown table for a PR comment (also appended to $GITHUB_STEP_SUMMARY)",
    )
    add(
        "--image-report-html",
        dest="image_report_html",
        default=None,
        metavar="PATH",
        type=Path,
        help="write a self-contained HTML report: sizes, verdicts, layers, a treemap of each image",
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
        type=_build_arg,
        help="build argument for every image build (repeatable)",
    )
    add(
        "--image-builder",
        dest="image_builder",
        default=None,
        choices=BUILDERS,
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
        help="after a run that finished normally, merge this run's measured sizes into the "
        "baseline file (other entries and unmeasured fields are kept)",
    )
    add(
        "--image-engine-timeout",
        dest="image_engine_timeout",
        default=None,
        type=_seconds,
        metavar="SECONDS",
        help="how long to wait for the engine's first answer (default 10; ini imagesize_engine_timeout, "
        "environment IMAGESIZE_ENGINE_TIMEOUT)",
    )
    add(
        "--image-progress",
        dest="image_progress",
        default=None,
        choices=PROGRESS_MODES,
        help="progress of builds and archive reads: auto (a status line on a terminal, start and end "
        "lines in CI logs; the default), lines (start and end lines only), off",
    )
    add(
        "--image-no-cache",
        action="store_true",
        dest="image_no_cache",
        default=False,
        help="read every image's archive again instead of using the per-user analysis cache",
    )
    add(
        "--image-insecure-registry",
        action="append",
        dest="image_insecure_registries",
        default=[],
        metavar="HOST[:PORT]",
        help="a registry reached over plain HTTP by registry_image() (repeatable; loopback "
        "addresses always are). Also ini imagesize_insecure_registries",
    )
    add(
        "--image-registry-ca",
        dest="image_registry_ca",
        default=None,
        metavar="PATH",
        help="a CA certificate file trusted for every registry besides the system's (ini "
        "imagesize_registry_ca)",
    )
    add(
        "--image-push-to",
        dest="image_push_to",
        default=None,
        metavar="HOST[:PORT][/PREFIX]",
        type=_push_to,
        help="build_image(..., platforms=[...]) pushes each build to this registry (under "
        "PREFIX/<image name>:pytest-imagesize-<run>) and measures it there instead of exporting an "
        "OCI layout; deleted by digest at the end where the registry allows it (ini imagesize_push_to)",
    )
    parser.addini("imagesize_keep", "keep built images after the run", type="bool", default=False)
    parser.addini(
        "imagesize_push_to", "registry HOST[:PORT][/PREFIX] multi-platform builds are pushed to", default=None
    )
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
    parser.addini(
        "imagesize_growth_scope",
        "what growth limits compare by default: image (the whole image) or own (layers above the base)",
        default=None,
    )
    parser.addini("imagesize_engine_timeout", "seconds to wait for the engine's first answer", default=None)
    parser.addini(
        "imagesize_insecure_registries",
        "registries reached over plain HTTP (HOST[:PORT] per line)",
        type="linelist",
    )
    parser.addini("imagesize_registry_ca", "a CA certificate file trusted for every registry", default=None)


def spell_out_bare_report(early_config: pytest.Config, args: list[str]) -> None:
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


def read_settings(config: pytest.Config) -> Settings:
    """Read once; a bad value is one ``pytest.UsageError`` naming the option or ini key."""
    option = config.getoption
    builder = (
        option("image_builder")
        or config.getini("imagesize_builder")
        or os.environ.get("IMAGESIZE_BUILDER")
        or "auto"
    )
    if builder not in BUILDERS:
        raise pytest.UsageError(
            f"imagesize_builder / IMAGESIZE_BUILDER = {builder}: use one of {', '.join(BUILDERS)}"
        )
    mode = option("image_report")
    if mode is not None and mode not in REPORT_MODES:  # argparse's choices= would take a test path
        raise pytest.UsageError(
            f"--image-report={mode}: unknown mode; use --image-report, --image-report=layers, "
            "--image-report=go or --image-report=packages"
        )
    explicit = option("image_baseline") or config.getini("imagesize_baseline")
    try:
        baseline_path = baseline.resolve(config.rootpath, str(explicit or DEFAULT_BASELINE), bool(explicit))
    except ImageSizeError as exc:
        raise pytest.UsageError(str(exc)) from None
    return Settings(
        report_mode=mode,
        report_json=option("image_report_json"),
        report_md=option("image_report_md"),
        report_html=option("image_report_html"),
        keep=_flag(config, "image_keep", "imagesize_keep"),
        skip_without_engine=_flag(config, "image_skip_without_docker", "imagesize_skip_without_docker"),
        build_args=tuple(option("image_build_args") or ()),
        builder=cast(BuilderName, builder),
        buildx_builder=option("image_buildx_builder") or config.getini("imagesize_buildx_builder") or None,
        baseline_path=baseline_path,
        baseline_update=bool(option("image_baseline_update")),
        growth_default=_growth_default(config),
        engine_timeout=option("image_engine_timeout") or _ini_seconds(config, "imagesize_engine_timeout"),
        no_cache=bool(option("image_no_cache")),
        progress=option("image_progress") or "auto",
        growth_scope=_growth_scope(config),
        insecure_registries=_insecure_registries(config),
        registry_ca=_registry_ca(config),
        push_to=_push_target(config),
    )


def _push_target(config: pytest.Config) -> str | None:
    option = config.getoption("image_push_to")
    if option:
        return str(option)
    ini = config.getini("imagesize_push_to")
    if not ini:
        return None
    try:
        return _push_to(str(ini))
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"ini imagesize_push_to = {ini}: {exc}") from None


def _insecure_registries(config: pytest.Config) -> tuple[str, ...]:
    hosts = [
        *config.getini("imagesize_insecure_registries"),
        *(config.getoption("image_insecure_registries") or ()),
    ]
    for host in hosts:
        if not host.strip() or "/" in host or " " in host.strip():
            raise pytest.UsageError(
                f"insecure registry {host!r}: write a host or host:port, e.g. registry.local:5000"
            )
    return tuple(dict.fromkeys(host.strip() for host in hosts))


def _registry_ca(config: pytest.Config) -> Path | None:
    """The CA file: the option's path from the working directory, the ini's from the rootdir."""
    option = config.getoption("image_registry_ca")
    ini = config.getini("imagesize_registry_ca")
    if option:
        path, where = Path(option).resolve(), f"--image-registry-ca {option}"
    elif ini:
        path, where = (config.rootpath / str(ini)).resolve(), f"ini imagesize_registry_ca = {ini}"
    else:
        return None
    if not path.is_file():
        raise pytest.UsageError(f"{where}: no such file; name a PEM CA certificate file")
    return path


def _flag(config: pytest.Config, option: str, ini: str) -> bool:
    value = config.getoption(option)
    return bool(config.getini(ini)) if value is None else bool(value)


def _ini_seconds(config: pytest.Config, name: str) -> float | None:
    text = config.getini(name)
    if not text:
        return None
    try:
        return _seconds(str(text))
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"ini {name} = {text}: {exc}") from None


def _growth_scope(config: pytest.Config) -> Scope:
    value = config.getini("imagesize_growth_scope") or "image"
    if value not in SCOPES:
        raise pytest.UsageError(f"ini imagesize_growth_scope = {value}: use image or own")
    return cast(Scope, value)


def _growth_default(config: pytest.Config) -> Check | None:
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
