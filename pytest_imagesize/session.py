"""One pytest session's image state: the engine, built and measured images, check outcomes."""

from __future__ import annotations

import contextlib
import fcntl
import json
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import docker

from . import baseline as baseline_file
from .analysis import Cache
from .build import (
    BuildResult,
    BuildSpec,
    build_buildx,
    build_classic,
    buildx_available,
    remove_intermediates,
    remove_our_tag,
    tag_for,
)
from .checks import Check, Outcome, evaluate
from .engine import EngineInfo, connect, describe_engine, engine_errors
from .errors import BuildError, EngineUnavailable, ImageSizeError
from .image import Image, inspect_image


class ImageSizeWarning(UserWarning):
    """An image is above a marker's ``warn=`` threshold but within its limit."""


@dataclass(frozen=True)
class Declaration:
    """An image fixture as declared with ``build_image`` or ``existing_image``."""

    kind: str  # "build" or "existing"
    spec: BuildSpec | None = None
    ref: str | None = None


@dataclass
class ImageSizeSession:
    """Everything the plugin knows during one run; reports read from it."""

    keep: bool = False
    skip_without_engine: bool = False
    extra_build_args: tuple[tuple[str, str], ...] = ()
    cache: Cache | None = None
    measured_hook: Any = None  # called with each newly measured Image
    images: dict[str, Image] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    builds: dict[str, BuildResult | ImageSizeError] = field(default_factory=dict)
    engine: EngineInfo | None = None
    baseline: dict[str, baseline_file.Entry] = field(default_factory=dict)
    builder: str = "auto"  # "auto", "classic" or "buildx"
    buildx_builder: str | None = None  # docker buildx --builder NAME
    shared_dir: Path | None = None  # pytest-xdist: where workers share builds (None otherwise)
    finish_problems: list[str] = field(default_factory=list)
    _client: docker.DockerClient | EngineUnavailable | None = None
    cleanup_log: list[str] = field(default_factory=list)

    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = connect()
                self.engine = describe_engine(self._client)
            except EngineUnavailable as exc:
                self._client = exc
        if isinstance(self._client, EngineUnavailable):
            raise self._client
        return self._client

    def with_cli_args(self, spec: BuildSpec) -> BuildSpec:
        if not self.extra_build_args:
            return spec
        merged = dict(spec.build_args)
        merged.update(self.extra_build_args)  # the command line wins over the declaration
        return BuildSpec(spec.dockerfile, spec.context, spec.target, tuple(sorted(merged.items())))

    def provide(self, name: str, declaration: Declaration) -> Image:
        """The measured image for a fixture; built at most once per session and spec."""
        client = self.client()
        if declaration.kind == "build":
            assert declaration.spec is not None
            spec = self.with_cli_args(declaration.spec)
            result = self.builds.get(spec.key())
            if result is None:
                result = self._build_once(client, name, spec)
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
        image, _ = inspect_image(client, ref, name)
        image.engine = self.engine
        image._client = client
        image._cache = self.cache
        self.images[name] = image
        if self.measured_hook is not None:
            self.measured_hook(image)
        return image

    def _build_once(
        self, client: docker.DockerClient, name: str, spec: BuildSpec
    ) -> BuildResult | ImageSizeError:
        """Build, or under pytest-xdist take the build another worker of this run already made."""
        with self._shared_lock(spec.key()) as shared:
            if shared is not None and shared.exists():
                return _result_from_json(json.loads(shared.read_text()))
            try:
                result: BuildResult | ImageSizeError = self._build(client, spec, tag_for(name, spec))
            except ImageSizeError as exc:
                result = exc
            if shared is not None:
                shared.write_text(json.dumps(_result_to_json(result)))
            return result

    def resolved_builder(self) -> str:
        """``auto`` means buildx when ``docker buildx version`` works and the engine is Docker."""
        if self.builder == "auto":
            usable = self.engine is not None and self.engine.name == "docker"
            self.builder = "buildx" if usable and buildx_available() is None else "classic"
        return self.builder

    def _build(self, client: docker.DockerClient, spec: BuildSpec, tag: str) -> BuildResult:
        if self.resolved_builder() == "buildx":
            return build_buildx(client, spec, tag, self.buildx_builder)
        return build_classic(client, spec, tag)

    @contextlib.contextmanager
    def _shared_lock(self, key: str) -> Iterator[Path | None]:
        if self.shared_dir is None:
            yield None
            return
        with open(self.shared_dir / f"{key}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield self.shared_dir / f"{key}.json"

    def run_checks(self, test: str, checks: Sequence[Check], funcargs: dict[str, Any]) -> list[Outcome]:
        """Evaluate a test's checks; record and return the outcomes (warnings are emitted)."""
        outcomes = []
        for check in checks:
            image = funcargs.get(check.image or "")
            if not isinstance(image, Image):
                raise ImageSizeError(
                    f"{check.marker}: fixture {check.image!r} did not give an Image "
                    f"(got {type(image).__name__})"
                )
            with engine_errors(f"measuring image {image.name}"):
                outcome = evaluate(check, image, test, self.baseline)
            outcomes.append(outcome)
            if outcome.outcome == "warned":
                warnings.warn(ImageSizeWarning(outcome.message), stacklevel=1)
        self.outcomes.extend(outcomes)
        return outcomes

    def cleanup(self) -> None:
        """Remove the tags this session created (unless ``keep``); never anything else."""
        if self.keep or not self.builds:
            return
        if self._client is None:  # the pytest-xdist controller cleans up for its workers
            with contextlib.suppress(EngineUnavailable):
                self.client()
        if not isinstance(self._client, docker.DockerClient):
            return
        created: set[str] = set()
        for result in self.builds.values():
            if isinstance(result, BuildResult):
                created |= result.created_ids
                try:
                    with engine_errors(f"removing {result.tag}"):
                        self.cleanup_log.append(remove_our_tag(self._client, result))
                except ImageSizeError as exc:
                    self.cleanup_log.append(f"{result.tag}: not removed ({exc})")
            elif isinstance(result, BuildError):
                created |= result.created_ids
        try:
            with engine_errors("removing intermediate build images"):
                removed = remove_intermediates(self._client, created)
                self.cleanup_log.append(f"{removed} intermediate image(s) removed")
        except ImageSizeError as exc:
            self.cleanup_log.append(f"intermediate images not removed ({exc})")

    def close(self) -> None:
        if isinstance(self._client, docker.DockerClient):
            self._client.close()

    def baseline_entries(self, rootdir: Path) -> dict[str, baseline_file.Entry]:
        """This run's measurements as baseline entries (compressed size only where measured)."""
        commit = baseline_file.git_commit(rootdir)
        engine = self.engine.to_json() if self.engine else {}
        return {
            name: baseline_file.Entry(
                size=image.size,
                compressed_size=image.compressed_size if image.analysed else None,
                layers=tuple((layer.instruction, layer.size) for layer in image.layers),
                engine=engine,
                date=baseline_file.today(),
                commit=commit,
            )
            for name, image in self.images.items()
        }

    # ------------------------------------------------------------------ pytest-xdist

    def to_wire(self) -> str:
        """What a worker hands to the controller: images, outcomes, builds (for cleanup)."""
        return json.dumps(
            {
                "images": [image.to_wire() for image in self.images.values()],
                "outcomes": [asdict(o) for o in self.outcomes],
                "builds": [_result_to_json(r) for r in self.builds.values()],
                "engine": None if self.engine is None else self.engine.__dict__,
            }
        )

    def merge_wire(self, text: str) -> None:
        data = json.loads(text)
        for raw in data["images"]:
            image = Image.from_wire(raw)
            known = self.images.get(image.name)
            if known is None or (not known.analysed and image.analysed):
                self.images[image.name] = image
        self.outcomes.extend(Outcome(**o) for o in data["outcomes"])
        for raw in data["builds"]:
            result = _result_from_json(raw)
            key = result.tag if isinstance(result, BuildResult) else str(result)
            self.builds.setdefault(key, result)
        if self.engine is None and data["engine"] is not None:
            self.engine = EngineInfo(**data["engine"])


def _result_to_json(result: BuildResult | ImageSizeError) -> dict[str, Any]:
    if isinstance(result, BuildResult):
        return {
            "ok": True,
            "image_id": result.image_id,
            "tag": result.tag,
            "created_here": result.created_here,
            "seconds": result.seconds,
            "created_ids": sorted(result.created_ids),
        }
    created = sorted(getattr(result, "created_ids", ()))
    return {"ok": False, "message": str(result), "created_ids": created}


def _result_from_json(data: dict[str, Any]) -> BuildResult | ImageSizeError:
    if data["ok"]:
        return BuildResult(
            data["image_id"],
            data["tag"],
            data["created_here"],
            data["seconds"],
            frozenset(data["created_ids"]),
        )
    return BuildError(data["message"], frozenset(data["created_ids"]))
