"""Image archives that cannot be measured: each a one-line ``SourceError`` saying what and how to
fix it, nothing extracted or written anywhere, no file left open."""

from __future__ import annotations

import gzip
import json

import pytest

from pytest_imagesize.measure.archive import read_blobs
from pytest_imagesize.sources.archives import DockerArchiveSource, OciArchiveSource
from pytest_imagesize.sources.manifests import MAX_LAYERS
from pytest_imagesize.sources.model import SourceError

from ..support.fake_engine import FakeImage
from .local_images import Untouched, image, members, one_line, tar_of, write


def test_the_wrong_kind_of_archive_says_which_it_is(untouched: Untouched) -> None:
    oci = write(untouched.root / "oci.tar", image(layout="oci").archive())
    docker = write(untouched.root / "docker.tar", image().archive())
    untouched.freeze()
    with pytest.raises(SourceError) as caught:
        DockerArchiveSource(oci)
    assert (
        one_line(caught, untouched)
        == f"{oci} is not a docker archive (no manifest.json): it is an OCI archive, pass oci-archive:{oci}"
    )
    with pytest.raises(SourceError) as caught:
        OciArchiveSource(docker)
    assert one_line(caught, untouched) == (
        f"{docker} is not an OCI archive (no oci-layout member): "
        f"it is a docker-archive, pass docker-archive:{docker}"
    )
    with pytest.raises(SourceError) as caught:
        OciArchiveSource(untouched.root)
    assert f"pass oci:{untouched.root}" in one_line(caught, untouched)


def test_several_images_and_no_or_an_unknown_tag(untouched: Untouched) -> None:
    first = image("tar", tags=("app:1",))
    second = FakeImage.from_layers([{"srv/two": b"2" * 3000}], tags=["app:2"])
    found = {**members(first.archive()), **members(second.archive())}
    listed = [json.loads(members(i.archive())["manifest.json"])[0] for i in (first, second)]
    archive = write(
        untouched.root / "both.tar", tar_of({**found, "manifest.json": json.dumps(listed).encode()})
    )
    untouched.freeze()
    with pytest.raises(SourceError) as caught:
        DockerArchiveSource(archive)
    assert f"holds 2 images (app:1, app:2): name one, as docker-archive:{archive}:TAG" in one_line(
        caught, untouched
    )
    with pytest.raises(SourceError) as caught:
        DockerArchiveSource(archive, "app:3")
    assert "has no image tagged 'app:3'; it has app:1, app:2: pass one of those" in one_line(
        caught, untouched
    )


@pytest.mark.parametrize("layout", ["classic", "oci"])
def test_truncated_archive(untouched: Untouched, layout: str) -> None:
    data = image("tar", layout=layout).archive()
    at = data.index(bytes(range(256)) * 4)  # inside the first layer's big file
    archive = write(untouched.root / "cut.tar", data[:at])
    untouched.freeze()
    with pytest.raises(SourceError) as caught:
        (DockerArchiveSource if layout == "classic" else OciArchiveSource)(archive)
    assert one_line(caught, untouched).endswith("is truncated: copy or save it again")


def test_compressed_archive(untouched: Untouched) -> None:
    archive = write(untouched.root / "app.tar.gz", gzip.compress(image().archive()))
    untouched.freeze()
    with pytest.raises(SourceError) as caught:
        DockerArchiveSource(archive)
    assert "is compressed: decompress it first" in one_line(caught, untouched)


@pytest.mark.parametrize("layout", ["classic", "oci"])
def test_layer_not_matching_its_digest(untouched: Untouched, layout: str) -> None:
    data = bytearray(image("tar", layout=layout).archive())
    data[data.index(bytes(range(256)) * 4) + 5] ^= 0x01  # a byte of a file: the tar still parses
    archive = write(untouched.root / "bad.tar", bytes(data))
    untouched.freeze()
    source = (DockerArchiveSource if layout == "classic" else OciArchiveSource)(archive)
    manifest = source.manifest(source.platforms()[0])
    with pytest.raises(SourceError) as caught:
        read_blobs(source.blobs(manifest))
    source.close()
    assert f"layer blob {manifest.layers[0].digest} does not match its digest" in one_line(caught, untouched)


def test_layer_missing_from_the_archive(untouched: Untouched) -> None:
    found = members(image().archive())
    entry = json.loads(found["manifest.json"])[0]
    del found[entry["Layers"][1]]
    archive = write(untouched.root / "gap.tar", tar_of(found))
    untouched.freeze()
    with pytest.raises(SourceError) as caught:
        DockerArchiveSource(archive)
    assert f"lacks layer {entry['Layers'][1]} that manifest.json names" in one_line(caught, untouched)


def test_manifest_claiming_ten_thousand_layers(untouched: Untouched) -> None:
    found = members(image().archive())
    entry = json.loads(found["manifest.json"])[0]
    entry["Layers"] = [entry["Layers"][0]] * 10_000
    found["manifest.json"] = json.dumps([entry]).encode()
    archive = write(untouched.root / "huge.tar", tar_of(found))
    untouched.freeze()
    with pytest.raises(SourceError) as caught:
        DockerArchiveSource(archive)
    assert f"claims 10000 layers, more than {MAX_LAYERS}: refused" in one_line(caught, untouched)


def test_oci_archive_with_several_images(untouched: Untouched) -> None:
    found = members(image(layout="oci").archive())
    index = json.loads(found["index.json"])
    one = index["manifests"][0]
    index["manifests"] = [
        {**one, "annotations": {"org.opencontainers.image.ref.name": "a"}},
        {**one, "annotations": {"io.containerd.image.name": "docker.io/library/b:1"}},
    ]
    found["index.json"] = json.dumps(index).encode()
    archive = write(untouched.root / "two.tar", tar_of(found))
    untouched.freeze()
    with pytest.raises(SourceError) as caught:
        OciArchiveSource(archive)
    assert "holds 2 images (a, docker.io/library/b:1): name one, as oci-archive:" in one_line(
        caught, untouched
    )
    for ref in ("a", "b:1", "docker.io/library/b:1", "@1"):
        OciArchiveSource(archive, ref).close()
