"""An image reference as skopeo spells its transports, opened as an ``ImageSource``:

- ``oci:PATH[:REF]``: an OCI image layout directory (``oci_layout.OciLayoutSource``)
- ``oci-archive:PATH[:REF]``: a tar of one (``archives.OciArchiveSource``)
- ``docker-archive:PATH[:REF]``: a ``docker save`` archive (``archives.DockerArchiveSource``)
- ``docker://HOST/REPO[:TAG|@DIGEST]``: a registry (``registry.source.RegistrySource``)

Anything else is an image name for the engine (``open_source`` returns None).

PATH ends at its first colon and REF is the rest, as skopeo splits them (containers/image's
``SplitPathAndImage`` on Linux): ``oci:build/oci:app:1.4`` is the layout ``build/oci`` and the ref
``app:1.4``; a path with a colon in it cannot be named (skopeo refuses one too): name it through
a symlink or a relative path without one. REF ``@N`` names the N-th image of the layout or
archive."""

from __future__ import annotations

import importlib
from typing import Any

from .model import ImageSource, SourceError

LOCAL: dict[str, tuple[str, str]] = {  # transport: (module, class), imported when named
    "oci": (".oci_layout", "OciLayoutSource"),
    "oci-archive": (".archives", "OciArchiveSource"),
    "docker-archive": (".archives", "DockerArchiveSource"),
}
REGISTRY = "docker://"


def split_reference(text: str) -> tuple[str, str, str | None] | None:
    """``(transport, path, ref)`` for a local transport's spelling, None for anything else
    (a registry's ``docker://`` included); ``SourceError`` when the path is missing."""
    transport, colon, rest = text.partition(":")
    if not colon or transport not in LOCAL:
        return None
    path, _, ref = rest.partition(":")
    if not path:
        raise SourceError(f"{text!r} names no path: write it as {transport}:PATH or {transport}:PATH:REF")
    return transport, path, ref or None


def open_source(text: str, registry_options: Any = None) -> ImageSource | None:
    """The image source ``text`` names, opened (its index or manifest list read); None when it
    names an image of the engine (no transport prefix). ``SourceError`` when it cannot be read."""
    if text.startswith(REGISTRY):
        if len(text) == len(REGISTRY):
            raise SourceError(f"{text!r} names no image: write it as docker://HOST/REPO:TAG")
        try:
            module = importlib.import_module(".registry.source", __package__)
        except ImportError as exc:
            raise SourceError(
                f"cannot read {text}: the registry source is unavailable in this installation ({exc})"
            ) from None
        source: ImageSource = module.RegistrySource(text, registry_options)
        return source
    parts = split_reference(text)
    if parts is None:
        return None
    transport, path, ref = parts
    where, name = LOCAL[transport]
    local: ImageSource = getattr(importlib.import_module(where, __package__), name)(path, ref)
    return local
