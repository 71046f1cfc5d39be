"""At collection: which checks a test item carries, from its markers and the ini defaults."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ..checks import KINDS, Check, Scope, closest_checks
from ..errors import ImageSizeError
from .fixtures import declaration_of

CHECKS_KEY = pytest.StashKey[list[Check]]()


def image_fixtures(item: pytest.Function) -> list[str]:
    """The fixtures of a test that were declared with build_image() or existing_image()."""
    # pytest has no public way to ask which fixture function a name resolves to for an item
    info = getattr(item, "_fixtureinfo", None)
    defs = getattr(info, "name2fixturedefs", {}) or {}
    return [
        name
        for name in item.fixturenames
        if name in defs and defs[name] and declaration_of(defs[name][-1].func) is not None
    ]


def checks_for_item(
    item: pytest.Item, growth_default: Check | None, growth_scope: Scope = "image"
) -> list[Check]:
    """The resolved checks of one test (closest marker of each measure wins); raises
    ImageSizeError with a one-line reason for a bad marker."""
    markers = [(m.name, m.args, dict(m.kwargs)) for name in KINDS for m in item.iter_markers(name)]
    fixtures = image_fixtures(item) if isinstance(item, pytest.Function) else []
    if not markers and not (growth_default and fixtures):
        return []
    if not isinstance(item, pytest.Function):
        raise ImageSizeError("image size markers apply to test functions only")
    checks = [
        replace(c, scope=c.scope or growth_scope) if c.kind == "max_image_growth" else c
        for c in closest_checks(markers, fixtures)
    ]
    if growth_default is not None:
        covered = {
            c.image
            for c in checks
            if c.kind == "max_image_growth" and not c.compressed and c.platform is None
        }
        checks += [
            replace(growth_default, image=name, scope=growth_scope)
            for name in fixtures
            if name not in covered
        ]
    return checks


def attach_checks(items: list[pytest.Item], growth_default: Check | None, growth_scope: Scope) -> None:
    """Stash each item's checks under ``CHECKS_KEY``; every bad marker of the run is one line of a
    ``pytest.UsageError``."""
    problems = []
    for item in items:
        try:
            checks = checks_for_item(item, growth_default, growth_scope)
        except ImageSizeError as exc:
            problems.append(f"{item.nodeid}: {exc}")
            continue
        if checks:
            item.stash[CHECKS_KEY] = checks
    if problems:
        raise pytest.UsageError(*problems)
