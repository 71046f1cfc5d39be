"""Opening an image source named by its prefix, the registry options, and whether a layer blob
is stored compressed: what the CLI's check of compressed sizes needs before anything measures an
image, so kept apart from the modules that measure (this imports none of them)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..sources.model import SourceError

if TYPE_CHECKING:
    from pathlib import Path

    from ..sources.model import ImageSource

PREFIXES = ("oci:", "oci-archive:", "docker-archive:", "docker://")
COMPRESSED_SUFFIXES = ("+gzip", "+zstd", ".gzip", ".zstd")


def stored_compressed(media_type: str) -> bool:
    """Whether a layer blob of this media type is stored compressed (gzip or zstd): its size in
    the manifest is then its exact compressed size."""
    return media_type.endswith(COMPRESSED_SUFFIXES)


def open_source(text: str, registry_options: Any = None) -> ImageSource | None:
    """The image source ``text`` names by its prefix (``oci:PATH[:REF]``, ``oci-archive:``,
    ``docker-archive:``, ``docker://``), opened; None for an image name of the engine
    (``sources.open.open_source``)."""
    try:
        module = importlib.import_module(".open", "pytest_imagesize.sources")
    except ImportError:
        if text.startswith(PREFIXES):
            raise SourceError(
                f"cannot read {text}: image sources are unavailable in this installation"
            ) from None
        return None
    found: ImageSource | None = module.open_source(text, registry_options)
    return found


def registry_options(insecure: tuple[str, ...] | list[str] = (), ca_file: Path | None = None) -> Any:
    """``RegistryOptions`` for the registry source (None in an installation without it)."""
    try:
        module = importlib.import_module(".registry", "pytest_imagesize.sources")
    except ImportError:
        return None
    options = getattr(module, "RegistryOptions", None)
    return None if options is None else options(insecure=frozenset(insecure), ca_file=ca_file)
