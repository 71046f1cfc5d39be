"""The archive reader on archives generated in memory: the OCI layout (index.json + blobs) with
gzip and zstd layer blobs, the classic layout, empty layers, odd streams and damaged input."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import gzip
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from typing import Any, Literal

import pytest
import zstandard

from pytest_imagesize.errors import EngineUnavailable
from pytest_imagesize.measure.archive import (
    PREFETCH,
    ArchiveError,
    FileProbe,
    KnownLayers,
    LayerGuessMissed,
    Prefetched,
    read_archive,
)
from pytest_imagesize.measure.archive import layer as layer_module
from pytest_imagesize.measure.archive import probe as probe_module
from pytest_imagesize.measure.archive import save as save_module
from pytest_imagesize.measure.layers import merge

from ..support.archives import chunks
from ..support.fake_engine import FakeImage, FakeLayer, sha256

LAYERS = [
    {"bin/app": b"\x7fELF" + bytes(range(256)) * 40, "bin/sh": ("symlink", "/bin/app")},
    {"etc/passwd": b"root:x:0:0::/root:/sbin/nologin\n" * 3, "etc/hosts": ("hardlink", "etc/passwd")},
    {"bin/app": ("whiteout",), "srv": ("opaque",), "srv/data": b"d" * 5_000},
]
PORTABLE = [10_244 + 8, 96, 5_000]  # "/bin/app" is 8 bytes; passwd line 32 bytes


def image(compression: str | list[str], layout: str = "oci") -> FakeImage:
    return FakeImage.from_layers(LAYERS, compression=compression, layout=layout)  # type: ignore[arg-type]


@pytest.mark.parametrize("layout", ["oci", "classic"])
@pytest.mark.parametrize(
    "compression", ["gzip", "zstd", ["zstd", "gzip", "tar"], ["tar", "zstd", "gzip"]], ids=str
)
def test_layers_in_every_layout_and_compression(layout: str, compression: str | list[str]) -> None:
    fake = image(compression, layout)
    scan = read_archive(chunks(fake.archive(), 4_099))
    assert [layer.portable_size for layer in scan.layers] == PORTABLE
    assert [layer.diff_id for layer in scan.layers] == [layer.diff_id for layer in fake.layers]
    assert [layer.stored_as for layer in scan.layers] == [layer.compression for layer in fake.layers]
    for layer, made in zip(scan.layers, fake.layers, strict=False):
        if made.compression == "tar":  # sized as gzip would store it
            assert 0 < layer.compressed_size < len(made.tar)
        else:  # counted as stored
            assert layer.compressed_size == len(made.blob)
    assert [e.path for e in scan.layers[0].entries] == ["/bin", "/bin/app", "/bin/sh"]
    assert scan.layers[1].entries[-1].kind == "hardlink" and scan.layers[1].entries[-1].link == "/etc/passwd"
    assert [h["created_by"] for h in scan.config["history"]][:3] == [
        "COPY layer0 /",
        "COPY layer1 /",
        "COPY layer2 /",
    ]
    merged = merge(scan)
    assert merged.wasted_bytes == 10_244
    assert merged.written == 10_244 + 96 + 5_000  # regular files only: links write no bytes
    assert merged.efficiency == pytest.approx(1 - 10_244 / 15_340)
    assert merged.files.has("/srv/data") and not merged.files.has("/bin/app")


def test_oci_blobs_are_found_through_the_index() -> None:
    fake = image("zstd")
    with tarfile.open(fileobj=io.BytesIO(fake.archive())) as source:
        names = source.getnames()
    assert "manifest.json" not in names and "index.json" in names
    assert all(name.startswith("blobs/sha256/") for name in names if name not in ("index.json", "oci-layout"))
    assert len(read_archive([fake.archive()]).layers) == 3


def members(archive: bytes) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as source:
        found = []
        for member in source.getmembers():
            data = source.extractfile(member)
            assert data is not None
            found.append((member, data.read()))
        return found


def nested(archive: bytes) -> bytes:
    """The archive with index.json -> index blob -> manifest, as multi-platform images have it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for member, content in members(archive):
            if member.name == "index.json":
                inner = content
                digest = sha256(inner)
                blob = tarfile.TarInfo(f"blobs/sha256/{digest.split(':')[1]}")
                blob.size = len(inner)
                tar.addfile(blob, io.BytesIO(inner))
                outer = {"schemaVersion": 2, "manifests": [{"digest": digest, "size": len(inner)}]}
                content = json.dumps(outer).encode()
                member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
    return out.getvalue()


def test_a_nested_index_is_followed() -> None:
    scan = read_archive([nested(image("gzip").archive())])
    assert [layer.portable_size for layer in scan.layers] == PORTABLE


@pytest.mark.parametrize("compression", ["tar", "gzip", "zstd"])
def test_an_empty_layer(compression: str) -> None:
    fake = FakeImage.from_layers([{"a": b"x" * 10}, {}], compression=compression, layout="oci")  # type: ignore[arg-type]
    scan = read_archive([fake.archive()])
    assert [(layer.portable_size, layer.entries) for layer in scan.layers][1] == (0, [])
    assert scan.layers[1].diff_id == fake.layers[1].diff_id


def test_one_byte_chunks() -> None:
    fake = FakeImage.from_layers([{"a": b"abc" * 100}], compression="zstd", layout="oci")
    scan = read_archive(chunks(fake.archive(), 1))
    assert scan.layers[0].portable_size == 300
    assert scan.layers[0].compressed_size == len(fake.layers[0].blob)


def test_a_gzip_blob_of_several_members_is_read_whole() -> None:
    tar = FakeImage.from_layers([{"a": b"a" * 3_000, "b/c": b"c" * 4_000}]).layers[0].tar
    blob = gzip.compress(tar[:5_000], mtime=0) + gzip.compress(tar[5_000:], mtime=0)
    fake = FakeImage(
        [FakeLayer({"a": b"a" * 3_000, "b/c": b"c" * 4_000}, "COPY", "gzip", blob)], layout="oci"
    )
    scan = read_archive([fake.archive()])
    assert scan.layers[0].portable_size == 7_000
    assert scan.layers[0].compressed_size == len(blob)


@pytest.mark.parametrize("cut", [5_000, 1_536])  # mid-file; on a tar header boundary
def test_a_zstd_blob_of_several_frames_is_read_whole(cut: int) -> None:
    spec = {"a": b"a" * 3_000, "b/c": b"c" * 4_000}
    tar = FakeImage.from_layers([spec]).layers[0].tar
    compressor = zstandard.ZstdCompressor()
    blob = compressor.compress(tar[:cut]) + compressor.compress(tar[cut:])
    fake = FakeImage([FakeLayer(spec, "COPY", "zstd", blob)], layout="oci")
    scan = read_archive([fake.archive()])
    assert scan.layers[0].portable_size == 7_000
    assert scan.layers[0].compressed_size == len(blob)


def test_a_damaged_zstd_blob_is_one_line() -> None:
    spec = {"a": b"a" * 3_000}
    good = zstandard.ZstdCompressor().compress(FakeImage.from_layers([spec]).layers[0].tar)
    bad = good[:12] + bytes(len(good) - 12)
    fake = FakeImage([FakeLayer(spec, "COPY", "zstd", bad)], layout="oci")
    with pytest.raises(ArchiveError) as info:
        read_archive([fake.archive()])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_blob_of_zeros_is_inflated_in_bounded_chunks(
    compression: Literal["gzip", "zstd"], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = {"zeros": bytes(16 << 20), "b": b"b" * 10}  # 16 MiB that compress to ~16 kB
    tar = FakeImage.from_layers([spec]).layers[0].tar
    blob = gzip.compress(tar, mtime=0) if compression == "gzip" else zstandard.ZstdCompressor().compress(tar)
    biggest = [0]
    real = layer_module._inflated

    def watched(raw: object, stored_as: str) -> Iterator[bytes]:
        for chunk in real(raw, stored_as):
            biggest[0] = max(biggest[0], len(chunk))
            yield chunk

    monkeypatch.setattr(layer_module, "_inflated", watched)
    scan = read_archive([FakeImage([FakeLayer(spec, "COPY", compression, blob)], layout="oci").archive()])
    assert scan.layers[0].portable_size == (16 << 20) + 10
    assert 0 < biggest[0] <= layer_module.INFLATED_CHUNK


def test_a_gzip_blob_cut_short_in_a_whole_archive_is_one_line() -> None:
    spec = {"a": b"a" * 3_000}
    tar = FakeImage.from_layers([spec]).layers[0].tar
    blob = gzip.compress(tar + bytes(20_000), mtime=0)  # the end-of-archive blocks and padding
    cut = blob[: len(blob) - 12]  # the tar entries are all there; the gzip stream is not
    with pytest.raises(ArchiveError, match="truncated") as info:
        read_archive([FakeImage([FakeLayer(spec, "COPY", "gzip", cut)], layout="oci").archive()])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("where", ["early", "middle", "in index.json"])
def test_a_truncated_oci_archive_is_one_line(where: str) -> None:
    archive = image(["gzip", "zstd", "tar"]).archive()
    with tarfile.open(fileobj=io.BytesIO(archive)) as source:
        last = source.getmembers()[-1]
    assert last.name == "index.json"
    cut = {"early": len(archive) // 5, "middle": len(archive) // 2, "in index.json": last.offset_data + 5}[
        where
    ]
    with pytest.raises(ArchiveError) as info:
        read_archive([archive[:cut]])
    assert "\n" not in str(info.value)


def test_an_index_without_a_manifest_is_an_error() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for member, content in members(image("gzip").archive()):
            if member.name == "index.json":
                content, member.size = b'{"manifests": []}', 17
            tar.addfile(member, io.BytesIO(content))
    with pytest.raises(ArchiveError, match="the OCI index does not lead to an image manifest"):
        read_archive([out.getvalue()])


# ---------------------------------------------------------------- known layers, receiving, probing


@pytest.mark.parametrize("layout", ["oci", "classic"])
def test_a_known_layer_is_skipped_and_confirmed_by_the_config(layout: str) -> None:
    fake = image("tar", layout)
    first = read_archive([fake.archive()])
    diff_ids = [layer.diff_id or "" for layer in first.layers]
    known = KnownLayers(list(diff_ids), {diff_ids[0]: first.layers[0]})
    again = read_archive(chunks(fake.archive(), 4_099), known=known)
    assert [layer.reused for layer in again.layers] == [True, False, False]
    assert [layer.diff_id for layer in again.layers] == diff_ids
    assert [layer.portable_size for layer in again.layers] == PORTABLE


def test_a_layer_taken_for_a_known_one_of_the_same_size_is_found_out() -> None:
    fake = image("tar", "classic")
    first = read_archive([fake.archive()])
    real = first.layers[2]
    impostor = dataclasses.replace(real, diff_id="sha256:" + "0" * 64, portable_size=1)
    expected = [layer.diff_id or "" for layer in first.layers]
    known = KnownLayers([impostor.diff_id or "", *expected], {impostor.diff_id or "": impostor})
    with pytest.raises(LayerGuessMissed, match="not the known layer"):
        read_archive([fake.archive()], known=known)


@pytest.mark.parametrize("reverse", [False, True])
def test_known_layers_of_the_same_size_are_paired_by_the_config(reverse: bool) -> None:
    # Two layers of equal tar size: whichever order the guesses take, each ends up as itself.
    fake = FakeImage.from_layers([{"a": b"x" * 700}, {"b": b"y" * 700}], compression="tar", layout="classic")
    first = read_archive([fake.archive()])
    assert first.layers[0].tar_size == first.layers[1].tar_size
    diff_ids = [layer.diff_id or "" for layer in first.layers]
    expected = diff_ids[::-1] if reverse else diff_ids
    known = KnownLayers(list(expected), {layer.diff_id or "": layer for layer in first.layers})
    again = read_archive([fake.archive()], known=known)
    assert [layer.reused for layer in again.layers] == [True, True]
    assert [layer.diff_id for layer in again.layers] == diff_ids
    assert [[e.path for e in layer.entries] for layer in again.layers] == [["/a"], ["/b"]]


class Closing:
    """A chunk stream that records being closed, with an error after ``fail_after`` chunks."""

    def __init__(self, data: bytes, size: int, fail_after: int | None = None, forever: bool = False) -> None:
        self.data, self.size, self.fail_after, self.forever = data, size, fail_after, forever
        self.closed = threading.Event()
        self.sent = 0  # chunks
        self.sent_bytes = 0
        self.iterations = 0

    def __iter__(self) -> Iterator[bytes]:
        self.iterations += 1
        try:
            while True:
                for piece in chunks(self.data, self.size):
                    if self.fail_after is not None and self.sent >= self.fail_after:
                        raise ConnectionResetError("the engine went away")
                    self.sent += 1
                    self.sent_bytes += len(piece)
                    yield piece
                if not self.forever:
                    return
        finally:
            self.closed.set()


def test_an_error_while_receiving_reaches_the_reader_and_the_stream_is_closed() -> None:
    stream = Closing(image("gzip").archive(), 1_000, fail_after=5)
    with pytest.raises(ConnectionResetError, match="went away"):
        read_archive(stream)
    assert stream.closed.wait(5)


def test_the_receiver_stops_and_closes_the_stream_when_the_reader_gives_up() -> None:
    stream = Closing(b"this is not a tar archive " * 40, 512, forever=True)
    with pytest.raises(ArchiveError):
        read_archive(stream)
    assert stream.closed.wait(5)  # the stream's generator has ended: nothing more is received
    assert stream.iterations == 1  # nor is the stream read again
    # and it never ran far ahead of the reader: the lead is bounded in bytes (the chunks here are
    # 512, 512 and 16 bytes long), plus the one chunk put past the limit
    assert stream.sent_bytes <= PREFETCH + 64 * 512


class Recording(FileProbe):
    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.threads: set[str] = set()

    def wants(self, path: str, size: int, head: bytes) -> bool:
        return head.startswith(b"\x7fELF") or path == self.fail_on

    def take(self, path: str, data: bytes | bytearray) -> Any:
        self.threads.add(threading.current_thread().name)
        if path == self.fail_on:
            raise RuntimeError(f"cannot read {path}")
        return (len(data), bytes(data[:4])) if "/bin/app" in path else None


def test_the_probe_looks_at_files_beside_the_reader_and_its_findings_are_kept() -> None:
    files = {f"bin/app{i}": b"\x7fELF" + bytes([i]) * 50_000 for i in range(5)}
    files["bin/other"] = b"\x7fELF" + b"o" * 100
    fake = FakeImage.from_layers([files], compression="tar", layout="oci")
    probe = Recording()
    scan = read_archive(chunks(fake.archive(), 7_000), probe=probe)
    assert scan.layers[0].probed == {f"/bin/app{i}": (50_004, b"\x7fELF") for i in range(5)}
    assert probe.threads and all(name.startswith("imagesize-probe") for name in probe.threads)


def test_a_probe_that_fails_fails_the_read_with_its_error() -> None:
    fake = FakeImage.from_layers([{"bin/app": b"\x7fELF" + b"x" * 10, "etc/bad": b"x"}], layout="oci")
    with pytest.raises(RuntimeError, match="cannot read /etc/bad"):
        read_archive([fake.archive()], probe=Recording(fail_on="/etc/bad"))


class Needled(Recording):
    """Takes only files that contain a marker, as the Go probe does with its build-info magic."""

    needle = b"MARK"

    def __init__(self) -> None:
        super().__init__()
        self.taken: list[str] = []

    def wants(self, path: str, size: int, head: bytes) -> bool:
        return True

    def take(self, path: str, data: bytes | bytearray) -> Any:
        self.taken.append(path)
        return bytes(data)


@pytest.mark.parametrize("compression", ["tar", "gzip"])
def test_only_files_with_the_needle_are_taken_each_whole_and_unchanged(
    compression: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # files growing and shrinking around the reused buffer's size, the marker at either end, and
    # one file over the buffer's limit: each taken file is exactly its own bytes
    monkeypatch.setattr(probe_module, "PROBE_BUFFER", 300_000)
    sizes = [10, 200_000, 50, 150_000, 299_996, 600_000, 120_000, 7]
    files: dict[str, Any] = {}
    for i, size in enumerate(sizes):
        body = bytes([65 + i]) * size
        files[f"f/with{i}"] = body + b"MARK" if i % 2 else b"MARK" + body
        files[f"f/without{i}"] = bytes([97 + i]) * (size + 4)
    # a smaller file after one with the marker near its end: the marker is still in the memory
    files["f/with_late"] = b"z" * 250_000 + b"MARK"
    files["f/without_after_it"] = b"y" * 1_000
    fake = FakeImage.from_layers([files], compression=compression, layout="oci")  # type: ignore[arg-type]
    scan = read_archive(chunks(fake.archive(), 65_536), probe=Needled())
    assert scan.layers[0].probed == {f"/{k}": v for k, v in files.items() if "with" in k and "out" not in k}


def test_a_file_cut_short_while_read_for_the_probe_is_a_truncated_layer() -> None:
    fake = FakeImage.from_layers([{"bin/app": b"MARK" + b"x" * 100_000}], compression="tar", layout="classic")
    archive = fake.archive()
    cut = archive.index(b"MARK") + 50_000  # inside the file's data
    probe = Needled()
    with pytest.raises(ArchiveError, match="truncated"):
        read_archive([archive[:cut]], probe=probe)
    assert probe.taken == []  # not handed over cut short


def test_the_engine_lost_inside_a_compressed_layer_is_the_engines_line() -> None:
    fake = FakeImage.from_layers(
        [{"bin/app": b"MARK" + bytes(range(256)) * 4_000}], compression="gzip", layout="oci"
    )
    archive = fake.archive()
    blob = fake.layers[0].blob
    cut = archive.index(blob) + len(blob) // 2

    def stream() -> Iterator[bytes]:
        yield archive[:cut]
        raise EngineUnavailable("lost the container engine at unix:///x while saving image 1234")

    with pytest.raises(EngineUnavailable, match=r"^lost the container engine"):
        read_archive(stream(), probe=Needled())


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("fails", [False, True])
def test_cycle_collection_is_paused_during_a_read_and_left_as_it_was(enabled: bool, fails: bool) -> None:
    seen: list[bool] = []

    class Watching(Needled):
        def take(self, path: str, data: bytes | bytearray) -> Any:
            seen.append(gc.isenabled())
            if fails:
                raise RuntimeError("probe failed")
            return None

    fake = FakeImage.from_layers([{"bin/app": b"MARK"}], compression="tar", layout="oci")
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with contextlib.suppress(RuntimeError):
            read_archive([fake.archive()], probe=Watching())
        assert seen == [False]
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_the_stream_runs_further_ahead_only_while_a_compressed_blob_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limits: list[int] = []
    original = Prefetched.set_limit

    def record(self: Any, limit: int) -> None:
        limits.append(limit)
        original(self, limit)

    monkeypatch.setattr(Prefetched, "set_limit", record)
    fake = image(["gzip", "tar", "zstd"])
    scan = read_archive(chunks(fake.archive(), 4_099))
    assert [layer.portable_size for layer in scan.layers] == PORTABLE
    compressed, plain = save_module.PREFETCH_COMPRESSED, save_module.PREFETCH
    assert limits == [compressed, plain, compressed, plain]


@pytest.mark.parametrize("compression", ["gzip", "tar"])
def test_while_the_parser_waits_a_compressed_blob_is_received_further_ahead(compression: str) -> None:
    # a 28 MiB layer whose first file holds the parser up: how far the stream gets meanwhile is the
    # lead (the inflating thread's own lead counted too). The gzip blob is stored uncompressed
    # (level 0): as large as its data, as a layer of incompressible data would be, and cheap.
    files = {"a/first": b"MARK", "a/rest": bytes(28 << 20)}
    layer = FakeLayer(files, "COPY", "tar")
    if compression == "gzip":
        layer = FakeLayer(files, "COPY", "gzip", gzip.compress(layer.tar, compresslevel=0, mtime=0))
    archive = FakeImage([layer], layout="oci").archive()
    sent = [0]
    moved = threading.Condition()

    def stream() -> Iterator[bytes]:
        for chunk in chunks(archive, 1 << 20):
            with moved:
                sent[0] += len(chunk)
                moved.notify_all()
            yield chunk

    further = PREFETCH + layer_module.INFLATED_AHEAD + (8 << 20)

    def lead() -> int:
        """What the stream has received while the parser waits: for a gzip blob, once it is past
        ``further`` (or a timeout); for a plain one, once it stops (nothing for 0.2 s)."""
        with moved:
            if compression == "gzip":
                moved.wait_for(lambda: sent[0] > further, timeout=30)
            else:
                while (before := sent[0]) < len(archive) and moved.wait_for(
                    lambda: sent[0] != before, timeout=0.2
                ):
                    pass
            return sent[0]

    got: list[int] = []

    class Held(Needled):
        def wants(self, path: str, size: int, head: bytes) -> bool:
            if path == "/a/first":
                got.append(lead())
            return False

    read_archive(stream(), probe=Held())
    if compression == "gzip":
        assert got[0] > further, got
    else:
        assert got[0] <= PREFETCH + (2 << 20), got
