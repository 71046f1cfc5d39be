"""One pytest session's image state: the engine, built and measured images, check outcomes.

The pytest hooks hand their work to an :class:`ImageSizeSession`; it talks to the engine only
through the engine seam, and to pytest not at all (warnings go through ``warnings``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import baseline as baseline_file
from .checks import Check, Context, Outcome, evaluate
from .engine.build import Builder, BuildResult, BuildSpec, tag_for
from .engine.cleanup import remove_intermediates, remove_our_tag
from .engine.protocol import Engine, EngineInfo
from .errors import BuildError, EngineUnavailable, ImageSizeError
from .measure.cache import AnalysisCache
from .measure.image import Image
from .options import Settings

EngineFactory = Callable[[], Engine]


class ImageSizeWarning(UserWarning):
    """An image is above a marker's ``warn=`` threshold but within its limit, or a baseline
    entry cannot be compared."""


@dataclass(frozen=True)
class Declaration:
    """An image fixture as declared with ``build_image`` or ``existing_image``."""

    kind: Literal["build", "existing"]
    spec: BuildSpec | None = None
    ref: str | None = None


SharedBuild = Callable[[str, Callable[[], "BuildResult | ImageSizeError"]], "BuildResult | ImageSizeError"]


def _alone(key: str, build: Callable[[], BuildResult | ImageSizeError]) -> BuildResult | ImageSizeError:
    return build()


@dataclass
class ImageSizeSession:
    """Everything the plugin knows during one run; reports read from it."""

    settings: Settings
    connect: EngineFactory
    cache: AnalysisCache | None = None
    measured_hook: Callable[[Image], None] | None = None
    share_build: SharedBuild = _alone  # pytest-xdist: one build per spec across workers
    images: dict[str, Image] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    builds: dict[str, BuildResult | ImageSizeError] = field(default_factory=dict)
    baseline: dict[str, baseline_file.BaselineEntry] = field(default_factory=dict)
    finish_problems: list[str] = field(default_factory=list)
    baseline_changes: list[str] | None = None  # set by a baseline update: the entries it changed
    engine_info: EngineInfo | None = None
    _engine: Engine | EngineUnavailable | None = None
    _builder: Builder | None = None

    # ------------------------------------------------------------------ the engine

    def engine(self) -> Engine:
        if self._engine is None:
            try:
                self._engine = self.connect()
                self.engine_info = self._engine.info()
            except EngineUnavailable as exc:
                self._engine = exc
        if isinstance(self._engine, EngineUnavailable):
            raise self._engine
        return self._engine

    def builder(self) -> Builder:
        """``auto`` means buildx when ``docker buildx version`` works and the engine is Docker."""
        if self._builder is None:
            from .engine.buildx import BuildxBuilder, buildx_available
            from .engine.classic import ClassicBuilder

            wanted = self.settings.builder
            if wanted == "auto":
                docker = self.engine_info is not None and self.engine_info.name == "docker"
                wanted = "buildx" if docker and buildx_available() is None else "classic"
            self._builder = (
                BuildxBuilder(self.settings.buildx_builder) if wanted == "buildx" else ClassicBuilder()
            )
        return self._builder

    # ------------------------------------------------------------------ images

    def provide(self, name: str, declaration: Declaration) -> Image:
        """The measured image for a fixture; built at most once per session and spec."""
        engine = self.engine()
        if declaration.kind == "build":
            assert declaration.spec is not None
            spec = declaration.spec.with_args(self.settings.build_args)
            result = self.builds.get(spec.key())
            if result is None:
                result = self.share_build(spec.key(), lambda: self._build(engine, name, spec))
                self.builds[spec.key()] = result
            if isinstance(result, ImageSizeError):
                raise result
            ref = result.tag
        else:
            assert declaration.ref is not None
            ref = declaration.ref
        known = self.images.get(name)
        if known is not None and known.ref == ref:
            return known
        image = Image.measure(engine, ref, name, self.cache)
        self.images[name] = image
        if self.measured_hook is not None:
            self.measured_hook(image)
        return image

    def _build(self, engine: Engine, name: str, spec: BuildSpec) -> BuildResult | ImageSizeError:
        try:
            return self.builder().build(engine, spec, tag_for(name, spec))
        except ImageSizeError as exc:
            return exc

    # ------------------------------------------------------------------ checks

    def run_checks(self, test: str, checks: Sequence[Check], funcargs: Mapping[str, Any]) -> list[Outcome]:
        """Evaluate a test's checks; record and return the outcomes (warnings are emitted)."""
        outcomes = []
        context = Context(self.baseline)
        for check in checks:
            image = funcargs.get(check.image or "")
            if not isinstance(image, Image):
                raise ImageSizeError(
                    f"{check.marker}: fixture {check.image!r} did not give an Image "
                    f"(got {type(image).__name__})"
                )
            outcome = evaluate(check, image, test, context)
            outcomes.append(outcome)
            if outcome.outcome == "warned":
                warnings.warn(ImageSizeWarning(outcome.message), stacklevel=1)
            self._warn_incomparable(outcome, image)
        self.outcomes.extend(outcomes)
        return outcomes

    def _warn_incomparable(self, outcome: Outcome, image: Image) -> None:
        entry = self.baseline.get(outcome.image)
        if outcome.kind != "max_image_growth" or entry is None:
            return
        if outcome.note == "not comparable":
            warnings.warn(
                ImageSizeWarning(
                    f"image {outcome.image}: the baseline entry (format 1) holds "
                    f"{entry.engine.get('name', '?')} {entry.engine.get('storage_driver') or ''}'s own "
                    "size, not the portable size; it is not compared: run with --image-baseline-update "
                    "to rewrite it"
                ),
                stacklevel=1,
            )
            return
        differences = baseline_file.comparable(entry.engine, image.engine.to_json() if image.engine else {})
        if differences:
            warnings.warn(
                ImageSizeWarning(
                    f"image {outcome.image}: the baseline was measured for another platform "
                    f"({'; '.join(differences)}); sizes may not be comparable"
                ),
                stacklevel=1,
            )

    # ------------------------------------------------------------------ end of the run

    def cleanup(self) -> None:
        """Remove the tags this session created (unless ``keep``); never anything else. A
        failure is one line in ``finish_problems``."""
        if self.settings.keep or not self.builds:
            return
        try:
            engine = self.engine()
        except EngineUnavailable as exc:
            self.finish_problems.append(f"pytest-imagesize: built images not removed: {exc}")
            return
        created: set[str] = set()
        try:
            for result in self.builds.values():
                if isinstance(result, BuildResult):
                    created |= result.created_ids
                    remove_our_tag(engine, result)
                elif isinstance(result, BuildError):
                    created |= result.created_ids
            remove_intermediates(engine, created)
        except ImageSizeError as exc:
            self.finish_problems.append(f"pytest-imagesize: built images not all removed: {exc}")

    def close(self) -> None:
        if self._engine is not None and not isinstance(self._engine, EngineUnavailable):
            self._engine.close()

    def baseline_entries(self, rootdir: Path) -> dict[str, baseline_file.BaselineEntry]:
        """This run's measurements as baseline entries (compressed size only where measured)."""
        commit = baseline_file.git_commit(rootdir)
        engine = self.engine_info.to_json() if self.engine_info else {}
        entries = {}
        for name, image in self.images.items():
            try:
                entries[name] = baseline_file.BaselineEntry(
                    size=image.size,
                    compressed_size=image.compressed_size if image.analysed else None,
                    layers=tuple(
                        baseline_file.BaselineLayer(layer.instruction, layer.size, layer.diff_id)
                        for layer in image.layers
                    ),
                    engine=engine,
                    date=baseline_file.today(),
                    commit=commit,
                )
            except ImageSizeError as exc:  # its measurement failed: its old entry stays
                self.finish_problems.append(f"pytest-imagesize: baseline entry {name} kept: {exc}")
        return entries
