"""Reading an image's layer blobs from a source (``source.BlobSource``) into an ``ArchiveScan``:
each layer measured (``layer``), layers measured before skipped, the layers put in image order
and their diff IDs confirmed against the image config.

Memory is bounded whatever the image size: besides what the source receives ahead
(``save.PREFETCH``, ``save.PREFETCH_COMPRESSED`` for an archive stream), a read holds up to
``layer.INFLATED_AHEAD`` bytes inflated ahead of the parser, ``2 * workers`` compression blocks of
``gzip_size.BLOCK`` in flight (and the two being filled), the probe buffer
(``probe.PROBE_BUFFER``), up to ``probe.PROBE_HELD`` bytes of probed files waiting for the probe,
a probed file bigger than the buffer while it is read, and the layers' entries."""

from __future__ import annotations

import contextlib
import gc
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from .gzip_size import default_workers
from .layer import compression, scan_compressed, scan_plain
from .model import ArchiveError, ArchiveScan, KnownLayers, LayerGuessMissed, LayerScan
from .probe import BackgroundProbe, FileProbe, ProbeBuffer
from .save import SaveStream
from .source import Blob, BlobInfo, BlobSource, ImageLayout
from .stream import Member
from .tar import RECORD


def read_archive(
    chunks: Iterable[bytes],
    workers: int | None = None,
    probe: FileProbe | None = None,
    known: KnownLayers | None = None,
) -> ArchiveScan:
    """Scan an image archive stream (``docker save``): every layer's entries, portable size and
    compressed size; see ``read_blobs``."""
    return read_blobs(SaveStream(chunks), workers, probe, known)


def read_blobs(
    source: BlobSource,
    workers: int | None = None,
    probe: FileProbe | None = None,
    known: KnownLayers | None = None,
) -> ArchiveScan:
    """Scan the layer blobs of ``source``: every layer's entries, portable size and compressed
    size, in image order.

    With ``known``, a layer recognised as a known one is skipped, not measured again
    (``LayerGuessMissed`` when it was not one after all). ``workers`` threads gzip plain layers
    (default: one per core). ``source`` and ``probe`` are closed at the end."""
    try:
        with _no_cycle_collection():
            return _Reader(workers or default_workers(), probe, known).read(source)
    finally:
        if probe is not None:
            probe.close()


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while an image is read: the read makes hundreds of
    thousands of small objects (headers, entries) and none of them in cycles, and collections
    triggered by their count took ~4 % of the reading thread's time. Switched back on after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Reader:
    """One pass over one source's blobs."""

    def __init__(self, workers: int, probe: FileProbe | None, known: KnownLayers | None) -> None:
        self.workers = workers
        self.probe = probe
        self.known = known  # a reused layer brings what the probe found in it (cached with it)
        self.remaining = list(known.expected) if known is not None else []
        self.scans: dict[str, LayerScan] = {}
        self.held = ProbeBuffer()  # where probed files are read, reused from layer to layer

    def read(self, source: BlobSource) -> ArchiveScan:
        outer = self.probe
        background = None if outer is None else BackgroundProbe(outer)
        self.probe = background
        try:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="imagesize-gzip") as pool:
                try:
                    for blob in source.blobs():
                        self.scans[blob.info.key] = self._layer(blob, source.what, pool)
                except (EOFError, zlib.error) as exc:
                    raise ArchiveError(f"{source.what} is truncated or malformed ({exc})") from None
            layout = source.layout()
            if background is not None:
                background.settle(self.scans.values())
        finally:
            self.probe = outer
            source.close()
            if background is not None:
                background.close()
        return _assemble(self.scans, layout, self.known, source.what)

    def _layer(self, blob: Blob, what: str, pool: ThreadPoolExecutor) -> LayerScan:
        info, data = blob.info, blob.data
        stored_as = compression(data.peek(min(RECORD, info.size)))
        if stored_as is not None:
            return scan_compressed(data, info.key, info.size, stored_as, what, self.probe, self.held)
        guess = self._guess(info)
        if guess is None:
            return scan_plain(data, info.key, info.size, what, pool, self.workers, self.probe, self.held)
        # Taken for a known layer: skipped unread. Its diff ID is confirmed against the image
        # config's at the end (``_assemble``), which is what pairs them up.
        if Member(data, info.size).skip(info.size) < info.size:
            raise ArchiveError(f"{what} is truncated")
        assert guess.diff_id is not None
        with contextlib.suppress(ValueError):
            self.remaining.remove(guess.diff_id)
        return replace(guess, key=info.key, reused=True)

    def _guess(self, info: BlobInfo) -> LayerScan | None:
        """The known layer a plain layer blob is taken for: by its diff ID or digest (the same for
        an uncompressed blob) when the source names them, else the next expected one of its size."""
        if self.known is None:
            return None
        if info.diff_id is not None or info.digest is not None:
            return self.known.scans.get(info.diff_id or info.digest or "")
        for diff_id in self.remaining:
            scan = self.known.scans.get(diff_id)
            if scan is not None and scan.tar_size == info.size:
                return scan
        return None


def _assemble(
    scans: dict[str, LayerScan], layout: ImageLayout, known: KnownLayers | None, what: str
) -> ArchiveScan:
    """The layers in the layout's order, each with its diff ID from the image config; a layer
    taken for a known one is confirmed (or swapped for the known one it is) by it."""
    missing = [key for key in layout.layers if key not in scans]
    if missing:
        raise ArchiveError(f"{what} lacks layer {missing[0]} that its manifest names")
    config = layout.config
    layers = [scans[key] for key in layout.layers]
    diff_ids = (
        (config.get("rootfs") or {}).get("diff_ids") if isinstance(config.get("rootfs"), dict) else None
    )
    if isinstance(diff_ids, list) and len(diff_ids) == len(layers):
        for i, (layer, diff_id) in enumerate(zip(layers, diff_ids, strict=False)):
            if layer.reused and layer.diff_id != str(diff_id):
                # Taken for another known layer of the same size (a classic archive's layers come in
                # the order of their IDs, not the image's): the one it is, if it is known too.
                actual = known.scans.get(str(diff_id)) if known is not None else None
                if actual is None or actual.tar_size != layer.tar_size:
                    raise LayerGuessMissed(f"layer {layer.key} is not the known layer it was taken for")
                layer = layers[i] = replace(actual, key=layer.key, reused=True)
            layer.diff_id = str(diff_id)
    elif any(layer.reused for layer in layers):
        raise LayerGuessMissed("the image config lists no diff IDs to confirm the known layers by")
    return ArchiveScan(layers=layers, config=config)
