"""Packages read on both analysis paths (an engine's archive, an image source's blobs), from the
final filesystem's copy of each database file, and from layers taken from the cache."""

from __future__ import annotations

from pathlib import Path

from pytest_imagesize.measure.analysis import ImageAnalysis, read_image_archive
from pytest_imagesize.measure.cache import DirectoryCache
from pytest_imagesize.measure.from_source import measure_source
from pytest_imagesize.measure.image import Image
from pytest_imagesize.sources.platforms import Platform

from ..support.fake_engine import FakeEngine, FakeImage
from ..support.fake_source import DictCache, FakeSource

BASE = {
    "var/lib/dpkg/status": b"Package: tool\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n",
    "var/lib/dpkg/info/tool.list": b"/usr/bin/tool\n/opt/x\n",
    "usr/bin/tool": b"t" * 1000,
}


def image(top: bytes, tag: str = "app:1") -> FakeImage:
    """The base layer (a dpkg database, 1,000 bytes of ``tool``) and a layer that rewrites the
    status file (``top``) and adds 500 bytes of ``tool``; the file list stays the base layer's."""
    return FakeImage.from_layers(
        [
            BASE,
            {
                "var/lib/dpkg/status": top,
                "opt/x": b"x" * 500,
            },
        ],
        tags=[tag],
    )


def status(version: str) -> bytes:
    return f"Package: tool\nStatus: install ok installed\nVersion: {version}\nArchitecture: all\n".encode()


def check(analysis: ImageAnalysis, version: str) -> None:
    tool = analysis.packages.get("tool", "deb")
    assert tool is not None and (tool.version, tool.size, tool.layers) == (version, 1500, (0, 1))


def test_engine_path_with_and_without_cached_layers(tmp_path: Path) -> None:
    first, second = image(status("2")), image(status("3"), tag="app:2")
    engine = FakeEngine("containerd", [first, second])
    store = DirectoryCache(tmp_path)
    check(read_image_archive(engine, first.id, "app", 2, store), "2")
    check(read_image_archive(engine, first.id, "app", 2, store), "2")  # the whole analysis cached
    check(read_image_archive(engine, second.id, "app", 2, store), "3")  # its base layer from the cache
    assert engine.saves[second.id] == 1


def test_source_path_with_and_without_cached_layers() -> None:
    amd64 = Platform.parse("linux/amd64")
    cache = DictCache()
    for version in ("2", "3", "3"):
        fake = image(status(version)) if version != "3" else image(status("3"), tag="app:2")
        measured = measure_source(FakeSource([(amd64, fake)]), cache=cache)
        assert isinstance(measured, Image)
        check(measured.analysis(), version)
