"""One pytest session's image state: the engine, built and measured images, check outcomes.

The pytest hooks hand their work to an :class:`ImageSizeSession`; it talks to the engine only
through the engine seam, and to pytest not at all (warnings go through ``warnings``).
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from . import baseline as baseline_file
from .checks import Check, Context, Outcome, evaluate_all
from .engine.build import Builder, BuildResult, BuildSpec, step_of, tag_for
from .engine.cleanup import remove_intermediates, remove_our_tag
from .engine.dockerfile import final_base
from .engine.leftovers import BuildRecord, full_ids, remove_tag_of_ours, sweep, used_elsewhere
from .engine.protocol import Engine, EngineInfo
from .errors import BuildError, EngineUnavailable, ImageSizeError, ImageSizeWarning
from .measure.cache import AnalysisCache
from .measure.image import Image
from .measure.index import ImageIndex, platform_of
from .progress import ProgressSink, Step, no_progress
from .settings import Settings
from .sizes import format_size

if TYPE_CHECKING:
    from .sources.model import ImageSource

EngineFactory = Callable[[], Engine]


@dataclass(frozen=True)
class Declaration:
    """An image fixture as declared with ``build_image``, ``existing_image``, ``registry_image``
    or ``oci_image`` (``source``: ``ref`` is the source's reference, ``docker://HOST/REPO:TAG``,
    or ``path`` an OCI layout directory or image archive with ``ref`` the image in it)."""

    kind: Literal["build", "existing", "source"]
    spec: BuildSpec | None = None
    ref: str | None = None
    base: str | None = None  # the image it was built on: an engine name or a source reference
    path: Path | None = None
    platform: str | None = None  # a source's platform; None: every platform of an index
    platforms: tuple[str, ...] = ()  # a build for these platforms (an OCI layout, not loaded)


def _base_of(spec: BuildSpec) -> str | None:
    """The final stage's FROM, with the build's arguments."""
    try:
        text = spec.dockerfile.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return final_base(text, dict(spec.build_args), spec.target)


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
    owner_pids: tuple[int, ...] = ()  # this process's pid (after the xdist controller's, in a worker)
    sweep_leftovers: bool = True  # remove what killed runs left (not in xdist workers)
    temp_dirs: tuple[str, ...] = ()  # temporary directories of the run, noted in the build record
    images: dict[str, Image] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    builds: dict[str, BuildResult | ImageSizeError] = field(default_factory=dict)
    baseline: dict[str, baseline_file.BaselineEntry] = field(default_factory=dict)
    finish_problems: list[str] = field(default_factory=list)  # they fail the run
    finish_notes: list[str] = field(default_factory=list)  # said, but the run's result stands
    baseline_changes: list[str] | None = None  # set by a baseline update: the entries it changed
    engine_info: EngineInfo | None = None
    _engine: Engine | EngineUnavailable | None = None
    _builder: Builder | None = None
    _record: BuildRecord | None = None
    _building: Step | None = None
    _sources: dict[tuple[str, str, str | None, str | None], Image | ImageIndex] = field(default_factory=dict)
    _opened: list[ImageSource] = field(default_factory=list)
    _layouts: list[Path] = field(default_factory=list)  # multi-platform builds' OCI layouts
    _pushed: list[str] = field(default_factory=list)  # what multi-platform builds pushed (host/repo:tag)
    run_id: str = field(default_factory=lambda: secrets.token_hex(6))  # in the tags pushed
    _platform_builds: dict[tuple[str, tuple[str, ...]], ImageIndex | ImageSizeError] = field(
        default_factory=dict
    )
    progress: ProgressSink = no_progress

    # ------------------------------------------------------------------ the engine

    def engine(self) -> Engine:
        if self._engine is None:
            try:
                self._engine = self.connect()
                self.engine_info = self._engine.info()
                if self.sweep_leftovers:
                    sweep(self._engine)
            except EngineUnavailable as exc:
                self._engine = exc
        if isinstance(self._engine, EngineUnavailable):
            raise self._engine
        return self._engine

    def record(self) -> BuildRecord:
        """Where this process notes what its builds put on the engine, as they go."""
        if self._record is None:
            self._record = BuildRecord(self.engine().address, self.owner_pids or (os.getpid(),))
            for directory in self.temp_dirs:
                self._record.add("dir", directory)
        return self._record

    def builder(self) -> Builder:
        """``auto`` means buildx when ``docker buildx version`` works and the engine is Docker."""
        if self._builder is None:
            from .engine.buildx import BuildxBuilder, buildx_available
            from .engine.classic import ClassicBuilder

            wanted = self.settings.builder
            if wanted == "auto":
                docker = self.engine_info is not None and self.engine_info.name == "docker"
                wanted = "buildx" if docker and buildx_available() is None else "classic"
            if wanted == "buildx":
                self._builder = BuildxBuilder(
                    self.settings.buildx_builder, on_line=self._build_line, record=self.record().add
                )
            else:
                record = self.record()
                self._builder = ClassicBuilder(record.add, self._build_line)
        return self._builder

    # ------------------------------------------------------------------ images

    def provide_value(self, name: str, declaration: Declaration) -> Image | ImageIndex:
        """What a fixture yields: an ``Image``, or an ``ImageIndex`` for a source's index."""
        if declaration.kind == "source":
            return self.provide_source(name, declaration)
        if declaration.platforms:
            return self.provide_platforms(name, declaration)
        if declaration.kind == "existing":
            index = self.provide_engine_index(name, declaration)
            if index is not None:
                return index
        return self.provide(name, declaration)

    def provide_engine_index(self, name: str, declaration: Declaration) -> ImageIndex | None:
        """An ``existing_image`` of which the engine's containerd image store holds two or more
        platforms: each measured (``ImageIndex``), once per session; None for one platform."""
        from .measure.from_source import measure_source
        from .sources.engine_index import EngineIndexSource, stored_index

        assert declaration.ref is not None
        key = (name, f"engine:{declaration.ref}", None, declaration.base)
        found = self._sources.get(key)
        if isinstance(found, ImageIndex):
            return found
        engine = self.engine()
        if self.engine_info is None or self.engine_info.image_store != "containerd":
            return None
        index = stored_index(engine.image_manifests(declaration.ref), declaration.ref)
        if index is None:
            return None
        source = EngineIndexSource(engine, index, self.record().add)
        self._opened.append(source)
        measured = measure_source(
            source,
            all_platforms=True,
            name=name,
            cache=self.cache,
            progress=self.progress,
            base=self._source_base(declaration.base),
        )
        assert isinstance(measured, ImageIndex)
        if (note := index.missing_note(name)) is not None:
            warnings.warn(ImageSizeWarning(note), stacklevel=1)
        self._sources[key] = measured
        self.add(measured)
        return measured

    def provide_platforms(self, name: str, declaration: Declaration) -> ImageIndex:
        """A ``build_image(..., platforms=[...])``: built once per session, spec and platforms into
        an OCI layout (never loaded into the engine), measured from it; removed at cleanup."""
        from .engine.multiplatform import build_platforms
        from .measure.from_source import measure_source
        from .sources.oci_layout import OciLayoutSource

        assert declaration.spec is not None
        spec = declaration.spec.with_args(self.settings.build_args)
        key = (spec.key(), declaration.platforms)
        found = self._platform_builds.get(key)
        if found is None:
            engine = self.engine()
            step = self._building = Step(
                self.progress,
                f"building {name} ({spec.dockerfile.name}, {', '.join(declaration.platforms)}) ...",
            )
            try:
                source: ImageSource
                if self.settings.push_to:
                    source = self._push(engine, name, spec, declaration.platforms)
                else:
                    built = build_platforms(
                        engine,
                        spec,
                        declaration.platforms,
                        buildx_builder=self.settings.buildx_builder,
                        record=self.record().add,
                        on_line=self._build_line,
                    )
                    self._layouts.append(built.layout)
                    source = OciLayoutSource(built.layout)
                self._opened.append(source)
                measured = measure_source(
                    source, all_platforms=True, name=name, cache=self.cache, progress=self.progress
                )
                assert isinstance(measured, ImageIndex)
                found = measured
                step.end(f"built {name} for {len(found)} platforms in {{seconds}}")
            except ImageSizeError as exc:
                step.end(f"building {name} failed after {{seconds}}")
                found = exc
            finally:
                self._building = None
            self._platform_builds[key] = found
        if isinstance(found, ImageSizeError):
            raise found
        self.add(found)
        return found

    def _push(self, engine: Engine, name: str, spec: BuildSpec, platforms: tuple[str, ...]) -> ImageSource:
        """Build for ``platforms`` and push to the ``push_to`` registry under a tag of this run
        (noted before the push: cleanup deletes it, also after an interrupt); its registry source."""
        from .engine.multiplatform import push_platforms
        from .measure.pushed import parse_push_target
        from .sources.registry.reference import plain_http_allowed
        from .sources.registry.source import RegistrySource

        assert self.settings.push_to is not None
        target = parse_push_target(self.settings.push_to)
        ref = target.ref_for(name, self.run_id, spec.key())
        self._pushed.append(ref)
        insecure = frozenset(self.settings.insecure_registries)
        try:
            push_platforms(
                engine,
                spec,
                platforms,
                ref,
                plain_http=plain_http_allowed(target.registry, insecure),
                buildx_builder=self.settings.buildx_builder,
                record=self.record().add,
                on_line=self._build_line,
            )
        except ImageSizeError:  # the build or the push failed: the index was not pushed
            self._pushed.remove(ref)
            raise
        return RegistrySource(ref, self.registry_options())

    def delete_pushed(self) -> None:
        """Delete what multi-platform builds pushed (by digest); one note for what is left."""
        if self._pushed:
            from .measure.pushed import delete_all

            self.finish_notes += delete_all(self._pushed, self.registry_options(), self.settings.keep)
            self._pushed.clear()

    def provide(self, name: str, declaration: Declaration) -> Image:
        """The measured image for a fixture; built at most once per session and spec."""
        if declaration.kind == "source":
            found = self.provide_source(name, declaration)
            if not isinstance(found, Image):
                raise ImageSizeError(
                    f"image {name} is an index of {len(found)} platforms: pick one with platform="
                )
            return found
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
            base = _base_of(spec)
        else:
            assert declaration.ref is not None
            ref, base = declaration.ref, declaration.base
        known = self.images.get(name)
        if known is not None and known.ref == ref:
            return known
        image = Image.measure(engine, ref, name, self.cache, self.progress, base)
        if image.base_image is not None and image.base_image.note:
            warnings.warn(ImageSizeWarning(f"image {name}: {image.base_image.note}"), stacklevel=1)
        if self._building is not None:
            size = f": {format_size(image.size)}" if image.size_from_engine else ""
            self._building.end(f"built {name} in {{seconds}}{size}")
            self._building = None
        self.add(image)
        return image

    def add(self, measured: Image | ImageIndex) -> None:
        """Note a measured image, or every platform of a multi-platform one, under the name its
        reports and baseline entry use (``app``; ``app[linux/arm64]``); the measured hook runs
        for each image not noted before."""
        for image in measured if isinstance(measured, ImageIndex) else [measured]:
            known = self.images.get(image.name)
            self.images[image.name] = image
            if known is not image and self.measured_hook is not None:
                self.measured_hook(image)

    def provide_source(self, name: str, declaration: Declaration) -> Image | ImageIndex:
        """A ``registry_image`` / ``oci_image``: measured from its source without the engine
        (unless its base is an engine image), once per session, reference and platform; an
        index's images are named and recorded as ``name[platform]`` (``ImageIndex``)."""
        from .measure.from_source import measure_source, open_source, path_source

        text = declaration.ref or ""
        if declaration.path is not None:
            text = path_source(declaration.path, declaration.ref)
        key = (name, text, declaration.platform, declaration.base)
        found = self._sources.get(key)
        if found is not None:
            return found
        source = open_source(text, self.registry_options())
        if source is None:
            raise ImageSizeError(
                f"image {name}: {text!r} names no image source: write it as docker://HOST/REPO:TAG"
            )
        self._opened.append(source)
        found = measure_source(
            source,
            platform=declaration.platform,
            name=name,
            cache=self.cache,
            progress=self.progress,
            base=self._source_base(declaration.base),
        )
        self._sources[key] = found
        for image in found if isinstance(found, ImageIndex) else [found]:
            if image.base_image is not None and image.base_image.note:
                warnings.warn(ImageSizeWarning(f"image {image.name}: {image.base_image.note}"), stacklevel=1)
        self.add(found)
        return found

    def _source_base(self, base: str | None) -> ImageSource | Image | None:
        """A source image's base: another source, or an image of the engine."""
        if base is None:
            return None
        from .measure.from_source import open_source

        source = open_source(base, self.registry_options())
        if source is None:
            return Image.measure(self.engine(), base, base, self.cache)
        self._opened.append(source)
        return source

    def registry_options(self) -> Any:
        """The registry settings as the registry source takes them (None where it is missing)."""
        from .measure.from_source import registry_options

        return registry_options(self.settings.insecure_registries or (), self.settings.registry_ca)

    def _build_line(self, line: str) -> None:
        step = self._building
        if step is not None and (text := step_of(line)) is not None:
            step.status(f"{step.name}: {text}")

    def _build(self, engine: Engine, name: str, spec: BuildSpec) -> BuildResult | ImageSizeError:
        tag = tag_for(name, spec)
        record = self.record()
        record.add("tag", tag)  # before the build: an interrupted one may still tag
        builder = self.builder()
        self._building = Step(self.progress, f"building {name} ({spec.dockerfile.name}, {builder.name}) ...")
        try:
            result: BuildResult | ImageSizeError = builder.build(engine, spec, tag)
        except ImageSizeError as exc:
            result = exc
        if isinstance(result, ImageSizeError):
            self._building.end(f"building {name} failed after {{seconds}}")
            self._building = None
        for image_id in sorted(getattr(result, "created_ids", ())):
            record.add("id", image_id)
        return result

    # ------------------------------------------------------------------ checks

    def run_checks(self, test: str, checks: Sequence[Check], funcargs: Mapping[str, Any]) -> list[Outcome]:
        """Evaluate a test's checks; record and return the outcomes (warnings are emitted)."""
        outcomes = []
        context = Context(self.baseline)
        for check in checks:
            value = funcargs.get(check.image or "")
            if not isinstance(value, (Image, ImageIndex)):
                raise ImageSizeError(
                    f"{check.marker}: fixture {check.image!r} did not give an Image "
                    f"(got {type(value).__name__})"
                )
            images = {image.name: image for image in (value if isinstance(value, ImageIndex) else [value])}
            for image in images.values():
                if self.images.get(image.name) is not image:
                    self.add(image)
            found = evaluate_all(check, value, test, context)
            outcomes += found
            for outcome in found:
                if outcome.outcome == "warned":
                    warnings.warn(ImageSizeWarning(outcome.message), stacklevel=1)
                self._warn_incomparable(outcome, images[outcome.image])
        self.outcomes.extend(outcomes)
        return outcomes

    def _warn_incomparable(self, outcome: Outcome, image: Image) -> None:
        entry = baseline_file.lookup(self.baseline, outcome.image)
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
        now = image.engine.to_json() if image.engine else {}
        if entry.platform is not None or image.platform is not None:  # compare what they were for
            now, entry_side = {"platform": platform_of(image)}, {"platform": entry.measured_for}
        else:
            entry_side = dict(entry.engine)
        differences = baseline_file.comparable(entry_side, now)
        if differences:
            warnings.warn(
                ImageSizeWarning(
                    f"image {outcome.image}: the baseline was measured for another platform "
                    f"({'; '.join(differences)}); sizes may not be comparable"
                ),
                stacklevel=1,
            )

    # ------------------------------------------------------------------ end of the run

    def measure_before_cleanup(self, report: bool) -> None:
        """Where an image's size comes from its archive (no graph driver), read it while the
        image is still there, so the terminal report, printed after the cleanup, has it."""
        if not report:
            return
        for image in self.images.values():
            if not image.size_from_engine and not image.analysed:
                try:
                    image.analysis()
                except ImageSizeError as exc:
                    self.finish_notes.append(f"pytest-imagesize: image {image.name} not measured: {exc}")

    def remove_layouts(self) -> None:
        """Delete the OCI layouts of multi-platform builds: temporary, whatever ``keep`` says (an
        xdist worker deletes its own once its images are read: the controller never sees them)."""
        if self._layouts:
            from .engine.multiplatform import remove_layout

            for layout in self._layouts:
                remove_layout(layout)
            self._layouts.clear()

    def cleanup(self) -> None:
        """Remove the tags this session created (unless ``keep``); never anything else. A
        failure is one line in ``finish_problems``."""
        self.remove_layouts()
        self.delete_pushed()
        if self.settings.keep:
            if self._record is not None:
                self._record.done(prefix_only=True)  # kept on purpose: not leftovers
            return
        record = self._record
        if not self.builds and (
            record is None or not (record.image_ids or record.tags or record.container_ids)
        ):
            return
        try:
            engine = self.engine()
        except EngineUnavailable as exc:
            self.finish_problems.append(
                f"pytest-imagesize: built images not removed (the next run removes them): {exc}"
            )
            return
        created: set[str] = set()
        records = self.record().directory
        own = self.owner_pids[0] if self.owner_pids else os.getpid()
        shared: list[str] = []
        try:
            for result in self.builds.values():
                if isinstance(result, BuildResult):
                    created |= result.created_ids
                    if used_elsewhere(records, result.tag, own):
                        shared.append(result.tag)  # the last run to finish removes it
                    else:
                        remove_our_tag(engine, result)
                elif isinstance(result, BuildError):
                    created |= result.created_ids
            if self._record is not None:  # also what an interrupted build had made so far
                for container in self._record.container_ids:
                    engine.remove_container(container)
                finished = {r.tag for r in self.builds.values() if isinstance(r, BuildResult)}
                for tag in sorted(self._record.tags - finished):  # a build stopped as it tagged
                    if not used_elsewhere(records, tag, own):
                        remove_tag_of_ours(engine, tag)
                created |= full_ids(engine, self._record.image_ids)
            left = remove_intermediates(engine, created)
        except ImageSizeError as exc:
            self.finish_problems.append(
                f"pytest-imagesize: built images not all removed (the next run removes them): {exc}"
            )
            return
        if shared:
            self.finish_notes.append(
                f"pytest-imagesize: {', '.join(shared)} left tagged: another pytest run on this "
                "engine uses the same build; the last one to finish removes it"
            )
        if left:  # e.g. a build the engine carries on after we disconnected: the next run retries
            self.finish_notes.append(
                f"pytest-imagesize: {len(left)} intermediate build image(s) still in use; "
                "the next run removes them"
            )
        elif self._record is not None:
            self._record.done(prefix_only=True)

    def close(self) -> None:
        for source in self._opened:
            try:
                source.close()
            except ImageSizeError as exc:
                self.finish_notes.append(f"pytest-imagesize: {exc}")
        self._opened.clear()
        if self._engine is not None and not isinstance(self._engine, EngineUnavailable):
            self._engine.close()

    def baseline_entries(self, rootdir: Path) -> dict[str, baseline_file.BaselineEntry]:
        """This run's measurements as baseline entries (compressed size only where measured)."""
        commit = baseline_file.git_commit(rootdir)
        engine = self.engine_info.to_json() if self.engine_info else {}
        entries = {}
        for name, image in self.images.items():
            try:  # the archive is read: the entry keeps what explains growth later
                summary = image.summary(files=True)
                entries[name] = baseline_file.BaselineEntry.of(
                    summary, engine, baseline_file.today(), commit, platform_of(image)
                )
            except ImageSizeError as exc:  # its measurement failed: its old entry stays
                self.finish_problems.append(f"pytest-imagesize: baseline entry {name} kept: {exc}")
        return entries
