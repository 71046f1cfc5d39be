"""pytest-imagesize: container image size as a test result.

Public API::

    from pytest_imagesize import build_image, existing_image, measure_image, parse_size, Image
    from pytest_imagesize import registry_image, oci_image, measure_source, ImageIndex

The names are loaded on first use, so that ``import pytest_imagesize`` (which pytest's entry
point does in every run) and the CLI's one-shot size check stay light.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import ImageSizeError, ImageSizeWarning
    from .glue.fixtures import build_image, existing_image, oci_image, registry_image
    from .measure.from_source import measure_source
    from .measure.image import Image, ImageConfig, Layer, measure_image
    from .measure.index import ImageIndex
    from .measure.layers import FileRecord, FileTree
    from .measure.packages.model import ImagePackages, Package
    from .sizes import format_size, parse_size

_EXPORTS = {
    "FileRecord": ".measure.layers",
    "FileTree": ".measure.layers",
    "Image": ".measure.image",
    "ImageConfig": ".measure.image",
    "ImageIndex": ".measure.index",
    "ImagePackages": ".measure.packages.model",
    "ImageSizeError": ".errors",
    "ImageSizeWarning": ".errors",
    "Layer": ".measure.image",
    "Package": ".measure.packages.model",
    "build_image": ".glue.fixtures",
    "existing_image": ".glue.fixtures",
    "format_size": ".sizes",
    "measure_image": ".measure.image",
    "measure_source": ".measure.from_source",
    "oci_image": ".glue.fixtures",
    "parse_size": ".sizes",
    "registry_image": ".glue.fixtures",
}

__all__ = [
    "FileRecord",
    "FileTree",
    "Image",
    "ImageConfig",
    "ImageIndex",
    "ImagePackages",
    "ImageSizeError",
    "ImageSizeWarning",
    "Layer",
    "Package",
    "build_image",
    "existing_image",
    "format_size",
    "measure_image",
    "measure_source",
    "oci_image",
    "parse_size",
    "registry_image",
]
__version__ = "0.2.0.dev0"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_imagesize' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
