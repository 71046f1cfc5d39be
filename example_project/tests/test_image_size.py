"""The size claims: the multi-stage distroless image is tiny, the single-stage one is not."""

from __future__ import annotations

import pytest

from pytest_imagesize import Image


@pytest.mark.max_image_size("10MB")
def test_slim_image_is_small(slim: Image) -> None:
    pass


@pytest.mark.max_image_size("3MB", compressed=True)
def test_slim_pull_size(slim: Image) -> None:
    pass


@pytest.mark.max_image_layers(4)
def test_slim_has_few_layers(slim: Image) -> None:
    pass


def test_single_stage_ships_the_toolchain(fat: Image) -> None:
    assert fat.size >= 300_000_000, f"single-stage image is only {fat.size:,} B"


def test_multi_stage_is_50x_smaller(fat: Image, slim: Image) -> None:
    assert fat.size >= 50 * slim.size, f"{fat.size:,} B is only {fat.size / slim.size:.1f}x {slim.size:,} B"


def test_multi_stage_pull_is_50x_smaller(fat: Image, slim: Image) -> None:
    # compressed sizes: what a registry stores and `docker pull` downloads
    ratio = fat.compressed_size / slim.compressed_size
    assert ratio >= 50, f"pull sizes {fat.compressed_size:,} B vs {slim.compressed_size:,} B: {ratio:.1f}x"


@pytest.mark.max_image_growth("5%", floor="2MB")
def test_slim_does_not_creep(slim: Image) -> None:
    # against image-sizes.json (update with --image-baseline-update); the floor keeps a
    # different base image (official distroless vs the offline stand-in) from failing it
    pass
