"""Measuring real image sources end to end: OCI layouts, OCI archives and docker-archives written
by skopeo from ``FakeImage`` archives (the files and sizes known to the byte), a multi-platform
index, a local registry, and the CLI on each. Needs skopeo and docker-registry
(``scripts/ensure-test-tools``) and ``sources/open.py``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_imagesize.measure.archive import read_archive
from pytest_imagesize.measure.from_source import measure_source, path_source
from pytest_imagesize.measure.image import Image
from pytest_imagesize.measure.index import ImageIndex

from ..support.fake_engine import FakeImage
from ..support.fake_source import DictCache

# needs sources/open.py: skipped only while that module is missing from the branch
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pytest_imagesize.sources.open") is None,
    reason="needs sources/open.py (the image sources)",
)


def open_source(text: str, options: Any = None) -> Any:
    module = importlib.import_module("pytest_imagesize.sources.open")  # needs sources/open.py
    source = module.open_source(text, options)
    assert source is not None, text
    return source


def skopeo(*args: str) -> None:
    binary = shutil.which("skopeo")
    if binary is None:
        pytest.fail("skopeo is missing: install it (scripts/ensure-test-tools)")
    subprocess.run(
        [binary, "--insecure-policy", "copy", "-q", *args], check=True, capture_output=True, timeout=120
    )


class ArmImage(FakeImage):
    """A FakeImage whose config says linux/arm64."""

    @property
    def config_blob(self) -> bytes:
        document = json.loads(super().config_blob)
        document.update(architecture="arm64", variant="v8")
        return json.dumps(document, sort_keys=True).encode()


def fake(extra: int = 0) -> FakeImage:
    """Two layers: 4,000 + 3 and 1,000 + ``extra`` bytes; one file hidden by the second."""
    return FakeImage.from_layers(
        [
            {"bin/app": os.urandom(4000), "bin/sh": ("symlink", "app"), "tmp/junk": b"j" * 500},
            {
                "data/blob": b"d" * 1000,
                "tmp/junk": ("whiteout",),
                **({"data/x": b"x" * extra} if extra else {}),
            },
        ],
        tags=["app:1"],
    )


def docker_archive(directory: Path, image: FakeImage, name: str = "app.tar") -> Path:
    path = directory / name
    path.write_bytes(image.archive())
    return path


def layout_manifest(layout: Path, ref: str) -> dict[str, Any]:
    index = json.loads((layout / "index.json").read_text())
    (entry,) = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref
    ]
    document: dict[str, Any] = json.loads(
        (layout / "blobs" / "sha256" / entry["digest"].split(":")[1]).read_bytes()
    )
    return document


def test_an_oci_layout_measured_to_the_byte(tmp_path: Path) -> None:
    image = fake()
    skopeo(f"docker-archive:{docker_archive(tmp_path, image)}", f"oci:{tmp_path / 'layout'}:app")
    manifest = layout_manifest(tmp_path / "layout", "app")
    assert all(layer["mediaType"].endswith("+gzip") for layer in manifest["layers"])
    measured = measure_source(open_source(f"oci:{tmp_path / 'layout'}:app"), cache=DictCache())
    assert isinstance(measured, Image)
    assert measured.compressed_size == sum(layer["size"] for layer in manifest["layers"])
    assert not measured.analysed  # the manifest alone
    assert measured.size == 4003 + 1000 + 500 and measured.wasted_bytes == 500
    assert measured.files.has("/bin/app") and not measured.files.has("/tmp/junk")
    assert (measured.source, measured.platform) == ("oci", "linux/amd64")
    assert measured.id == manifest["config"]["digest"] and measured.config_size == manifest["config"]["size"]
    assert [la.diff_id for la in measured.layers] == [la.diff_id for la in image.layers]


def test_a_docker_archive_falls_back_to_the_gzip_estimate(tmp_path: Path) -> None:
    image = fake()
    path = docker_archive(tmp_path, image)
    assert path_source(path) == f"docker-archive:{path}"
    measured = measure_source(open_source(path_source(path)))
    assert isinstance(measured, Image) and measured.source == "docker-archive"
    estimate = sum(layer.compressed_size for layer in read_archive(iter([image.archive()])).layers)
    assert measured.compressed_size == estimate
    assert measured.size == 5503


def test_an_oci_archive_is_told_from_its_content(tmp_path: Path) -> None:
    archive = tmp_path / "app-oci.tar"
    skopeo(f"docker-archive:{docker_archive(tmp_path, fake())}", f"oci-archive:{archive}:app")
    text = path_source(archive, "app")
    assert text == f"oci-archive:{archive}:app"
    measured = measure_source(open_source(text))
    assert isinstance(measured, Image) and measured.source == "oci-archive" and measured.size == 5503


@pytest.fixture
def multi(tmp_path: Path) -> Path:
    """An OCI layout with an index ``multi`` of linux/amd64 and linux/arm64 images."""
    layout = tmp_path / "multi"
    skopeo(f"docker-archive:{docker_archive(tmp_path, fake())}", f"oci:{layout}:amd")
    arm = ArmImage(fake(extra=77).layers, tags=["app:1"], config=fake().config, metadata=fake().metadata)
    skopeo(f"docker-archive:{docker_archive(tmp_path, arm, 'arm.tar')}", f"oci:{layout}:arm")
    index = json.loads((layout / "index.json").read_text())
    entries = []
    for ref, platform in (
        ("amd", {"os": "linux", "architecture": "amd64"}),
        ("arm", {"os": "linux", "architecture": "arm64", "variant": "v8"}),
    ):
        (entry,) = [
            m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == ref
        ]
        entries.append({k: v for k, v in entry.items() if k != "annotations"} | {"platform": platform})
    document = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
    ).encode()
    digest = hashlib.sha256(document).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(document)
    index["manifests"].append(
        {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": f"sha256:{digest}",
            "size": len(document),
            "annotations": {"org.opencontainers.image.ref.name": "multi"},
        }
    )
    (layout / "index.json").write_text(json.dumps(index))
    return layout


def test_an_index_of_two_platforms(multi: Path) -> None:
    source = open_source(f"oci:{multi}:multi")
    index = measure_source(source, name="app")
    assert isinstance(index, ImageIndex) and index.platforms == ["linux/amd64", "linux/arm64"]
    assert index["linux/arm64"].size == 5503 + 77 and index["linux/amd64"].size == 5503
    arm = measure_source(source, platform="linux/arm64")
    assert isinstance(arm, Image) and arm.platform == "linux/arm64"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_imagesize.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_cli_on_an_index_says_the_platform(multi: Path, tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = cli("check", f"oci:{multi}:multi", "--max", "5503", "--platform", "linux/amd64", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK oci:{multi}:multi[linux/amd64]: size 5,503 B")
    every = cli("inspect", f"oci:{multi}:multi", "--all-platforms", "--json", env=env)
    assert every.returncode == 0 and every.stderr == ""
    assert [e["size"] for e in json.loads(every.stdout)] == [5503, 5580]
    over = cli("check", f"oci:{multi}:multi", "--max", "5503", "--all-platforms", env=env)
    assert over.returncode == 1 and "FAIL oci:" in over.stdout and "linux/arm64" in over.stdout


def test_cli_diff_between_an_archive_and_a_layout(multi: Path, tmp_path: Path) -> None:
    build = docker_archive(tmp_path, fake(extra=300), "build.tar")
    result = cli(
        "diff", f"docker-archive:{build}", f"oci:{multi}:multi", "--platform", "linux/amd64", "--no-cache"
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[0] == f"oci:{multi}:multi[linux/amd64] → docker-archive:{build}"
    assert "/data/x" in result.stdout


def test_a_registry_image_compressed_size_from_its_manifest(registry: str, tmp_path: Path) -> None:
    skopeo(
        "--dest-tls-verify=false",
        f"docker-archive:{docker_archive(tmp_path, fake())}",
        f"docker://{registry}/measure/app:1",
    )
    result = cli("inspect", f"docker://{registry}/measure/app:1", "--json", "--no-cache")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["size"] == 5503 and data["source"] == "registry"
    check = cli("check", f"docker://{registry}/measure/app:1", "--compressed", "--max", "1MB", "--no-cache")
    assert check.returncode == 0 and check.stdout.startswith(
        f"OK docker://{registry}/measure/app:1: compressed size"
    )


def test_fixtures_on_a_layout_an_archive_and_a_registry(
    pytester: pytest.Pytester, registry: str, multi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    build = docker_archive(tmp_path, fake(extra=300), "build.tar")
    skopeo("--dest-tls-verify=false", f"docker-archive:{build}", f"docker://{registry}/fixtures/app:1")
    pytester.makepyfile(
        f"""
        import pytest
        from pytest_imagesize import Image, ImageIndex, oci_image, registry_image

        multi = oci_image({str(multi)!r}, ref="multi")
        build = oci_image({str(build)!r})
        pushed = registry_image("{registry}/fixtures/app:1", platform="linux/amd64")

        def test_index(multi):
            assert isinstance(multi, ImageIndex) and multi.platforms == ["linux/amd64", "linux/arm64"]

        @pytest.mark.max_image_size("5803B")
        def test_archive(build):
            assert isinstance(build, Image) and build.source == "docker-archive"

        @pytest.mark.max_image_size("5802B")
        def test_registry(pushed):
            assert pushed.source == "registry" and pushed.size == 5803
        """
    )
    result = pytester.runpytest_subprocess("--image-insecure-registry", registry)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["image pushed (*) size is 5,803 B (5.8 KB), over the limit of 5,802 B*"])


def test_a_layer_measured_before_is_not_read_again(registry: str, tmp_path: Path) -> None:
    """A layout image and a registry image sharing their first layer with one measured before:
    only the other layer is read (the sources get a manifest of just that one)."""
    shared = os.urandom(4000)

    def made(extra: bytes) -> FakeImage:
        return FakeImage.from_layers([{"bin/app": shared}, {"data/x": extra}], tags=["app:1"])

    cache = DictCache()
    first = docker_archive(tmp_path, made(b"1" * 10), "first.tar")
    skopeo(f"docker-archive:{first}", f"oci:{tmp_path / 'layout'}:first")
    measured = measure_source(open_source(f"oci:{tmp_path / 'layout'}:first"), cache=cache)
    assert isinstance(measured, Image) and measured.size == 4010
    for name, target in (
        ("second", f"oci:{tmp_path / 'layout'}:second"),
        ("third", f"docker://{registry}/shared:3"),
    ):
        archive = docker_archive(tmp_path, made(name.encode() * 100), f"{name}.tar")
        skopeo("--dest-tls-verify=false", f"docker-archive:{archive}", target)
        source = open_source(target)
        blobs = source.blobs
        asked: list[int] = []

        def counted(manifest: Any, blobs: Any = blobs, asked: list[int] = asked) -> Any:
            asked.append(len(manifest.layers))
            return blobs(manifest)

        source.blobs = counted
        image = measure_source(source, cache=cache)
        assert isinstance(image, Image)
        assert (
            image.size == 4000 + 100 * len(name)
            and image.files.has("/bin/app")
            and image.files.has("/data/x")
        )
        assert asked == [1], name
        source.close()
