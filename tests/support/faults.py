"""Helpers for the fault tests (tests/test_faults_*.py): disposable engines that can be killed, a
socket that never answers, polling with deadlines, and counting what a run printed and left
behind."""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import docker
import pytest

REPO = Path(__file__).resolve().parents[2]
ENGINE_DOCKERD = REPO / "scripts" / "engine-dockerd"
LABEL = "io.github.pytest-imagesize.managed"


# ---------------------------------------------------------------------------- names


def nonce() -> str:
    """A fixture name no other run uses: it is in our tag, and findable in the engine's images."""
    return f"fs{secrets.token_hex(5)}"


def sleep_seconds() -> str:
    """A sleep length no other process on the machine has on its command line."""
    return str(5000 + secrets.randbelow(90000))


# ---------------------------------------------------------------------------- waiting


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def pid_gone(pid: int) -> bool:
    """Gone, or a zombie nobody reaped yet (no parent of ours waits for it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def pids_with_args(*args: str) -> list[int]:
    """Processes whose command line contains every one of ``args`` as a whole argument."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = {a.decode("utf-8", "replace") for a in argv}
        if all(a in words for a in args) and not pid_gone(int(proc.name)):
            found.append(int(proc.name))
    return found


def pids_with_text(text: str) -> list[int]:
    """Processes whose command line contains ``text`` anywhere (e.g. a unique tag)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmdline and not pid_gone(int(proc.name)):
            found.append(int(proc.name))
    return found


def kill_pids(pids: Sequence[int]) -> None:
    """End processes this test started (found by a unique argument), by pid."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------- output


class KnownBug(AssertionError):
    """Raised by the assertions a strict xfail(raises=KnownBug) expects to fail: any other failure
    of the same test (e.g. something left behind) still fails it."""


PODMAN_BUILD_GOES_ON = (
    "Podman 4.3's compat build API goes on with a build after its client disconnects and offers no "
    "way to stop it: the step image stays in use until that build ends. The plugin keeps its build "
    "record until everything is removed (session.cleanup), so the first run after the build ended "
    "removes it; this test's next run comes while the build may still be running"
)


def expect(condition: object, message: str) -> None:
    if not condition:
        raise KnownBug(message)


def lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


# ---------------------------------------------------------------------------- pytest runs


@dataclass
class Run:
    """A pytest subprocess started in the background; its output goes to a file."""

    process: subprocess.Popen[bytes]
    out: Path
    started: float = field(default_factory=time.monotonic)

    def wait(self, timeout: float = 180) -> tuple[int, str]:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"pytest did not end within {timeout:g} s:\n{self.text()[-3000:]}") from None
        return code, self.text()

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)


def start_pytest(cwd: Path, args: Sequence[str], env: dict[str, str] | None = None, name: str = "run") -> Run:
    """``python -m pytest ARGS`` in ``cwd`` (no cache provider, no short summary: each error is
    printed once, in its own section)."""
    out = cwd / f".{name}.out"
    handle: IO[bytes]
    with open(out, "wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rN", *args],
            cwd=cwd,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
    return Run(process, out)


def run_pytest(
    cwd: Path, args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 180, name: str = "run"
) -> tuple[int, str, float]:
    run = start_pytest(cwd, args, env, name)
    code, text = run.wait(timeout)
    return code, text, time.monotonic() - run.started


def next_run(pytester: pytest.Pytester, engine_env: dict[str, str], busybox: str) -> None:
    """The next run after a crash: any run that reaches the engine sweeps dead runs' records."""
    (pytester.path / "next").mkdir(exist_ok=True)
    (pytester.path / "next" / "test_next.py").write_text(
        "from pytest_imagesize import existing_image\n"
        f"base = existing_image({busybox!r})\n\n"
        "def test_base(base):\n    assert base.size > 0\n"
    )
    code, text, _ = run_pytest(pytester.path / "next", [], engine_env, name="next")
    assert code == 0, text


# ---------------------------------------------------------------------------- engines


def image_list(client: docker.DockerClient) -> list[tuple[str, list[str]]]:
    """(ID, tags) of every image, intermediates too, from one list call: other runs on a shared
    engine remove images meanwhile, which docker-py's ``images.list()`` (a get per image) trips on."""
    listed: list[dict[str, Any]] = client.api.images(all=True)
    return [(str(i["Id"]), [t for t in i.get("RepoTags") or [] if t != "<none>:<none>"]) for i in listed]


def _names(client: docker.DockerClient, image_id: str, tags: list[str], marker: str) -> bool:
    """Whether a tag of ours or the image's history names ``marker``."""
    if any("pytest-imagesize/" in t and marker in t for t in tags):
        return True
    try:
        history: list[dict[str, Any]] = client.api.history(image_id)  # type: ignore[no-untyped-call]
    except (docker.errors.NotFound, docker.errors.APIError):
        return False
    return any(marker in str(step.get("CreatedBy", "")) for step in history)


def our_leftovers(client: docker.DockerClient, marker: str) -> list[str]:
    """What a run whose fixture names or Dockerfile steps contain ``marker`` left on the engine:
    tags ``pytest-imagesize/*marker*``, and images (tagged or not) whose history names ``marker``."""
    return [
        f"{image_id[:19]} {', '.join(tags) or '(untagged)'}"
        for image_id, tags in image_list(client)
        if _names(client, image_id, tags, marker)
    ]


def remove_ours(client: docker.DockerClient, marker: str) -> None:
    """Remove (by ID) the images a test made: tagged with ``marker`` or naming it in their history."""
    for image_id, tags in image_list(client):
        if _names(client, image_id, tags, marker):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                client.images.remove(image_id, force=True)


def busybox_tar() -> bytes:
    """Debian's static busybox as a root filesystem (for ``docker import``)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add("/bin/busybox", arcname="bin/busybox")
        for applet in ("sh", "sleep", "echo", "true"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        for directory in ("tmp", "etc", "proc", "sys", "dev"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
    return buffer.getvalue()


def import_busybox(client: docker.DockerClient, ref: str) -> str:
    """Import busybox under ``ref``; returns the name to use in FROM."""
    repository, tag = ref.split(":")
    answer = client.api.import_image_from_data(busybox_tar(), repository=repository, tag=tag)
    image_id = json.loads(answer.strip().splitlines()[-1]).get("status", "")
    image_id = json.loads(answer.strip().splitlines()[-1]).get("id") or image_id
    client.api.tag(image_id, repository, tag)
    return next(t for t in client.images.get(image_id).tags if t.endswith(ref))


class DisposableEngine:
    """An engine of our own that a test may kill (SIGKILL) and start again with the same storage."""

    kind: str  # "docker" or "podman"
    address: str
    busybox: str = ""  # the FROM name of busybox on this engine, once imported
    dockerd_problem: str = ""  # why a private dockerd could not be had (a Podman stand-in)
    markers: list[str]  # the nonces of the tests that used it (what to tidy on a shared store)

    def start(self) -> None:
        raise NotImplementedError

    @property
    def pid(self) -> int:
        raise NotImplementedError

    def restart(self) -> None:
        """Down (killed if still up), then up again with the same storage and address."""
        self.crash()
        self.start()

    def crash(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def client(self) -> Iterator[docker.DockerClient]:
        client = docker.DockerClient(base_url=self.address, timeout=60)
        try:
            yield client
        finally:
            client.close()

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.address}


def dockerd_unusable() -> str | None:
    """Why scripts/engine-dockerd cannot give this test a private engine, or None."""
    if not ENGINE_DOCKERD.exists():
        return f"{ENGINE_DOCKERD} is missing"
    if os.geteuid() != 0:
        return "scripts/engine-dockerd needs root (its own dockerd and network namespace)"
    for tool in ("ip", "nsenter", "unshare", "apt-get", "dpkg-deb", "docker"):
        if shutil.which(tool) is None:
            return f"scripts/engine-dockerd needs {tool}, which is missing"
    return None


FLAVOUR = "docker-overlay2"


class PrivateDockerd(DisposableEngine):
    """A current dockerd from ``scripts/engine-dockerd start docker-overlay2`` with a data root of
    our own, started in a mount namespace of its own whose /run/pytest-imagesize and /run/netns are
    private tmpfs: the script's exec root, socket and network namespace never meet those of other
    runs on the machine (no lock is needed), and whatever the engine mounts (also what a killed one
    leaves mounted) goes away with the namespace. Clients reach the socket through
    ``/proc/PID/root``, by a symlink of ours that keeps one address across restarts."""

    kind = "docker"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data_root = directory / "data"
        self.link = directory / "docker.sock"
        self.address = f"unix://{self.link}"
        self.mount_ns = ""
        self.markers = []

    @property
    def pid(self) -> int:
        return int((self.directory / "dockerd.pid").read_text())

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "IMAGESIZE_STATE_DIR": str(self.directory),
            "IMAGESIZE_ENGINE_DATA_ROOT": str(self.data_root),
        }

    def start(self) -> None:
        """Raises RuntimeError saying why the engine could not start."""
        script = (
            "mkdir -p /run/netns /run/pytest-imagesize "
            "&& mount -t tmpfs imagesize-faults /run/pytest-imagesize "
            f"&& mount -t tmpfs imagesize-faults /run/netns && exec {ENGINE_DOCKERD} start {FLAVOUR}"
        )
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0 or not (self.directory / "dockerd.pid").exists():
            self._end_namespace()
            said = (done.stderr or done.stdout).strip()[-500:]
            raise RuntimeError(f"scripts/engine-dockerd start {FLAVOUR} failed: {said}")
        pid = self.pid
        self.mount_ns = os.readlink(f"/proc/{pid}/ns/mnt")
        link = self.directory / "docker.sock.new"
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to(f"/proc/{pid}/root/run/pytest-imagesize/{FLAVOUR}/docker.sock")
        os.replace(link, self.link)

    def _in_namespace(self) -> list[int]:
        """The processes of our mount namespace: dockerd, containerd, shims (all started by us)."""
        if not self.mount_ns:
            return []
        found = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    if os.readlink(proc / "ns" / "mnt") == self.mount_ns and not pid_gone(int(proc.name)):
                        found.append(int(proc.name))
        return found

    def _end_namespace(self) -> None:
        left = self._in_namespace()
        kill_pids(left)
        wait_for(
            lambda: all(pid_gone(pid) for pid in left), 30, f"processes {left} of the private engine to end"
        )
        with contextlib.suppress(FileNotFoundError):
            (self.directory / "dockerd.pid").unlink()

    def crash(self) -> None:
        """SIGKILL dockerd, as a crash would (unless it is down already), then what it started."""
        with contextlib.suppress(OSError, ValueError):
            pid = self.pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            wait_for(lambda: pid_gone(pid), 30, f"dockerd {pid} to die")
        self._end_namespace()

    def stop(self) -> None:
        """``scripts/engine-dockerd stop`` inside the engine's mount namespace; then its remains."""
        with contextlib.suppress(OSError, ValueError):
            subprocess.run(
                ["nsenter", f"--mount=/proc/{self.pid}/ns/mnt", str(ENGINE_DOCKERD), "stop"],
                env=self._env(),
                capture_output=True,
                timeout=120,
            )
        self._end_namespace()


class PrivatePodman(DisposableEngine):
    """``podman system service`` on a socket of our own (Podman's storage is the machine's)."""

    kind = "podman"

    def __init__(self, directory: Path) -> None:
        self.sock = directory / "podman.sock"
        self.address = f"unix://{self.sock}"
        self.process: subprocess.Popen[bytes] | None = None
        self.markers = []

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.sock.unlink()
        self.process = subprocess.Popen(
            ["podman", "system", "service", "--time=0", self.address],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def answers() -> bool:
            try:
                with self.client() as client:
                    return bool(client.ping())
            except Exception:  # not up yet
                return False

        wait_for(answers, 30, "podman system service to answer")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def crash(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ---------------------------------------------------------------------------- a hung engine


@contextlib.contextmanager
def hung_socket(path: Path) -> Iterator[str]:
    """A unix socket that accepts connections and never answers; yields its DOCKER_HOST."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            held.append(connection)  # read nothing, answer nothing

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"unix://{path}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        server.close()
