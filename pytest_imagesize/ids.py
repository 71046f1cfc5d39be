"""Image and container IDs as people read them."""

from __future__ import annotations


def short_id(full_id: str) -> str:
    """An ID as ``docker images`` shows it: its first 12 hex digits, without ``sha256:``."""
    return full_id.split(":", 1)[-1][:12]
