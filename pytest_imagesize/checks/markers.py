"""From marker text to checks: a marker's arguments validated into a :class:`Check` (at
collection, before any image is built), the closest marker of each measure picked, the image a
check applies to resolved, and a resolved check evaluated against a measured image.

Per test, the closest marker of each measure (function over class over module) wins for each
image; what counts as the same measure is the kind plus the arguments named in
``CheckKind.distinct_by``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..errors import MarkerError, SizeParseError
from ..measure.image import Image
from .model import KINDS, Check, Context, Outcome


def marker_text(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"@pytest.mark.{name}({', '.join(parts)})"


def check_from_marker(
    name: str, args: Sequence[Any], kwargs: Mapping[str, Any], text: str | None = None
) -> Check:
    """Validate one marker's arguments. Raises MarkerError (without the test id)."""
    kind = KINDS[name]
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
