"""What an image is, as measured: ``Image`` and ``Layer``, from the engine's inspect and history."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import docker
import docker.errors

from .engine import EngineInfo, connect, describe_engine, engine_address, engine_errors
from .engine import api as _api
from .errors import ImageNotFound, ImageSizeError

if TYPE_CHECKING:
    from .analysis import Analysis, Cache, FileTree

# Instructions that only change the image config, never the filesystem.
_METADATA_ONLY = re.compile(
    r"^(?:/bin/sh -c #\(nop\)\s*)?(ENV|LABEL|CMD|ENTRYPOINT|EXPOSE|USER|ARG|ONBUILD|STOPSIGNAL"
    r"|HEALTHCHECK|SHELL|VOLUME|MAINTAINER)\b"
)


@dataclass(frozen=True)
class Layer:
    """One filesystem layer: its uncompressed size and the instruction that made it."""

    index: int
    size: int
    created_by: str | None
    diff_id: str | None = None
    compressed_size: int | None = None

    @property
    def instruction(self) -> str:
        """The Dockerfile instruction, shortened for messages."""
        text = (self.created_by or "?").strip()
        text = re.sub(r"^/bin/sh -c #\(nop\)\s*", "", text)
        text = re.sub(r"^(RUN )?/bin/sh -c ", "RUN ", text)  # classic, Podman; BuildKit
        text = re.sub(r"\s*# buildkit$", "", text)
        text = re.sub(r"\s+", " ", text)
        text = re.sub(r"\b([0-9a-f]{12})[0-9a-f]{52}\b", r"\1", text)  # digests: 12 hex digits
        return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class ImageConfig:
    """The runtime configuration the image carries."""

    user: str
    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None
    env: tuple[str, ...]
    exposed_ports: tuple[str, ...]
    workdir: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Image:
    """An image as measured on one engine.

    ``size`` is what the engine reports (``docker image inspect`` ``.Size``): the uncompressed
    layer contents. ``compressed_size``, ``files``, ``wasted_bytes`` and ``efficiency`` need the
    image's archive; they are computed on first use (and cached by image ID) when the image was
    measured inside pytest or by :func:`measure_image`.
    """

    name: str
    ref: str
    id: str
    tags: list[str]
    size: int
    layers: list[Layer]
    config: ImageConfig
    engine: EngineInfo | None = None
    _client: docker.DockerClient | None = field(default=None, repr=False, compare=False)
    _cache: Cache | None = field(default=None, repr=False, compare=False)
    _analysis: Analysis | None = field(default=None, repr=False, compare=False)

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[-1][:12]

    @property
    def analysed(self) -> bool:
        """Whether the archive analysis has been done (so lazy fields cost nothing)."""
        return self._analysis is not None

    def analysis(self) -> Analysis:
        """Read the image archive once: compressed sizes, files, waste."""
        __tracebackhide__ = True  # a failure shows the test's line and our one-line message
        if self._analysis is None:
            from .analysis import analyse_image

            try:
                self._analysis = analyse_image(self._engine_client(), self, self._cache)
            except ImageSizeError as exc:
                raise exc.with_traceback(None) from None
            history = self._analysis.created_by or [layer.created_by for layer in self.layers]
            self.layers = [
                replace(layer, compressed_size=compressed, created_by=created_by or layer.created_by)
                for layer, compressed, created_by in zip(
                    self.layers, self._analysis.layer_compressed_sizes(), history
                )
            ]
        return self._analysis

    def _engine_client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = connect()
        return self._client

    @property
    def compressed_size(self) -> int:
        """Sum of the gzip-compressed layer tars: what a registry stores and a pull downloads."""
        __tracebackhide__ = True
        return self.analysis().compressed_size

    @property
    def wasted_bytes(self) -> int:
        """Bytes of file copies written by some layer but not in the final filesystem."""
        __tracebackhide__ = True
        return self.analysis().wasted_bytes

    @property
    def efficiency(self) -> float:
        """1 - wasted / all bytes written by all layers (1.0 for an image with no waste)."""
        __tracebackhide__ = True
        return self.analysis().efficiency

    @property
    def files(self) -> FileTree:
        """The final filesystem, as a :class:`pytest_imagesize.analysis.FileTree`."""
        __tracebackhide__ = True
        return self.analysis().files

    def has_file(self, path: str) -> bool:
        """Whether ``path`` exists in the final filesystem (symlinks are not followed)."""
        __tracebackhide__ = True
        return self.analysis().files.has(path)

    def find(self, pattern: str) -> list[str]:
        """Paths in the final filesystem matching a glob such as ``/usr/bin/*``."""
        __tracebackhide__ = True
        return self.analysis().files.glob(pattern)

    def read_file(self, path: str, limit: int = 64 * 1024 * 1024) -> bytes:
        """The bytes of one regular file of the final filesystem."""
        from .analysis import extract_file

        return extract_file(self._engine_client(), self, path, limit)

    def to_wire(self) -> dict[str, Any]:
        """A JSON-able copy (for pytest-xdist's worker output); the analysis rides along."""
        return {
            "name": self.name,
            "ref": self.ref,
            "id": self.id,
            "tags": list(self.tags),
            "size": self.size,
            "layers": [
                [la.index, la.size, la.created_by, la.diff_id, la.compressed_size] for la in self.layers
            ],
            "config": {**self.config.__dict__, "labels": dict(self.config.labels)},
            "engine": None if self.engine is None else self.engine.__dict__,
            "analysis": None if self._analysis is None else self._analysis.to_json(),
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Image:
        from .analysis import Analysis

        cfg = data["config"]
        config = ImageConfig(
            user=cfg["user"],
            entrypoint=_tuple(cfg["entrypoint"]),
            cmd=_tuple(cfg["cmd"]),
            env=tuple(cfg["env"]),
            exposed_ports=tuple(cfg["exposed_ports"]),
            workdir=cfg["workdir"],
            labels=dict(cfg["labels"]),
        )
        image = cls(
            name=data["name"],
            ref=data["ref"],
            id=data["id"],
            tags=list(data["tags"]),
            size=int(data["size"]),
            layers=[Layer(*row) for row in data["layers"]],
            config=config,
            engine=None if data["engine"] is None else EngineInfo(**data["engine"]),
        )
        image._analysis = None if data["analysis"] is None else Analysis.from_json(data["analysis"])
        return image

    def largest_layers(self, count: int = 3) -> list[Layer]:
        return sorted(self.layers, key=lambda layer: layer.size, reverse=True)[:count]


def _tuple(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def config_from_inspect(data: dict[str, Any]) -> ImageConfig:
    cfg: dict[str, Any] = data.get("Config") or {}
    return ImageConfig(
        user=str(cfg.get("User") or ""),
        entrypoint=_tuple(cfg.get("Entrypoint")),
        cmd=_tuple(cfg.get("Cmd")),
        env=tuple(cfg.get("Env") or ()),
        exposed_ports=tuple(sorted(cfg.get("ExposedPorts") or {})),
        workdir=str(cfg.get("WorkingDir") or ""),
        labels=dict(cfg.get("Labels") or {}),
    )


def layers_from_history(history: Sequence[dict[str, Any]], diff_ids: Sequence[str]) -> list[Layer]:
    """Pair the engine's history (newest first) with the image's layers (oldest first).

    History holds one entry per instruction; only some made a layer. An entry with a size made a
    layer; a metadata-only instruction (ENV, CMD, ...) did not; a zero-size RUN/COPY/WORKDIR
    entry may have made an empty layer or none, so those are settled by the layer count.
    """
    entries = list(reversed(history))
    certain = [bool(e.get("Size")) for e in entries]
    maybe = [
        not c and not _METADATA_ONLY.match(str(e.get("CreatedBy") or "").strip())
        for e, c in zip(entries, certain)
    ]
    wanted = len(diff_ids)
    if sum(certain) == wanted:
        chosen = certain
    elif sum(certain) + sum(maybe) == wanted:
        chosen = [c or m for c, m in zip(certain, maybe)]
    else:
        chosen = []
    if not chosen:
        # Cannot pair with certainty: keep the layers, but do not guess their instructions.
        sizes = [int(e.get("Size") or 0) for e in entries if e.get("Size")]
        sizes += [0] * (wanted - len(sizes))
        return [
            Layer(index=i, size=sizes[i] if i < len(sizes) else 0, created_by=None, diff_id=d)
            for i, d in enumerate(diff_ids)
        ]
    picked = [e for e, keep in zip(entries, chosen) if keep]
    return [
        Layer(
            index=i,
            size=int(e.get("Size") or 0),
            created_by=str(e.get("CreatedBy") or e.get("Comment") or "") or None,
            diff_id=diff_ids[i],
        )
        for i, e in enumerate(picked)
    ]


def inspect_image(
    client: docker.DockerClient, ref: str, name: str | None = None
) -> tuple[Image, dict[str, Any]]:
    """Measure ``ref`` through inspect and history; also return the raw inspect data."""
    with engine_errors(f"inspecting image {ref!r}"):
        try:
            data: dict[str, Any] = _api(client).inspect_image(ref)
        except docker.errors.ImageNotFound:
            raise ImageNotFound(
                f"image {ref!r} is not present on the engine at {engine_address()}: build or "
                f"pull it before the tests run (check with: docker image inspect {ref})"
            ) from None
        history: list[dict[str, Any]] = _api(client).history(data["Id"])
    diff_ids = list((data.get("RootFS") or {}).get("Layers") or [])
    image = Image(
        name=name or ref,
        ref=ref,
        id=str(data["Id"]),
        tags=list(data.get("RepoTags") or []),
        size=int(data.get("Size") or 0),
        layers=layers_from_history(history, diff_ids),
        config=config_from_inspect(data),
    )
    return image, data


def measure_image(ref: str, client: docker.DockerClient | None = None, name: str | None = None) -> Image:
    """Measure an image outside pytest (the CLI uses this). Lazy fields work as in tests."""
    client = client or connect()
    image, _ = inspect_image(client, ref, name)
    image.engine = describe_engine(client)
    image._client = client
    return image
