"""The ``forbid_packages`` check kind: no installed package whose name matches a forbidden glob
(a compiler, ``*-dev`` headers, a package manager) may be in the image.

``@pytest.mark.forbid_packages("gcc*", "*-dev", "golang-*", "apt", ecosystem="deb",
allow=("gcc-*-base",), strict=False)``: the globs (``fnmatch``, case-sensitive) match package
names; ``ecosystem=`` is one ecosystem, several (a tuple) or None for every one; ``allow=`` names
globs let through even when a forbidden glob matches. An image with no package database of the
ecosystems looked at cannot be checked: the outcome warns in one line, or fails with
``strict=True``."""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from ..measure.image import Image
from ..measure.packages.model import ECOSYSTEMS, ImagePackages, Package
from ..sizes import format_size
from ..text import shown
from .model import Check, CheckKind, Context, Outcome, Reject, Verdict, register


def _globs(value: Any, what: str, reject: Reject) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (tuple, list, set, frozenset)) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        raise reject(f"{what}={value!r}: give package name globs as strings, e.g. ('gcc-*-base',)")
    return tuple(value)


def _parse(value: Any, kwargs: Mapping[str, Any], reject: Reject) -> dict[str, Any]:
    patterns = tuple(value)
    if not patterns or not all(isinstance(p, str) and p.strip() for p in patterns):
        raise reject(
            "give the forbidden package names as globs, e.g. forbid_packages('gcc*', '*-dev'), "
            f"got {patterns!r}"
        )
    ecosystem = kwargs.get("ecosystem")
    ecosystems: tuple[str, ...] = ()
    if ecosystem is not None:
        ecosystems = (ecosystem,) if isinstance(ecosystem, str) else tuple(ecosystem)
        if not ecosystems or not all(e in ECOSYSTEMS for e in ecosystems):
            raise reject(
                f"ecosystem={ecosystem!r}: name one or a tuple of {', '.join(repr(e) for e in ECOSYSTEMS)}, "
                "or None for every one"
            )
    strict = kwargs.get("strict", False)
    if not isinstance(strict, bool):
        raise reject(f"strict= must be True or False, got {strict!r}")
    return {
        "limit": None,
        "patterns": patterns,
        "ecosystems": ecosystems,
        "allow": _globs(kwargs.get("allow", ()), "allow", reject),
        "strict": strict,
    }


def forbidden(check: Check, report: ImagePackages) -> list[Package]:
    """The packages of ``report`` the check forbids, largest first."""
    return [
        p
        for p in report.packages
        if (not check.ecosystems or p.ecosystem in check.ecosystems)
        and any(fnmatchcase(p.name, pattern) for pattern in check.patterns)
        and not any(fnmatchcase(p.name, pattern) for pattern in check.allow)
    ]


def _databases_of(report: ImagePackages) -> set[str]:
    """The ecosystems with a database in the image (a database is named ``"deb: <path> ..."``)."""
    return {d.split(":", 1)[0].strip() for d in report.databases} | {p.ecosystem for p in report.packages}


def finding(package: Package, image: Image) -> dict[str, Any]:
    """One forbidden package as the outcome's details keep it: the layer is the latest that wrote
    its files, with that layer's instruction."""
    layer = max(package.layers) if package.layers else None
    layers = image.layers
    instruction = layers[layer].instruction if layer is not None and layer < len(layers) else None
    return {
        "ecosystem": package.ecosystem,
        "name": package.name,
        "version": package.version,
        "size": package.size,
        "layer": layer,
        "instruction": instruction,
    }


def finding_text(found: Mapping[str, Any]) -> str:
    """``golang-1.24-go 1.24.4-1 (deb) 120.3 MB, layer 3: RUN apt-get install -y golang-go``."""
    version = f" {shown(str(found['version']))}" if found.get("version") else ""
    where = "no files in the image"
    if found.get("layer") is not None:
        where = f"layer {found['layer']}"
        if found.get("instruction"):
            where += f": {shown(str(found['instruction']))}"
    return (
        f"{shown(str(found.get('name')))}{version} ({shown(str(found.get('ecosystem')))}) "
        f"{format_size(int(found.get('size') or 0))}, {where}"
    )


def _looked_at(check: Check) -> str:
    return " or ".join(check.ecosystems) if check.ecosystems else "any ecosystem"


def _evaluate(check: Check, image: Image, test: str, context: Context) -> Outcome:
    report = image.package_report
    common: dict[str, Any] = {
        "test": test,
        "image": image.name,
        "kind": check.kind,
        "compressed": False,
        "limit": None,
        "actual": None,
    }
    present = _databases_of(report)
    if not (present & set(check.ecosystems) if check.ecosystems else present):
        message = (
            f"image {image.label} has no package database of {_looked_at(check)}, so {check.marker} "
            "checked nothing; "
            + (
                "drop strict=True if that is expected"
                if check.strict
                else "pass strict=True to fail on this, or check the image's files instead"
            )
        )
        verdict: Verdict = "failed" if check.strict else "warned"
        return Outcome(**common, outcome=verdict, message=message, note="no package database")
    details = tuple(finding(p, image) for p in forbidden(check, report))
    message = ""
    if details:
        total = sum(int(d["size"]) for d in details)
        plural = "s" if len(details) != 1 else ""
        message = (
            f"image {image.label} has {len(details)} forbidden package{plural} "
            f"({format_size(total)}) ({check.marker}):\n" + "\n".join(f"  {finding_text(d)}" for d in details)
        )
    return Outcome(
        **common,
        outcome="failed" if details else "passed",
        message=message,
        details=details,
        note=f"{len(details)} found" if details else "none found",
    )


KIND = register(
    CheckKind(
        name="forbid_packages",
        signature="*globs, ecosystem=None, allow=(), strict=False, image=None",
        help="fail when an installed package's name matches one of globs ('gcc*', '*-dev', 'apt'); "
        "ecosystem= limits it to 'deb', 'apk', 'rpm', 'python' or 'npm' (or a tuple of them); "
        "allow= globs are let through; an image with no package database warns, or fails with strict=True",
        options=frozenset({"ecosystem", "allow", "strict"}),
        parse=_parse,
        evaluate=_evaluate,
        takes_limit=False,
        takes_args=True,
        label="forbidden packages",
        unit="none",
        limit_text=lambda o: "no forbidden packages",
        amount_text=lambda n: "-",
        json_fields=("details", "note"),
        detail_text=finding_text,
    )
)
