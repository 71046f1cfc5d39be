"""Cleanup of what our builds made: our tags, and the untagged images the builds left behind.

Nothing else is ever removed: an image that existed before the run, or that has a name that is
not ours, stays.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import EngineUnavailable, ImageNotFound, ImageSizeError
from .build import LABEL, BuildResult
from .protocol import Engine


def normal_ref(ref: str) -> str:
    """``docker.io/library/x:1``, ``localhost/x:1`` (Podman) and ``x:1`` name the same image."""
    for prefix in ("docker.io/", "localhost/", "library/"):
        ref = ref.removeprefix(prefix)
    return ref


def remove_our_tag(engine: Engine, result: BuildResult) -> str:
    """Remove the tag this session added; never remove an image that existed before it.

    Returns what was done. The image is deleted only when our tag is its only name and it was
    built by pytest-imagesize (this run, or an earlier one with --image-keep: it carries our
    label); any other tag keeps it alive (removing one tag of several only untags).
    """
    try:
        data = engine.inspect_image(result.tag)
    except ImageNotFound:
        return f"{result.tag}: already gone"
    if data.get("Id") != result.image_id:
        return f"{result.tag}: now names another image; left alone"
    other_tags = [t for t in data.get("RepoTags") or [] if normal_ref(t) != normal_ref(result.tag)]
    ours = ((data.get("Config") or {}).get("Labels") or {}).get(LABEL) == "true"
    if not other_tags and not result.created_here and not ours:
        return f"{result.tag}: only name of an image that existed before the run; left tagged"
    engine.remove_image(result.tag)
    return f"{result.tag}: {'untagged' if other_tags else 'removed'}"


def remove_intermediates(engine: Engine, created: Iterable[str]) -> set[str]:
    """Remove the untagged images that our builds created (build steps, earlier stages),
    children before parents. Anything tagged, used by a container or still a parent of an image
    we did not create stays. Returns the untagged ones that could not be removed."""
    pending = set(created)
    progress = True
    while pending and progress:
        progress = False
        for image_id in sorted(pending):
            try:
                if engine.inspect_image(image_id).get("RepoTags"):
                    pending.discard(image_id)
                    continue
                engine.remove_image(image_id)
            except ImageNotFound:
                pending.discard(image_id)
                continue
            except EngineUnavailable:
                raise
            except ImageSizeError:
                continue  # a parent of something still there: try again after its children
            pending.discard(image_id)
            progress = True
    return pending
