"""What an image is, as measured: ``Image`` (its ``Layer`` and ``ImageConfig`` in ``history``).

Sizes are portable (see README, "Size semantics"): the bytes of the files and link targets each
layer writes. Where the engine's own ``.Size`` is that number (Docker's graph-driver store) it is
used as it comes, so a plain size check reads no archive; elsewhere the size is read from the
image's archive, once per image ID (cached). The engine's number is kept as ``engine_size``.
Where the archive comes from is the image's reader (``readers``): the engine's ``docker save``
stream, or the layer blobs of an image source (``from_source``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..engine.protocol import Engine, EngineInfo
from ..errors import ImageNotFound, ImageSizeError
from ..ids import short_id
from .history import ImageConfig, Layer, _tuple, config_from_inspect, layers_from_history

if TYPE_CHECKING:  # the archive machinery loads when an archive is read (a light size check)
    from ..progress import ProgressSink
    from .analysis import ImageAnalysis
    from .cache import AnalysisCache
    from .go import Finding, GoBinary
    from .layers import FileTree
    from .packages.model import ImagePackages, Package
    from .readers import AnalysisReader
    from .summary import BaseSummary, ImageSummary

__all__ = [
    "BASE_LABEL",
    "BaseImage",
    "Image",
    "ImageConfig",
    "Layer",
    "config_from_inspect",
    "layers_from_history",
]


class Image:
    """An image as measured on one engine, or in one image source (``source``, ``platform``).

    ``size`` is the portable uncompressed size; ``engine_size`` the engine's own ``.Size`` (0 for
    an image of a source). ``compressed_size``, ``files``, ``wasted_bytes`` and ``efficiency`` need
    the image's archive: it is read on first use, once per image ID (cached), by the engine the
    image came from or from its source's blobs (``reader``). ``stored_compressed_size`` is the
    exact compressed size where it is known without reading (a source whose manifest lists
    compressed layer blobs only): ``compressed_size`` then reads nothing.
    """

    def __init__(
        self,
        *,
        name: str,
        ref: str,
        id: str,
        tags: list[str],
        config: ImageConfig,
        layers: list[Layer],
        engine_size: int,
        engine_info: EngineInfo | None,
        engine: Engine | None = None,
        cache: AnalysisCache | None = None,
        analysis: ImageAnalysis | None = None,
        progress: ProgressSink | None = None,
        reader: AnalysisReader | None = None,
        stored_compressed_size: int | None = None,
    ) -> None:
        self.name = name
        self.ref = ref
        self.id = id
        self.tags = tags
        self.config = config
        self.engine_size = engine_size
        self.engine = engine_info  # what measured it (name, version, image store)
        self._inspected_layers = layers
        self._engine = engine
        self._cache = cache
        self._analysis = analysis
        self._progress = progress
        self._reader = reader
        self.stored_compressed_size = stored_compressed_size
        self.base_image: BaseImage | None = None
        # where it was measured: "linux/arm64" (None: the engine's one platform, not stated),
        # "engine" / "registry" / "oci" / "oci-archive" / "docker-archive", the config blob's size
        self.platform: str | None = None
        self.source = "engine"
        self.config_size: int | None = None
        self.engine_platform: str | None = None  # the engine's image: the platform its inspect states

    def __repr__(self) -> str:
        return f"Image(name={self.name!r}, ref={self.ref!r}, id={self.short_id!r})"

    @property
    def short_id(self) -> str:
        return short_id(self.id)

    @property
    def label(self) -> str:
        """``slim (1a2b3c4d5e6f)``, for messages."""
        return f"{self.name} ({self.short_id})"

    @property
    def size_from_engine(self) -> bool:
        """Whether the engine's own numbers are the portable ones (no archive needed for size)."""
        return self.engine is not None and self.engine.size_is_portable

    @property
    def analysed(self) -> bool:
        """Whether the archive analysis has been done (so lazy fields cost nothing)."""
        return self._analysis is not None

    def analysis(self) -> ImageAnalysis:
        """Read the image archive once: portable and compressed sizes, files, waste."""
        __tracebackhide__ = True  # a failure shows the test's line and our one-line message
        if self._analysis is None:
            reader = self._reader if self._reader is not None else self._engine_archive()
            try:
                self._analysis = reader.read()
            except ImageSizeError as exc:
                raise exc.with_traceback(None) from None
        return self._analysis

    def _engine_archive(self) -> AnalysisReader:
        if self._engine is None:
            raise ImageSizeError(
                f"image {self.label} was measured without an engine connection; its archive "
                "cannot be read (measure it with measure_image() or a fixture)"
            )
        from .readers import EngineArchive

        return EngineArchive(
            self._engine,
            self.id,
            self.label,
            len(self._inspected_layers),
            cache=self._cache,
            content_key=self._content_key(),
            expected_size=self.engine_size if self.size_from_engine else None,
            progress=self._progress,
            name=self.name,
            approximate_total=self.engine_size,
        )

    @property
    def diff_ids(self) -> list[str | None]:
        """The layers' diff IDs, oldest first, as inspected (no archive read)."""
        return [layer.diff_id for layer in self._inspected_layers]

    def _content_key(self) -> str | None:
        """The layers (diff IDs) and what made them: the same for the same content, whatever
        the image ID (None when the engine gave no diff IDs)."""
        layers = [(la.diff_id, la.created_by) for la in self._inspected_layers]
        if not layers or any(diff_id is None for diff_id, _ in layers):
            return None
        return "content-" + hashlib.sha256(json.dumps(layers).encode()).hexdigest()

    @property
    def size(self) -> int:
        """The portable uncompressed size: bytes of the files and link targets the layers write."""
        __tracebackhide__ = True
        if self._analysis is None and self.size_from_engine:
            return self.engine_size
        return self.analysis().size

    @property
    def layers(self) -> list[Layer]:
        """The layers, oldest first, with portable sizes; once the archive has been read they
        carry compressed sizes and the instructions of the image config's history too."""
        __tracebackhide__ = True
        if self._analysis is None and not self.size_from_engine:
            self.analysis()
        analysis = self._analysis
        if analysis is None:
            return list(self._inspected_layers)
        history = analysis.created_by or [layer.created_by for layer in self._inspected_layers]
        return [
            replace(
                layer,
                size=stats.size,
                compressed_size=stats.compressed_size,
                created_by=created_by or layer.created_by,
                diff_id=layer.diff_id or stats.diff_id,
            )
            for layer, stats, created_by in zip(
                self._inspected_layers, analysis.layers, history, strict=False
            )
        ]

    @property
    def layer_count(self) -> int:
        return len(self._inspected_layers)

    @property
    def compressed_size(self) -> int:
        """Sum of the compressed layer blobs: what a registry stores and a pull downloads."""
        __tracebackhide__ = True
        if self.stored_compressed_size is not None:
            return self.stored_compressed_size
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
        """The final filesystem."""
        __tracebackhide__ = True
        return self.analysis().files

    def has_file(self, path: str) -> bool:
        """Whether ``path`` exists in the final filesystem (symlinks are not followed)."""
        __tracebackhide__ = True
        return self.analysis().files.has(path)

    def find(self, pattern: str) -> list[str]:
        """Paths in the final filesystem matching a glob such as ``**/busybox``: ``**`` as a
        whole segment matches zero or more directories, ``*``/``?``/``[...]`` stay within one
        name, hidden names match like any other."""
        __tracebackhide__ = True
        return self.analysis().files.glob(pattern)

    def read_file(self, path: str, limit: int = 64 * 1024 * 1024) -> bytes:
        """The bytes of one regular file of the final filesystem."""
        __tracebackhide__ = True
        if self._engine is None and self.source != "engine":
            raise ImageSizeError(
                f"image {self.label} is read from its {self.source} source, where read_file() is not "
                "available: load it into the engine and use existing_image() to read its files"
            )
        if self._engine is None:
            raise ImageSizeError(f"image {self.label} was measured without an engine connection")
        try:
            return self._engine.read_file(self.id, path, limit)
        except ImageSizeError as exc:
            raise type(exc)(f"image {self.label}: {exc}").with_traceback(None) from None

    @property
    def base(self) -> BaseSummary | None:
        """The base image (ref, ID, its layers' portable and compressed sizes), or None for an
        image on ``scratch`` or whose base is not known or not matched."""
        __tracebackhide__ = True
        info = self.base_image
        if info is None or not info.layer_count:
            return None
        layers = self.layers[: info.layer_count]
        compressed = [la.compressed_size for la in layers]
        from .summary import BaseSummary

        return BaseSummary(
            ref=info.ref,
            id=info.id,
            size=sum(la.size for la in layers),
            compressed_size=None if None in compressed else sum(c or 0 for c in compressed),
        )

    @property
    def own_size(self) -> int:
        """The portable size of the layers above the base image (the whole image without one)."""
        __tracebackhide__ = True
        return sum(la.size for la in self.layers if not la.from_base)

    @property
    def own_compressed_size(self) -> int:
        __tracebackhide__ = True
        if self.stored_compressed_size is not None:  # the manifest's exact sizes: nothing to read
            return sum(la.compressed_size or 0 for la in self._inspected_layers if not la.from_base)
        self.analysis()
        return sum(la.compressed_size or 0 for la in self.layers if not la.from_base)

    def summary(self, *, files: bool = True) -> ImageSummary:
        """What a baseline keeps of this image; ``files=True`` reads the archive for the manifest."""
        __tracebackhide__ = True
        analysis = self.analysis() if files else self._analysis
        layers = self.layers
        from .packages.kept import kept
        from .packages.kept import summaries as package_summaries
        from .summary import ImageSummary, LayerSummary, directory_totals, file_manifest, manifest_complete

        manifest = file_manifest(analysis.files, self.size) if analysis else {}
        return ImageSummary(
            size=self.size,
            compressed_size=self.compressed_size
            if analysis or self.stored_compressed_size is not None
            else None,
            layers=tuple(LayerSummary(la.diff_id, la.size, la.instruction, la.from_base) for la in layers),
            base=self.base,
            own_size=self.own_size,
            own_compressed_size=self.own_compressed_size
            if analysis or self.stored_compressed_size is not None
            else None,
            files=manifest,
            files_complete=manifest_complete(analysis.files, manifest) if analysis else None,
            dirs=directory_totals(analysis.files) if analysis else {},
            go={b.path: {m: mod.size for m, mod in b.modules.items()} for b in analysis.go_binaries}
            if analysis
            else {},
            go_packages=self._own_go_packages(analysis) if analysis else {},
            packages=package_summaries(analysis.packages) if analysis else {},
            packages_complete=(
                len(kept(analysis.packages)) == len(analysis.packages.packages) if analysis else None
            ),
        )

    def _own_go_packages(self, analysis: ImageAnalysis) -> dict[str, dict[str, int]]:
        """Package sizes of the Go binaries in the image's own layers (not the base image's:
        a toolchain base holds dozens of binaries of hundreds of packages each)."""
        own_layers = {la.index for la in self.layers if not la.from_base}
        found = {}
        for binary in analysis.go_binaries:
            record = analysis.files.get(binary.path)
            if record is not None and record.layer in own_layers:
                found[binary.path] = {p: pkg.size for p, pkg in binary.packages.items() if pkg.size}
        return found

    @property
    def go_binaries(self) -> list[GoBinary]:
        """Every Go executable of the final filesystem, read from the archive (no container)."""
        __tracebackhide__ = True
        return list(self.analysis().go_binaries)

    @property
    def package_report(self) -> ImagePackages:
        """The package databases found in the final filesystem and the bytes each package owns."""
        __tracebackhide__ = True
        return self.analysis().packages

    @property
    def packages(self) -> list[Package]:
        """Every OS and language package of the final filesystem, largest (measured bytes) first."""
        __tracebackhide__ = True
        return list(self.package_report.packages)

    def package(self, name: str, ecosystem: str | None = None) -> Package | None:
        """The package called ``name`` (of ``ecosystem``: "deb", "apk", "rpm", "python", "npm"), or None."""
        __tracebackhide__ = True
        return self.package_report.get(name, ecosystem)

    @property
    def has_dynamic_loader(self) -> bool:
        """Whether the final filesystem holds an ELF dynamic loader (glibc's or musl's)."""
        __tracebackhide__ = True
        files = self.analysis().files
        return any(
            files.glob(pattern) for pattern in ("/**/ld-linux*.so*", "/**/ld-musl-*.so*", "/**/ld64.so*")
        )

    def go_findings(self) -> list[Finding]:
        """Build-hygiene findings for every Go binary (see ``go_build_hygiene``)."""
        __tracebackhide__ = True
        from .go import hygiene_findings

        binaries = self.go_binaries
        loader = self.has_dynamic_loader if any(not b.static for b in binaries) else True
        return [finding for binary in binaries for finding in hygiene_findings(binary, loader)]

    def largest_layers(self, count: int = 3) -> list[Layer]:
        return sorted(self.layers, key=lambda layer: layer.size, reverse=True)[:count]

    def to_wire(self) -> dict[str, Any]:
        """A JSON-able copy (for pytest-xdist's worker output); the analysis rides along."""
        return {
            "name": self.name,
            "ref": self.ref,
            "id": self.id,
            "tags": list(self.tags),
            "engine_size": self.engine_size,
            "layers": [
                [la.index, la.size, la.created_by, la.diff_id, la.compressed_size, la.from_base]
                for la in self._inspected_layers
            ],
            "config": {**self.config.__dict__, "labels": dict(self.config.labels)},
            "engine": None if self.engine is None else self.engine.__dict__,
            "analysis": None if self._analysis is None else self._analysis.to_json(),
            "where": [self.platform, self.source, self.config_size, self.stored_compressed_size],
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Image:
        image = cls._from_wire(data)
        where = [*(data.get("where") or (None, "engine")), None, None][:4]
        image.platform, image.source, image.config_size, image.stored_compressed_size = where
        return image

    @classmethod
    def _from_wire(cls, data: dict[str, Any]) -> Image:
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
        return cls(
            name=data["name"],
            ref=data["ref"],
            id=data["id"],
            tags=list(data["tags"]),
            config=config,
            layers=[Layer(*row) for row in data["layers"]],
            engine_size=int(data["engine_size"]),
            engine_info=None if data["engine"] is None else EngineInfo(**data["engine"]),
            analysis=None if data["analysis"] is None else _analysis_from_json(data["analysis"]),
        )

    @classmethod
    def measure(
        cls,
        engine: Engine,
        ref: str,
        name: str | None = None,
        cache: AnalysisCache | None = None,
        progress: ProgressSink | None = None,
        base: str | None = None,
    ) -> Image:
        """Measure ``ref`` through the engine's inspect and history. ``base`` names the image it
        was built on (else the ``org.opencontainers.image.base.name`` label, when present)."""
        data = engine.inspect_image(ref)
        image_id = str(data["Id"])
        diff_ids = list((data.get("RootFS") or {}).get("Layers") or [])
        config = config_from_inspect(data)
        layers = layers_from_history(engine.history(image_id), diff_ids)
        base_ref = base or config.labels.get(BASE_LABEL) or None
        base_image = None if base_ref is None else _find_base(engine, base_ref, diff_ids)
        if base_image is not None and base_image.layer_count:
            layers = [replace(la, from_base=i < base_image.layer_count) for i, la in enumerate(layers)]
        image = cls(
            name=name or ref,
            ref=ref,
            id=image_id,
            tags=list(data.get("RepoTags") or []),
            config=config,
            layers=layers,
            engine_size=int(data.get("Size") or 0),
            engine_info=engine.info(),
            engine=engine,
            cache=cache,
            progress=progress,
        )
        image.base_image = base_image
        image.engine_platform = _stated_platform(data)
        return image


BASE_LABEL = "org.opencontainers.image.base.name"


@dataclass(frozen=True)
class BaseImage:
    """The image another was built on, as the engine has it now. ``layer_count`` leading layers
    of the image are the base's (0 when the base is not on the engine or its layers differ);
    ``note`` says why, in one line, when they could not be matched."""

    ref: str
    id: str | None
    layer_count: int
    note: str | None = None


def _stated_platform(data: dict[str, Any]) -> str | None:
    """``linux/arm64`` from the engine's inspect data (``Os``, ``Architecture``, ``Variant``)."""
    from ..sources.platforms import Platform

    found = Platform.from_json(
        {"os": data.get("Os"), "architecture": data.get("Architecture"), "variant": data.get("Variant")}
    )
    return None if found is None else str(found)


def _find_base(engine: Engine, ref: str, diff_ids: Sequence[str]) -> BaseImage:
    try:
        data = engine.inspect_image(ref)
    except ImageNotFound:
        return BaseImage(
            ref,
            None,
            0,
            f"base image {ref} is not in the engine's image store (built remotely?): the whole "
            "image counts as its own layers",
        )
    base_ids = list((data.get("RootFS") or {}).get("Layers") or [])
    if base_ids and list(diff_ids[: len(base_ids)]) == base_ids:
        return BaseImage(ref, str(data["Id"]), len(base_ids))
    return BaseImage(
        ref,
        str(data["Id"]),
        0,
        f"base image {ref} on the engine ({short_id(str(data['Id']))}) has other layers than the ones "
        "this image was built on: the whole image counts as its own layers",
    )


def _analysis_from_json(data: Any) -> ImageAnalysis | None:
    from .analysis import ImageAnalysis

    return ImageAnalysis.from_json(data)


def measure_image(
    ref: str,
    engine: Engine | None = None,
    cache: AnalysisCache | None = None,
    *,
    client: Any = None,
    name: str | None = None,
) -> Image:
    """Measure an image outside pytest (the CLI uses this). Lazy fields work as in tests.

    ``engine`` defaults to the one at DOCKER_HOST; the earlier ``client=`` (a docker-py client)
    still works. ``cache`` defaults to the per-user analysis cache."""
    from .cache import DirectoryCache

    if engine is not None and not hasattr(engine, "save"):  # a docker-py client, given positionally
        engine, client = None, engine
    if engine is None and client is not None:
        from ..engine.address import engine_address
        from ..engine.docker_api import DockerEngine

        engine = DockerEngine(client, engine_address())
    if engine is None:
        from ..engine.quick import connect  # no docker-py import until an archive or a build needs it

        engine = connect()
    return Image.measure(engine, ref, name, DirectoryCache() if cache is None else cache)
