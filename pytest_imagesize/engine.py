"""The container engine: connect through docker-py, describe it, and explain failures in one line."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import docker
import docker.errors
import requests

from .errors import EngineUnavailable, ImageSizeError

DEFAULT_ADDRESS = "unix:///var/run/docker.sock"
FIX_HINT = (
    "start an engine (systemctl start docker, or dockerd as root) or set "
    "DOCKER_HOST to one that runs; --image-skip-without-docker skips image tests instead"
)


@dataclass(frozen=True)
class EngineInfo:
    """What measured the images: sizes depend on the engine and its storage driver."""

    name: str
    version: str
    storage_driver: str | None
    arch: str | None
    address: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["address"]
        return data

    def describe(self) -> str:
        driver = f", {self.storage_driver}" if self.storage_driver else ""
        return f"{self.name} {self.version}{driver}, {self.arch or '?'}"


def engine_address(environ: Mapping[str, str] | None = None) -> str:
    """The address docker-py's ``from_env`` will use."""
    env = os.environ if environ is None else environ
    return env.get("DOCKER_HOST") or DEFAULT_ADDRESS


def root_cause(exc: BaseException) -> str:
    """A short reason for a connection failure, without the urllib3 noise."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FileNotFoundError):
            return "no socket at that path"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, PermissionError):
            return "permission denied on the socket"
        if isinstance(current, TimeoutError):
            return "timed out"
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException) and id(arg) not in seen:
                current = arg
                break
        else:
            current = current.__cause__ or current.__context__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for marker in ("ConnectionRefusedError", "Connection refused"):
        if marker in str(exc):
            return "connection refused"
    if "FileNotFoundError" in str(exc) or "No such file" in str(exc):
        return "no socket at that path"
    return text[:200]


def api(client: docker.DockerClient) -> Any:
    """docker-py's low-level API client (its stubs leave several calls untyped)."""
    return client.api


def connect(timeout: int = 600) -> docker.DockerClient:
    """A client for the engine at DOCKER_HOST (or the default socket) that has answered a ping."""
    address = engine_address()
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        raise EngineUnavailable(
            f"no container engine answers at {address} ({root_cause(exc)}): {FIX_HINT}"
        ) from None
    return client


def describe_engine(client: docker.DockerClient) -> EngineInfo:
    """Name, version, storage driver and architecture of the engine behind ``client``."""
    with engine_errors("reading the engine's version"):
        version: dict[str, Any] = client.version()
        info: dict[str, Any] = client.info()
    names = [str(c.get("Name", "")) for c in version.get("Components") or []]
    name = "podman" if any("podman" in n.lower() for n in names) else "docker"
    return EngineInfo(
        name=name,
        version=str(version.get("Version", "?")),
        storage_driver=info.get("Driver"),
        arch=version.get("Arch") or info.get("Architecture"),
        address=engine_address(),
    )


@contextmanager
def engine_errors(doing: str) -> Iterator[None]:
    """Turn docker-py, requests and socket errors raised while ``doing`` into one-line errors."""
    try:
        yield
    except ImageSizeError:
        raise
    except docker.errors.APIError as exc:
        explanation = exc.explanation or str(exc)
        if isinstance(explanation, bytes):
            explanation = explanation.decode("utf-8", "replace")
        raise ImageSizeError(f"the engine refused {doing}: {str(explanation).strip()}") from None
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        raise EngineUnavailable(
            f"lost the container engine at {engine_address()} while {doing} ({root_cause(exc)}): {FIX_HINT}"
        ) from None
