"""The blob-source seam of the archive reader: layer blobs handed over by digest from memory (plain
tar, gzip, zstd; in another order than the image's, several received at once) measure exactly as
the same layers in a ``docker save`` stream; and the reader's typed errors and process hygiene."""

from __future__ import annotations

import ctypes
import dataclasses
import io
import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_imagesize.measure.archive import (
    ArchiveDirectory,
    ArchiveError,
    Blob,
    BlobInfo,
    BlobSource,
    EmptyTar,
    FileProbe,
    ImageLayout,
    KnownLayers,
    LayerScan,
    Prefetched,
    read_archive,
    read_blobs,
)
from pytest_imagesize.measure.archive.stream import ChunkReader
from pytest_imagesize.measure.archive.tar import walk
from pytest_imagesize.measure.go import worker

from ..support.archives import chunks
from ..support.fake_engine import FakeImage, sha256

LAYERS = [
    {"bin/app": b"\x7fELF" + bytes(range(256)) * 40, "bin/sh": ("symlink", "/bin/app")},
    {"etc/passwd": b"root:x:0:0::/root:/sbin/nologin\n" * 3, "etc/hosts": ("hardlink", "etc/passwd")},
    {"bin/app": ("whiteout",), "srv": ("opaque",), "srv/data": b"d" * 5_000},
    {"usr/lib/big": bytes(range(256)) * 9_000, "usr/lib/empty": b""},
]
MEDIA = {"tar": "", "gzip": "+gzip", "zstd": "+zstd"}


class MemorySource:
    """Layer blobs from memory, keyed by digest, as a registry would serve them: the manifest and
    config known up front, the blobs in reverse image order; with ``at_once``, every blob is
    received ahead by a thread of its own, each at most ``limit`` bytes ahead."""

    what = "the image in memory"

    def __init__(
        self,
        blobs: list[tuple[BlobInfo, bytes]],
        layout: ImageLayout,
        *,
        at_once: bool = False,
        limit: int = 64 << 10,
    ) -> None:
        self.contents, self.image_layout, self.at_once, self.limit = blobs, layout, at_once, limit
        self.receiving: list[Prefetched] = []
        self.closed = 0

    @classmethod
    def of(cls, image: FakeImage, *, name_diff_ids: bool = False, at_once: bool = False) -> MemorySource:
        """``image``'s layer blobs by digest (or by diff ID alone, with ``name_diff_ids``)."""
        blobs = []
        for layer in image.layers:
            digest = sha256(layer.blob)
            info = BlobInfo(
                key=digest,
                size=len(layer.blob),
                digest=None if name_diff_ids else digest,
                diff_id=layer.diff_id if name_diff_ids else None,
                media_type="application/vnd.oci.image.layer.v1.tar" + MEDIA[layer.compression],
            )
            blobs.append((info, layer.blob))
        layout = ImageLayout(json.loads(image.config_blob), [sha256(layer.blob) for layer in image.layers])
        return cls(blobs, layout, at_once=at_once)

    def blobs(self) -> Iterator[Blob]:
        delivered = self.contents[::-1]
        if not self.at_once:
            for info, data in delivered:
                yield Blob.of(info, chunks(data, 777))
            return
        for _, data in delivered:
            self.receiving.append(Prefetched(chunks(data, 777), self.limit))
        for (info, _), received in zip(delivered, self.receiving, strict=False):
            yield Blob(info, ChunkReader(received))

    def layout(self) -> ImageLayout:
        return self.image_layout

    def close(self) -> None:
        self.closed += 1
        for received in self.receiving:
            received.close()


class Heads(FileProbe):
    """Keeps each ELF file's size and first bytes."""

    def wants(self, path: str, size: int, head: bytes) -> bool:
        return head.startswith(b"\x7fELF")

    def take(self, path: str, data: bytes | bytearray) -> Any:
        return (len(data), bytes(data[:8]))


def without_key(scan: LayerScan) -> LayerScan:
    return dataclasses.replace(scan, key="")


def fake(compression: str | list[str]) -> FakeImage:
    return FakeImage.from_layers(LAYERS, compression=compression, layout="oci")  # type: ignore[arg-type]


def test_the_save_stream_is_a_blob_source() -> None:
    from pytest_imagesize.measure.archive import SaveStream

    source: BlobSource = SaveStream([])
    assert source.what == "the image archive"


@pytest.mark.parametrize(
    "compression",
    ["tar", "gzip", "zstd", ["zstd", "tar", "gzip", "tar"], ["gzip", "zstd", "zstd", "tar"]],
    ids=str,
)
@pytest.mark.parametrize("layout", ["oci", "classic"])
@pytest.mark.parametrize("at_once", [False, True], ids=["one-by-one", "at-once"])
def test_blobs_by_digest_measure_as_the_same_layers_in_a_save_stream(
    compression: str | list[str], layout: Literal["oci", "classic"], at_once: bool
) -> None:
    image = FakeImage.from_layers(LAYERS, compression=compression, layout=layout)  # type: ignore[arg-type]
    saved = read_archive(chunks(image.archive(), 4_099), probe=Heads())
    source = MemorySource.of(image, at_once=at_once)
    served = read_blobs(source, probe=Heads())
    assert [without_key(scan) for scan in served.layers] == [without_key(scan) for scan in saved.layers]
    assert served.config == saved.config
    assert [scan.key for scan in served.layers] == [sha256(layer.blob) for layer in image.layers]
    assert [scan.diff_id for scan in served.layers] == [layer.diff_id for layer in image.layers]
    assert [scan.stored_as for scan in served.layers] == [layer.compression for layer in image.layers]
    assert served.layers[0].probed == {"/bin/app": (10_244, b"\x7fELF\x00\x01\x02\x03")}
    assert source.closed == 1
    assert all(not received._thread.is_alive() for received in source.receiving)


def test_a_source_names_known_layers_by_diff_id() -> None:
    # two layers of the same tar size, delivered newest first, only the older one known: the
    # size alone would take the newer one for it (and find out only at the end)
    image = FakeImage.from_layers([{"a": b"x" * 700}, {"b": b"y" * 700}], compression="tar", layout="oci")
    first = read_blobs(MemorySource.of(image))
    assert first.layers[0].tar_size == first.layers[1].tar_size
    diff_ids = [layer.diff_id or "" for layer in first.layers]
    known = KnownLayers(list(diff_ids), {diff_ids[0]: first.layers[0]})
    again = read_blobs(MemorySource.of(image, name_diff_ids=True), known=known)
    assert [layer.reused for layer in again.layers] == [True, False]
    assert [[e.path for e in layer.entries] for layer in again.layers] == [["/a"], ["/b"]]
    assert [layer.diff_id for layer in again.layers] == diff_ids


def test_a_blob_shorter_than_its_size_is_one_line_and_the_source_is_closed() -> None:
    source = MemorySource.of(fake(["tar", "gzip", "zstd", "tar"]))
    info, data = source.contents[-1]  # delivered first
    source.contents[-1] = (info, data[: len(data) // 2])
    with pytest.raises(ArchiveError, match="truncated") as caught:
        read_blobs(source)
    assert "\n" not in str(caught.value)
    assert source.closed == 1


def test_a_layer_the_manifest_names_but_the_source_never_delivered() -> None:
    source = MemorySource.of(fake("gzip"))
    del source.contents[1]
    with pytest.raises(ArchiveError, match=r"^the image in memory lacks layer sha256:[0-9a-f]{64} that"):
        read_blobs(source)
    assert source.closed == 1


# ---------------------------------------------------------------- typed errors


def test_an_empty_tar_is_its_own_error_type() -> None:
    with pytest.raises(EmptyTar) as info:
        list(walk(ChunkReader([]), "the stream"))
    assert isinstance(info.value, ArchiveError)
    assert str(info.value) == "the stream is empty"
    with pytest.raises(EmptyTar, match=r"^the image archive is empty$"):
        read_archive([b""])


def test_an_empty_layer_blob_is_a_layer_without_entries() -> None:
    source = MemorySource.of(fake("tar"))
    info, _ = source.contents[0]
    source.contents[0] = (dataclasses.replace(info, size=0), b"")
    scan = read_blobs(source)
    assert (scan.layers[0].entries, scan.layers[0].portable_size) == ([], 0)
    assert scan.layers[1].portable_size == 96


def test_a_bad_layer_is_an_error_whatever_its_message_says() -> None:
    # an empty layer is told by the error's type, not its text: a broken layer whose key makes
    # the message read "layer what is empty is not a valid tar" is not taken for an empty one
    garbage = b"not a tar" * 10
    source = MemorySource(
        [(BlobInfo("what is empty", len(garbage)), garbage)], ImageLayout({}, ["what is empty"])
    )
    with pytest.raises(ArchiveError, match=r"^layer what is empty is not a valid tar"):
        read_blobs(source)


# ---------------------------------------------------------------- the user's process


def test_reading_an_archive_leaves_the_processes_malloc_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """mallopt settings cannot be read back or undone: the reader (in the user's pytest process)
    never loads libc to make them; only the Go worker process does, in its own ``main``."""
    loaded: list[object] = []
    real = ctypes.CDLL

    def recording(name: object, *args: Any, **kwargs: Any) -> ctypes.CDLL:
        loaded.append(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ctypes, "CDLL", recording)
    read_archive(chunks(fake(["tar", "gzip", "zstd", "tar"]).archive(), 4_099), probe=Heads())
    assert loaded == []


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return 1


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, [(worker.M_MMAP_THRESHOLD, 32 << 20), (worker.M_TRIM_THRESHOLD, 1 << 30)]),
        ({"MALLOC_TRIM_THRESHOLD_": "0"}, [(worker.M_MMAP_THRESHOLD, 32 << 20)]),
        ({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"}, []),
    ],
)
def test_the_go_worker_process_tunes_its_own_malloc_unless_the_user_did(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: list[tuple[int, int]]
) -> None:
    libc = FakeLibc()
    monkeypatch.setattr(ctypes, "CDLL", lambda name, *args, **kwargs: libc)
    for name in ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    worker._keep_freed_memory()  # what the worker's main does first
    assert libc.calls == expected


# ---------------------------------------------------------------- an archive unpacked on disk


def unpack(image: FakeImage, into: Path) -> Path:
    with tarfile.open(fileobj=io.BytesIO(image.archive())) as tar:
        tar.extractall(into, filter="data")
    return into


@pytest.mark.parametrize("compression", ["tar", ["zstd", "tar", "gzip", "tar"]], ids=str)
@pytest.mark.parametrize("layout", ["oci", "classic"])
def test_an_unpacked_archive_reads_as_its_stream(
    tmp_path: Path, compression: str | list[str], layout: Literal["oci", "classic"]
) -> None:
    image = FakeImage.from_layers(LAYERS, compression=compression, layout=layout)  # type: ignore[arg-type]
    streamed = read_archive([image.archive()], probe=Heads())
    unpacked = read_blobs(ArchiveDirectory(unpack(image, tmp_path)), probe=Heads())
    assert unpacked == streamed  # the same keys too: the blobs' paths in the archive


def test_a_layer_file_missing_from_an_unpacked_archive_is_one_line(tmp_path: Path) -> None:
    image = fake("gzip")
    unpack(image, tmp_path)
    missing = f"blobs/sha256/{sha256(image.layers[2].blob).split(':')[1]}"
    (tmp_path / missing).unlink()
    where = re.escape(f"the image directory {tmp_path}: cannot read layer {missing}")
    with pytest.raises(ArchiveError, match=rf"^{where} \(No such file or directory\)$"):
        read_blobs(ArchiveDirectory(tmp_path))


def test_an_unpacked_archive_reads_no_file_outside_it(tmp_path: Path) -> None:
    image = FakeImage.from_layers([LAYERS[0]], layout="classic")  # type: ignore[list-item]
    root = unpack(image, tmp_path / "image")
    (tmp_path / "secret.tar").write_bytes(image.layers[0].tar)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest[0]["Layers"] = ["../secret.tar"]
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArchiveError, match=r"names \.\./secret\.tar, which is outside it$"):
        read_blobs(ArchiveDirectory(root))


def test_a_directory_without_a_manifest_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match=r"has neither manifest\.json nor index\.json$"):
        read_blobs(ArchiveDirectory(tmp_path))
