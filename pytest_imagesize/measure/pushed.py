"""Multi-platform builds pushed to a registry (``--image-push-to=HOST[:PORT][/PREFIX]``) instead of
exported to an OCI layout: where they go (``HOST/PREFIX/<image name>:pytest-imagesize-<run>-<build>``,
a tag no other run uses), and deleting them by digest at the end of the run, with one line for
what a registry that does not allow deletion kept."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ImageSizeError

TAG_PREFIX = "pytest-imagesize-"  # the same as engine.leftovers.PUSHED_TAG_PREFIX
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
)
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


@dataclass(frozen=True)
class PushTarget:
    """Where multi-platform builds are pushed: a registry and a repository prefix (may be empty)."""

    registry: str
    prefix: str = ""

    def __str__(self) -> str:
        return f"{self.registry}/{self.prefix}" if self.prefix else self.registry

    def ref_for(self, name: str, run_id: str, build_key: str) -> str:
        """``HOST/PREFIX/<name>:pytest-imagesize-<run id>-<build>`` for the fixture ``name``."""
        component = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "image"
        repository = f"{self.prefix}/{component}" if self.prefix else component
        tag = f"{TAG_PREFIX}{run_id}-{build_key[:12]}"[:128]
        return f"{self.registry}/{repository}:{tag}"


def parse_push_target(text: str) -> PushTarget:
    """``HOST[:PORT][/PREFIX]`` (``registry.example.com/team/ci``, ``127.0.0.1:5000``); the host
    must look like one (a dot, a port, ``localhost`` or an IP address) so that a repository is not
    taken for a host. ``ImageSizeError`` saying how to write it otherwise."""
    raw = text.strip()
    fix = "write --image-push-to=HOST[:PORT][/PREFIX], e.g. registry.example.com/ci or 127.0.0.1:5000/ci"
    if "@" in raw:  # user:password@host, or a digest: never echoed
        raise ImageSizeError(
            f"the push target holds '@' (a login or a digest): logins come from the Docker config "
            f"(docker login), and the run names its own tags: {fix}"
        )
    if not raw or "://" in raw or any(c.isspace() for c in raw):
        raise ImageSizeError(f"push target {text!r} is not a registry and prefix: {fix}")
    host, _, prefix = raw.rstrip("/").partition("/")
    looks_like_host = "." in host or ":" in host or host == "localhost" or host.startswith("[")
    if not looks_like_host or not _HOST.match(host):
        raise ImageSizeError(f"push target {text!r} names no registry host ({host!r}): {fix}")
    parts = prefix.split("/") if prefix else []
    if not all(_COMPONENT.match(part) for part in parts):
        raise ImageSizeError(
            f"push target {text!r}: the prefix {prefix!r} is not lower-case repository path "
            f"components (a tag or digest is not taken: the run names its own): {fix}"
        )
    return PushTarget(host, prefix)


def delete_all(refs: Sequence[str], options: Any, keep: bool = False) -> list[str]:
    """Delete what the run pushed (``host/repo:tag`` each) by digest; the lines to show: at most
    one for what was left (deletion refused or impossible, or ``keep``), naming the references."""
    if not refs:
        return []
    if keep:
        return [f"pytest-imagesize: pushed images kept (--image-keep): {', '.join(refs)}"]
    from ..sources.registry.delete import delete_pushed
    from ..sources.registry.reference import RegistryOptions

    left: list[str] = []
    reasons: list[str] = []
    for ref in refs:
        try:
            done = delete_pushed(ref, options or RegistryOptions())
        except ImageSizeError as exc:
            left.append(ref)
            reasons.append(str(exc))
            continue
        left += done.left
        if done.reason:
            reasons.append(done.reason)
    if not left:
        return []
    registries = ", ".join(dict.fromkeys(ref.split("/", 1)[0] for ref in left))
    why = "; ".join(dict.fromkeys(reasons))
    return [
        f"pytest-imagesize: left in registry {registries} ({why}): {', '.join(left)}; "
        "delete them there (or enable deletion: storage.delete.enabled for distribution)"
    ]
