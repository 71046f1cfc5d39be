"""The per-user state directory (``$XDG_STATE_HOME/pytest-imagesize``, else
``~/.local/state/pytest-imagesize``): what runs must share outside the user's project (build
records, locks, which sessions use a tag)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def state_root() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "pytest-imagesize"


def lock_for(path: Path, kind: str) -> Path:
    """A lock file standing for ``path`` (by its resolved name), in the state directory, or in
    the temporary directory where that cannot be made; its directory exists."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    for directory in (
        state_root() / "locks",
        Path(tempfile.gettempdir()) / f"pytest-imagesize-locks-{os.getuid()}",
    ):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(directory, os.W_OK):
            return directory / f"{kind}-{digest}.lock"
    raise OSError(f"no writable directory for the lock of {path}")
