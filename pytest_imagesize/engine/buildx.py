"""BuildKit through ``docker buildx build --load``: the docker CLI talks to the engine at
DOCKER_HOST, with the builder named by ``--image-buildx-builder``, BUILDX_BUILDER or the CLI's
current one."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path

from ..errors import BuildError, EngineUnavailable
from .build import LABEL, BuildResult, BuildSpec, engine_died, failure_message, finished, prepare
from .protocol import Engine

_STEP = re.compile(r"^#(\d+) \[(.+?)\] (.+)$")
_STEP_ERROR = re.compile(r"^#(\d+) ERROR:? ?(.*)$")
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL to the build's process group


def buildx_available(docker_cli: str | None = None) -> str | None:
    """Why ``docker buildx`` cannot be used, or None when it can."""
    cli = docker_cli or shutil.which("docker")
    if cli is None:
        return "the docker CLI is not on PATH"
    try:
        done = subprocess.run([cli, "buildx", "version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`docker buildx version` could not run ({exc})"
    if done.returncode != 0:
        return "`docker buildx version` failed: the docker-buildx plugin is not installed"
    return None


def buildkit_failure(lines: list[str]) -> tuple[str | None, str]:
    """The failing step (``RUN go test ./...``) and error of BuildKit's plain progress output."""
    steps: dict[str, str] = {}
    failed: str | None = None
    error = ""
    for line in lines:
        if match := _STEP.match(line):
            steps.setdefault(match.group(1), match.group(3).strip())
        elif match := _STEP_ERROR.match(line):
            failed, error = match.group(1), match.group(2) or error
        elif line.startswith("ERROR:"):
            error = line[len("ERROR:") :].strip()
    return (steps.get(failed) if failed else None), error or "docker buildx build failed"


def stop_group(process: subprocess.Popen[str], grace: float = STOP_GRACE) -> None:
    """End a build started in a session of its own, with everything it started: SIGTERM to its
    process group, SIGKILL to the group after ``grace`` seconds; returns once the leader is reaped."""
    try:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    finally:  # also when a second interrupt cuts the grace short
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # and what the leader left behind in its group
        process.wait()


def run_streaming(command: list[str], env: dict[str, str], on_line: Callable[[str], None]) -> int:
    """Run ``command`` in a session of its own, each output line to ``on_line``; interrupted, the
    whole process group is stopped before the interrupt goes on."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            on_line(line.rstrip("\n"))
        return process.wait()
    except BaseException:
        stop_group(process)
        raise


class BuildxBuilder:
    """Runs ``docker buildx build --load`` in a process group of its own; the group is stopped
    when interrupted (before the caller removes what the build tagged). ``on_line`` sees each
    progress line (for a live status); ``record`` notes the temporary directory, so that the
    next run removes it if this one is killed."""

    name = "buildx"

    def __init__(
        self,
        builder: str | None = None,
        on_line: Callable[[str], None] | None = None,
        record: Callable[[str, str], None] | None = None,
    ) -> None:
        self._builder = builder
        self._on_line = on_line
        self._record = record

    def command(self, cli: str, spec: BuildSpec, tag: str, iidfile: str) -> list[str]:
        command = [cli, "buildx", "build", "--load", "--progress=plain", "--iidfile", iidfile]
        command += ["--label", f"{LABEL}=true", "--tag", tag, "--file", str(spec.dockerfile)]
        if self._builder:
            command += ["--builder", self._builder]
        if spec.target:
            command += ["--target", spec.target]
        for key, value in spec.build_args:
            command += ["--build-arg", f"{key}={value}"]
        return [*command, str(spec.context)]

    def build(self, engine: Engine, spec: BuildSpec, tag: str) -> BuildResult:
        before = prepare(engine, spec, tag)
        cli = shutil.which("docker")
        problem = buildx_available(cli)
        if problem is not None or cli is None:
            raise BuildError(
                f"--image-builder=buildx: {problem}; install docker-buildx or use --image-builder=classic"
            )
        lines: deque[str] = deque(maxlen=400)
        with tempfile.TemporaryDirectory(prefix="imagesize-buildx-") as tmp:
            if self._record is not None:
                self._record("dir", tmp)
            iidfile = os.path.join(tmp, "iid")
            env = {**os.environ, "DOCKER_HOST": engine.address}

            def seen(line: str) -> None:
                lines.append(line)
                if self._on_line is not None:
                    self._on_line(line)

            code = run_streaming(self.command(cli, spec, tag, iidfile), env, seen)
            iid = Path(iidfile)
            image_id = iid.read_text().strip() if code == 0 and iid.exists() else None
        if image_id is None:
            step, error = buildkit_failure(list(lines))
            try:
                engine.image_ids()  # is the engine still there? a dead one is not a build failure
            except EngineUnavailable as exc:
                raise engine_died(spec, self.name, exc) from None
            raise BuildError(failure_message(spec, error, list(lines), step))
        try:
            return finished(engine, image_id, tag, before, self.name)
        except EngineUnavailable as exc:
            raise engine_died(spec, self.name, exc) from None
