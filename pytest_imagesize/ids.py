"""Image and container IDs as people read them, and as engines take them."""

from __future__ import annotations


def short_id(full_id: str) -> str:
    """An ID as ``docker images`` shows it: its first 12 hex digits, without ``sha256:``."""
    return full_id.split(":", 1)[-1][:12]


def engine_ref(ref: str) -> str:
    """``ref`` as an engine's API takes it: a bare 64-hex image ID gets its ``sha256:``. Docker
    takes either; Podman's compat API reads a bare full ID it does not hold as a name and answers
    500 ("cannot specify 64-byte hexadecimal strings") where it means 404."""
    if len(ref) == 64 and all(c in "0123456789abcdef" for c in ref):
        return f"sha256:{ref}"
    return ref
