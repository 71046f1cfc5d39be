"""Paths inside an image, and the overlay markers that layers use to delete them."""

from __future__ import annotations

import posixpath

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"


def clean_path(name: str) -> str:
    """A tar member name or a user's path as an absolute path inside the image (``..`` cannot
    climb out): ``./usr//bin/../lib`` -> ``/usr/lib``."""
    return "/" + posixpath.normpath("/" + name).lstrip("/")
