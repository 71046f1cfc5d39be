"""An index whose entry is another index (what ``docker buildx imagetools create`` can make of
indexes), built by hand in a real docker-registry: the registry source resolves it to the platform
manifests, at most two indexes deep; deeper nesting is one line."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pytest_imagesize import cli
from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.platforms import Platform
from pytest_imagesize.sources.registry import RegistrySource
from tests.support.fake_engine import FakeImage

from .registry_support import (
    OCI_INDEX,
    Platformed,
    Registry,
    registry_compressed_sizes,
    running_registry,
    sha256,
    skopeo,
    write_index_layout,
)


@dataclass
class Nested:
    registry: Registry
    sizes: dict[str, int]  # platform manifest digest -> its layers' stored sizes, as skopeo reads them
    index: tuple[str, int]  # digest and size of multi:1's index


def put_index(registry: Registry, tag: str, entries: list[dict[str, object]]) -> tuple[str, int]:
    """An OCI index of ``entries`` stored as multi:<tag>; its digest and size."""
    data = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    request = urllib.request.Request(
        f"http://{registry.address}/v2/multi/manifests/{tag}",
        data=data,
        method="PUT",
        headers={"Content-Type": OCI_INDEX},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 201
    return sha256(data), len(data)


def index_entry(digest_size: tuple[str, int], platform: dict[str, str] | None = None) -> dict[str, object]:
    entry: dict[str, object] = {"mediaType": OCI_INDEX, "digest": digest_size[0], "size": digest_size[1]}
    if platform is not None:
        entry["platform"] = platform
    return entry


@pytest.fixture(scope="module")
def nested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nested]:
    root = tmp_path_factory.mktemp("registry-nested")
    amd64 = FakeImage.from_layers([{"bin/app": b"amd64 " * 3000}, {"etc/x": b"x" * 100}], compression="gzip")
    arm64 = FakeImage.from_layers([{"bin/app": b"arm64 " * 5000}], compression="gzip")
    with running_registry(root / "registry") as registry:
        layout = root / "layout"
        digest = write_index_layout(layout, [Platformed(amd64, "amd64"), Platformed(arm64, "arm64", "v8")])
        skopeo(
            "copy", "--quiet", "--all", "--preserve-digests", "--dest-tls-verify=false",
            f"oci:{layout}", f"docker://{registry.address}/multi:1",
        )  # fmt: skip
        size = len((layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())
        yield Nested(registry, registry_compressed_sizes(registry.address, "multi:1"), (digest, size))


def platforms_of(nested: Nested, tag: str) -> list[tuple[str, int]]:
    source = RegistrySource(f"docker://{nested.registry.address}/multi:{tag}")
    try:
        return [(str(entry.platform), source.manifest(entry).compressed_size) for entry in source.platforms()]
    finally:
        source.close()


def test_an_index_listing_an_index_is_resolved_to_its_platform_manifests(nested: Nested) -> None:
    put_index(nested.registry, "outer", [index_entry(nested.index)])
    found = platforms_of(nested, "outer")
    assert [platform for platform, _ in found] == ["linux/amd64", "linux/arm64"]
    assert sorted(size for _, size in found) == sorted(nested.sizes.values())  # to the byte, as skopeo


def test_two_indexes_deep_is_resolved_and_the_cli_checks_each_platform(
    nested: Nested, capsys: pytest.CaptureFixture[str]
) -> None:
    inner = put_index(nested.registry, "inner", [index_entry(nested.index)])
    put_index(nested.registry, "two-deep", [index_entry(inner)])
    assert sorted(size for _, size in platforms_of(nested, "two-deep")) == sorted(nested.sizes.values())
    ref = f"docker://{nested.registry.address}/multi:two-deep"
    status = cli.main(["check", ref, "--max", "1GB", "--compressed", "--all-platforms", "--no-cache"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert [line.split(": ")[0] for line in out.splitlines()] == [
        f"OK {ref}[linux/amd64]",
        f"OK {ref}[linux/arm64]",
    ]


def stored_manifest(registry: Registry, digest: str) -> bytes:
    request = urllib.request.Request(
        f"http://{registry.address}/v2/multi/manifests/{digest}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        data: bytes = answer.read()
    assert sha256(data) == digest
    return data


def test_an_index_entrys_platform_is_given_to_children_that_state_none(nested: Nested) -> None:
    """A child index whose entry carries no platform takes the platform its parent's entry names."""
    amd64_digest = next(iter(nested.sizes))  # the index's first entry is linux/amd64
    data = stored_manifest(nested.registry, amd64_digest)
    media_type = json.loads(data)["mediaType"]
    bare = put_index(
        nested.registry, "bare", [{"mediaType": media_type, "digest": amd64_digest, "size": len(data)}]
    )
    put_index(nested.registry, "named", [index_entry(bare, {"os": "linux", "architecture": "amd64"})])
    assert platforms_of(nested, "named") == [("linux/amd64", nested.sizes[amd64_digest])]


def test_three_indexes_deep_is_refused_in_one_line(nested: Nested) -> None:
    first = put_index(nested.registry, "d1", [index_entry(nested.index)])
    second = put_index(nested.registry, "d2", [index_entry(first)])
    put_index(nested.registry, "d3", [index_entry(second)])
    with pytest.raises(SourceError) as caught:
        platforms_of(nested, "d3")
    message = str(caught.value)
    assert "\n" not in message
    assert message == (
        f"registry {nested.registry.address}/multi:d3 index {nested.index[0][:19]} nests indexes more "
        "than 2 deep (or lists one that lists it): refused; name one platform's index or manifest by "
        "digest instead"
    )
    assert platforms_of(nested, "d2")  # one level less is read


def test_the_platform_of_a_nested_entry_is_normalised(nested: Nested) -> None:
    put_index(nested.registry, "norm", [index_entry(nested.index)])
    source = RegistrySource(f"docker://{nested.registry.address}/multi:norm")
    try:
        assert [entry.platform for entry in source.platforms()] == [
            Platform.parse("linux/amd64"),
            Platform.parse("linux/arm64/v8"),
        ]
        assert source.index_digest is not None
    finally:
        source.close()
