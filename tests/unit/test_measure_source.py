"""Measuring an image source (through the in-memory fake source): single manifests and indexes,
platform choice, exact compressed sizes from the manifest alone, one read of the blobs for the
rest, the cache (whole analyses, layers shared, exact stored sizes kept apart from the engine
path's gzip estimates), base images, progress, and the one-line errors."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from pytest_imagesize.errors import ImageSizeError
from pytest_imagesize.measure.archive import read_archive
from pytest_imagesize.measure.from_source import measure_source, path_source
from pytest_imagesize.measure.image import Image
from pytest_imagesize.measure.index import ImageIndex
from pytest_imagesize.measure.source_read import blob_key
from pytest_imagesize.progress import ProgressEvent
from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.platforms import Platform, PlatformError

from ..support.fake_engine import Compression, FakeEngine, FakeImage, sha256
from ..support.fake_source import DictCache, FakeSource

AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")


def noise(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def app(compression: Compression = "gzip", extra: bytes = b"", seed: int = 1) -> FakeImage:
    """Two layers: 3,000 + 3 (a file, a symlink) and 2,000 + len(extra) bytes."""
    return FakeImage.from_layers(
        [
            {"bin/app": noise(3000, seed), "bin/sh": ("symlink", "app")},
            {"data/blob": b"d" * 2000, **({"data/extra": extra} if extra else {})},
        ],
        created_by=["COPY app /bin/app", "RUN /bin/sh -c make data"],
        compression=compression,
    )


def single(image: FakeImage, **kwargs: object) -> FakeSource:
    return FakeSource([(AMD64, image)], **kwargs)  # type: ignore[arg-type]


def two_platforms() -> FakeSource:
    return FakeSource([(AMD64, app(seed=1)), (ARM64, app(extra=b"e" * 77, seed=2))], index=True)


def test_compressed_size_of_compressed_blobs_reads_no_blob() -> None:
    fake = app("gzip")
    source = single(fake)
    image = measure_source(source, cache=DictCache())
    assert isinstance(image, Image)
    stored = sum(len(layer.blob) for layer in fake.layers)
    assert image.compressed_size == stored
    assert image.own_compressed_size == stored
    assert source.blob_reads == [] and not image.analysed
    assert image.size == 3003 + 2000  # now the blobs are read, once
    assert image.summary(files=False).compressed_size == stored
    assert len(source.blob_reads) == 2
    assert image.files.has("/bin/app") and image.wasted_bytes == 0
    assert len(source.blob_reads) == 2


def test_the_image_of_a_source_says_where_it_is_from() -> None:
    fake = app("zstd")
    source = single(fake)
    image = measure_source(source, name="release")
    assert isinstance(image, Image)
    manifest = source.manifest(source.platforms()[0])
    assert (image.name, image.ref, image.source, image.platform) == (
        "release",
        source.reference,
        "oci",
        "linux/amd64",
    )
    assert image.id == manifest.config.digest and image.config_size == manifest.config.size
    assert image.engine is None and image.engine_size == 0
    assert image.config.env == ("PATH=/usr/bin:/bin",)
    layers = image.layers
    assert [la.instruction for la in layers] == ["COPY app /bin/app", "RUN make data"]
    assert [la.compressed_size for la in layers] == [len(la.blob) for la in fake.layers]
    assert [la.diff_id for la in layers] == [la.diff_id for la in fake.layers]
    assert [la.size for la in layers] == [3003, 2000]


def test_plain_layer_blobs_fall_back_to_the_gzip_estimate() -> None:
    fake = app("tar")
    source = single(fake, kind="docker-archive", reference="docker-archive:app.tar")
    image = measure_source(source)
    assert isinstance(image, Image)
    assert image.stored_compressed_size is None
    engine_estimate = read_archive(iter([fake.archive()])).layers
    assert image.compressed_size == sum(layer.compressed_size for layer in engine_estimate)
    assert image.compressed_size != fake.stored_size  # not the plain blobs' sizes
    assert len(source.blob_reads) == 2


def test_an_index_gives_every_platform_by_default() -> None:
    source = two_platforms()
    index = measure_source(source, name="app")
    assert isinstance(index, ImageIndex)
    assert index.platforms == ["linux/amd64", "linux/arm64"] and index.digest == source.index_digest
    assert index["linux/arm64/v8"].size == 3003 + 2077
    assert index["linux/amd64"].size == 3003 + 2000
    assert all(image.source == "oci" for image in index)


def test_a_platform_picks_one_image_of_an_index() -> None:
    source = two_platforms()
    image = measure_source(source, platform="linux/arm64")
    assert isinstance(image, Image) and image.platform == "linux/arm64"
    assert image.size == 3003 + 2077
    assert len(source.blob_reads) == 2  # the other platform's blobs are not read


def test_an_unknown_platform_names_those_there_are() -> None:
    with pytest.raises(PlatformError) as caught:
        measure_source(two_platforms(), platform="linux/s390x")
    message = str(caught.value)
    assert "\n" not in message
    assert "has no linux/s390x image; it has linux/amd64, linux/arm64" in message
    with pytest.raises(PlatformError, match="it has linux/amd64"):
        measure_source(single(app()), platform="linux/arm64")


def test_single_manifest_platform_and_all_platforms() -> None:
    source = single(app())
    assert isinstance(measure_source(source, platform="linux/amd64"), Image)
    index = measure_source(source, all_platforms=True)
    assert isinstance(index, ImageIndex) and index.platforms == ["linux/amd64"] and index.digest is None
    with pytest.raises(PlatformError, match="not both"):
        measure_source(source, platform="linux/amd64", all_platforms=True)


def test_a_platform_stated_only_by_the_config() -> None:
    source = FakeSource([(None, app())])  # no platform on the entry, none in the config either
    image = measure_source(source)
    assert isinstance(image, Image) and image.platform is None


def test_the_whole_analysis_is_cached_by_manifest() -> None:
    cache = DictCache()
    first = measure_source(single(app()), cache=cache)
    assert isinstance(first, Image) and first.size
    again = single(app())
    image = measure_source(again, cache=cache)
    assert isinstance(image, Image)
    assert image.size == first.size and image.files.has("/bin/app")
    assert again.blob_reads == []


def test_layers_measured_before_are_not_fetched() -> None:
    cache = DictCache()
    first = measure_source(single(app(extra=b"1" * 10)), cache=cache)
    assert isinstance(first, Image) and first.size
    other = app(extra=b"2" * 20)  # the same first layer, another second one
    source = single(other)
    image = measure_source(source, cache=cache)
    assert isinstance(image, Image)
    assert image.size == 3003 + 2020
    assert source.blob_requests == [[sha256(other.layers[1].blob)]]  # only the new layer asked for
    assert [la.compressed_size for la in image.layers] == [len(la.blob) for la in other.layers]
    assert image.files.has("/bin/app") and image.files.has("/data/extra")


def test_exact_stored_sizes_are_kept_apart_from_the_engine_estimates() -> None:
    """The engine path caches a plain layer by diff ID with a gzip ESTIMATE; a source's gzip blob
    of the same content is counted at its EXACT stored size, and caches that size by blob digest,
    never under the engine path's key."""
    cache = DictCache()
    plain = app("tar")
    engine = FakeEngine("containerd", [plain])
    on_engine = Image.measure(engine, plain.id, "app", cache)
    estimates = [la.compressed_size for la in on_engine.layers]
    engine_keys = {key for key in cache.entries if key.startswith("layer/")}
    assert engine_keys == {f"layer/{la.diff_id}" for la in plain.layers}

    gzipped = app("gzip")
    assert [la.diff_id for la in gzipped.layers] == [la.diff_id for la in plain.layers]
    source = single(gzipped)
    image = measure_source(source, cache=cache)
    assert isinstance(image, Image)
    exact = [len(la.blob) for la in gzipped.layers]
    assert exact != estimates
    assert [la.compressed_size for la in image.layers] == exact
    assert source.blob_requests == []  # the content came from the engine path's entries
    assert {key for key in cache.entries if key.startswith("layer/")} == engine_keys
    for key in engine_keys:  # the engine's entries still hold its estimates
        assert cache.entries[key]["compressed"] in estimates

    fresh = DictCache()
    read = single(app("zstd"))
    measured = measure_source(read, cache=fresh)
    assert isinstance(measured, Image) and measured.size
    assert not [key for key in fresh.entries if key.startswith("layer/")]
    for layer in read.manifest(read.platforms()[0]).layers:
        entry = fresh.entries[blob_key(layer.digest)]
        assert entry["stored"] == layer.size and "compressed" not in entry
    on_engine_again = Image.measure(FakeEngine("containerd", [plain]), plain.id, "app", fresh)
    assert [la.compressed_size for la in on_engine_again.layers] == estimates


def test_a_plain_layer_read_from_a_source_is_shared_with_the_engine_path() -> None:
    cache = DictCache()
    plain = app("tar")
    image = measure_source(single(plain, kind="docker-archive"), cache=cache)
    assert isinstance(image, Image) and image.size
    engine = FakeEngine("containerd", [plain])
    on_engine = Image.measure(engine, plain.id, "app", cache)
    assert [la.compressed_size for la in on_engine.layers] == [la.compressed_size for la in image.layers]
    assert on_engine.size == image.size


def test_base_layers_from_another_source() -> None:
    base = FakeImage.from_layers(
        [{"bin/app": noise(3000, 1), "bin/sh": ("symlink", "app")}], compression="gzip"
    )
    image = measure_source(single(app()), base=single(base, reference="oci:base:1"))
    assert isinstance(image, Image)
    assert [la.from_base for la in image.layers] == [True, False]
    assert image.own_size == 2000
    assert image.own_compressed_size == len(app().layers[1].blob)
    summary = image.base
    assert summary is not None and summary.ref == "oci:base:1" and summary.size == 3003
    other = FakeImage.from_layers([{"etc/x": b"x"}], compression="gzip")
    unmatched = measure_source(single(app()), base=single(other, reference="oci:other:1"))
    assert isinstance(unmatched, Image) and unmatched.own_size == 5003
    assert unmatched.base_image is not None and "has other layers" in (unmatched.base_image.note or "")


def test_base_of_an_index_goes_platform_by_platform() -> None:
    bases = FakeSource(
        [
            (
                AMD64,
                FakeImage.from_layers(
                    [{"bin/app": noise(3000, 1), "bin/sh": ("symlink", "app")}], compression="gzip"
                ),
            )
        ],
        index=True,
        reference="oci:base:1",
    )
    index = measure_source(two_platforms(), base=bases)
    assert isinstance(index, ImageIndex)
    assert index["linux/amd64"].own_size == 2000
    arm = index["linux/arm64"]
    assert arm.own_size == arm.size and "has no linux/arm64 image" in (arm.base_image.note or "")  # type: ignore[union-attr]


def test_progress_says_bytes_and_layers() -> None:
    events: list[ProgressEvent] = []

    def sink(event: ProgressEvent) -> None:
        events.append(event)

    image = measure_source(single(app("gzip")), name="app", progress=sink)
    assert isinstance(image, Image) and image.size
    stages = [e.stage for e in events]
    assert stages[0] == "start" and stages[-1] == "end" and "status" in stages
    assert events[0].text.startswith("reading app (") and "in 2 layer blobs" in events[0].text
    status = next(e.text for e in events if e.stage == "status")
    assert status.startswith("reading app ") and "layer 1 of 2" in status
    assert events[-1].text.startswith("read app in ") and events[-1].text.endswith(" compressed")


def test_read_file_is_one_line_for_a_source_image() -> None:
    image = measure_source(single(app()))
    assert isinstance(image, Image)
    with pytest.raises(ImageSizeError) as caught:
        image.read_file("/bin/app")
    assert "\n" not in str(caught.value) and "from its oci source" in str(caught.value)


def test_the_wire_keeps_where_an_image_is_from() -> None:
    image = measure_source(two_platforms(), platform="linux/arm64")
    assert isinstance(image, Image) and image.size
    again = Image.from_wire(image.to_wire())
    assert (again.platform, again.source, again.config_size) == ("linux/arm64", "oci", image.config_size)
    assert again.stored_compressed_size == image.compressed_size and again.size == image.size


def test_a_config_that_does_not_match_its_manifest_is_one_line() -> None:
    fake = app()
    fake.layers.append(fake.layers[0])  # the manifest lists three blobs ...
    source = single(fake)
    bad = source._stored[0]
    bad.config = bad.config.replace(b'"diff_ids": [', b'"diff_ids": ["sha256:' + b"0" * 64 + b'", ', 1)
    with pytest.raises(SourceError) as caught:
        measure_source(source)
    assert "its config lists 4 layers but its manifest 3" in str(caught.value)


def test_path_source_tells_layouts_and_archives_apart(tmp_path: Path) -> None:
    assert path_source(tmp_path, "app") == f"oci:{tmp_path}:app"
    oci = tmp_path / "oci.tar"
    oci.write_bytes(FakeImage(app().layers, layout="oci").archive())
    assert path_source(oci) == f"oci-archive:{oci}"
    classic = tmp_path / "docker.tar"
    classic.write_bytes(FakeImage(app().layers, layout="classic").archive())
    assert path_source(classic, "app:1") == f"docker-archive:{classic}:app:1"
    with pytest.raises(SourceError, match="no such OCI layout directory or image archive"):
        path_source(tmp_path / "missing")
    junk = tmp_path / "junk.tar"
    junk.write_bytes(os.urandom(3000))
    with pytest.raises(SourceError, match="not a readable tar archive"):
        path_source(junk)
