"""Multi-platform images for tests, measured on the fake engine: an :class:`ImageIndex` whose
platforms are :class:`FakeImage`s, and a pytest fixture that yields one the way the plugin's own
image fixtures yield an ``Image`` (declared, so markers resolve to it; noted in the session, so
every report lists its platforms)::

    # conftest.py of a pytester suite
    from tests.support.platforms import index_fixture
    app = index_fixture("app", {"linux/amd64": 9_000, "linux/arm64": 7_000})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pytest_imagesize.glue.fixtures import DECLARATION_ATTR, SESSION_KEY
from pytest_imagesize.measure.image import Image
from pytest_imagesize.measure.index import ImageIndex
from pytest_imagesize.session import Declaration
from pytest_imagesize.sources.platforms import Platform

from .fake_engine import FakeEngine, FakeImage


def sized(nbytes: int, marker: str) -> FakeImage:
    """An image of two layers: ``nbytes - 100`` bytes of ``/app`` (``marker`` makes the content,
    so each platform's image has an ID of its own) and 100 bytes of ``/etc/conf``."""
    fill = (marker.encode() * (nbytes // max(len(marker), 1) + 1))[: nbytes - 100]
    return FakeImage.from_layers(
        [{"app": fill}, {"etc/conf": b"c" * 100}],
        compression="gzip",
        created_by=["COPY app /app", "COPY conf /etc/conf"],
    )


def index_of(
    name: str,
    platforms: Mapping[str, FakeImage | int],
    engine: FakeEngine | None = None,
    *,
    source: str = "registry",
) -> ImageIndex:
    """The images measured on ``engine`` (a new graph-driver fake engine by default), each with
    its ``platform`` (normalised), ``source`` and ``config_size`` set as a registry source sets
    them; an int stands for ``sized(n, platform)``."""
    engine = engine or FakeEngine("graphdriver")
    images = []
    for platform, spec in platforms.items():
        fake = spec if isinstance(spec, FakeImage) else sized(spec, platform)
        engine.add(fake)
        image = Image.measure(engine, fake.id, name)
        image.platform = str(Platform.parse(platform))
        image.source = source
        image.config_size = len(fake.config_blob)
        images.append(image)
    return ImageIndex(name, f"registry.example/{name}:1", images, digest="sha256:" + "ab" * 32)


def index_fixture(name: str, platforms: Mapping[str, int], scope: str = "session") -> Any:
    """A fixture yielding ``index_of(name, platforms)``, declared as an image fixture and noted
    in the run's session (as the plugin's fixtures note what they measure)."""

    def fixture(request: pytest.FixtureRequest) -> ImageIndex:
        index = index_of(name, platforms)
        request.config.stash[SESSION_KEY].add(index)
        return index

    setattr(fixture, DECLARATION_ATTR, Declaration("existing", ref=f"registry.example/{name}:1"))
    return pytest.fixture(scope=scope, name=name)(fixture)  # type: ignore[call-overload]
