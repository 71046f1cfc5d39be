"""Where the engine is, how long to wait for it, and how its answers read: what the docker-py
engine and the quick engine share, with no docker-py import (the CLI's size check starts fast).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from typing import Any

from ..errors import EngineUnavailable, ImageNotFound, ImageSizeError
from ..ids import short_id
from .protocol import EngineInfo, ImageStore

DEFAULT_ADDRESS = "unix:///var/run/docker.sock"
DEFAULT_CONNECT_TIMEOUT = 10.0  # seconds for the first contact (ping, version)
FIX_HINT = "start an engine (systemctl start docker, or dockerd as root) or set DOCKER_HOST to one that runs"
CONTAINERD_SNAPSHOTTER = "io.containerd.snapshotter"


def engine_address(environ: Mapping[str, str] | None = None) -> str:
    """The address docker-py's ``from_env`` will use."""
    env = os.environ if environ is None else environ
    return env.get("DOCKER_HOST") or DEFAULT_ADDRESS


def connect_timeout(environ: Mapping[str, str] | None = None) -> float:
    """Seconds to wait for the first answer: ``IMAGESIZE_ENGINE_TIMEOUT`` or 10."""
    env = os.environ if environ is None else environ
    text = env.get("IMAGESIZE_ENGINE_TIMEOUT")
    if not text:
        return DEFAULT_CONNECT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 86400:
        raise ImageSizeError(
            f"IMAGESIZE_ENGINE_TIMEOUT={text!r} is not a number of seconds: "
            "set e.g. IMAGESIZE_ENGINE_TIMEOUT=10"
        )
    return value


def root_cause(exc: BaseException) -> str:
    """A short reason for a connection failure, without the urllib3 noise."""
    seen: set[int] = set()
    current: BaseException | None = exc
    deepest_os_error: OSError | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FileNotFoundError):
            return "no socket at that path"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, PermissionError):
            return "permission denied on the socket"
        if isinstance(current, TimeoutError) or type(current).__name__ in ("ReadTimeout", "ReadTimeoutError"):
            return "no answer: timed out"
        if type(current) is OSError:
            deepest_os_error = current
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException) and id(arg) not in seen:
                current = arg
                break
        else:
            current = current.__cause__ or current.__context__
    if deepest_os_error is not None:
        if "AF_UNIX path too long" in str(deepest_os_error):
            return "the socket path is longer than a unix socket address allows (107 bytes)"
        return str(deepest_os_error)[:200]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "Connection refused" in str(exc) or "ConnectionRefusedError" in str(exc):
        return "connection refused"
    if "FileNotFoundError" in str(exc) or "No such file" in str(exc):
        return "no socket at that path"
    if "timed out" in str(exc).lower():
        return "no answer: timed out"
    if "Connection aborted" in str(exc) or "RemoteDisconnected" in str(exc):
        return "the connection was closed"
    return text[:200]


def _not_a_socket(address: str) -> str | None:
    """What a ``unix://`` address names when that is something other than a socket."""
    if not address.startswith("unix://"):
        return None
    path = address[len("unix://") :]
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISSOCK(mode):
        return None
    return (
        "a directory" if stat.S_ISDIR(mode) else "a regular file" if stat.S_ISREG(mode) else "a special file"
    )


def unanswered(address: str, wait: float, exc: BaseException | str) -> EngineUnavailable:
    """An engine that did not answer the first contact (``exc``: why, or the error)."""
    what = _not_a_socket(address)
    if what is not None:
        return EngineUnavailable(
            f"no container engine at {address}: {address[len('unix://') :]} is {what}, "
            f"not a socket: {FIX_HINT}",
            f"{what}, not a socket",
        )
    why = exc if isinstance(exc, str) else root_cause(exc)
    return EngineUnavailable(
        f"no container engine answers at {address} within {wait:g} s ({why}): {FIX_HINT}", why
    )


def engine_lost(address: str, doing: str, exc: BaseException) -> EngineUnavailable:
    """An engine that stopped answering while ``doing``."""
    why = root_cause(exc)
    return EngineUnavailable(f"lost the container engine at {address} while {doing} ({why}): {FIX_HINT}", why)


def image_absent(ref: str, address: str) -> str:
    """The line for an image the engine does not have."""
    return (
        f"image {ref!r} is not present on the engine at {address}: build or "
        f"pull it before the tests run (check with: docker image inspect {ref})"
    )


def save_refused(image_id: str, explanation: str, present: bool) -> ImageSizeError | None:
    """Why the engine refused to export an image (``explanation``: the first line of its answer;
    ``present``: the image is still there), or None when the engine's own words must do."""
    if not present:  # Docker answers 500, not 404, for an image deleted since it was measured
        return ImageNotFound(
            "disappeared from the engine before its archive could be read; keep it until the tests end"
        )
    text = explanation.lower()
    if "platform" in text or "content digest" in text or "not found" in text:
        return ImageSizeError(
            f"the engine cannot export image {short_id(image_id)} ({explanation}): on the containerd "
            "image store every platform of a multi-platform image must be present; pull it "
            "with --platform for your architecture or build it for one platform"
        )
    return None


def image_store(name: str, info: Mapping[str, Any]) -> ImageStore:
    """Which image store the engine's ``/info`` answer describes."""
    if name == "podman":
        return "podman"
    status = info.get("DriverStatus") or []
    for pair in status:
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and CONTAINERD_SNAPSHOTTER in str(pair[1]):
            return "containerd"
    return "graphdriver" if info.get("Driver") else "unknown"


def engine_info(version: Mapping[str, Any], info: Mapping[str, Any], address: str) -> EngineInfo:
    """The engine described by its ``/version`` and ``/info`` answers."""
    names = [str(c.get("Name", "")) for c in version.get("Components") or [] if isinstance(c, Mapping)]
    name = "podman" if any("podman" in n.lower() for n in names) else "docker"
    return EngineInfo(
        name=name,
        version=str(version.get("Version", "?")),
        storage_driver=info.get("Driver"),
        arch=version.get("Arch") or info.get("Architecture"),
        address=address,
        image_store=image_store(name, info),
    )
