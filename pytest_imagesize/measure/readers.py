"""Where an image's analysis is read from: the pluggable reader behind ``Image.analysis()``.

An ``AnalysisReader`` reads one image once and returns its ``ImageAnalysis`` (or takes it from the
cache). ``EngineArchive`` reads the engine's ``docker save`` stream (``analysis.read_image_archive``);
``source_read.SourceBlobs`` reads the layer blobs of an image source (registry, OCI layout,
archive)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..engine.protocol import Engine
from ..sizes import format_size

if TYPE_CHECKING:
    from ..progress import ProgressSink, Step
    from .analysis import ImageAnalysis
    from .cache import AnalysisCache


class AnalysisReader(Protocol):
    """Reads one image's analysis; asked at most once per ``Image``."""

    def read(self) -> ImageAnalysis: ...


class EngineArchive:
    """The image's ``docker save`` stream from the engine, cached by image ID (or ``content_key``);
    ``expected_size`` is what the layers must add up to where the engine's own size is portable."""

    def __init__(
        self,
        engine: Engine,
        image_id: str,
        label: str,
        layer_count: int,
        *,
        cache: AnalysisCache | None,
        content_key: str | None,
        expected_size: int | None,
        progress: ProgressSink | None,
        name: str,
        approximate_total: int,
    ) -> None:
        self._engine = engine
        self._image_id = image_id
        self._label = label
        self._layer_count = layer_count
        self._cache = cache
        self._content_key = content_key
        self._expected_size = expected_size
        self._progress = progress
        self._name = name
        self._total = approximate_total

    def read(self) -> ImageAnalysis:
        from .analysis import read_image_archive

        reading = _ReadProgress(self._engine, self._progress, self._name, self._total)
        analysis = read_image_archive(
            cast(Engine, reading),
            self._image_id,
            self._label,
            self._layer_count,
            self._cache,
            self._content_key,
            self._expected_size,
        )
        reading.finished(analysis)
        return analysis


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
