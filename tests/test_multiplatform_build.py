"""Multi-platform builds into an OCI layout (engine/multiplatform.py) against the suite's engine:
two platform manifests with each platform's own files, nothing left on the engine or on disk,
also after a failed build and after SIGTERM or Ctrl-C mid-build. Where the engine cannot export
an OCI layout (buildx's docker driver on Docker's classic image store) the one-line refusal."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagesize.engine.build import BuildSpec
from pytest_imagesize.engine.docker_api import DockerEngine
from pytest_imagesize.engine.leftovers import BuildRecord, sweep
from pytest_imagesize.engine.multiplatform import LAYOUT_PREFIX, build_platforms, remove_layout
from pytest_imagesize.errors import BuildError

from .support.faults import nonce, pids_with_args, sleep_seconds, wait_for

pytestmark = pytest.mark.engine

PLATFORMS = ["linux/amd64", "linux/arm64"]
PAYLOAD = {"amd64": 1000, "arm64": 3000}  # bytes of each platform's own file
# The build stage runs on the build platform; the target stage only copies (no emulation here).
DOCKERFILE = """\
FROM --platform=$BUILDPLATFORM scratch AS build
COPY payload-* /out/
FROM scratch
ARG TARGETARCH
COPY --from=build /out/payload-${TARGETARCH} /payload
"""


@pytest.fixture(scope="module")
def engine() -> Iterator[DockerEngine]:
    connected = DockerEngine.connect()
    yield connected
    connected.close()


def refusal_expected(engine: DockerEngine) -> bool:
    """buildx's docker driver on Docker's classic image store: no OCI export."""
    info = engine.info()
    if info.name != "docker" or info.image_store == "containerd":
        return False
    done = subprocess.run(
        ["docker", "buildx", "inspect"],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_HOST": engine.address},
    )
    drivers = [
        line.partition(":")[2].strip() for line in done.stdout.splitlines() if line.startswith("Driver:")
    ]
    return drivers[:1] == ["docker"]


@pytest.fixture
def exporting(engine: DockerEngine) -> DockerEngine:
    if refusal_expected(engine):
        pytest.skip("buildx's docker driver on the classic image store exports no OCI layout")
    if engine.info().name == "podman" and not shutil.which("podman"):
        pytest.fail("the podman CLI is needed for multi-platform builds on Podman")
    return engine


def project(directory: Path, dockerfile: str = DOCKERFILE) -> BuildSpec:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text(dockerfile)
    for arch, size in PAYLOAD.items():
        (directory / f"payload-{arch}").write_bytes(nonce().encode().ljust(size, b"x"))
    return BuildSpec(directory / "Dockerfile", directory)


def podman_ids() -> set[str]:
    """Every image in Podman's store, manifest lists included (the Docker API lists no lists)."""
    done = subprocess.run(["podman", "images", "-a", "-q", "--no-trunc"], capture_output=True, text=True)
    return set(done.stdout.split())


def engine_state(engine: DockerEngine) -> set[str]:
    ids = engine.image_ids()
    return ids | podman_ids() if engine.info().name == "podman" else ids


def platform_payloads(layout: Path) -> dict[str, int]:
    """``{"linux/arm64": size of /payload}`` from the layout's index, through skopeo."""
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", f"oci:{layout}"], capture_output=True, text=True, check=True
    ).stdout
    index = json.loads(raw)
    found = {}
    for descriptor in index["manifests"]:
        platform = descriptor.get("platform") or {}
        if platform.get("os") == "unknown":
            continue  # an attestation
        manifest = json.loads((layout / "blobs" / "sha256" / descriptor["digest"][7:]).read_bytes())
        sizes = []
        for layer in manifest["layers"]:
            with tarfile.open(layout / "blobs" / "sha256" / layer["digest"][7:], "r:*") as tar:
                sizes += [member.size for member in tar.getmembers() if member.name.endswith("payload")]
        found[f"{platform['os']}/{platform['architecture']}"] = sum(sizes)
    return found


def test_two_platforms_into_an_oci_layout_and_nothing_left(exporting: DockerEngine, tmp_path: Path) -> None:
    spec = project(tmp_path / "context")
    before = engine_state(exporting)
    noted: list[tuple[str, str]] = []
    built = build_platforms(
        exporting, spec, PLATFORMS, record=lambda kind, value: noted.append((kind, value))
    )
    try:
        assert built.platforms == tuple(PLATFORMS)
        assert built.layout.name.startswith(LAYOUT_PREFIX)
        assert ("dir", str(built.layout)) in noted
        assert platform_payloads(built.layout) == {"linux/amd64": 1000, "linux/arm64": 3000}
        assert engine_state(exporting) - before == set()
    finally:
        remove_layout(built.layout)
    assert not built.layout.exists()


def test_a_failing_build_leaves_nothing_and_says_where(exporting: DockerEngine, tmp_path: Path) -> None:
    spec = project(tmp_path / "context", DOCKERFILE + "COPY missing-file /missing\n")
    before = engine_state(exporting)
    noted: list[tuple[str, str]] = []
    with pytest.raises(BuildError) as caught:
        build_platforms(exporting, spec, PLATFORMS, record=lambda kind, value: noted.append((kind, value)))
    head = str(caught.value).splitlines()[0]
    assert head.startswith(f"build of {spec.dockerfile}"), head
    assert "missing-file" in str(caught.value)
    assert engine_state(exporting) - before == set()
    dirs = [value for kind, value in noted if kind == "dir"]
    assert dirs and not any(Path(d).exists() for d in dirs)


DRIVER = """\
import json, signal, sys
from pathlib import Path
from pytest_imagesize.engine.build import BuildSpec
from pytest_imagesize.engine.docker_api import DockerEngine
from pytest_imagesize.engine.leftovers import BuildRecord, sweep
from pytest_imagesize.engine.multiplatform import build_platforms, remove_layout

def interrupt(signum, frame):
    raise KeyboardInterrupt
signal.signal(signal.SIGTERM, interrupt)  # as the plugin does: SIGTERM is handled like Ctrl-C

def noted(kind, value):
    print(json.dumps([kind, value]), flush=True)

def line(text):
    print(json.dumps(["line", text]), flush=True)

context = Path(sys.argv[1])
try:
    built = build_platforms(DockerEngine.connect(), BuildSpec(context / "Dockerfile", context),
                            ["linux/amd64", "linux/arm64"], record=noted, on_line=line)
    remove_layout(built.layout)
except KeyboardInterrupt:
    print(json.dumps(["interrupted", ""]), flush=True)
    sys.exit(130)
"""


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_interrupted_mid_build_leaves_nothing(
    exporting: DockerEngine, tmp_path: Path, busybox_image: str, sent: signal.Signals
) -> None:
    if exporting.info().name == "podman":
        pytest.skip("the podman CLI runs no RUN step on this machine's crun; the build is too short to stop")
    seconds = sleep_seconds()
    spec = project(
        tmp_path / "context",
        f"FROM --platform=$BUILDPLATFORM {busybox_image} AS build\n"
        f"RUN sleep {seconds} && touch /done\n"
        "FROM scratch\nCOPY --from=build /done /done\n",
    )
    before = engine_state(exporting)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    process = subprocess.Popen(
        [sys.executable, str(driver), str(spec.context)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "DOCKER_HOST": exporting.address},
    )
    assert process.stdout is not None
    dirs = []
    for text in process.stdout:  # each line as the build writes it: wait for the sleep to start
        kind, value = json.loads(text)
        if kind == "dir":
            dirs.append(value)
        if kind == "line" and f"RUN sleep {seconds}" in value and "DONE" not in value:
            break
    else:
        pytest.fail(f"the build ended before its RUN sleep started (exit {process.wait()})")
    wait_for(lambda: pids_with_args("sleep", seconds), 60, "the build's sleep to run")
    process.send_signal(sent)
    rest = process.stdout.read()
    assert process.wait() == 130, rest
    assert '["interrupted", ""]' in rest
    assert dirs and not any(Path(d).exists() for d in dirs)
    wait_for(lambda: not pids_with_args("sleep", seconds), 60, "BuildKit to stop the RUN step")
    assert engine_state(exporting) - before == set()


def test_classic_store_refuses_in_one_line(engine: DockerEngine, tmp_path: Path) -> None:
    if not refusal_expected(engine):
        pytest.skip("this engine's builder exports OCI layouts (containerd store, Podman or another driver)")
    spec = project(tmp_path / "context")
    with pytest.raises(BuildError) as caught:
        build_platforms(engine, spec, PLATFORMS)
    message = str(caught.value)
    assert "\n" not in message
    assert "needs buildx with the containerd image store (dockerd features.containerd-snapshotter)" in message


def test_a_killed_runs_manifest_list_is_swept(engine: DockerEngine, tmp_path: Path) -> None:
    if engine.info().name != "podman":
        pytest.skip("manifest lists of ours are made on Podman only")
    listed = f"localhost/pytest-imagesize/platforms:{nonce()}"
    subprocess.run(["podman", "manifest", "create", listed], capture_output=True, check=True)
    gone = subprocess.Popen(["true"])
    gone.wait()  # a run whose process is gone
    record = BuildRecord(engine.address, (gone.pid,), tmp_path)
    record.add("manifest", listed)
    try:
        sweep(engine, tmp_path)
        exists = subprocess.run(["podman", "manifest", "exists", listed], capture_output=True)
        assert exists.returncode != 0, f"{listed} was not swept"
        assert not record.path.exists()
    finally:
        subprocess.run(["podman", "manifest", "rm", listed], capture_output=True)
