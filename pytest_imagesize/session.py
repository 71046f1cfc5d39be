"""One pytest session's image state: the engine, built and measured images, check outcomes."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import docker

from .analysis import Cache
from .build import (
    BuildResult,
    BuildSpec,
    build_classic,
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
                try:
                    result = build_classic(client, spec, tag_for(name, spec))
                except ImageSizeError as exc:
                    result = exc
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
                outcome = evaluate(check, image, test)
            outcomes.append(outcome)
            if outcome.outcome == "warned":
                warnings.warn(ImageSizeWarning(outcome.message), stacklevel=1)
        self.outcomes.extend(outcomes)
        return outcomes

    def cleanup(self) -> None:
        """Remove the tags this session created (unless ``keep``); never anything else."""
        if self.keep or not isinstance(self._client, docker.DockerClient):
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
