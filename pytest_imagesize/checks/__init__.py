"""Check kinds as data: one record per marker kind, read by collection, evaluation, messages,
reports and the CLI. A check applied to a measured image becomes an :class:`Outcome`.

- :mod:`.model`: ``Check``, ``Outcome``, ``Context``, the ``CheckKind`` record and the ``KINDS``
  registry (kind name -> record);
- :mod:`.kinds`: the records, one per marker kind (arguments, parsing, measure, comparison,
  wording and presentation in the reports);
- :mod:`.forbid`: the ``forbid_packages`` record (package name globs the image must not hold);
- :mod:`.markers`: marker text to validated checks, the closest marker of each measure, the image
  a check applies to, evaluation (``evaluate_all``: every platform of a multi-platform image, or
  the one ``platform=`` names, each with its own limit where a dict gives limits per platform).

Adding a marker means adding one :class:`CheckKind` in :mod:`.kinds` (plus its tests): markers,
evaluation, the terminal, Markdown, JSON and HTML reports all read it from ``KINDS``.
"""

from __future__ import annotations

from . import forbid as _forbid  # noqa: F401  (registers forbid_packages)
from .kinds import HYGIENE_RULES
from .markers import check_from_marker, closest_checks, evaluate, evaluate_all, marker_text, resolve_image
from .model import (
    KINDS,
    SCOPES,
    UNITS,
    Check,
    CheckKind,
    Context,
    KindName,
    Outcome,
    Reject,
    Scope,
    Unit,
    Verdict,
    register,
)

__all__ = [
    "HYGIENE_RULES",
    "KINDS",
    "SCOPES",
    "UNITS",
    "Check",
    "CheckKind",
    "Context",
    "KindName",
    "Outcome",
    "Reject",
    "Scope",
    "Unit",
    "Verdict",
    "check_from_marker",
    "closest_checks",
    "evaluate",
    "evaluate_all",
    "marker_text",
    "register",
    "resolve_image",
]
