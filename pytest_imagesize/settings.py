"""Everything the plugin's options and ini values say, validated and frozen; the pytest glue
reads them (``glue/options.py``), the session runs by them without pytest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .checks import Check, Scope

REPORT_MODES = ("summary", "layers", "go", "packages")
BUILDERS = ("auto", "classic", "buildx")
PROGRESS_MODES = ("auto", "lines", "off")
DEFAULT_BASELINE = "image-sizes.json"
ReportMode = Literal["summary", "layers", "go", "packages"]
BuilderName = Literal["auto", "classic", "buildx"]
ProgressMode = Literal["auto", "lines", "off"]


@dataclass(frozen=True)
class Settings:
    """Everything the options and ini say, validated."""

    report_mode: ReportMode | None
    report_json: Path | None
    report_md: Path | None
    report_html: Path | None
    keep: bool
    skip_without_engine: bool
    build_args: tuple[tuple[str, str], ...]
    builder: BuilderName
    buildx_builder: str | None
    baseline_path: Path
    baseline_update: bool
    growth_default: Check | None
    engine_timeout: float | None
    no_cache: bool
    progress: ProgressMode
    growth_scope: Scope
    insecure_registries: tuple[str, ...] = ()  # hosts reached over plain HTTP (besides loopback)
    registry_ca: Path | None = None  # a CA file trusted for every registry
    push_to: str | None = None  # HOST[:PORT][/PREFIX]: multi-platform builds are pushed there
