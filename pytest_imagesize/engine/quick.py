"""An engine that answers the first questions of a size check itself — the engine's version and
image store, an image's inspect data and history — over the Engine API's local Unix socket, with
the standard library's HTTP client, and streams an image's archive the same way; everything
else (a build, events, a file of an image) goes to a :class:`DockerEngine` made on first need.

Importing docker-py (requests, urllib3) takes about a tenth of a second, most of what a passing
``pytest-imagesize check`` costs on a graph-driver engine, where the engine's own ``.Size`` is the
portable size and no archive is read. Only a plain Unix socket is answered here; any other
``DOCKER_HOST`` (tcp, ssh, TLS settings) goes to docker-py from the start.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from ..errors import ImageNotFound, ImageSizeError
from ..ids import engine_ref, short_id
from .address import (
    connect_timeout,
    engine_address,
    engine_info,
    engine_lost,
    image_absent,
    save_refused,
    unanswered,
)
from .protocol import Engine, EngineInfo

TLS_SETTINGS = ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
LONG_TIMEOUT = 600.0  # seconds, once the engine has answered (as docker_api's)
SAVE_CHUNK = 1 << 20  # bytes of the archive handed on at a time
MAX_ERROR_BODY = 64 << 10  # bytes of an error answer read for its message


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def socket_path(environ: Mapping[str, str] | None = None) -> str | None:
    """The Unix socket the quick engine may use, or None when docker-py must handle the address."""
    env = os.environ if environ is None else environ
    if any(env.get(name) for name in TLS_SETTINGS):
        return None
    address = engine_address(env)
    if not address.startswith("unix://"):
        return None
    path = address[len("unix://") :]
    return path or None


def connect(timeout: float | None = None) -> Engine:
    """The quick engine where the address is a local Unix socket, else the docker-py engine."""
    path = socket_path()
    if path is None:
        from .docker_api import DockerEngine

        return DockerEngine.connect(timeout)
    engine = QuickEngine(path, engine_address(), connect_timeout() if timeout is None else timeout)
    engine.info()  # the first contact: an engine that does not answer is said now, in one line
    return engine


class QuickEngine:
    """See the module's docstring."""

    def __init__(self, path: str, address: str, timeout: float) -> None:
        self._path = path
        self._address = address
        self._timeout = timeout
        self._connection: _UnixConnection | None = None
        self._info: EngineInfo | None = None
        self._full: Engine | None = None

    @property
    def address(self) -> str:
        return self._address

    def _get(self, path: str, doing: str, first: bool = False) -> tuple[int, Any]:
        """(status, decoded JSON body or None) of GET ``path``; engine faults as one-line errors.

        A kept-alive connection the engine has since closed is opened again once (an engine
        restart, an idle timeout); anything else, or a second failure, is the engine gone."""
        for attempt in (1, 2):
            reused = self._connection is not None
            try:
                if self._connection is None:
                    self._connection = _UnixConnection(self._path, self._timeout)
                self._connection.request("GET", path, headers={"Accept": "application/json"})
                response = self._connection.getresponse()
                body = response.read()
                break
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                stale = isinstance(
                    exc, (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)
                )
                if reused and stale and attempt == 1:
                    continue
                if first:
                    raise unanswered(self._address, self._timeout, exc) from None
                raise engine_lost(self._address, doing, exc) from None
            except BaseException:  # Ctrl-C mid-request: the connection's state is unknown
                self._drop()
                raise
        data: Any = None
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                data = None  # an error page, not JSON: the status says what happened
        return response.status, data

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _refused(self, status: int, data: Any, doing: str) -> ImageSizeError:
        message = data.get("message") if isinstance(data, dict) else None
        return ImageSizeError(f"the engine refused {doing}: {message or f'HTTP {status}'}")

    def info(self) -> EngineInfo:
        if self._info is None:
            doing = "reading the engine's version"
            status, version = self._get("/version", doing, first=True)
            if status != 200 or not isinstance(version, dict):
                what = f"HTTP {status} to GET /version, not an engine's answer"
                raise unanswered(self._address, self._timeout, what)
            # It answers: later calls (an inspect on a busy engine) may take their time.
            self._timeout = LONG_TIMEOUT
            if self._connection is not None and self._connection.sock is not None:
                self._connection.sock.settimeout(LONG_TIMEOUT)
            status, info = self._get("/info", doing)
            if status != 200 or not isinstance(info, dict):
                raise self._refused(status, info, doing)
            self._info = engine_info(version, info, self._address)
        return self._info

    def inspect_image(self, ref: str) -> dict[str, Any]:
        if not ref.strip():
            raise ImageNotFound("an empty image reference: name an image like 'myorg/app:ci'")
        doing = f"inspecting image {ref!r}"
        status, data = self._get(f"/images/{quote(engine_ref(ref), safe='/:@')}/json", doing)
        if status == 404:
            raise ImageNotFound(image_absent(ref, self._address))
        if status != 200 or not isinstance(data, dict):
            raise self._refused(status, data, doing)
        return data

    def image_manifests(self, ref: str) -> list[dict[str, Any]]:
        doing = f"listing the platforms of image {ref!r}"
        status, data = self._get(f"/images/{quote(ref, safe='/:@')}/json?manifests=1", doing)
        if status == 404:
            raise ImageNotFound(image_absent(ref, self._address))
        if status != 200 or not isinstance(data, dict):
            raise self._refused(status, data, doing)
        found = data.get("Manifests")
        return [entry for entry in found or [] if isinstance(entry, dict)]

    def history(self, image_id: str) -> list[dict[str, Any]]:
        doing = f"reading the history of image {image_id}"
        status, data = self._get(f"/images/{quote(image_id, safe='/:@')}/history", doing)
        if status != 200 or not isinstance(data, list):
            raise self._refused(status, data, doing)
        return [entry for entry in data if isinstance(entry, dict)]

    # ------------------------------------------------------------ the rest: docker-py's engine

    def _docker(self) -> Engine:
        if self._full is None:
            from .docker_api import DockerEngine

            self._full = DockerEngine.connect(connect_timeout())
        return self._full

    def save(self, image_id: str) -> Iterator[bytes]:
        """The image's archive as the engine streams it, on a connection of its own, closed when
        the stream ends, fails or is let go (a consumer that stops reading closes it)."""
        doing = f"saving image {short_id(image_id)}"
        connection = _UnixConnection(self._path, LONG_TIMEOUT)
        try:
            try:
                connection.request("GET", f"/images/{quote(image_id, safe='/:@')}/get")
                response = connection.getresponse()
                if response.status != 200:
                    body = response.read(MAX_ERROR_BODY)
            except (OSError, http.client.HTTPException) as exc:
                raise engine_lost(self._address, doing, exc) from None
            if response.status != 200:
                raise self._save_refused(image_id, response.status, body, doing)
            while True:
                try:
                    chunk = response.read(SAVE_CHUNK)
                    if not chunk and response.length:  # the engine closed before its Content-Length
                        raise http.client.IncompleteRead(b"", response.length)
                except (OSError, http.client.HTTPException) as exc:
                    raise engine_lost(self._address, doing, exc) from None
                if not chunk:
                    return
                yield chunk
        finally:
            connection.close()

    def _save_refused(self, image_id: str, status: int, body: bytes, doing: str) -> ImageSizeError:
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = None
        message = data.get("message") if isinstance(data, dict) else None
        lines = str(message or "").strip().splitlines()
        explanation = lines[0] if lines else f"HTTP {status}"
        # asked on a connection of its own: this runs in the thread that receives the archive
        asking = QuickEngine(self._path, self._address, LONG_TIMEOUT)
        try:
            asking.inspect_image(image_id)
            present = True
        except ImageNotFound:
            present = False
        finally:
            asking.close()
        refused = save_refused(image_id, explanation, present)
        return refused or ImageSizeError(f"the engine refused {doing}: {explanation}")

    def read_file(self, image_id: str, path: str, limit: int) -> bytes:
        return self._docker().read_file(image_id, path, limit)

    def remove_container(self, container_id: str) -> None:
        self._docker().remove_container(container_id)

    def image_ids(self) -> set[str]:
        return self._docker().image_ids()

    def remove_image(self, ref: str) -> None:
        self._docker().remove_image(ref)

    def build(
        self,
        *,
        context: str,
        dockerfile: str,
        tag: str,
        target: str | None,
        build_args: Mapping[str, str],
        labels: Mapping[str, str],
    ) -> Iterable[dict[str, Any]]:
        return self._docker().build(
            context=context,
            dockerfile=dockerfile,
            tag=tag,
            target=target,
            build_args=build_args,
            labels=labels,
        )

    def events(self, since: float, until: float, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self._docker().events(since, until, filters)

    def close(self) -> None:
        self._drop()
        if self._full is not None:
            self._full.close()
