"""What to build (``BuildSpec``), what a build gave (``BuildResult``), and what every builder
shares: our tag namespace and label, input checks, failure messages."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..errors import BuildError, EngineUnavailable, ImageNotFound
from .protocol import Engine

LABEL = "io.github.pytest-imagesize.managed"
REPOSITORY_PREFIX = "pytest-imagesize/"
LOG_TAIL_LINES = 30
DECLARED_FROM = "(relative paths start at the directory of the module that declares the image)"


@dataclass(frozen=True)
class BuildSpec:
    """Everything that makes one build distinct. Equal specs are built once per session."""

    dockerfile: Path
    context: Path
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    dockerfile_as_written: str | None = field(default=None, compare=False)

    def key(self) -> str:
        payload = json.dumps([str(self.dockerfile), str(self.context), self.target, list(self.build_args)])
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def check_paths(self) -> None:
        """The Dockerfile first: a context that is missing because the Dockerfile's directory is
        missing must not send the user to a ``context=`` they never wrote."""
        if not self.dockerfile.is_file():
            written = self.dockerfile_as_written
            said = f"{written!r} (resolved to {self.dockerfile})" if written else str(self.dockerfile)
            raise BuildError(
                f"Dockerfile {said} does not exist: fix the path given to build_image() {DECLARED_FROM}"
            )
        if not self.context.is_dir():
            raise BuildError(f"build context {self.context} is not a directory: fix context= {DECLARED_FROM}")

    def describe(self) -> str:
        target = f" --target {self.target}" if self.target else ""
        return f"{self.dockerfile}{target} (context {self.context})"

    def with_args(self, extra: tuple[tuple[str, str], ...]) -> BuildSpec:
        """The spec with ``extra`` build args laid over its own (the command line wins)."""
        if not extra:
            return self
        merged = dict(self.build_args)
        merged.update(extra)
        return BuildSpec(
            self.dockerfile,
            self.context,
            self.target,
            tuple(sorted(merged.items())),
            self.dockerfile_as_written,
        )


def tag_for(name: str, spec: BuildSpec) -> str:
    """Our own tag namespace: ``pytest-imagesize/<name>:<hash of the build inputs>``."""
    repo = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "image"
    return f"{REPOSITORY_PREFIX}{repo}:{spec.key()}"


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tag: str
    created_here: bool  # the image ID did not exist on the engine before this build
    created_ids: frozenset[str] = frozenset()  # every image ID (incl. intermediates) it added
    builder: str = "classic"


class Builder(Protocol):
    """Builds one spec under one tag on one engine."""

    name: str

    def build(self, engine: Engine, spec: BuildSpec, tag: str) -> BuildResult: ...


def ensure_tag_is_ours(engine: Engine, tag: str) -> None:
    try:
        data = engine.inspect_image(tag)
    except ImageNotFound:
        return
    labels = (data.get("Config") or {}).get("Labels") or {}
    if labels.get(LABEL) != "true":
        raise BuildError(
            f"tag {tag} already names an image that pytest-imagesize did not build; "
            "it is left alone: remove or rename that tag, or give the fixture another name="
        )


def prepare(engine: Engine, spec: BuildSpec, tag: str) -> set[str]:
    """Check the inputs and our tag; return the engine's image IDs before the build."""
    spec.check_paths()
    ensure_tag_is_ours(engine, tag)
    return engine.image_ids()


def added_since(engine: Engine, before: set[str]) -> frozenset[str]:
    return frozenset(engine.image_ids() - before)


def finished(engine: Engine, image_id: str, tag: str, before: set[str], builder: str) -> BuildResult:
    return BuildResult(
        image_id=image_id,
        tag=tag,
        created_here=image_id not in before,
        created_ids=added_since(engine, before),
        builder=builder,
    )


def engine_died(spec: BuildSpec, name: str, exc: EngineUnavailable) -> BuildError:
    """One line for an engine that went away during a build (never a build failure's log)."""
    return BuildError(
        f"the container engine went away during the build of {spec.dockerfile} ({name} builder): "
        f"{exc.reason}; restart the engine and run again"
    )


BUILDKIT_HINT = (
    "; this Dockerfile needs BuildKit: run pytest with --image-builder=buildx (or auto, with the "
    "docker buildx plugin installed)"
)


_NO_BUILDPLATFORM = 'failed to parse platform : ""'
_CLASSIC_STEP = re.compile(r"^(?:Step|STEP) (\d+/\d+) ?: ?(.*)$")
_BUILDKIT_STEP = re.compile(r"^#\d+ \[([^\]]*\d+/\d+)\] (.*)$")


def step_of(line: str) -> str | None:
    """``step 3/6 RUN go build ...`` from a classic (``Step 3/6 : RUN ...``) or BuildKit
    (``#7 [build 3/6] RUN ...``) progress line; None for other lines."""
    match = _CLASSIC_STEP.match(line) or _BUILDKIT_STEP.match(line)
    if match is None:
        return None
    text = re.sub(r"\s+", " ", match.group(2)).strip()
    return f"step {match.group(1)} {text[:60]}"


def failure_message(spec: BuildSpec, error: str, lines: list[str], step: str | None) -> str:
    if "requires BuildKit" in error or "requires BuildKit" in "\n".join(lines):
        error = error.split(". Refer to")[0] + BUILDKIT_HINT
    elif _NO_BUILDPLATFORM in error:  # FROM --platform=$BUILDPLATFORM, classic builder
        error = f"{_NO_BUILDPLATFORM}: the classic builder sets no BUILDPLATFORM" + BUILDKIT_HINT
    head = f"build of {spec.describe()} failed"
    head += f" at `{step}`: {error}" if step else f": {error}"
    tail = [line for line in lines if line.strip()][-LOG_TAIL_LINES:]
    if not tail:
        return head
    return head + "\n--- last lines of the build log ---\n" + "\n".join(tail)
