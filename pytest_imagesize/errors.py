"""Errors and warnings the plugin reports to users.

Every error here carries a one-line, actionable message: what was wrong, where, and how to fix
it. The plugin shows ``str(error)`` and never a traceback from docker-py, urllib3 or humanfriendly.
"""

from __future__ import annotations


class ImageSizeError(Exception):
    """Base class: a problem the user can fix, described in ``str(self)``."""


class SizeParseError(ImageSizeError, ValueError):
    """A size, percentage or ratio that cannot be parsed."""


class MarkerError(ImageSizeError):
    """A size marker used wrongly (bad value, no image to check, ambiguous image).

    ``problem`` is what is wrong, without the marker's text in front (for callers that name the
    value their own way, like the CLI's ``--max``)."""

    def __init__(self, message: str, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = message if problem is None else problem


class EngineUnavailable(ImageSizeError):
    """No container engine answers at the configured address, or it went away.

    ``reason`` says why in a few words (``connection refused``); ``str(self)`` is the whole line:
    what failed, why, and how to fix it (the caller may add how to go on without an engine).
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = message if reason is None else reason


class ImageNotFound(ImageSizeError):
    """An image reference that the engine does not have."""


class BuildError(ImageSizeError):
    """An image build that could not start or that failed.

    ``created_ids`` holds the intermediate images a failed build left, for cleanup.
    """

    def __init__(self, message: str, created_ids: frozenset[str] = frozenset()) -> None:
        super().__init__(message)
        self.created_ids = created_ids


class BaselineError(ImageSizeError):
    """The baseline file cannot be read or written."""


class ImageSizeWarning(UserWarning):
    """An image is above a marker's ``warn=`` threshold but within its limit, or a baseline
    entry cannot be compared."""


class CacheWarning(UserWarning):
    """The analysis cache could not be read or written; the analysis itself went on."""
