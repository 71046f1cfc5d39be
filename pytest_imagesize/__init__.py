"""pytest-imagesize: container image size as a test result.

Public API::

    from pytest_imagesize import build_image, existing_image, measure_image, parse_size, Image

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from .analysis import FileRecord, FileTree
from .errors import ImageSizeError
from .fixtures import build_image, existing_image
from .image import Image, ImageConfig, Layer, measure_image
from .session import ImageSizeWarning
from .sizes import format_size, parse_size

__all__ = [
    "FileRecord",
    "FileTree",
    "Image",
    "ImageConfig",
    "ImageSizeError",
    "ImageSizeWarning",
    "Layer",
    "build_image",
    "existing_image",
    "format_size",
    "measure_image",
    "parse_size",
]
__version__ = "0.1.0"
