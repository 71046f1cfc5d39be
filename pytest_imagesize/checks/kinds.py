"""The check kinds: one :class:`CheckKind` record per marker, each with its arguments, parsing,
what it measures, how that compares, its wording and its presentation in the reports. Adding a
marker means adding one record here (plus its tests); ``register`` puts it in ``KINDS``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ImageSizeError, SizeParseError
from ..measure.image import Image
from ..sizes import MAX_BYTES, describe_size, format_size, parse_percent, parse_size
from ..text import shown
from .model import SCOPES, Check, CheckKind, Context, Outcome, Reject, Verdict, register

if TYPE_CHECKING:  # the baseline and explanations load only when a growth check needs them
    from ..baseline import BaselineEntry


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
        rows.append(f"    {describe_size(size):>28}  {shown(layer.instruction)}")
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
        lines.append(f"  Go binary {shown(binary.path)} ({format_size(binary.size)}), top modules:")
        for path, module in binary.top_modules(5):
            share = module.size / binary.size * 100 if binary.size else 0.0
            lines.append(f"    {format_size(module.size):>10} ({share:4.1f} %)  {shown(path)}")
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
    from ..compare.changes import compare
    from ..compare.wording import movers_lines

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
    entry = context.entry(image.name)
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


def _finding_text(finding: Mapping[str, Any]) -> str:
    """One Go build hygiene finding in words (the failure message and the HTML report)."""
    cost = finding.get("cost_bytes")
    return (
        f"{shown(str(finding.get('path')))}: {shown(str(finding.get('problem')))}"
        + (f" ({format_size(int(cost))})" if cost else "")
        + f"; fix: {finding.get('fix')}"
    )


def _evaluate_hygiene(check: Check, image: Image, test: str, context: Context) -> Outcome:
    findings = tuple(
        {"rule": f.rule, "path": f.path, "problem": f.problem, "cost_bytes": f.cost_bytes, "fix": f.fix}
        for f in image.go_findings()
        if f.rule not in check.allow
    )
    message = ""
    if findings:
        message = (
            f"image {image.label} has {len(findings)} Go build hygiene problem"
            f"{'s' if len(findings) != 1 else ''} ({check.marker}):\n"
            + "\n".join(f"  {_finding_text(f)}" for f in findings)
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
        details=findings,
    )


def _compressed_mark(outcome: Outcome) -> str:
    return " (c)" if outcome.compressed else ""


register(
    CheckKind(
        name="max_image_size",
        signature="limit, *, compressed=False, warn=None, image=None",
        help="fail when the image is larger than limit ('5MB', '4.5MiB' or bytes); warn= is a soft limit",
        options=frozenset({"compressed", "warn"}),
        parse=_parse_size_marker,
        evaluate=_evaluate_size,
        distinct_by=("compressed",),
        label="size",
        unit="bytes",
        limit_text=lambda o: format_size(int(o.limit or 0)) + _compressed_mark(o),
        amount_text=lambda n: format_size(int(n)),
    )
)
register(
    CheckKind(
        name="max_image_layers",
        signature="n, *, image=None",
        help="fail when the image has more than n layers",
        options=frozenset(),
        parse=_parse_layers,
        evaluate=_evaluate_layers,
        label="layers",
        unit="count",
        limit_text=lambda o: f"{int(o.limit or 0)} layers",
        amount_text=lambda n: f"{int(n)} layers",
    )
)
register(
    CheckKind(
        name="max_wasted_bytes",
        signature="limit, *, image=None",
        help="fail when more than limit bytes of files are hidden or deleted by later layers",
        options=frozenset(),
        parse=_parse_waste,
        evaluate=_evaluate_waste,
        label="wasted bytes",
        unit="bytes",
        limit_text=lambda o: format_size(int(o.limit or 0)) + " waste",
        amount_text=lambda n: format_size(int(n)),
    )
)
register(
    CheckKind(
        name="min_image_efficiency",
        signature="ratio, *, image=None",
        help="fail when 1 - wasted / written falls below ratio (0 < ratio <= 1)",
        options=frozenset(),
        parse=_parse_efficiency,
        evaluate=_evaluate_efficiency,
        at_least=True,
        label="efficiency",
        unit="ratio",
        limit_text=lambda o: f"eff {o.limit:.2f}",
        amount_text=lambda n: f"{n:.3f}",
    )
)
register(
    CheckKind(
        name="max_image_growth",
        signature="percent, *, floor=None, compressed=False, scope='image', image=None",
        help="fail when the image grew against the baseline by more than percent AND more than "
        "floor; scope='own' counts only the layers above the base image",
        options=frozenset({"floor", "compressed", "scope"}),
        parse=_parse_growth,
        evaluate=_evaluate_growth,
        distinct_by=("compressed", "scope"),
        label="growth",
        unit="percent",
        limit_text=lambda o: (
            f"growth {o.limit:g} %" + _compressed_mark(o) + (" own" if o.scope == "own" else "")
        ),
        amount_text=lambda n: f"{n:.1f} %",
        json_fields=("baseline", "delta", "note", "scope"),
    )
)
register(
    CheckKind(
        name="go_build_hygiene",
        signature="*, allow=(), image=None",
        help="fail when a Go binary in the image is a test binary, is not stripped, was built "
        "without -trimpath, is dynamically linked in an image with no dynamic loader, or cannot be "
        "read; allow= names rules to skip: 'test-binary', 'stripped', 'trimpath', 'static', "
        "'unreadable'",
        options=frozenset({"allow"}),
        parse=_parse_hygiene,
        evaluate=_evaluate_hygiene,
        takes_limit=False,
        label="Go build hygiene",
        unit="none",
        limit_text=lambda o: "Go hygiene",
        amount_text=lambda n: "-",
        json_fields=("details",),
        detail_text=_finding_text,
    )
)
