"""The engine's own (classic, non-BuildKit) builder, through the engine seam."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable

from ..errors import BuildError, EngineUnavailable
from .build import LABEL, BuildResult, BuildSpec, engine_died, failure_message, finished, prepare
from .protocol import Engine

_CLASSIC_STEP = re.compile(r"^Step \d+/\d+ : ")
_PODMAN_STEP = re.compile(r"^STEP \d+/\d+: ")
# " ---> 3f2a1b4c5d6e" after each step (classic); "--> 3f2a1b4c5d6" (Podman/buildah)
_STEP_IMAGE = re.compile(r"^\s*-{2,3}> ([0-9a-f]{12,64})\s*$")
_STEP_CONTAINER = re.compile(r"^\s*-{2,3}> Running in ([0-9a-f]{12,64})\s*$")


def failing_step(lines: list[str]) -> str | None:
    step = None
    for line in lines:
        if _CLASSIC_STEP.match(line):
            step = line.split(" : ", 1)[1].strip()
        elif _PODMAN_STEP.match(line):
            step = line.split(": ", 1)[1].strip()
    return step


class ClassicBuilder:
    """Builds through the engine's build API. Each intermediate image is reported to ``record``
    as soon as the stream names it, so an interrupted run's leftovers can be removed later."""

    name = "classic"

    def __init__(
        self,
        record: Callable[[str, str], None] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self._record = record
        self._on_line = on_line

    def build(self, engine: Engine, spec: BuildSpec, tag: str) -> BuildResult:
        before = prepare(engine, spec, tag)
        lines: deque[str] = deque(maxlen=400)
        image_id: str | None = None
        error: str | None = None
        try:
            stream = engine.build(
                context=str(spec.context),
                dockerfile=str(spec.dockerfile),
                tag=tag,
                target=spec.target,
                build_args=dict(spec.build_args),
                labels={LABEL: "true"},
            )
            for chunk in stream:
                if "stream" in chunk:
                    for line in str(chunk["stream"]).rstrip("\n").splitlines():
                        lines.append(line)
                        if self._on_line is not None:
                            self._on_line(line)
                        if self._record is not None:
                            if match := _STEP_IMAGE.match(line):
                                self._record("id", match.group(1))
                            elif match := _STEP_CONTAINER.match(line):
                                self._record("container", match.group(1))
                if "aux" in chunk and isinstance(chunk["aux"], dict):
                    image_id = chunk["aux"].get("ID") or image_id
                if "error" in chunk:
                    error = str(chunk.get("error") or chunk.get("errorDetail"))
                    break
        except EngineUnavailable as exc:
            raise engine_died(spec, self.name, exc) from None
        if error is None and image_id is None:
            error = "the engine reported no image ID"
        if error is not None:
            message = failure_message(spec, error.strip(), list(lines), failing_step(list(lines)))
            try:
                created = frozenset(engine.image_ids() - before)
            except EngineUnavailable as exc:
                raise engine_died(spec, self.name, exc) from None
            raise BuildError(message, created)
        assert image_id is not None
        return finished(engine, image_id, tag, before, self.name)
