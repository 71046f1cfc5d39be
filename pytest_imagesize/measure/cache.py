"""Where analyses are kept between runs: a per-user cache directory shared by the plugin and the
CLI (``$XDG_CACHE_HOME/pytest-imagesize``, else ``~/.cache/pytest-imagesize``).

Entries are JSON files written atomically (a temporary file and a rename), so two processes
filling the same entry at once leave one whole entry. A read-only, full or damaged cache never
stops an analysis: the entry is recomputed, replaced where possible, and one warning line (one per
cache, whatever else goes wrong with it afterwards) says why.

Two kinds of entries live here: whole analyses by image ID, and single layers by diff ID (see
``measure/analysis.py``), so that images sharing layers share their measurements.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any, Protocol

from ..atomic import write_atomic
from ..errors import CacheWarning


class AnalysisCache(Protocol):
    """JSON values by key."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


def default_directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pytest-imagesize"


class DirectoryCache:
    """An :class:`AnalysisCache` in a directory; one file per key."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_directory()
        self._warned = False

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.directory / digest[:2] / f"{digest}.json"

    def _warn(self, detail: str) -> None:
        if not self._warned:
            self._warned = True
            # one line: no source line under it (the file name is not a file)
            warnings.warn_explicit(
                CacheWarning(f"pytest-imagesize cache {self.directory}: {detail}"),
                CacheWarning,
                "pytest-imagesize",
                0,
            )

    def stale(self, key: str) -> None:
        """The entry under ``key`` could not be used (another version's format, or damaged in a
        way only its reader can tell): it is analysed again and replaced."""
        name = self._path(key).name
        self._warn(f"an entry of another version or a damaged one ({name}) is analysed again and replaced")

    def get(self, key: str) -> Any:
        path = self._path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            if isinstance(exc, UnicodeDecodeError):
                self._warn(f"a damaged entry ({path.name}) is analysed again and replaced")
            else:
                self._warn(f"cannot read an entry ({exc.strerror}); analysing again")
            return None
        try:
            data = json.loads(text)
        except ValueError:
            self._warn(f"a damaged entry ({path.name}) is analysed again and replaced")
            return None
        if not isinstance(data, dict) or data.get("key") != key:
            if not isinstance(data, dict) or "key" not in data:
                self._warn(f"a damaged entry ({path.name}) is analysed again and replaced")
            return None  # another key that hashes alike (never seen): recomputed, replaced
        return data.get("value")

    def set(self, key: str, value: Any) -> None:
        try:
            write_atomic(self._path(key), json.dumps({"key": key, "value": value}, separators=(",", ":")))
        except OSError as exc:
            self._warn(f"cannot store analyses ({exc.strerror or exc}); they are redone next time")


class NoCache:
    """Remembers nothing (``--no-cache``)."""

    def get(self, key: str) -> Any:
        return None

    def set(self, key: str, value: Any) -> None:
        return None
