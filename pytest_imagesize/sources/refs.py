"""Image names as Docker normalises them, to match a name given on the command line against the
names an archive or layout records: ``app`` is ``docker.io/library/app:latest``, ``host:5000/app``
keeps its host and gets ``:latest``; a digest (``@sha256:...``) stays as written."""

from __future__ import annotations

DEFAULT_DOMAIN = "docker.io"


def normal_name(name: str) -> str:
    """``name`` in full: domain, path and tag (``latest`` when it names none)."""
    name = name.strip()
    if "@" in name:
        return name
    first, slash, rest = name.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, rest
    if domain in ("docker.io", "index.docker.io"):
        domain = DEFAULT_DOMAIN
        if "/" not in path:
            path = f"library/{path}"
    if ":" not in path.rsplit("/", 1)[-1]:
        path = f"{path}:latest"
    return f"{domain}/{path}"
