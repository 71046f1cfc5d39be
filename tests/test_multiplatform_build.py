"""Multi-platform builds into an OCI layout (engine/multiplatform.py) against the suite's engine:
two platform manifests with each platform's own files, nothing left on the engine or on disk,
also after a failed build and after SIGTERM or Ctrl-C mid-build. Where the engine cannot export
an OCI layout (buildx's docker driver on Docker's classic image store) the one-line refusal."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_imagesize.engine.build import BuildSpec
from pytest_imagesize.engine.docker_api import DockerEngine
from pytest_imagesize.engine.leftovers import BUILD_TOKEN_ARG, BuildRecord, sweep
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
from pytest_imagesize.engine.leftovers import BUILD_TOKEN_ARG, BuildRecord, sweep
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


@pytest.fixture
def stalling_server() -> Iterator[tuple[str, threading.Event]]:
    """An HTTP server on 127.0.0.1 whose one file never finishes downloading until the test ends:
    a build step that fetches it (``ADD http://...``) waits, with no code of a foreign platform
    run. Yields the URL and the event set when the download has begun."""
    begun, release = threading.Event(), threading.Event()

    class Stall(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            begun.set()
            release.wait(300)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stall)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/payload-{nonce()}", begun
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def podman_containers() -> set[str]:
    """Podman's containers, buildah's build containers included."""
    done = subprocess.run(
        ["podman", "ps", "-a", "-q", "--external", "--no-trunc"], capture_output=True, text=True
    )
    return set(done.stdout.split())


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_interrupted_mid_build_leaves_nothing(
    request: pytest.FixtureRequest, exporting: DockerEngine, tmp_path: Path, sent: signal.Signals
) -> None:
    podman = exporting.info().name == "podman"
    if podman:
        # a download that never ends: the podman CLI fetches from this machine's 127.0.0.1
        url, begun = request.getfixturevalue("stalling_server")
        dockerfile = f"FROM --platform=$BUILDPLATFORM scratch AS build\nADD {url} /payload\n"
    else:
        # a RUN on the build platform (BuildKit runs it in the engine's own network namespace)
        busybox = request.getfixturevalue("busybox_image")
        seconds = sleep_seconds()
        dockerfile = (
            f"FROM --platform=$BUILDPLATFORM {busybox} AS build\nRUN sleep {seconds} && touch /payload\n"
        )

        def started(value: str) -> bool:
            return f"RUN sleep {seconds}" in value and "DONE" not in value

    spec = project(tmp_path / "context", dockerfile + "FROM scratch\nCOPY --from=build /payload /payload\n")
    before = engine_state(exporting)
    containers = podman_containers() if podman else set()
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    process = subprocess.Popen(
        [sys.executable, str(driver), str(spec.context)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "DOCKER_HOST": exporting.address},
    )
    assert process.stdout is not None
    seen = []
    if podman:
        assert begun.wait(300), f"the build never began its download (exit {process.poll()})"
    else:
        for text in process.stdout:  # each line as the build writes it: wait for the step to start
            seen.append(text)
            if started(json.loads(text)[1]):
                break
        else:
            pytest.fail(f"the build ended before its long step started (exit {process.wait()})")
        wait_for(lambda: pids_with_args("sleep", seconds), 60, "the build's sleep to run")
    process.send_signal(sent)
    rest = process.stdout.read()
    assert process.wait() == 130, rest
    assert '["interrupted", ""]' in rest
    dirs = [value for kind, value in map(json.loads, seen + rest.splitlines()) if kind == "dir"]
    assert dirs and not any(Path(d).exists() for d in dirs)
    if not podman:
        wait_for(lambda: not pids_with_args("sleep", seconds), 60, "BuildKit to stop the RUN step")
    assert engine_state(exporting) - before == set()
    if podman:
        assert podman_containers() - containers == set()


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


def test_a_killed_podman_builds_containers_are_swept(
    engine: DockerEngine, tmp_path: Path, stalling_server: tuple[str, threading.Event]
) -> None:
    if engine.info().name != "podman":
        pytest.skip("build containers of ours are made on Podman only")
    url, begun = stalling_server
    spec = project(tmp_path / "context", f"FROM scratch\nADD {url} /payload\n")
    token = nonce()
    containers = podman_containers()
    build = subprocess.Popen(
        ["podman", "build", "--layers=false", "--build-arg", f"{BUILD_TOKEN_ARG}={token}", str(spec.context)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert begun.wait(300), "the build never began its download"
    os.killpg(build.pid, signal.SIGKILL)  # killed: no cleanup of its own
    build.wait()
    left = podman_containers() - containers
    assert left, "the killed build left no build container: nothing to sweep"
    gone = subprocess.Popen(["true"])
    gone.wait()  # a run whose process is gone
    record = BuildRecord(engine.address, (gone.pid,), tmp_path / "records")
    record.add("podman-build", token)
    try:
        sweep(engine, tmp_path / "records")
        assert podman_containers() - containers == set()
        assert not record.path.exists()
    finally:
        for container in left:
            subprocess.run(["podman", "rm", "-f", container], capture_output=True)
