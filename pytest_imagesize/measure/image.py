"""What an image is, as measured: ``Image`` and ``Layer``.

Sizes are portable (see README, "Size semantics"): the bytes of the files and link targets each
layer writes. Where the engine's own ``.Size`` is that number (Docker's graph-driver store) it is
used as it comes, so a plain size check reads no archive; elsewhere the size is read from the
image's archive, once per image ID (cached). The engine's number is kept as ``engine_size``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

from ..engine.protocol import Engine, EngineInfo
from ..errors import ImageNotFound, ImageSizeError
from ..ids import short_id
from ..sizes import format_size

if TYPE_CHECKING:  # the archive machinery loads when an archive is read (a light size check)
    from ..progress import ProgressSink, Step
    from .analysis import ImageAnalysis
    from .cache import AnalysisCache
    from .go import Finding, GoBinary
    from .layers import FileTree
    from .summary import BaseSummary, ImageSummary

# Instructions that only change the image config, never the filesystem.
_METADATA_ONLY = re.compile(
    r"^(?:/bin/sh -c #\(nop\)\s*)?(ENV|LABEL|CMD|ENTRYPOINT|EXPOSE|USER|ARG|ONBUILD|STOPSIGNAL"
    r"|HEALTHCHECK|SHELL|VOLUME|MAINTAINER)\b"
)


@dataclass(frozen=True)
class Layer:
    """One filesystem layer: its uncompressed size and the instruction that made it."""

    index: int
    size: int  # portable: bytes of the files and link targets it writes
    created_by: str | None
    diff_id: str | None = None
    compressed_size: int | None = None  # known once the archive has been read
    from_base: bool = False  # one of the base image's layers

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


class Image:
    """An image as measured on one engine.

    ``size`` is the portable uncompressed size; ``engine_size`` the engine's own ``.Size``.
    ``compressed_size``, ``files``, ``wasted_bytes`` and ``efficiency`` need the image's archive:
    it is read on first use, once per image ID (cached), by the engine the image came from.
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
        self.base_image: BaseImage | None = None
        # where it was measured: "linux/arm64" (None: the engine's one platform, not stated),
        # "engine" / "registry" / "oci" / "oci-archive" / "docker-archive", the config blob's size
        self.platform: str | None = None
        self.source = "engine"
        self.config_size: int | None = None

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
            if self._engine is None:
                raise ImageSizeError(
                    f"image {self.label} was measured without an engine connection; its archive "
                    "cannot be read (measure it with measure_image() or a fixture)"
                )
            reading = _ReadProgress(self._engine, self._progress, self.name, self.engine_size)
            try:
                from .analysis import read_image_archive

                self._analysis = read_image_archive(
                    cast(Engine, reading),
                    self.id,
                    self.label,
                    len(self._inspected_layers),
                    self._cache,
                    self._content_key(),
                    self.engine_size if self.size_from_engine else None,
                )
            except ImageSizeError as exc:
                raise exc.with_traceback(None) from None
            reading.finished(self._analysis)
        return self._analysis

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
        self.analysis()
        return sum(la.compressed_size or 0 for la in self.layers if not la.from_base)

    def summary(self, *, files: bool = True) -> ImageSummary:
        """What a baseline keeps of this image; ``files=True`` reads the archive for the manifest."""
        __tracebackhide__ = True
        analysis = self.analysis() if files else self._analysis
        layers = self.layers
        from .summary import ImageSummary, LayerSummary, directory_totals, file_manifest, manifest_complete

        manifest = file_manifest(analysis.files, self.size) if analysis else {}
        return ImageSummary(
            size=self.size,
            compressed_size=analysis.compressed_size if analysis else None,
            layers=tuple(LayerSummary(la.diff_id, la.size, la.instruction, la.from_base) for la in layers),
            base=self.base,
            own_size=self.own_size,
            own_compressed_size=self.own_compressed_size if analysis else None,
            files=manifest,
            files_complete=manifest_complete(analysis.files, manifest) if analysis else None,
            dirs=directory_totals(analysis.files) if analysis else {},
            go={b.path: {m: mod.size for m, mod in b.modules.items()} for b in analysis.go_binaries}
            if analysis
            else {},
            go_packages=self._own_go_packages(analysis) if analysis else {},
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
            "where": [self.platform, self.source, self.config_size],
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Image:
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
            config=config,
            layers=[Layer(*row) for row in data["layers"]],
            engine_size=int(data["engine_size"]),
            engine_info=None if data["engine"] is None else EngineInfo(**data["engine"]),
            analysis=None if data["analysis"] is None else _analysis_from_json(data["analysis"]),
        )
        image.platform, image.source, image.config_size = data.get("where") or (None, "engine", None)
        return image

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


class _ReadProgress:
    """The engine as the archive reader sees it: ``save`` reports the read's start, bytes read so
    far and its end (nothing when the analysis comes from the cache)."""

    def __init__(self, engine: Engine, sink: ProgressSink | None, name: str, approximate_total: int) -> None:
        self._engine = engine
        self._sink = sink
        self._name = name
        self._total = approximate_total
        self._step: Step | None = None

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._engine, attribute)

    def save(self, image_id: str) -> Iterator[bytes]:
        chunks = self._engine.save(image_id)
        if self._sink is None:
            return chunks
        from ..progress import Step, counted

        self._step = Step(self._sink, f"reading {self._name} (~{format_size(self._total)} archive) ...")
        return counted(chunks, self._step, self._name, self._total)

    def finished(self, analysis: ImageAnalysis) -> None:
        if self._step is not None:
            self._step.end(
                f"read {self._name} in {{seconds}}: {format_size(analysis.size)}, "
                f"{format_size(analysis.compressed_size)} compressed"
            )


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
        for e, c in zip(entries, certain, strict=False)
    ]
    wanted = len(diff_ids)
    if sum(certain) == wanted:
        chosen = certain
    elif sum(certain) + sum(maybe) == wanted:
        chosen = [c or m for c, m in zip(certain, maybe, strict=False)]
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
    picked = [e for e, keep in zip(entries, chosen, strict=False) if keep]
    return [
        Layer(
            index=i,
            size=int(e.get("Size") or 0),
            created_by=str(e.get("CreatedBy") or e.get("Comment") or "") or None,
            diff_id=diff_ids[i],
        )
        for i, e in enumerate(picked)
    ]


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
