"""A container engine in memory that implements :class:`pytest_imagesize.engine.protocol.Engine`.

Images are described layer by layer with :meth:`FakeImage.from_layers`; each layer is a mapping
from a path inside the image to what the layer writes there::

    FakeImage.from_layers(
        [
            {"bin/app": b"x" * 1000, "bin/sh": ("symlink", "app"), "etc": ("dir",)},
            {"bin/app": ("whiteout",), "var/cache": ("opaque",), "bin/ln": ("hardlink", "bin/sh")},
        ],
        tags=["app:1"],
        compression="zstd",  # how the layer blobs are stored in the archive: "tar", "gzip", "zstd"
        layout="oci",  # "classic" (<id>/layer.tar + manifest.json) or "oci" (index.json + blobs)
    )

``save()`` generates a real image archive, counting the saves per image ID so that tests can tell
the fast path (no archive read) from the slow one. ``inspect_image`` and ``history`` answer the
way Docker's API does. ``.Size`` depends on the image store, as on real engines: with
``"graphdriver"`` it is the portable size (bytes of the files and symlink targets each layer
writes); with ``"containerd"`` it is the gzip size of the layers (deliberately not the portable
size, as Docker's containerd store counts packed content); with ``"podman"`` it is the size of the
layer tars plus the config.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import zstandard

from pytest_imagesize.engine.protocol import EngineInfo, ImageStore
from pytest_imagesize.errors import ImageNotFound, ImageSizeError
from pytest_imagesize.measure.cache import AnalysisCache
from pytest_imagesize.measure.image import Image
from pytest_imagesize.settings import Settings

from .archives import EntrySpec, layer_tar, tar_info

Compression = Literal["tar", "gzip", "zstd"]
Layout = Literal["classic", "oci"]
LayerSpec = Mapping[str, EntrySpec]  # see tests.support.archives.EntrySpec

CREATED = "2026-11-30T06:00:00Z"
ADDRESS = "fake:///engine.sock"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def portable_size(spec: LayerSpec) -> int:
    """What Docker's graph-driver store reports for a layer: file bytes + symlink target lengths."""
    total = 0
    for what in spec.values():
        if isinstance(what, bytes):
            total += len(what)
        elif what[0] == "symlink":
            total += len(what[1].encode())
    return total


def compress(data: bytes, how: Compression) -> bytes:
    if how == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if how == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(data)
    return data


@dataclass
class FakeLayer:
    spec: LayerSpec
    created_by: str
    compression: Compression = "tar"
    stored: bytes | None = None  # a blob made by hand (e.g. several zstd frames), else compressed here

    # made once per layer (an image's archive is generated on every save): treat a layer as fixed
    @cached_property
    def tar(self) -> bytes:
        return layer_tar(self.spec)

    @cached_property
    def blob(self) -> bytes:
        """The layer as stored in the archive."""
        return self.stored if self.stored is not None else compress(self.tar, self.compression)

    @cached_property
    def diff_id(self) -> str:
        return sha256(self.tar)

    @property
    def portable_size(self) -> int:
        return portable_size(self.spec)


@dataclass
class FakeImage:
    layers: list[FakeLayer]
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)  # Docker's "Config" section
    layout: Layout = "classic"
    metadata: list[str] = field(default_factory=list)  # instructions that made no layer (at the end)

    @classmethod
    def from_layers(
        cls,
        layers: Sequence[LayerSpec],
        *,
        tags: Iterable[str] = (),
        created_by: Sequence[str] | None = None,
        compression: Compression | Sequence[Compression] = "tar",
        layout: Layout = "classic",
        user: str = "",
        entrypoint: list[str] | None = None,
        cmd: list[str] | None = None,
        env: Sequence[str] = ("PATH=/usr/bin:/bin",),
        labels: Mapping[str, str] | None = None,
        workdir: str = "",
        exposed_ports: Sequence[str] = (),
        metadata: Sequence[str] = ('/bin/sh -c #(nop)  CMD ["/app"]',),
    ) -> FakeImage:
        how = [compression] * len(layers) if isinstance(compression, str) else list(compression)
        steps = (
            list(created_by) if created_by is not None else [f"COPY layer{i} /" for i in range(len(layers))]
        )
        config: dict[str, Any] = {
            "User": user,
            "Entrypoint": entrypoint,
            "Cmd": cmd,
            "Env": list(env),
            "Labels": dict(labels or {}),
            "WorkingDir": workdir,
            "ExposedPorts": {port: {} for port in exposed_ports} or None,
        }
        return cls(
            layers=[
                FakeLayer(dict(spec), step, c) for spec, step, c in zip(layers, steps, how, strict=False)
            ],
            tags=list(tags),
            config=config,
            layout=layout,
            metadata=list(metadata),
        )

    # ------------------------------------------------------------------ what the engine stores

    @property
    def config_blob(self) -> bytes:
        """The image config JSON (its sha256 is the image ID)."""
        history: list[dict[str, Any]] = [
            {"created": CREATED, "created_by": layer.created_by} for layer in self.layers
        ]
        history += [{"created": CREATED, "created_by": step, "empty_layer": True} for step in self.metadata]
        document = {
            "architecture": "amd64",
            "os": "linux",
            "created": CREATED,
            "config": self.config,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in self.layers]},
            "history": history,
        }
        return json.dumps(document, sort_keys=True).encode()

    @property
    def id(self) -> str:
        return sha256(self.config_blob)

    @property
    def portable_size(self) -> int:
        return sum(layer.portable_size for layer in self.layers)

    @property
    def stored_size(self) -> int:
        """The layer blobs as stored in the archive (gzip/zstd blobs count as they are)."""
        return sum(len(layer.blob) for layer in self.layers)

    def archive(self) -> bytes:
        """What ``docker save`` writes, in this image's layout."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:

            def add(name: str, data: bytes) -> None:
                tar.addfile(tar_info(name, size=len(data)), io.BytesIO(data))

            config = self.config_blob
            if self.layout == "classic":
                names = []
                for i, layer in enumerate(self.layers):
                    name = f"{hashlib.sha256(layer.diff_id.encode() + bytes([i])).hexdigest()}/layer.tar"
                    names.append(name)
                    add(name, layer.blob)
                config_name = f"{self.id.split(':')[1]}.json"
                add(config_name, config)
                manifest = [{"Config": config_name, "RepoTags": self.tags, "Layers": names}]
                add("manifest.json", json.dumps(manifest).encode())
            else:
                media = {"tar": "", "gzip": "+gzip", "zstd": "+zstd"}
                descriptors = []
                for layer in self.layers:
                    blob = layer.blob
                    add(f"blobs/sha256/{sha256(blob).split(':')[1]}", blob)
                    descriptors.append(
                        {
                            "mediaType": "application/vnd.oci.image.layer.v1.tar" + media[layer.compression],
                            "digest": sha256(blob),
                            "size": len(blob),
                        }
                    )
                add(f"blobs/sha256/{self.id.split(':')[1]}", config)
                manifest_doc = json.dumps(
                    {
                        "schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": {
                            "mediaType": "application/vnd.oci.image.config.v1+json",
                            "digest": self.id,
                            "size": len(config),
                        },
                        "layers": descriptors,
                    }
                ).encode()
                add(f"blobs/sha256/{sha256(manifest_doc).split(':')[1]}", manifest_doc)
                index = {
                    "schemaVersion": 2,
                    "manifests": [
                        {
                            "mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": sha256(manifest_doc),
                            "size": len(manifest_doc),
                        }
                    ],
                }
                add("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
                add("index.json", json.dumps(index).encode())
        return buffer.getvalue()

    def final_files(self) -> dict[str, bytes]:
        """The regular files of the final filesystem (for ``read_file``)."""
        files: dict[str, bytes] = {}
        for layer in self.layers:
            for raw_path, what in layer.spec.items():
                path = "/" + raw_path.strip("/")
                if isinstance(what, bytes):
                    files[path] = what
                elif what[0] == "whiteout":
                    files = {p: d for p, d in files.items() if p != path and not p.startswith(path + "/")}
                elif what[0] == "opaque":
                    files = {p: d for p, d in files.items() if not p.startswith(path + "/")}
                else:
                    files.pop(path, None)
        return files


class FakeEngine:
    """An :class:`~pytest_imagesize.engine.protocol.Engine` over :class:`FakeImage`s in memory."""

    def __init__(
        self,
        image_store: ImageStore = "graphdriver",
        images: Iterable[FakeImage] = (),
        *,
        version: str = "27.0.0-fake",
        arch: str = "amd64",
        chunk: int = 7001,
    ) -> None:
        self.image_store = image_store
        self.version = version
        self.arch = arch
        self.chunk = chunk  # save() streams chunks of this many bytes
        self.images: dict[str, FakeImage] = {}
        self.saves: Counter[str] = Counter()  # image ID -> archives streamed
        self.removed: list[str] = []
        self.removed_containers: list[str] = []
        self.closed = False
        for image in images:
            self.add(image)

    def add(self, image: FakeImage) -> str:
        self.images[image.id] = image
        return image.id

    def _find(self, ref: str) -> FakeImage:
        wanted = ref if ":" in ref.rpartition("/")[2] else f"{ref}:latest"
        for image_id, image in self.images.items():
            if ref in (image_id, image_id.split(":")[1]) or wanted in image.tags:
                return image
            if len(ref) >= 12 and image_id.split(":")[1].startswith(ref):
                return image
        raise ImageNotFound(f"image {ref!r} is not present on the engine at {ADDRESS}")

    def engine_size(self, image: FakeImage) -> int:
        """``.Size`` as this engine's image store counts it."""
        if self.image_store == "graphdriver":
            return image.portable_size
        if self.image_store == "podman":
            return sum(len(layer.tar) for layer in image.layers) + len(image.config_blob)
        return sum(len(compress(layer.tar, "gzip")) for layer in image.layers)

    # ------------------------------------------------------------------ the Engine protocol

    @property
    def address(self) -> str:
        return ADDRESS

    def info(self) -> EngineInfo:
        podman = self.image_store == "podman"
        driver = {"graphdriver": "overlay2", "containerd": "overlayfs", "podman": "overlay"}.get(
            self.image_store
        )
        return EngineInfo(
            name="podman" if podman else "docker",
            version=self.version,
            storage_driver=driver,
            arch=self.arch,
            address=ADDRESS,
            image_store=self.image_store,
        )

    def inspect_image(self, ref: str) -> dict[str, Any]:
        image = self._find(ref)
        return {
            "Id": image.id,
            "RepoTags": list(image.tags),
            "RepoDigests": [],
            "Created": CREATED,
            "Size": self.engine_size(image),
            "Architecture": self.arch,
            "Os": "linux",
            "Config": dict(image.config),
            "RootFS": {"Type": "layers", "Layers": [layer.diff_id for layer in image.layers]},
        }

    def image_manifests(self, ref: str) -> list[dict[str, Any]]:
        self._find(ref)
        return []  # one platform, as the classic store lists it

    def history(self, image_id: str) -> list[dict[str, Any]]:
        """Newest first; one entry per instruction; ``Size`` as the store counts the layer."""
        image = self._find(image_id)
        entries: list[dict[str, Any]] = []
        for layer in image.layers:
            size = layer.portable_size if self.image_store == "graphdriver" else len(layer.tar)
            entries.append({"CreatedBy": layer.created_by, "Size": size})
        entries += [{"CreatedBy": step, "Size": 0} for step in image.metadata]
        for entry in entries:
            entry.update(Id="<missing>", Created=0, Tags=None, Comment="")
        entries[-1].update(Id=image.id, Tags=list(image.tags) or None)
        return list(reversed(entries))

    def save(self, image_id: str) -> Iterator[bytes]:
        image = self._find(image_id)
        self.saves[image.id] += 1
        data = image.archive()
        return iter([data[i : i + self.chunk] for i in range(0, len(data), self.chunk)])

    def read_file(self, image_id: str, path: str, limit: int) -> bytes:
        files = self._find(image_id).final_files()
        if path not in files:
            raise ImageSizeError(f"{path} is not a regular file in the image")
        if len(files[path]) > limit:
            raise ImageSizeError(f"{path} is larger than {limit} bytes")
        return files[path]

    def image_ids(self) -> set[str]:
        return set(self.images)

    def remove_container(self, container_id: str) -> None:
        self.removed_containers.append(container_id)

    def remove_image(self, ref: str) -> None:
        image = self._find(ref)
        self.removed.append(ref)
        if ref in image.tags and len(image.tags) > 1:
            image.tags.remove(ref)
        else:
            del self.images[image.id]

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
        raise ImageSizeError("the fake engine does not build images")

    def events(self, since: float, until: float, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        self.closed = True


def measured(
    image: FakeImage,
    image_store: ImageStore = "graphdriver",
    *,
    name: str = "app",
    cache: AnalysisCache | None = None,
) -> tuple[Image, FakeEngine]:
    """``image`` measured on a fresh fake engine with the given image store."""
    engine = FakeEngine(image_store, [image])
    return Image.measure(engine, image.id, name, cache), engine


def settings(baseline_path: Path, **overrides: Any) -> Settings:
    """Plugin settings as the defaults give them (fields added later default to None)."""
    known: dict[str, Any] = {
        "report_mode": None,
        "report_json": None,
        "report_md": None,
        "report_html": None,
        "keep": False,
        "skip_without_engine": False,
        "build_args": (),
        "builder": "classic",
        "buildx_builder": None,
        "baseline_path": baseline_path,
        "baseline_update": False,
        "growth_default": None,
        "engine_timeout": None,
        "no_cache": True,
        "progress": "off",
        **overrides,
    }
    values: dict[str, Any] = {f.name: known.get(f.name) for f in fields(Settings)}
    return Settings(**values)
