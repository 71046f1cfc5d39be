"""Opening an image source named by its prefix, the registry options, and whether a layer blob
is stored compressed: what the CLI's check of compressed sizes needs before anything measures an
image, so kept apart from the modules that measure (this imports none of them)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..sources.model import SourceError
from ..sources.platforms import Platform, PlatformError, choose, host_platform, listing
from .index import member_name, platform_labels

if TYPE_CHECKING:
    from pathlib import Path

    from ..sources.model import ImageManifest, ImageSource

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


def _no_host_image(what: str, host: Platform, available: list[Platform | None]) -> PlatformError:
    return PlatformError(
        f"{what} has no {host} image (this machine's platform); it has "
        f"{listing(available)}: pick one with --platform, or --all-platforms"
    )


def _note_of(platform: Platform, available: list[Platform | None]) -> str:
    return f"{platform} of {len(available)} platforms: {listing(available)}"


def _exact(manifest: ImageManifest) -> int | None:
    if all(stored_compressed(layer.media_type) for layer in manifest.layers):
        return manifest.compressed_size
    return None


def stored_sizes(
    text: str, registry_options: Any, platform: str | None, all_platforms: bool
) -> tuple[list[tuple[str, int]], str | None] | None:
    """The rows ``open_side`` and ``choose_rows`` give for the source ``text`` names, as (name,
    compressed size), and the note on the platform chosen, from the manifests alone (the index
    and the platform manifests: no config, no blob, and none of the modules that measure an
    image imported); None for an engine's image or where the manifests do not say (a layer blob
    stored uncompressed, an image of no stated platform): measure it then. The same errors as
    ``open_side`` and ``choose_rows`` raise, in the same order, but for a config's."""
    source = open_source(text, registry_options)
    if source is None:
        return None
    try:
        entries = source.platforms()
        if any(entry.platform is None for entry in entries):
            return None
        if source.index_digest is None and len(entries) == 1:  # a single image, named as given
            manifest = source.manifest(entries[0])
            if platform is not None and all_platforms:
                raise PlatformError("--platform and --all-platforms: give one of them")
            stated = entries[0].platform
            if platform is not None and stated is not None and stated != Platform.parse(platform):
                choose([stated], Platform.parse(platform), source.what)
            size = _exact(manifest)
            return None if size is None else ([(text, size)], None)
        available = [entry.platform for entry in entries]
        if platform is not None and all_platforms:
            raise PlatformError("--platform and --all-platforms: give one of them")
        note = None
        if all_platforms:
            chosen = list(range(len(entries)))
        else:
            if platform is not None:
                wanted = Platform.parse(platform)
            else:
                wanted = host_platform()
                if wanted not in available:
                    raise _no_host_image(source.what, wanted, available)
                note = _note_of(wanted, available)
            chosen = [choose(available, wanted, source.what)]
        labels = platform_labels([str(entry.platform) for entry in entries])
        rows = []
        for i in chosen:
            size = _exact(source.manifest(entries[i]))
            if size is None:
                return None
            rows.append((member_name(text, labels[i]), size))
        return rows, note
    finally:
        source.close()
