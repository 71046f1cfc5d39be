"""Platforms as containerd normalises them: ``linux/arm64`` is ``linux/arm64/v8``, ``linux/arm`` is
``linux/arm/v7``, ``amd64`` carries no variant; ``x86_64`` and ``aarch64`` are their Go names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from ..errors import ImageSizeError

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm"}
_OS_ALIASES = {"macos": "darwin"}


class PlatformError(ImageSizeError):
    """A platform that cannot be parsed, or one the image does not have."""


def _normal_variant(architecture: str, variant: str) -> str:
    variant = variant.lower()
    if architecture == "arm64":
        return "" if variant in ("", "8", "v8", "v8.0") else variant
    if architecture == "arm":
        if variant in ("", "7", "v7"):
            return "v7"
        return variant if variant.startswith("v") else f"v{variant}"
    if architecture == "amd64":
        return "" if variant in ("", "v1") else variant
    return variant


class Platform(NamedTuple):
    """``os/architecture[/variant]``, normalised; ``str()`` is how reports and keys show it.
    Ordered and compared as (os, architecture, variant)."""

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def of(cls, os: str, architecture: str, variant: str = "") -> Platform:
        arch = _ARCH_ALIASES.get(architecture.lower(), architecture.lower())
        if architecture.lower() == "armel" and not variant:
            variant = "v6"
        return cls(_OS_ALIASES.get(os.lower(), os.lower()), arch, _normal_variant(arch, variant))

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/arm64``, ``linux/arm/v7``, ``linux/amd64``; ``PlatformError`` otherwise."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise PlatformError(
                f"platform {text!r} is not os/architecture[/variant]: write it as linux/amd64 or linux/arm64"
            )
        return cls.of(*parts)

    @classmethod
    def from_json(cls, data: Any) -> Platform | None:
        """From a descriptor's ``platform`` object or an image config (``os``, ``architecture``,
        ``variant``); None when it names no os or architecture."""
        if not isinstance(data, dict):
            return None
        os, arch = data.get("os"), data.get("architecture")
        if not isinstance(os, str) or not isinstance(arch, str) or not os or not arch:
            return None
        variant = data.get("variant")
        return cls.of(os, arch, variant if isinstance(variant, str) else "")

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)


def host_platform() -> Platform:
    """The platform of the machine running us (what an engine would pull for it)."""
    import platform as _host

    machine = _host.machine().lower()
    variant = ""
    if machine.startswith("armv"):
        variant, machine = machine[3:5].rstrip("l"), "arm"
    return Platform.of("linux", machine, variant)


def choose(available: Sequence[Platform | None], wanted: Platform, what: str) -> int:
    """The index of ``wanted`` among ``available``; ``PlatformError`` naming those there are."""
    for i, platform in enumerate(available):
        if platform == wanted:
            return i
    raise PlatformError(
        f"{what} has no {wanted} image; it has {listing(available)}: pass one of those as the platform"
    )


def listing(platforms: Iterable[Platform | None]) -> str:
    names = [str(p) if p is not None else "an image of no stated platform" for p in platforms]
    return ", ".join(names) if names else "none"
