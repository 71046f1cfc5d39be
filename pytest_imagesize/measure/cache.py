"""Where analyses are kept between runs: a per-user cache directory shared by the plugin and the
CLI (``$XDG_CACHE_HOME/pytest-imagesize``, else ``~/.cache/pytest-imagesize``).

Entries are JSON files written atomically (a temporary file and a rename), so two processes
filling the same entry at once leave one whole entry. A read-only, full or damaged cache never
stops an analysis: the entry is recomputed, replaced where possible, and one warning says why.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any, Protocol

from ..atomic import write_atomic


class CacheWarning(UserWarning):
    """The analysis cache could not be read or written; the analysis itself went on."""


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
        self._warned: set[str] = set()

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.directory / digest[:2] / f"{digest}.json"

    def _warn(self, what: str, detail: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            warnings.warn(CacheWarning(f"pytest-imagesize cache {self.directory}: {detail}"), stacklevel=3)

    def get(self, key: str) -> Any:
        path = self._path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._warn("read", f"cannot read an entry ({exc.strerror}); analysing again")
            return None
        try:
            data = json.loads(text)
        except ValueError:
            self._warn("damaged", f"a damaged entry ({path.name}) is analysed again and replaced")
            return None
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        return data.get("value")

    def set(self, key: str, value: Any) -> None:
        try:
            write_atomic(self._path(key), json.dumps({"key": key, "value": value}, separators=(",", ":")))
        except OSError as exc:
            self._warn("write", f"cannot store analyses ({exc.strerror}); they are redone next time")


class NoCache:
    """Remembers nothing (``--no-cache``)."""

    def get(self, key: str) -> Any:
        return None

    def set(self, key: str, value: Any) -> None:
        return None
