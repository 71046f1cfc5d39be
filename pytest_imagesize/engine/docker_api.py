"""The engine seam implemented with docker-py: Docker (any image store) and Podman's compatible API.

Every docker-py, requests or socket error leaves this module as a one-line ``ImageSizeError``.
The first contact times out in seconds (a hung socket must not stall a run); long operations
(save, build) get a generous timeout of their own.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import docker
import docker.errors
import requests
import urllib3.exceptions

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
from .protocol import EngineInfo

T = TypeVar("T")
LONG_TIMEOUT = 600  # seconds for save, build and the like


def _explanation(exc: docker.errors.APIError) -> str:
    explanation = exc.explanation or str(exc)
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    lines = str(explanation).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextmanager
def engine_errors(doing: str, address: str | None = None) -> Iterator[None]:
    """Turn docker-py, requests and socket errors raised while ``doing`` into one-line errors."""
    try:
        yield
    except ImageSizeError:
        raise
    except docker.errors.APIError as exc:
        raise ImageSizeError(f"the engine refused {doing}: {_explanation(exc)}") from None
    except (
        docker.errors.DockerException,
        requests.RequestException,
        urllib3.exceptions.HTTPError,
        OSError,
    ) as exc:
        # urllib3's own errors too: docker-py reads a build's stream from the raw response
        raise engine_lost(address or engine_address(), doing, exc) from None


class DockerEngine:
    """An engine reached through docker-py at DOCKER_HOST (Docker, or Podman's Docker API)."""

    def __init__(self, client: docker.DockerClient, address: str) -> None:
        self._client = client
        self._address = address
        self._info: EngineInfo | None = None

    @classmethod
    def connect(cls, timeout: float | None = None) -> DockerEngine:
        """An engine that has answered within ``timeout`` seconds (default
        ``IMAGESIZE_ENGINE_TIMEOUT`` or 10): docker-py asks for the engine's API version when the
        client is made, which is the first contact."""
        address = engine_address()
        wait = connect_timeout() if timeout is None else timeout
        try:
            client = docker.from_env(timeout=wait)  # type: ignore[arg-type]
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise unanswered(address, wait, exc) from None
        client.api.timeout = LONG_TIMEOUT
        return cls(client, address)

    @property
    def address(self) -> str:
        return self._address

    @property
    def client(self) -> docker.DockerClient:
        """The docker-py client, for the builders."""
        return self._client

    def _api(self) -> Any:
        return self._client.api  # docker-py's stubs leave several calls untyped

    def _errors(self, doing: str) -> Any:
        return engine_errors(doing, self._address)

    def info(self) -> EngineInfo:
        if self._info is None:
            with self._errors("reading the engine's version"):
                version: dict[str, Any] = self._client.version()
                info: dict[str, Any] = self._client.info()
            self._info = engine_info(version, info, self._address)
        return self._info

    def inspect_image(self, ref: str) -> dict[str, Any]:
        with self._errors(f"inspecting image {ref!r}"):
            try:
                data: dict[str, Any] = self._api().inspect_image(engine_ref(ref))
            except docker.errors.ImageNotFound:
                raise ImageNotFound(image_absent(ref, self._address)) from None
            except docker.errors.NullResource:
                raise ImageNotFound("an empty image reference: name an image like 'myorg/app:ci'") from None
        return data

    def image_manifests(self, ref: str) -> list[dict[str, Any]]:
        api = self._api()
        with self._errors(f"listing the platforms of image {ref!r}"):
            try:  # unversioned: the engine's own API version, which may know ``manifests``
                url = api._url("/images/{0}/json", ref, versioned_api=False)
                data = api._result(api._get(url, params={"manifests": 1}), json=True)
            except docker.errors.ImageNotFound:
                raise ImageNotFound(image_absent(ref, self._address)) from None
        found = data.get("Manifests") if isinstance(data, dict) else None
        return [entry for entry in found or [] if isinstance(entry, dict)]

    def history(self, image_id: str) -> list[dict[str, Any]]:
        with self._errors(f"reading the history of image {image_id}"):
            history: list[dict[str, Any]] = self._api().history(image_id)
        return history

    def save(self, image_id: str) -> Iterator[bytes]:
        doing = f"saving image {short_id(image_id)}"
        with self._errors(doing):
            try:
                chunks = self._api().get_image(image_id, chunk_size=1 << 20)
            except docker.errors.APIError as exc:
                self._explain_save_failure(image_id, exc)
                raise
        # docker-py reports a refusal on the first read, not on the call
        yield from self._guarded(chunks, doing, lambda exc: self._explain_save_failure(image_id, exc))

    def _guarded(
        self, stream: Iterable[T], doing: str, refused: Callable[[docker.errors.APIError], None] | None = None
    ) -> Iterator[T]:
        """``stream``'s items, with every engine error on the way out one line (``refused`` may
        explain an API refusal first)."""
        iterator = iter(stream)
        while True:
            with self._errors(doing):
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                except docker.errors.APIError as exc:
                    if refused is not None:
                        refused(exc)
                    raise
            yield item

    def _explain_save_failure(self, image_id: str, exc: docker.errors.APIError) -> None:
        try:
            self._api().inspect_image(image_id)
            present = True
        except docker.errors.NotFound:
            present = False
        error = save_refused(image_id, _explanation(exc), present)
        if error is not None:
            raise error from None

    def read_file(self, image_id: str, path: str, limit: int) -> bytes:
        wanted = "/" + posixpath.normpath("/" + path).lstrip("/")
        with self._errors(f"reading {wanted} from image {short_id(image_id)}"):
            container = self._api().create_container(image_id, command=["/nonexistent"], entrypoint=[])
            try:
                try:
                    chunks, stat = self._api().get_archive(container["Id"], wanted)
                except docker.errors.NotFound:
                    raise ImageSizeError(f"the image has no file {wanted}") from None
                if int(stat.get("size", 0)) > limit:
                    raise ImageSizeError(
                        f"{wanted} is {stat['size']} bytes, above the read limit of {limit}; "
                        "pass a larger limit="
                    )
                data = b"".join(chunks)
            finally:
                self._api().remove_container(container["Id"], force=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar:
                if member.isreg():
                    handle = tar.extractfile(member)
                    assert handle is not None
                    return handle.read()
        raise ImageSizeError(f"{wanted} is not a regular file")

    def image_ids(self) -> set[str]:
        with self._errors("listing images"):
            return set(self._api().images(quiet=True, all=True))

    def remove_image(self, ref: str) -> None:
        with self._errors(f"removing image {ref}"):
            try:
                self._api().remove_image(engine_ref(ref), noprune=True)
            except docker.errors.ImageNotFound:
                raise ImageNotFound(f"image {ref} is already gone") from None

    def build(
        self,
        *,
        context: str,
        dockerfile: str,
        tag: str,
        target: str | None,
        build_args: Mapping[str, str],
        labels: Mapping[str, str],
    ) -> Iterator[dict[str, Any]]:
        doing = f"building {dockerfile}"
        with self._errors(doing):
            try:
                stream: Iterable[dict[str, Any]] = self._api().build(
                    path=context,
                    dockerfile=dockerfile,
                    tag=tag,
                    target=target,
                    buildargs=dict(build_args) or None,
                    labels=dict(labels),
                    rm=True,
                    forcerm=True,
                    decode=True,
                )
            except docker.errors.APIError as exc:
                yield {"error": _explanation(exc)}
                return
        yield from self._guarded(stream, doing)

    def remove_container(self, container_id: str) -> None:
        with self._errors(f"removing container {short_id(container_id)}"):
            try:
                self._api().remove_container(container_id, force=True)
            except docker.errors.NotFound:
                return

    def events(self, since: float, until: float, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
        with self._errors("reading engine events"):
            return list(self._api().events(since=since, until=until, filters=dict(filters), decode=True))

    def close(self) -> None:
        self._client.close()
