"""What the plugin needs from a container engine, as a protocol; and the facts that describe one.

The docker-py implementation is :class:`pytest_imagesize.engine.docker_api.DockerEngine`; the CLI
starts with :class:`pytest_imagesize.engine.quick.QuickEngine`, which answers the first questions
over a local Unix socket without docker-py and hands the rest to a ``DockerEngine``. Tests of the
pure logic use a fake that implements the same protocol. Nothing outside ``engine/`` imports
docker-py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

ImageStore = Literal["graphdriver", "containerd", "podman", "unknown"]


@dataclass(frozen=True)
class EngineInfo:
    """What measured the images: which engine, and how it stores images (which decides what its
    own ``.Size`` means)."""

    name: str  # "docker" or "podman"
    version: str
    storage_driver: str | None
    arch: str | None
    address: str
    image_store: ImageStore = "unknown"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["address"]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], address: str = "") -> EngineInfo:
        return cls(
            name=str(data.get("name") or "?"),
            version=str(data.get("version") or "?"),
            storage_driver=data.get("storage_driver"),
            arch=data.get("arch"),
            address=str(data.get("address") or address),
            image_store=data.get("image_store") or "unknown",
        )

    def describe(self) -> str:
        driver = f", {self.storage_driver}" if self.storage_driver else ""
        store = {
            "graphdriver": "",
            "podman": "",
            "containerd": " (containerd image store)",
            "unknown": " (unknown image store: sizes measured from the image archive)",
        }.get(self.image_store, "")
        return f"{self.name} {self.version}{driver}{store}, {self.arch or '?'}"

    @property
    def size_is_portable(self) -> bool:
        """Whether the engine's own ``.Size`` is the portable size: Docker's graph-driver store
        counts the bytes of the files and link targets each layer writes, which is the definition."""
        return self.name == "docker" and self.image_store == "graphdriver"


class Engine(Protocol):
    """A container engine, as the plugin uses it. Errors come out as ``ImageSizeError``s with
    one-line messages (``EngineUnavailable`` when the engine went away, ``ImageNotFound``)."""

    @property
    def address(self) -> str: ...

    def info(self) -> EngineInfo: ...

    def inspect_image(self, ref: str) -> dict[str, Any]:
        """``docker image inspect`` data; ``ImageNotFound`` when the engine has no such image."""
        ...

    def history(self, image_id: str) -> list[dict[str, Any]]: ...

    def image_manifests(self, ref: str) -> list[dict[str, Any]]:
        """The platform manifests the image store holds under ``ref``: the ``Manifests`` of
        ``GET /images/{ref}/json?manifests=1`` (Docker's containerd image store, API 1.48+), each
        with ``Descriptor``, ``Available`` and ``Kind`` (``image``, ``attestation``); empty where
        the engine lists none (the classic store, Podman, an older API)."""
        ...

    def save(self, image_id: str) -> Iterator[bytes]:
        """The image archive (``docker save``) as a stream of chunks."""
        ...

    def read_file(self, image_id: str, path: str, limit: int) -> bytes:
        """One regular file's bytes, copied out of a created (never started) container that is
        removed again."""
        ...

    def remove_container(self, container_id: str) -> None:
        """Remove a container (a build step's, left by an interrupted build); gone is fine."""
        ...

    def image_ids(self) -> set[str]:
        """The IDs of every image, intermediate ones included."""
        ...

    def remove_image(self, ref: str) -> None:
        """Untag (or delete when it is the last name) without pruning parents."""
        ...

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
        """The engine's own (classic) builder: its decoded progress stream."""
        ...

    def events(self, since: float, until: float, filters: Mapping[str, Any]) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...
