"""Build images for tests: what to build (``BuildSpec``), the builder, and cleanup of our tags."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from .engine import api as _api
from .engine import engine_errors
from .errors import BuildError

LABEL = "io.github.pytest-imagesize.managed"
REPOSITORY_PREFIX = "pytest-imagesize/"
LOG_TAIL_LINES = 30


@dataclass(frozen=True)
class BuildSpec:
    """Everything that makes one build distinct. Equal specs are built once per session."""

    dockerfile: Path
    context: Path
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()

    def key(self) -> str:
        payload = json.dumps([str(self.dockerfile), str(self.context), self.target, list(self.build_args)])
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def check_paths(self) -> None:
        if not self.context.is_dir():
            raise BuildError(
                f"build context {self.context} is not a directory: fix context= "
                "(relative paths start at the directory of the module that declares the image)"
            )
        if not self.dockerfile.is_file():
            raise BuildError(
                f"Dockerfile {self.dockerfile} does not exist: fix the path given to build_image() "
                "(relative paths start at the directory of the module that declares the image)"
            )

    def describe(self) -> str:
        target = f" --target {self.target}" if self.target else ""
        return f"{self.dockerfile}{target} (context {self.context})"


def tag_for(name: str, spec: BuildSpec) -> str:
    """Our own tag namespace: ``pytest-imagesize/<name>:<hash of the build inputs>``."""
    repo = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "image"
    return f"{REPOSITORY_PREFIX}{repo}:{spec.key()}"


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tag: str
    created_here: bool  # the image ID did not exist on the engine before this build
    seconds: float
    created_ids: frozenset[str] = frozenset()  # every image ID (incl. intermediates) it added


def _failing_step(lines: list[str]) -> str | None:
    step = None
    for line in lines:
        if re.match(r"^Step \d+/\d+ : ", line):  # Docker's classic builder
            step = line.split(" : ", 1)[1].strip()
        elif re.match(r"^STEP \d+/\d+: ", line):  # Podman (buildah)
            step = line.split(": ", 1)[1].strip()
    return step


def _ensure_tag_is_ours(client: docker.DockerClient, tag: str) -> None:
    try:
        data = _api(client).inspect_image(tag)
    except docker.errors.ImageNotFound:
        return
    labels = (data.get("Config") or {}).get("Labels") or {}
    if labels.get(LABEL) != "true":
        raise BuildError(
            f"tag {tag} already names an image that pytest-imagesize did not build; "
            "it is left alone: remove or rename that tag, or give the fixture another name="
        )


def build_classic(client: docker.DockerClient, spec: BuildSpec, tag: str) -> BuildResult:
    """Build with the engine's own builder through docker-py (the legacy, non-BuildKit one)."""
    started = time.monotonic()
    before = _prepare(client, spec, tag)
    with engine_errors(f"building {spec.describe()}"):
        lines: deque[str] = deque(maxlen=400)
        image_id: str | None = None
        error: str | None = None
        try:
            stream = client.api.build(
                path=str(spec.context),
                dockerfile=str(spec.dockerfile),
                tag=tag,
                target=spec.target,
                buildargs=dict(spec.build_args) or None,
                labels={LABEL: "true"},
                rm=True,
                forcerm=True,
                decode=True,
            )
            for chunk in stream:
                chunk_d: dict[str, Any] = chunk
                if "stream" in chunk_d:
                    lines.extend(str(chunk_d["stream"]).rstrip("\n").splitlines())
                if "aux" in chunk_d and isinstance(chunk_d["aux"], dict):
                    image_id = chunk_d["aux"].get("ID") or image_id
                if "error" in chunk_d:
                    error = str(chunk_d.get("error") or chunk_d.get("errorDetail"))
                    break
        except docker.errors.APIError as exc:
            explanation = exc.explanation or str(exc)
            error = explanation.decode() if isinstance(explanation, bytes) else str(explanation)
        if error is None and image_id is None:
            error = "the engine reported no image ID"
        if error is not None:
            raise BuildError(_failure_message(spec, error.strip(), list(lines)), _added(client, before))
        assert image_id is not None
    return _result(client, spec, image_id, tag, before, started)


def _prepare(client: docker.DockerClient, spec: BuildSpec, tag: str) -> set[str]:
    """Check the inputs and our tag; return the engine's image IDs before the build."""
    spec.check_paths()
    with engine_errors(f"building {spec.describe()}"):
        _ensure_tag_is_ours(client, tag)
        return set(_api(client).images(quiet=True, all=True))


def _added(client: docker.DockerClient, before: set[str]) -> frozenset[str]:
    return frozenset(set(_api(client).images(quiet=True, all=True)) - before)


def _result(
    client: docker.DockerClient, spec: BuildSpec, image_id: str, tag: str, before: set[str], started: float
) -> BuildResult:
    with engine_errors(f"listing images after building {spec.describe()}"):
        created = _added(client, before)
    return BuildResult(
        image_id=image_id,
        tag=tag,
        created_here=image_id not in before,
        seconds=time.monotonic() - started,
        created_ids=created,
    )


BUILDKIT_HINT = (
    "; this Dockerfile needs BuildKit: run pytest with --image-builder=buildx (or auto, with the "
    "docker buildx plugin installed)"
)


def _failure_message(spec: BuildSpec, error: str, lines: list[str], step: str | None = None) -> str:
    step = step or _failing_step(lines)
    if "requires BuildKit" in error or "requires BuildKit" in "\n".join(lines):
        error = error.split(". Refer to")[0] + BUILDKIT_HINT
    head = f"build of {spec.describe()} failed"
    head += f" at `{step}`: {error}" if step else f": {error}"
    tail = [line for line in lines if line.strip()][-LOG_TAIL_LINES:]
    if not tail:
        return head
    return head + "\n--- last lines of the build log ---\n" + "\n".join(tail)


BUILDERS = ("auto", "classic", "buildx")


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


_STEP = re.compile(r"^#(\d+) \[(.+?)\] (.+)$")
_STEP_ERROR = re.compile(r"^#(\d+) ERROR:? ?(.*)$")


def _buildkit_failure(lines: list[str]) -> tuple[str | None, str]:
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


def build_buildx(
    client: docker.DockerClient, spec: BuildSpec, tag: str, builder: str | None = None
) -> BuildResult:
    """Build with BuildKit through ``docker buildx build --load`` (the engine's DOCKER_HOST and
    the builder from ``builder``, else BUILDX_BUILDER or the CLI's current one)."""
    started = time.monotonic()
    before = _prepare(client, spec, tag)
    cli = shutil.which("docker")
    problem = buildx_available(cli)
    if problem is not None or cli is None:
        raise BuildError(
            f"--image-builder=buildx: {problem}; install docker-buildx or use --image-builder=classic"
        )
    lines: deque[str] = deque(maxlen=400)
    with tempfile.TemporaryDirectory(prefix="imagesize-buildx-") as tmp:
        iidfile = os.path.join(tmp, "iid")
        command = [
            cli,
            "buildx",
            "build",
            "--load",
            "--progress=plain",
            "--iidfile",
            iidfile,
            "--label",
            f"{LABEL}=true",
            "--tag",
            tag,
            "--file",
            str(spec.dockerfile),
        ]
        if builder:
            command += ["--builder", builder]
        if spec.target:
            command += ["--target", spec.target]
        for key, value in spec.build_args:
            command += ["--build-arg", f"{key}={value}"]
        command.append(str(spec.context))
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        try:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line.rstrip("\n"))
            code = process.wait()
        except BaseException:  # interrupted: stop the whole build, then let the interrupt go on
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            raise
        iid = Path(iidfile)
        image_id = iid.read_text().strip() if code == 0 and iid.exists() else None
    if image_id is None:
        step, error = _buildkit_failure(list(lines))
        raise BuildError(_failure_message(spec, error, list(lines), step))
    return _result(client, spec, image_id, tag, before, started)


def _normal_ref(ref: str) -> str:
    """``docker.io/library/x:1``, ``localhost/x:1`` (Podman) and ``x:1`` name the same image."""
    for prefix in ("docker.io/", "localhost/", "library/"):
        ref = ref.removeprefix(prefix)
    return ref


def remove_our_tag(client: docker.DockerClient, result: BuildResult) -> str:
    """Remove the tag this session added; never remove an image that existed before it.

    Returns what was done, for the debug log. The image is deleted only when our tag is its only
    name and it was built by pytest-imagesize (this run, or an earlier one with --image-keep: it
    carries our label); any other tag keeps it alive (``docker rmi`` of one tag of several only
    untags). Untagged parents are never pruned here: see :func:`remove_intermediates`.
    """
    try:
        data = _api(client).inspect_image(result.tag)
    except docker.errors.ImageNotFound:
        return f"{result.tag}: already gone"
    if data.get("Id") != result.image_id:
        return f"{result.tag}: now names another image; left alone"
    other_tags = [t for t in data.get("RepoTags") or [] if _normal_ref(t) != _normal_ref(result.tag)]
    ours = ((data.get("Config") or {}).get("Labels") or {}).get(LABEL) == "true"
    if not other_tags and not result.created_here and not ours:
        return f"{result.tag}: only name of an image that existed before the run; left tagged"
    client.api.remove_image(result.tag, noprune=True)
    return f"{result.tag}: {'untagged' if other_tags else 'removed'}"


def remove_intermediates(client: docker.DockerClient, created: set[str]) -> int:
    """Remove the untagged images that this session's builds created (build steps, earlier
    stages), children before parents. Anything tagged, used by a container or still a parent of
    an image we did not create stays. Returns how many were removed."""
    removed = 0
    pending = set(created)
    progress = True
    while pending and progress:
        progress = False
        for image_id in sorted(pending):
            try:
                if _api(client).inspect_image(image_id).get("RepoTags"):
                    pending.discard(image_id)
                    continue
                client.api.remove_image(image_id, noprune=True)
            except docker.errors.ImageNotFound:
                pending.discard(image_id)
                continue
            except docker.errors.APIError:
                continue  # a parent of something still there: try again after its children
            pending.discard(image_id)
            removed += 1
            progress = True
    return removed
