"""A plain layer read from a source is cached under its diff ID only when its verified blob digest
is that diff ID: a config that claims another layer's diff ID cannot put its numbers in the cache
the engine path reads."""

from __future__ import annotations

from typing import Any

from pytest_imagesize.measure.analysis import layer_key
from pytest_imagesize.measure.from_source import measure_source
from pytest_imagesize.measure.image import Image
from pytest_imagesize.sources.model import ImageManifest

from ..support.fake_engine import FakeImage
from ..support.fake_source import DictCache, FakeSource

CLAIMED = "sha256:" + "ab" * 32  # the diff ID of some other layer


class Claiming(FakeSource):
    """Its config claims ``CLAIMED`` as the first layer's diff ID."""

    def config(self, manifest: ImageManifest) -> dict[str, Any]:
        document = super().config(manifest)
        document["rootfs"]["diff_ids"][0] = CLAIMED
        return document


def plain() -> FakeImage:
    return FakeImage.from_layers([{"bin/app": b"a" * 3000}, {"etc/conf": b"c" * 100}], compression="tar")


def test_a_claimed_diff_id_is_not_a_cache_key() -> None:
    cache = DictCache()
    image = measure_source(Claiming([(None, plain())]), cache=cache)
    assert isinstance(image, Image) and image.size == 3100
    assert layer_key(CLAIMED) not in cache.entries
    honest = plain().layers[1].diff_id  # the second layer's claim is its content's: kept
    assert layer_key(honest) in cache.entries
