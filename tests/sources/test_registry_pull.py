"""The registry source against a real registry (Debian's docker-registry, plain HTTP on 127.0.0.1):
compressed sizes to the byte as skopeo reads the stored manifests, an index of two platforms with
its attestation left out, sizes without a single layer download, and the layers streamed to the
reader giving what the image's docker-archive gives."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_imagesize.measure.archive.model import ArchiveScan
from pytest_imagesize.measure.archive.reader import read_archive, read_blobs
from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.platforms import Platform
from pytest_imagesize.sources.registry import RegistryOptions, RegistrySource
from tests.support.fake_engine import FakeImage, LayerSpec

from .registry_support import (
    Platformed,
    Registry,
    inspect_raw,
    push_archive,
    registry_compressed_sizes,
    running_registry,
    sha256,
    skopeo,
    write_index_layout,
)

LAYERS: list[LayerSpec] = [
    {"bin/app": b"\x7fELF" + bytes(range(256)) * 300, "bin/sh": ("symlink", "app"), "etc": ("dir",)},
    {"etc/config": b"key = value\n" * 500, "bin/ln": ("hardlink", "bin/app")},
    {"bin/app": ("whiteout",), "usr/share/doc/readme": b"readme " * 2000},
]


@dataclass
class Pushed:
    registry: Registry
    single: FakeImage  # app:1 (from an OCI archive)
    classic: FakeImage  # classic/app:1 (from a docker-archive)
    amd64: FakeImage
    arm64: FakeImage  # multi:1 is an index of these two and an attestation
    index_digest: str


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushed]:
    root = tmp_path_factory.mktemp("registry-pull")
    single = FakeImage.from_layers(LAYERS, compression="gzip", layout="oci")
    classic = FakeImage.from_layers(LAYERS[:2], compression="gzip", layout="classic", tags=["classic/app:1"])
    amd64 = FakeImage.from_layers(LAYERS[:2], compression="gzip")
    arm64 = FakeImage.from_layers([LAYERS[0], {"arm/only": b"arm64 " * 4000}], compression="gzip")
    with running_registry(root / "registry") as registry:
        push_archive(single.archive(), "oci-archive", root / "archives", f"{registry.address}/app:1")
        push_archive(
            classic.archive(), "docker-archive", root / "archives", f"{registry.address}/classic/app:1"
        )
        layout = root / "index-layout"
        index_digest = write_index_layout(
            layout, [Platformed(amd64, "amd64"), Platformed(arm64, "arm64", "v8")], attestation=True
        )
        skopeo(
            "copy", "--quiet", "--all", "--preserve-digests", "--dest-tls-verify=false",
            f"oci:{layout}", f"docker://{registry.address}/multi:1",
        )  # fmt: skip
        yield Pushed(registry, single, classic, amd64, arm64, index_digest)


def source(pushed: Pushed, name: str, **options: object) -> RegistrySource:
    return RegistrySource(f"docker://{pushed.registry.address}/{name}", RegistryOptions(**options))  # type: ignore[arg-type]


def layer_gets(requests: list[tuple[str, str]], config_digests: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    return [
        path
        for method, path in requests
        if method == "GET" and "/blobs/" in path and path.rsplit("/", 1)[1] not in config_digests
    ]


def test_a_single_manifest_compressed_size_matches_the_stored_blobs_without_downloading_a_layer(
    pushed: Pushed,
) -> None:
    mark = pushed.registry.log_mark()
    src = source(pushed, "app:1")
    try:
        entries = src.platforms()
        assert src.index_digest is None
        assert [e.platform for e in entries] == [Platform.of("linux", "amd64")]
        manifest = src.manifest(entries[0])
    finally:
        src.close()
    stored = registry_compressed_sizes(pushed.registry.address, "app:1")
    assert manifest.compressed_size == stored[""]
    assert manifest.compressed_size == sum(len(layer.blob) for layer in pushed.single.layers)
    raw = inspect_raw(f"docker://{pushed.registry.address}/app:1")
    assert [layer.size for layer in manifest.layers] == [layer["size"] for layer in raw["layers"]]
    requests = pushed.registry.requests_since(mark)
    # the platform of a single manifest is in its config: that blob only, no layer
    assert layer_gets(requests, {manifest.config.digest}) == []
    assert [p for m, p in requests if m == "GET" and "/blobs/" in p] == [
        f"/v2/app/blobs/{manifest.config.digest}"
    ]


def test_an_index_lists_its_platforms_without_the_attestation_and_sizes_each_without_a_blob(
    pushed: Pushed,
) -> None:
    mark = pushed.registry.log_mark()
    src = source(pushed, "multi:1")
    try:
        entries = src.platforms()
        assert [str(e.platform) for e in entries] == ["linux/amd64", "linux/arm64"]
        assert src.index_digest == pushed.index_digest
        sizes = {e.manifest.digest: src.manifest(e).compressed_size for e in entries}
    finally:
        src.close()
    raw_index = inspect_raw(f"docker://{pushed.registry.address}/multi:1")
    assert len(raw_index["manifests"]) == 3  # the attestation is stored, and left out above
    assert (
        sha256(
            skopeo(
                "inspect", "--raw", "--tls-verify=false", f"docker://{pushed.registry.address}/multi:1"
            ).encode()
        )
        == pushed.index_digest
    )
    assert sizes == registry_compressed_sizes(pushed.registry.address, "multi:1")
    assert list(sizes.values()) == [
        sum(len(layer.blob) for layer in pushed.amd64.layers),
        sum(len(layer.blob) for layer in pushed.arm64.layers),
    ]
    assert [p for m, p in pushed.registry.requests_since(mark) if "/blobs/" in p] == []


def test_by_digest_and_by_tag_give_the_same_manifest(pushed: Pushed) -> None:
    raw = inspect_raw(f"docker://{pushed.registry.address}/multi:1")
    arm = raw["manifests"][1]["digest"]
    src = source(pushed, f"multi@{arm}")
    try:
        assert src.reference == f"docker://{pushed.registry.address}/multi@{arm}"
        assert src.what == f"registry {pushed.registry.address}/multi@{arm}"
        assert src.index_digest is None
        [entry] = src.platforms()
        assert str(entry.platform) == "linux/arm64"
        assert src.manifest(entry).digest == arm
    finally:
        src.close()


def same_scan(scan: ArchiveScan) -> list[tuple[object, ...]]:
    return [(layer.diff_id, layer.portable_size, layer.stored_as, layer.entries) for layer in scan.layers]


def test_streaming_every_layer_once_reads_what_the_docker_archive_reads(pushed: Pushed) -> None:
    mark = pushed.registry.log_mark()
    src = source(pushed, "classic/app:1", blobs_at_once=2, memory_budget=1 << 16)
    try:
        [entry] = src.platforms()
        manifest = src.manifest(entry)
        scan = read_blobs(src.blobs(manifest), workers=1)
    finally:
        src.close()
    expected = read_archive([pushed.classic.archive()], workers=1)
    assert same_scan(scan) == same_scan(expected)
    assert [layer.diff_id for layer in scan.layers] == [layer.diff_id for layer in pushed.classic.layers]
    assert [layer.compressed_size for layer in scan.layers] == [layer.size for layer in manifest.layers]
    gets = layer_gets(pushed.registry.requests_since(mark), {manifest.config.digest})
    assert sorted(gets) == sorted(f"/v2/classic/app/blobs/{layer.digest}" for layer in manifest.layers)


def test_a_platform_image_of_an_index_streams_like_its_own_archive(pushed: Pushed) -> None:
    src = source(pushed, "multi:1", blobs_at_once=3)
    try:
        entries = src.platforms()
        manifest = src.manifest(entries[1])
        scan = read_blobs(src.blobs(manifest), workers=1)
    finally:
        src.close()
    expected = read_archive([FakeImage(pushed.arm64.layers, layout="oci").archive()], workers=1)
    assert same_scan(scan) == same_scan(expected)


def test_a_missing_tag_names_the_tags_there_are(pushed: Pushed) -> None:
    src = source(pushed, "app:2")
    with pytest.raises(SourceError) as caught:
        src.platforms()
    message = str(caught.value)
    assert "\n" not in message
    assert f"registry {pushed.registry.address}: app has no tag 2; it has 1: check the reference" == message


def test_a_missing_repository_says_so(pushed: Pushed) -> None:
    src = source(pushed, "nothere:1")
    with pytest.raises(
        SourceError, match=r"has no repository nothere: check the name, or push the image first$"
    ):
        src.platforms()


def test_a_registry_that_is_not_running_is_one_line(tmp_path: Path) -> None:
    from .registry_support import free_port

    src = RegistrySource(f"127.0.0.1:{free_port()}/app:1", RegistryOptions(retries=0))
    with pytest.raises(SourceError) as caught:
        src.platforms()
    assert "cannot connect" in str(caught.value)
    assert "Connection refused" in str(caught.value)
    assert "\n" not in str(caught.value)
