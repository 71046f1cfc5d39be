"""From marker text to checks: a marker's arguments validated into a :class:`Check` (at
collection, before any image is built), the closest marker of each measure picked, the image a
check applies to resolved, and a resolved check evaluated against a measured image.

Per test, the closest marker of each measure (function over class over module) wins for each
image; what counts as the same measure is the kind plus the arguments named in
``CheckKind.distinct_by``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..errors import ImageSizeError, MarkerError, SizeParseError
from ..measure.image import Image
from ..measure.index import ImageIndex, platform_of
from ..sources.platforms import Platform
from .model import KINDS, Check, Context, Outcome, Reject


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
        return MarkerError(f"{text}: {problem}", problem)

    unknown = set(kwargs) - kind.options - {"image", "platform"}
    if unknown:
        allowed = ", ".join(sorted(kind.options | {"image"}))
        raise reject(
            f"unknown argument {', '.join(sorted(unknown))} (allowed: {allowed}), and platform= on any marker"
        )
    if kind.takes_limit and not kind.takes_args and len(args) != 1:
        raise reject(f"takes exactly one limit, got {len(args)}")
    if not kind.takes_limit and not kind.takes_args and args:
        raise reject(f"takes no positional argument, got {len(args)}")
    image = kwargs.get("image")
    if image is not None and (not isinstance(image, str) or not image.isidentifier()):
        raise reject(f"image= must name an image fixture, got {image!r}")
    platform = _platform(kwargs.get("platform"), "platform=", reject)
    if kind.takes_args:  # no dict of limits: the arguments are the kind's own
        fields = _fields(kind.parse, tuple(args), kwargs, reject)
        return Check(kind=kind.name, marker=text, image=image, platform=platform, **fields)
    if not (args and isinstance(args[0], Mapping)):
        fields = _fields(kind.parse, args[0] if args else None, kwargs, reject)
        return Check(kind=kind.name, marker=text, image=image, platform=platform, **fields)
    # limits per platform: each value parses as the kind's one limit would; the other arguments
    # are the marker's own and the same for every platform
    limits: list[tuple[str, float]] = []
    for key, value in args[0].items():
        wanted = "*" if key == "*" else _platform(key, f"limit key {key!r}", reject)
        if wanted is None or wanted in dict(limits):
            raise reject(f"limit key {key!r} names a platform already given: give each platform once")
        fields = _fields(kind.parse, value, kwargs, reject)
        limits.append((wanted, fields.pop("limit")))
    if not limits or platform is not None:
        raise reject("a dict of limits needs 'os/arch' keys (and '*' for the rest, if any) and no platform=")
    return Check(kind=kind.name, marker=text, image=image, per_platform=tuple(limits), **fields, limit=None)


def _fields(
    parse: Callable[..., dict[str, Any]], value: Any, kwargs: Mapping[str, Any], reject: Reject
) -> dict[str, Any]:
    try:
        return parse(value, kwargs, reject)
    except SizeParseError as exc:
        raise reject(str(exc)) from None


def _platform(value: Any, what: str, reject: Reject) -> str | None:
    """A platform named in a marker, normalised (``linux/arm64/v8`` is ``linux/arm64``)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise reject(f"{what} must be a platform like 'linux/arm64', got {value!r}")
    try:
        return str(Platform.parse(value))
    except ImageSizeError as exc:
        raise reject(str(exc)) from None


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
    """Apply a resolved check to one measured image (one platform's); the outcome carries the
    image's platform. A check for one platform, or with limits per platform, picks by the
    image's platform (an engine's image: the engine's); ``ImageSizeError`` when it cannot."""
    __tracebackhide__ = True
    (outcome,) = evaluate_all(check, image, test, context)
    return outcome


def evaluate_all(
    check: Check, value: Image | ImageIndex, test: str, context: Context | None = None
) -> list[Outcome]:
    """Apply a resolved check to an image or to every platform of a multi-platform image (all of
    them, or the one ``platform=`` names): one outcome per platform, in the index's order.
    Raises ``ImageSizeError`` (one line) for a platform the image lacks or a platform of the
    image a dict of limits has no key for."""
    __tracebackhide__ = True
    if isinstance(value, ImageIndex):
        if check.platform is not None:
            try:
                images = [value[check.platform]]
            except ImageSizeError as exc:
                raise ImageSizeError(f"{check.marker}: {exc}: pick one of those with platform=") from None
        else:
            images = list(value)
        pairs = [(image, image.platform) for image in images]
    else:
        platform = platform_of(value)
        if check.platform is not None and platform != check.platform:
            stated = "states no platform" if platform is None else f"is {platform}"
            source = " (its engine's)" if platform is not None and value.platform is None else ""
            raise ImageSizeError(
                f"{check.marker}: image {value.label} {stated}{source}, not {check.platform}: "
                "remove platform= or use a fixture of that platform"
            )
        pairs = [(value, platform)]
    chosen = []
    missing = []
    for image, platform in pairs:
        one = _for_platform(check, platform)
        if one is None:
            missing.append(platform or "its platform (not stated)")
        else:
            chosen.append((image, one))
    if missing:
        raise ImageSizeError(
            f"{check.marker}: no limit for {', '.join(missing)} of image {value.name}; add a key "
            "for each, or '*' for every platform not named"
        )
    context = context or Context()
    return [
        replace(c.record.evaluate(c, image, test, context), platform=image.platform) for image, c in chosen
    ]


def _for_platform(check: Check, platform: str | None) -> Check | None:
    """The check of one platform: the check itself, or the check with that platform's limit
    (``"*"``'s for a platform not named); None when it has no limit for this platform."""
    if not check.per_platform:
        return check
    table = dict(check.per_platform)
    limit = table.get(platform or "", table.get("*"))
    return None if limit is None else replace(check, limit=limit, per_platform=())
