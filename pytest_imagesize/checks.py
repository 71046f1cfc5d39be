"""Check kinds as data: one record per marker kind, read by collection, evaluation, messages,
reports and the CLI. A check applied to a measured image becomes an :class:`Outcome`.

Adding a marker means adding one :class:`CheckKind` to ``KINDS`` (plus its tests). Marker
values are validated at collection, before any image is built. Per test, the closest marker of
each measure (function over class over module) wins for each image; what counts as the same
measure is the kind plus the arguments named in ``CheckKind.distinct_by``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from .errors import ImageSizeError, MarkerError, SizeParseError
from .measure.image import Image
from .sizes import MAX_BYTES, describe_size, format_size, parse_percent, parse_size

if TYPE_CHECKING:  # the baseline and explanations load only when a growth check needs them
    from .baseline import BaselineEntry

KindName = Literal[
    "max_image_size",
    "max_image_layers",
    "max_wasted_bytes",
    "min_image_efficiency",
    "max_image_growth",
    "go_build_hygiene",
]
Verdict = Literal["passed", "failed", "warned"]
Scope = Literal["image", "own"]
SCOPES: tuple[Scope, ...] = ("image", "own")


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
    allow: tuple[str, ...] = ()  # go_build_hygiene: rules not applied

    @property
    def record(self) -> CheckKind:
        return KINDS[self.kind]

    @property
    def measure(self) -> tuple[Any, ...]:
        """What the check measures: a closer marker with the same measure shadows this one."""
        return (self.kind, self.image, *(getattr(self, name) for name in self.record.distinct_by))


@dataclass(frozen=True)
class Outcome:
    """A check applied to a measured image."""

    test: str
    image: str
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
        data: dict[str, Any] = {
            "test": self.test,
            "image": self.image,
            "kind": self.kind,
            "compressed": self.compressed,
            "limit": self.limit,
            "warn": self.warn,
            "actual": self.actual,
            "outcome": self.outcome,
        }
        if self.kind == "max_image_growth":
            data.update(baseline=self.baseline, delta=self.delta, note=self.note, scope=self.scope)
        if self.record.takes_limit is False:
            data["details"] = list(self.details)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Outcome:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Context:
    """What evaluation may consult besides the image."""

    baseline: Mapping[str, BaselineEntry] = field(default_factory=dict)


Reject = Callable[[str], MarkerError]


@dataclass(frozen=True)
class CheckKind:
    """Everything about one marker kind."""

    name: KindName
    signature: str  # the marker's arguments, for `pytest --markers`
    help: str
    options: frozenset[str]  # keyword arguments besides image=
    parse: Callable[[Any, Mapping[str, Any], Reject], dict[str, Any]]  # -> Check fields
    limit_text: Callable[[Outcome], str]
    amount_text: Callable[[float], str]  # headroom and differences in this kind's unit
    evaluate: Callable[[Check, Image, str, Context], Outcome]
    distinct_by: tuple[str, ...] = ()  # Check fields that make two markers measure different things
    at_least: bool = False  # the actual must be >= the limit (else <=)
    takes_limit: bool = True  # the marker's one positional argument; False: none

    @property
    def marker_line(self) -> str:
        return f"{self.name}({self.signature}): {self.help}"


# ---------------------------------------------------------------------------- shared pieces


def _bool(kwargs: Mapping[str, Any], name: str, reject: Reject) -> bool:
    value = kwargs.get(name, False)
    if not isinstance(value, bool):
        raise reject(f"{name}= must be True or False, got {value!r}")
    return value


def _limit_size(value: Any) -> int:
    size = parse_size(value)
    if size == 0:
        raise SizeParseError("0 is not a usable limit: no image is 0 bytes; give a positive size")
    return size


def _limit(check: Check) -> float:
    """The numeric limit of a kind that has one."""
    assert check.limit is not None, f"{check.kind} has no numeric limit"
    return check.limit


def _what(check: Check) -> str:
    return "compressed size" if check.compressed else "size"


def _layer_lines(image: Image, compressed: bool) -> str:
    rows = []
    largest = image.largest_layers(3)
    for layer in largest:
        size = layer.compressed_size if compressed and layer.compressed_size is not None else layer.size
        rows.append(f"    {describe_size(size):>28}  {layer.instruction}")
    text = "\n  largest layers:\n" + "\n".join(rows) if rows else ""
    return text + (_go_lines(image, largest[0].index) if largest else "")


def _go_lines(image: Image, layer_index: int) -> str:
    """The top modules of the Go binaries that the largest layer wrote (a failure may read the
    archive for this; a pass never does)."""
    try:
        binaries = [
            b
            for b in image.go_binaries
            if (r := image.files.get(b.path)) is not None and r.layer == layer_index
        ]
    except ImageSizeError:
        return ""
    lines = []
    for binary in sorted(binaries, key=lambda b: -b.size)[:2]:
        lines.append(f"  Go binary {binary.path} ({format_size(binary.size)}), top modules:")
        for path, module in binary.top_modules(5):
            share = module.size / binary.size * 100 if binary.size else 0.0
            lines.append(f"    {format_size(module.size):>10} ({share:4.1f} %)  {path}")
    return "\n" + "\n".join(lines) if lines else ""


def _outcome(check: Check, image: Image, test: str, actual: float, failed: bool, message: str) -> Outcome:
    verdict: Verdict = "failed" if failed else "passed"
    if not failed and check.warn is not None and actual > check.warn:
        verdict = "warned"
        message = (
            f"image {image.label} {_what(check)} is {describe_size(int(actual))}, above the warning "
            f"threshold of {describe_size(check.warn)} (limit {format_size(int(_limit(check)))})"
        )
    return Outcome(
        test=test,
        image=image.name,
        kind=check.kind,
        compressed=check.compressed,
        limit=check.limit,
        actual=actual,
        outcome=verdict,
        message=message if verdict != "passed" else "",
        warn=check.warn,
    )


def _bytes_over(check: Check, image: Image, test: str, actual: int, what: str, details: str) -> Outcome:
    over = actual - int(_limit(check))
    message = (
        f"image {image.label} {what} is {describe_size(actual)}, over the limit of "
        f"{describe_size(int(_limit(check)))} by {describe_size(max(over, 0))} ({check.marker})"
    )
    return _outcome(check, image, test, actual, over > 0, message + (details if over > 0 else ""))


# ---------------------------------------------------------------------------- the kinds


def _parse_size_marker(value: Any, kwargs: Mapping[str, Any], reject: Reject) -> dict[str, Any]:
    limit = _limit_size(value)
    warn = kwargs.get("warn")
    warn_size = None if warn is None else _limit_size(warn)
    if warn_size is not None and warn_size >= limit:
        raise reject(
            f"warn={warn!r} ({format_size(warn_size)}) must be below the limit ({format_size(limit)})"
        )
    return {"limit": limit, "compressed": _bool(kwargs, "compressed", reject), "warn": warn_size}


def _evaluate_size(check: Check, image: Image, test: str, context: Context) -> Outcome:
    actual = image.compressed_size if check.compressed else image.size
    if actual <= _limit(check) and (check.warn is None or actual <= check.warn):
        return _outcome(check, image, test, actual, False, "")
    over = actual > _limit(check)  # the details (which may read the archive) only for a failure
    return _bytes_over(
        check, image, test, actual, _what(check), _layer_lines(image, check.compressed) if over else ""
    )


def _parse_layers(value: Any, kwargs: Mapping[str, Any], reject: Reject) -> dict[str, Any]:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BYTES:
        raise reject(f"{value!r} is not a layer count: give a whole number >= 1")
    return {"limit": value}


def _evaluate_layers(check: Check, image: Image, test: str, context: Context) -> Outcome:
    actual = image.layer_count
    over = actual - int(_limit(check))
    message = ""
    if over > 0:
        message = (
            f"image {image.label} has {actual} layers, {over} over the limit of {int(_limit(check))} "
            f"({check.marker})" + _layer_lines(image, False)
        )
    return _outcome(check, image, test, actual, over > 0, message)


def _parse_waste(value: Any, kwargs: Mapping[str, Any], reject: Reject) -> dict[str, Any]:
    return {"limit": parse_size(value)}


def _evaluate_waste(check: Check, image: Image, test: str, context: Context) -> Outcome:
    return _bytes_over(check, image, test, image.wasted_bytes, "wasted bytes", "")


def _parse_efficiency(value: Any, kwargs: Mapping[str, Any], reject: Reject) -> dict[str, Any]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise reject(f"{value!r} is not a ratio: give a number in (0, 1], e.g. 0.95")
    return {"limit": float(value)}


def _evaluate_efficiency(check: Check, image: Image, test: str, context: Context) -> Outcome:
    actual = image.efficiency
    failed = actual < _limit(check)
    message = (
        f"image {image.label} has efficiency {actual:.4f}, below {check.marker}'s {_limit(check):.4f}; "
        f"{describe_size(image.wasted_bytes)} of files are hidden or deleted by later layers"
    )
    return _outcome(check, image, test, actual, failed, message if failed else "")


def _parse_growth(value: Any, kwargs: Mapping[str, Any], reject: Reject) -> dict[str, Any]:
    floor = kwargs.get("floor")
    scope = kwargs.get("scope")
    if scope is not None and scope not in SCOPES:
        raise reject(
            f"scope={scope!r}: use scope='image' (the whole image) or scope='own' (layers above the base)"
        )
    return {
        "limit": parse_percent(value),
        "compressed": _bool(kwargs, "compressed", reject),
        "floor": 0 if floor is None else parse_size(floor),
        "scope": scope,
    }


def _explanation(image: Image, entry: BaselineEntry) -> str:
    """The top movers since the baseline (reads the image's analysis: a failure may)."""
    now = image.summary(files=True)
    full = {r.path: r.size for r in image.files if r.kind == "file"}
    from .explain import movers_lines
    from .measure.summary import compare

    lines = movers_lines(compare(entry.summary(), now, b_files=full))
    return "\n" + "\n".join(lines) if lines else ""


def _growth_values(check: Check, image: Image, entry: BaselineEntry) -> tuple[int | None, int, str]:
    """(baseline value, value now, what is compared) for the check's scope."""
    if check.scope == "own" and image.base is not None:
        base = entry.own_compressed_size if check.compressed else entry.own_size
        now = image.own_compressed_size if check.compressed else image.own_size
        return base, now, ("own compressed size" if check.compressed else "own size")
    base = entry.compressed_size if check.compressed else entry.size
    return base, image.compressed_size if check.compressed else image.size, _what(check)


def _evaluate_growth(check: Check, image: Image, test: str, context: Context) -> Outcome:
    entry = context.baseline.get(image.name)
    common: dict[str, Any] = {
        "test": test,
        "image": image.name,
        "kind": check.kind,
        "compressed": check.compressed,
        "scope": check.scope or "image",
    }
    if entry is None:
        return Outcome(**common, limit=check.limit, actual=None, outcome="passed", message="", note="new")
    if not check.compressed and not entry.size_comparable:
        note = "not comparable"  # a version-1 entry holding an engine's own, other number
        return Outcome(**common, limit=check.limit, actual=None, outcome="passed", message="", note=note)
    base, now, what = _growth_values(check, image, entry)
    if base is None:  # not measured that way in the baseline
        return Outcome(**common, limit=check.limit, actual=None, outcome="passed", message="", note="new")
    delta = now - base
    percent: float | None = delta / base * 100 if base else None
    failed = delta > check.floor and (percent is None or percent > _limit(check))
    message = ""
    if failed:
        change = f"+{percent:.2f} %" if percent is not None else "from nothing"
        message = (
            f"image {image.label} {what} grew from {describe_size(base)} to "
            f"{describe_size(now)}: +{describe_size(delta)} ({change}), over both the "
            f"{_limit(check):g} % limit and the {format_size(check.floor)} floor ({check.marker})"
        ) + _explanation(image, entry)
    return Outcome(
        **common,
        limit=check.limit,
        actual=percent,
        outcome="failed" if failed else "passed",
        message=message,
        baseline=base,
        delta=delta,
    )


HYGIENE_RULES = ("test-binary", "stripped", "trimpath", "static", "unreadable")


def _parse_hygiene(value: Any, kwargs: Mapping[str, Any], reject: Reject) -> dict[str, Any]:
    allow = kwargs.get("allow", ())
    if isinstance(allow, str):
        allow = (allow,)
    if not isinstance(allow, (tuple, list, set, frozenset)) or not all(a in HYGIENE_RULES for a in allow):
        raise reject(f"allow={allow!r}: name rules among {', '.join(repr(r) for r in HYGIENE_RULES)}")
    return {"limit": None, "allow": tuple(sorted(allow))}


def _evaluate_hygiene(check: Check, image: Image, test: str, context: Context) -> Outcome:
    findings = [f for f in image.go_findings() if f.rule not in check.allow]
    message = ""
    if findings:
        lines = [
            f"  {f.path}: {f.problem}"
            + (f" ({format_size(f.cost_bytes)})" if f.cost_bytes else "")
            + f"; fix: {f.fix}"
            for f in findings
        ]
        message = (
            f"image {image.label} has {len(findings)} Go build hygiene problem"
            f"{'s' if len(findings) != 1 else ''} ({check.marker}):\n" + "\n".join(lines)
        )
    return Outcome(
        test=test,
        image=image.name,
        kind=check.kind,
        compressed=False,
        limit=None,
        actual=None,
        outcome="failed" if findings else "passed",
        message=message,
        details=tuple(
            {"rule": f.rule, "path": f.path, "problem": f.problem, "cost_bytes": f.cost_bytes, "fix": f.fix}
            for f in findings
        ),
    )


def _compressed_mark(outcome: Outcome) -> str:
    return " (c)" if outcome.compressed else ""


KINDS: dict[KindName, CheckKind] = {
    kind.name: kind
    for kind in (
        CheckKind(
            name="max_image_size",
            signature="limit, *, compressed=False, warn=None, image=None",
            help="fail when the image is larger than limit ('5MB', '4.5MiB' or bytes); warn= is a soft limit",
            options=frozenset({"compressed", "warn"}),
            parse=_parse_size_marker,
            limit_text=lambda o: format_size(int(o.limit or 0)) + _compressed_mark(o),
            amount_text=lambda n: format_size(int(n)),
            evaluate=_evaluate_size,
            distinct_by=("compressed",),
        ),
        CheckKind(
            name="max_image_layers",
            signature="n, *, image=None",
            help="fail when the image has more than n layers",
            options=frozenset(),
            parse=_parse_layers,
            limit_text=lambda o: f"{int(o.limit or 0)} layers",
            amount_text=lambda n: f"{int(n)} layers",
            evaluate=_evaluate_layers,
        ),
        CheckKind(
            name="max_wasted_bytes",
            signature="limit, *, image=None",
            help="fail when more than limit bytes of files are hidden or deleted by later layers",
            options=frozenset(),
            parse=_parse_waste,
            limit_text=lambda o: format_size(int(o.limit or 0)) + " waste",
            amount_text=lambda n: format_size(int(n)),
            evaluate=_evaluate_waste,
        ),
        CheckKind(
            name="min_image_efficiency",
            signature="ratio, *, image=None",
            help="fail when 1 - wasted / written falls below ratio (0 < ratio <= 1)",
            options=frozenset(),
            parse=_parse_efficiency,
            limit_text=lambda o: f"eff {o.limit:.2f}",
            amount_text=lambda n: f"{n:.3f}",
            evaluate=_evaluate_efficiency,
            at_least=True,
        ),
        CheckKind(
            name="max_image_growth",
            signature="percent, *, floor=None, compressed=False, scope='image', image=None",
            help="fail when the image grew against the baseline by more than percent AND more than "
            "floor; scope='own' counts only the layers above the base image",
            options=frozenset({"floor", "compressed", "scope"}),
            parse=_parse_growth,
            limit_text=lambda o: (
                f"growth {o.limit:g} %" + _compressed_mark(o) + (" own" if o.scope == "own" else "")
            ),
            amount_text=lambda n: f"{n:.1f} %",
            evaluate=_evaluate_growth,
            distinct_by=("compressed", "scope"),
        ),
        CheckKind(
            name="go_build_hygiene",
            signature="*, allow=(), image=None",
            help="fail when a Go binary in the image is a test binary, is not stripped, was built "
            "without -trimpath, is dynamically linked in an image with no dynamic loader, or cannot be "
            "read; allow= names rules to skip: 'test-binary', 'stripped', 'trimpath', 'static', 'unreadable'",
            options=frozenset({"allow"}),
            parse=_parse_hygiene,
            limit_text=lambda o: "Go hygiene",
            amount_text=lambda n: "-",
            evaluate=_evaluate_hygiene,
            takes_limit=False,
        ),
    )
}


def marker_text(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"@pytest.mark.{name}({', '.join(parts)})"


def check_from_marker(
    name: str, args: Sequence[Any], kwargs: Mapping[str, Any], text: str | None = None
) -> Check:
    """Validate one marker's arguments. Raises MarkerError (without the test id)."""
    kind = KINDS[name]  # type: ignore[index]
    text = text or marker_text(name, args, kwargs)

    def reject(problem: str) -> MarkerError:
        return MarkerError(f"{text}: {problem}")

    unknown = set(kwargs) - kind.options - {"image"}
    if unknown:
        allowed = ", ".join(sorted(kind.options | {"image"}))
        raise reject(f"unknown argument {', '.join(sorted(unknown))} (allowed: {allowed})")
    if kind.takes_limit and len(args) != 1:
        raise reject(f"takes exactly one limit, got {len(args)}")
    if not kind.takes_limit and args:
        raise reject(f"takes no positional argument, got {len(args)}")
    image = kwargs.get("image")
    if image is not None and (not isinstance(image, str) or not image.isidentifier()):
        raise reject(f"image= must name an image fixture, got {image!r}")
    try:
        fields = kind.parse(args[0] if args else None, kwargs, reject)
    except SizeParseError as exc:
        raise reject(str(exc)) from None
    return Check(kind=kind.name, marker=text, image=image, **fields)


def closest_checks(
    markers: Iterable[tuple[str, Sequence[Any], Mapping[str, Any]]],
    image_fixtures: Sequence[str] | None = None,
) -> list[Check]:
    """Checks from markers given closest first; a farther marker of the same measure (kind, image
    and the kind's distinguishing arguments) is shadowed. With ``image_fixtures``, each check's
    image is resolved first, so ``image='app'`` and no ``image=`` on a test of one image agree."""
    seen: set[tuple[Any, ...]] = set()
    checks = []
    for name, args, kwargs in markers:
        check = check_from_marker(name, args, kwargs)
        if image_fixtures is not None:
            check = resolve_image(check, image_fixtures)
        if check.measure not in seen:
            seen.add(check.measure)
            checks.append(check)
    return checks


def resolve_image(check: Check, image_fixtures: Sequence[str]) -> Check:
    """Pick the image fixture a check applies to, or explain why it cannot be picked."""
    available = ", ".join(image_fixtures) or "none"
    if check.image is not None:
        if check.image not in image_fixtures:
            raise MarkerError(
                f"{check.marker}: the test does not use an image fixture named {check.image!r} "
                f"(image fixtures it uses: {available}); add it to the test's arguments"
            )
        return check
    if len(image_fixtures) == 1:
        return replace(check, image=image_fixtures[0])
    if not image_fixtures:
        raise MarkerError(
            f"{check.marker}: the test uses no image fixture; add one (declared with "
            "build_image() or existing_image()) to the test's arguments"
        )
    raise MarkerError(
        f"{check.marker}: the test uses several images ({available}); say which with image='...'"
    )


def evaluate(check: Check, image: Image, test: str, context: Context | None = None) -> Outcome:
    """Apply a resolved check to a measured image."""
    __tracebackhide__ = True
    return check.record.evaluate(check, image, test, context or Context())
