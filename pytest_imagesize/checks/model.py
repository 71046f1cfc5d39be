"""The shapes of checks: a :class:`Check` (a marker's claim), its :class:`Outcome` (the claim
applied to a measured image), the :class:`CheckKind` record that says everything about one marker
kind, and ``KINDS``, the registry of those records by name (filled by :mod:`.kinds`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import MarkerError
from ..measure.image import Image

if TYPE_CHECKING:  # the baseline loads only when a growth check needs it
    from ..baseline import BaselineEntry

KindName = str  # a name registered in KINDS, e.g. "max_image_size"
Verdict = Literal["passed", "failed", "warned"]
Scope = Literal["image", "own"]
SCOPES: tuple[Scope, ...] = ("image", "own")
# How a kind's limit and actual values read in the reports:
#   bytes    a size (the HTML report shows it formatted, with the exact bytes beside it)
#   count    a whole number
#   ratio    a fraction in [0, 1], shown as a percentage
#   percent  a limit in percent; the actual value is a signed change in percent
#   none     no numeric values (the outcome's details carry the findings)
Unit = Literal["bytes", "count", "ratio", "percent", "none"]
UNITS: tuple[Unit, ...] = ("bytes", "count", "ratio", "percent", "none")


@dataclass(frozen=True)
class Check:
    """One claim about one image, as written in a marker (or an ini default)."""

    kind: KindName
    limit: float | None  # None: a kind without a numeric limit (go_build_hygiene)
    marker: str  # the marker as written, for messages
    image: str | None = None  # fixture name; None until resolved when the marker omits it
    compressed: bool = False
    warn: int | None = None
    floor: int = 0
    scope: Scope | None = None  # growth: "image" or "own" (None: the ini default, else "image")
    allow: tuple[str, ...] = ()  # go_build_hygiene: rules not applied; forbid_packages: names let through
    patterns: tuple[str, ...] = ()  # forbid_packages: the name globs forbidden
    ecosystems: tuple[str, ...] = ()  # forbid_packages: the ecosystems looked at (empty: every one)
    strict: bool = False  # forbid_packages: an image without a package database fails (else warns)
    platform: str | None = None  # platform=: the one platform checked (None: every platform)
    # limits per platform ({"linux/amd64": "8MB", "*": "9MB"} as written): (platform or "*",
    # limit) pairs; ``limit`` is then None and each platform is checked against its own
    per_platform: tuple[tuple[str, float], ...] = ()

    @property
    def record(self) -> CheckKind:
        return KINDS[self.kind]

    @property
    def measure(self) -> tuple[Any, ...]:
        """What the check measures: a closer marker with the same measure shadows this one (a
        marker for one platform measures something else than one for every platform)."""
        distinct = (getattr(self, name) for name in self.record.distinct_by)
        return (self.kind, self.image, self.platform, *distinct)


@dataclass(frozen=True)
class Outcome:
    """A check applied to a measured image."""

    test: str
    image: str  # the image's name; one platform of a multi-platform image: app[linux/arm64]
    kind: KindName
    compressed: bool
    limit: float | None
    actual: float | None  # None: nothing to compare (a new image in a growth check)
    outcome: Verdict
    message: str
    warn: int | None = None
    baseline: int | None = None  # growth checks: the baseline value compared with
    delta: int | None = None  # growth checks: bytes gained since the baseline
    note: str = ""  # e.g. "new": not in the baseline
    scope: Scope | None = None  # growth checks: the whole image or its own layers
    details: tuple[dict[str, Any], ...] = ()  # kinds without a numeric limit: the findings
    platform: str | None = None  # the image's platform (None: an engine's image, not stated)

    @property
    def record(self) -> CheckKind:
        return KINDS[self.kind]

    @property
    def headroom(self) -> float | None:
        """How far from failing: positive inside the limit, negative over it."""
        if self.actual is None or self.limit is None:
            return None
        return self.actual - self.limit if self.record.at_least else self.limit - self.actual

    @property
    def limit_text(self) -> str:
        return self.record.limit_text(self)

    @property
    def headroom_text(self) -> str:
        room = self.headroom
        if room is None:
            return self.note or "-"
        text = self.record.amount_text(abs(room))
        return text if room >= 0 else f"{text} over"

    def junit_properties(self) -> list[tuple[str, object]]:
        return [
            ("image", self.image),
            (f"image_{self.kind}_limit", self.limit),
            (f"image_{self.kind}_outcome", self.outcome),
        ]

    def to_json(self) -> dict[str, Any]:
        """The report's entry: the fields every kind has, then the kind's own ``json_fields``."""
        data: dict[str, Any] = {
            "test": self.test,
            "image": self.image,
            "platform": self.platform,
            "kind": self.kind,
            "compressed": self.compressed,
            "limit": self.limit,
            "warn": self.warn,
            "actual": self.actual,
            "outcome": self.outcome,
        }
        for name in self.record.json_fields:
            value = getattr(self, name)
            data[name] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Outcome:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Context:
    """What evaluation may consult besides the image."""

    baseline: Mapping[str, BaselineEntry] = field(default_factory=dict)

    def entry(self, name: str) -> BaselineEntry | None:
        """The baseline entry of an image by its reported name (``app[linux/arm64]`` finds the
        earlier single-platform entry ``app`` measured on that platform)."""
        from ..baseline import lookup

        return lookup(self.baseline, name)


Reject = Callable[[str], MarkerError]


@dataclass(frozen=True, kw_only=True)
class CheckKind:
    """Everything about one marker kind: its arguments, how they parse, what it measures and how
    that compares, its wording, and how every report presents it.

    ``parse`` reads the marker's one positional argument into the check's ``limit`` (with the
    keyword arguments' fields); a dict of limits per platform parses each value the same way, so
    every kind takes one. ``platform=`` and the choice of platform are handled before
    ``evaluate``, which sees one platform's ``Image`` and a check with one limit."""

    name: KindName
    signature: str  # the marker's arguments, for `pytest --markers`
    help: str
    options: frozenset[str]  # keyword arguments besides image=
    parse: Callable[[Any, Mapping[str, Any], Reject], dict[str, Any]]  # -> Check fields
    evaluate: Callable[[Check, Image, str, Context], Outcome]
    distinct_by: tuple[str, ...] = ()  # Check fields that make two markers measure different things
    at_least: bool = False  # the actual must be >= the limit (else <=)
    takes_limit: bool = True  # the marker's one positional argument; False: none
    takes_args: bool = False  # positional arguments, any number, handed to ``parse`` as a tuple
    # presentation
    label: str  # what is checked, in words: "size", "layers", "Go build hygiene"
    unit: Unit  # how the limit and actual values read (see Unit)
    limit_text: Callable[[Outcome], str]  # the terminal and Markdown limit column
    amount_text: Callable[[float], str]  # headroom and differences in this kind's unit
    json_fields: tuple[str, ...] = ()  # Outcome fields the JSON report adds for this kind
    detail_text: Callable[[Mapping[str, Any]], str] | None = None  # one finding of ``details``

    @property
    def marker_line(self) -> str:
        """For ``pytest --markers``: every kind also takes ``platform=`` and, in place of a limit,
        a dict of limits per platform."""
        per_platform = "; platform= checks one platform of a multi-platform image"
        if self.takes_limit and not self.takes_args:
            per_platform += ", a dict {platform: limit} ('*': the rest) sets a limit per platform"
        return f"{self.name}({self.signature}, platform=None): {self.help}{per_platform}"

    def title(self, compressed: bool = False) -> str:
        """The check's name in a report: the label, of the compressed size where that is measured."""
        return f"compressed {self.label}" if compressed else self.label


KINDS: dict[KindName, CheckKind] = {}


def register(kind: CheckKind) -> CheckKind:
    """Add a kind to ``KINDS``: markers, evaluation and every report take it from there."""
    if kind.name in KINDS:
        raise ValueError(f"a check kind named {kind.name!r} is already registered")
    if kind.unit not in UNITS:
        raise ValueError(f"{kind.name}: unit {kind.unit!r} is not one of {', '.join(UNITS)}")
    unknown = [name for name in kind.json_fields if name not in Outcome.__dataclass_fields__]
    if unknown:
        raise ValueError(f"{kind.name}: json_fields {unknown} are not Outcome fields")
    KINDS[kind.name] = kind
    return kind
