"""Multi-platform builds handed back as an OCI layout directory, never loaded into the engine's
image store.

Docker: ``docker buildx build --platform A,B --output type=oci,tar=false,dest=DIR``. Any buildx
driver can export an OCI layout except the ``docker`` driver on an engine with the classic image
store (Docker before the containerd image store): that is refused up front in one line. Podman:
``podman build --platform A,B --manifest LIST`` then ``podman manifest push --all LIST oci:DIR``;
the manifest list and every image the build made are removed again. The podman CLI works on the
local image store, which is the service's when it runs on this machine as this user.

Nothing runs a foreign platform's code: a ``RUN`` in a stage built for another platform needs
emulation (binfmt/QEMU) on the engine's machine. Dockerfiles build on ``$BUILDPLATFORM`` and copy
into the target stage.

The directory is temporary: noted in the build record as it is made (a killed run's is swept by
the next run) and removed by the caller with :func:`remove_layout`.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError, EngineUnavailable, ImageSizeError
from .build import LABEL, REPOSITORY_PREFIX, BuildSpec, engine_died, failure_message
from .buildx import buildkit_failure, buildx_available, run_streaming
from .cleanup import remove_intermediates
from .leftovers import (
    BUILD_TOKEN_ARG,
    full_ids,
    remove_build_containers,
    remove_manifest_list,
    remove_temporary,
)
from .protocol import Engine, EngineInfo

LAYOUT_PREFIX = "pytest-imagesize-platforms-"  # starts with one of leftovers.TEMP_PREFIXES
_PLATFORM = re.compile(r"^[a-z0-9_]+/[a-z0-9_]+(?:/[a-z0-9_.]+)?$")
_PODMAN_ID = re.compile(r"^(?:--> ([0-9a-f]{11,64})|([0-9a-f]{64}))$")  # a step's image, a final one
_PODMAN_STEP = re.compile(r"^\[([^\]]+)\] (?:\[\d+/\d+\] )?STEP \d+/\d+: (.*)$")
_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}  # the engine may give the kernel's name
Record = Callable[[str, str], None]
LineSink = Callable[[str], None]


PODMAN_TIMEOUT = 600  # seconds one podman command (a manifest push, a removal) may take


class MultiPlatformUnsupported(BuildError):
    """This engine or its builder cannot build for several platforms into an OCI layout (buildx's
    docker driver on the classic image store, no buildx plugin, no podman CLI): a fixture skips
    with this one line rather than fail."""


@dataclass(frozen=True)
class PlatformBuild:
    """An OCI layout directory holding one index with a manifest per platform, or (``pushed``)
    the registry reference the index was pushed to."""

    layout: Path  # empty for a build pushed to a registry
    platforms: tuple[str, ...]
    builder: str  # "buildx (docker driver)", "buildx (docker-container driver)", "podman"
    pushed: str | None = None  # the registry reference it was pushed to (host/repo:tag)


def check_platforms(spec: BuildSpec, platforms: Sequence[str]) -> tuple[str, ...]:
    """The platforms as given (``os/architecture[/variant]``, at least one, no repeats);
    ``BuildError`` in one line otherwise."""
    if isinstance(platforms, str) or not platforms:
        raise BuildError(
            f"platforms for {spec.dockerfile}: give a list such as ['linux/amd64', 'linux/arm64'], "
            f"got {platforms!r}"
        )
    cleaned: list[str] = []
    for platform in platforms:
        text = str(platform).strip().lower()
        if not _PLATFORM.match(text):
            raise BuildError(
                f"platform {platform!r} for {spec.dockerfile} is not os/architecture[/variant]: "
                "write it as linux/amd64 or linux/arm64"
            )
        if text in cleaned:
            raise BuildError(f"platform {text} is named twice for {spec.dockerfile}: name each once")
        cleaned.append(text)
    return tuple(cleaned)


def oci_export_refusal(info: EngineInfo, driver: str) -> str | None:
    """Why buildx with ``driver`` cannot write an OCI layout on this engine, or None when it can:
    the ``docker`` driver exports through the engine's image store, and only the containerd image
    store has an OCI exporter."""
    if driver != "docker" or info.image_store == "containerd":
        return None
    return (
        f"a multi-platform build on {info.name} {info.version} ({info.storage_driver or 'classic'} "
        "image store) with buildx's docker driver cannot export an OCI layout: it needs buildx with "
        "the containerd image store (dockerd features.containerd-snapshotter) or a docker-container "
        "builder (docker buildx create --driver docker-container --use)"
    )


def remove_layout(path: Path | str) -> None:
    """Delete a layout directory :func:`build_platforms` made (only one of ours, by its name)."""
    if Path(path).name.startswith(LAYOUT_PREFIX):
        remove_temporary(str(path))


def build_platforms(
    engine: Engine,
    spec: BuildSpec,
    platforms: Sequence[str],
    *,
    buildx_builder: str | None = None,
    record: Record | None = None,
    on_line: LineSink | None = None,
) -> PlatformBuild:
    """Build ``spec`` for every one of ``platforms`` (``["linux/amd64", "linux/arm64"]``) into a
    new OCI layout directory; nothing is left on the engine. Docker builds with buildx
    (``buildx_builder`` names the builder, else BUILDX_BUILDER or the CLI's current one), Podman
    with the podman CLI. ``record`` notes, as they appear, the directory (``"dir"``) and on
    Podman the manifest list (``"manifest"``), the build's token (``"podman-build"``) and its
    images (``"id"``); ``on_line`` sees each progress line. The caller removes ``.layout`` with
    :func:`remove_layout`. ``MultiPlatformUnsupported`` when the engine cannot do it,
    ``BuildError`` otherwise, in one line (plus the build log's tail for a failing Dockerfile)."""
    spec.check_paths()
    wanted = check_platforms(spec, platforms)
    info = engine.info()
    builder: _Podman | _Buildx = (
        _Podman(record, on_line) if info.name == "podman" else _Buildx(buildx_builder, on_line)
    )
    builder.check(engine, info)
    layout = Path(tempfile.mkdtemp(prefix=LAYOUT_PREFIX))
    if record is not None:
        record("dir", str(layout))
    try:
        builder.build(engine, spec, wanted, layout)
    except BaseException:
        remove_layout(layout)
        raise
    return PlatformBuild(layout, wanted, builder.name)


def push_platforms(
    engine: Engine,
    spec: BuildSpec,
    platforms: Sequence[str],
    ref: str,
    *,
    plain_http: bool = False,
    buildx_builder: str | None = None,
    record: Record | None = None,
    on_line: LineSink | None = None,
) -> PlatformBuild:
    """Build ``spec`` for every one of ``platforms`` and push the index to the registry reference
    ``ref`` (``host/repo:tag``): ``docker buildx build --output type=image,name=REF,push=true``
    (the docker driver's local name for it is removed again), or on Podman ``podman manifest push
    --all`` (``plain_http``: ``--tls-verify=false``, for a loopback or insecure registry). Nothing
    is written to disk and nothing is left on the engine; ``record`` notes ``ref`` (``"pushed"``)
    before the push. What the registry holds afterwards is the caller's to delete.
    ``MultiPlatformUnsupported`` / ``BuildError`` in one line, as :func:`build_platforms`; a
    registry that refuses the push names the registry and how to fix it."""
    spec.check_paths()
    wanted = check_platforms(spec, platforms)
    info = engine.info()
    if info.name == "podman":
        podman = _Podman(record, on_line)
        podman.check(engine, info)
        if record is not None:
            record("pushed", ref)
        podman.push(engine, spec, wanted, ref, tls=not plain_http)
        return PlatformBuild(Path(), wanted, podman.name, pushed=ref)
    buildx = _Buildx(buildx_builder, on_line)
    buildx.pushing = True
    buildx.check(engine, info)
    if record is not None:
        record("pushed", ref)
    buildx.push(engine, spec, wanted, ref)
    return PlatformBuild(Path(), wanted, buildx.name, pushed=ref)


_REFUSED = re.compile(
    r"401|403|unauthori[sz]ed|denied|forbidden|authentication required|no basic auth|"
    r"connection refused|no such host|i/o timeout|dial tcp|server gave HTTP response|"
    r"certificate|x509|failed to push|push access|error pushing",
    re.IGNORECASE,
)
_LOGIN = re.compile(r"401|403|unauthori[sz]ed|denied|forbidden|authentication|no basic auth", re.I)
_UNREACHABLE = re.compile(r"connection refused|no such host|i/o timeout|dial tcp", re.I)


def push_refusal(
    spec: BuildSpec, platforms: Sequence[str], ref: str, lines: Sequence[str], tool: str = "docker"
) -> BuildError | None:
    """The one line for a push the registry refused or that never reached it (login, address,
    TLS), or None when the lines show another failure (a failing Dockerfile). ``tool`` is the
    command whose ``login`` the pushing side reads (``docker`` or ``podman``)."""
    said = next((line for line in reversed(lines) if _REFUSED.search(line)), None)
    if said is None:
        return None
    registry = ref.split("/", 1)[0]
    said = " ".join(said.replace("ERROR:", "").split())
    login = _LOGIN.search(said)
    said = said if len(said) <= 200 else "…" + said[-199:]  # the end says what the registry answered
    if login:
        fix = f"run `{tool} login {registry}` with an account that may push there, or change --image-push-to"
    elif _UNREACHABLE.search(said):
        fix = f"check the --image-push-to value: no registry answers at {registry}"
    else:
        fix = "check the --image-push-to value and that the registry accepts pushes over this connection"
    return BuildError(
        f"pushing the {','.join(platforms)} build of {spec.dockerfile} to registry {registry} failed "
        f"({said}): {fix}"
    )


def _build_args(spec: BuildSpec) -> list[str]:
    args = ["--file", str(spec.dockerfile), "--label", f"{LABEL}=true"]
    if spec.target:
        args += ["--target", spec.target]
    for key, value in spec.build_args:
        args += ["--build-arg", f"{key}={value}"]
    return args


class _Buildx:
    """``docker buildx build --output type=oci``: no image reaches the engine's store."""

    def __init__(self, builder: str | None, on_line: LineSink | None) -> None:
        self._builder = builder
        self._on_line = on_line
        self.name = "buildx"
        self._cli = ""
        self.stores_locally = False
        self.pushing = False  # to a registry, not into an OCI layout

    def _env(self, engine: Engine) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": engine.address}

    def driver(self, engine: Engine) -> str:
        """The buildx driver of the builder the build would use (``docker``, ``docker-container``,
        ``kubernetes``, ``remote``)."""
        command = [self._cli, "buildx", "inspect"] + ([self._builder] if self._builder else [])
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=self._env(engine))
        except (OSError, subprocess.SubprocessError) as exc:
            raise BuildError(f"`docker buildx inspect` could not run ({exc}); check the docker CLI") from None
        for line in done.stdout.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Driver":
                return value.strip()
        said = (done.stderr.strip().splitlines() or ["no Driver line"])[-1]
        builder = self._builder or os.environ.get("BUILDX_BUILDER") or "the current builder"
        raise BuildError(
            f"`docker buildx inspect` did not name the driver of {builder}: {said}; "
            "check --image-buildx-builder / BUILDX_BUILDER (docker buildx ls lists the builders)"
        )

    def check(self, engine: Engine, info: EngineInfo) -> None:
        cli = shutil.which("docker")
        problem = buildx_available(cli)
        if problem is not None or cli is None:
            raise MultiPlatformUnsupported(
                f"a multi-platform build needs docker buildx: {problem}; install docker-buildx"
            )
        self._cli = cli
        driver = self.driver(engine)
        self.name = f"buildx ({driver} driver)"
        self.stores_locally = driver == "docker"  # its image exporter also names the image there
        refusal = oci_export_refusal(info, driver)
        if refusal is not None and self.pushing:
            refusal = refusal.replace("cannot export an OCI layout", "cannot push a multi-platform image")
        if refusal is not None:
            raise MultiPlatformUnsupported(refusal)

    def command(self, spec: BuildSpec, platforms: tuple[str, ...], output: str) -> list[str]:
        command = [self._cli, "buildx", "build", "--progress=plain", "--provenance=false"]
        command += ["--platform", ",".join(platforms), "--output", output]
        if self._builder:
            command += ["--builder", self._builder]
        return [*command, *_build_args(spec), str(spec.context)]

    def build(self, engine: Engine, spec: BuildSpec, platforms: tuple[str, ...], layout: Path) -> None:
        lines: deque[str] = deque(maxlen=400)

        def seen(line: str) -> None:
            lines.append(line)
            if self._on_line is not None:
                self._on_line(line)

        output = f"type=oci,tar=false,dest={layout}"
        code = run_streaming(self.command(spec, platforms, output), self._env(engine), seen)
        if code == 0 and (layout / "index.json").is_file():
            return
        self._failed(engine, spec, lines)

    def push(self, engine: Engine, spec: BuildSpec, platforms: tuple[str, ...], ref: str) -> None:
        """Build and push to ``ref``; the docker driver's image exporter also names the image in
        the engine's store: that name is removed again, whatever happens."""
        lines: deque[str] = deque(maxlen=400)

        def seen(line: str) -> None:
            lines.append(line)
            if self._on_line is not None:
                self._on_line(line)

        output = f"type=image,name={ref},push=true"
        try:
            code = run_streaming(self.command(spec, platforms, output), self._env(engine), seen)
            if code == 0:
                return
            pushing = any("push" in line.lower() for line in lines)  # else the build failed
            refused = push_refusal(spec, platforms, ref, lines) if pushing else None
            if refused is not None:
                raise refused
            self._failed(engine, spec, lines)
        finally:
            if self.stores_locally:
                with contextlib.suppress(ImageSizeError):
                    engine.remove_image(ref)

    def _failed(self, engine: Engine, spec: BuildSpec, lines: deque[str]) -> None:
        step, error = buildkit_failure(list(lines))
        try:
            engine.image_ids()  # a dead engine is not a build failure
        except EngineUnavailable as exc:
            raise engine_died(spec, self.name, exc) from None
        raise BuildError(failure_message(spec, error, list(lines), step))


class _Podman:
    """``podman build --manifest`` and ``podman manifest push --all LIST oci:DIR``; the list and
    the images the build made are removed afterwards, also when it fails or is interrupted."""

    name = "podman"

    def __init__(self, record: Record | None, on_line: LineSink | None) -> None:
        self._record = record
        self._on_line = on_line
        self._cli = ""
        self._build_platform = ""
        self._push_to: tuple[str, str] | None = None

    def check(self, engine: Engine, info: EngineInfo) -> None:
        cli = shutil.which("podman")
        if cli is None:
            raise MultiPlatformUnsupported(
                "a multi-platform build on Podman runs the podman CLI, which is not on PATH; "
                "install podman on the machine that runs the Podman service"
            )
        if not engine.address.startswith("unix://"):
            raise MultiPlatformUnsupported(
                f"a multi-platform build on Podman runs the podman CLI on this machine's image store; "
                f"the engine at {engine.address} is not local: point DOCKER_HOST at a local Podman socket"
            )
        self._cli = cli
        arch = _GO_ARCH.get(info.arch or "", info.arch)
        self._build_platform = f"linux/{arch}" if arch else ""  # Podman runs Linux containers

    def _podman(self, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([self._cli, *args], capture_output=True, text=True, timeout=PODMAN_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise BuildError(
                f"`podman {args[0] if args else ''}` did not finish within {PODMAN_TIMEOUT} s: "
                "check `podman ps --external` for a hung build and that the Podman store answers"
            ) from None

    def build(self, engine: Engine, spec: BuildSpec, platforms: tuple[str, ...], layout: Path) -> None:
        listed = f"localhost/{REPOSITORY_PREFIX}platforms:{spec.key()}-{os.getpid()}-{secrets.token_hex(4)}"
        lines: deque[str] = deque(maxlen=400)
        ids: list[str] = []
        step: list[str] = []

        def seen(line: str) -> None:
            lines.append(line)
            if match := _PODMAN_ID.match(line.strip()):
                ids.append(match.group(1) or match.group(2))
                if self._record is not None:
                    self._record("id", ids[-1])
            elif match := _PODMAN_STEP.match(line):
                step[:] = [f"{match.group(1)} {match.group(2).strip()}"]
            if self._on_line is not None:
                self._on_line(line)

        token = secrets.token_hex(8)  # marks this build's containers (an interrupt leaves them)
        if self._record is not None:
            self._record("manifest", listed)
            self._record("podman-build", token)
        # --layers=false --no-cache: no step images, and buildah's layer cache does not tell a
        # FROM scratch stage's platforms apart
        command = [self._cli, "build", "--layers=false", "--no-cache", "--platform", ",".join(platforms)]
        command += ["--manifest", listed, *_build_args(spec)]
        if "BUILDPLATFORM" not in dict(spec.build_args) and self._build_platform:
            # Podman 4.3's buildah leaves BUILDPLATFORM empty in `FROM --platform=$BUILDPLATFORM`
            # (the stage would be built for the target platform): name the engine's own
            command += ["--build-arg", f"BUILDPLATFORM={self._build_platform}"]
        command += ["--build-arg", f"{BUILD_TOKEN_ARG}={token}", str(spec.context)]
        try:
            code = run_streaming(command, dict(os.environ), seen)
            if code != 0:
                error = next(
                    (line for line in reversed(lines) if line.startswith(("Error:", "error"))),
                    "podman build failed",
                )
                raise BuildError(failure_message(spec, error, list(lines), step[0] if step else None))
            if self._push_to is not None:
                ref, tls = self._push_to
                pushed = self._podman(
                    "manifest", "push", "--all", f"--tls-verify={tls}", listed, f"docker://{ref}"
                )
                refused = push_refusal(spec, platforms, ref, pushed.stderr.splitlines(), "podman")
                if pushed.returncode != 0 and refused is not None:
                    raise refused
            else:
                pushed = self._podman("manifest", "push", "--all", listed, f"oci:{layout}")
            if pushed.returncode != 0:
                said = (pushed.stderr.strip().splitlines() or ["no output"])[-1]
                raise BuildError(
                    f"podman manifest push of the {','.join(platforms)} build of {spec.dockerfile} "
                    f"to {self._push_to[0] if self._push_to else 'an OCI layout'} failed: {said}"
                )
        finally:
            self.remove(engine, listed, ids, token)

    def push(self, engine: Engine, spec: BuildSpec, platforms: tuple[str, ...], ref: str, tls: bool) -> None:
        """Build into a manifest list and ``podman manifest push --all`` it to ``ref``."""
        self._push_to = (ref, "true" if tls else "false")
        try:
            self.build(engine, spec, platforms, Path())
        finally:
            self._push_to = None

    def remove(self, engine: Engine, listed: str, ids: list[str], token: str) -> None:
        """The build's containers, the manifest list, then the images this build made (untagged
        ones only)."""
        remove_build_containers(token)
        remove_manifest_list(listed)
        with contextlib.suppress(ImageSizeError):
            remove_intermediates(engine, full_ids(engine, ids))
