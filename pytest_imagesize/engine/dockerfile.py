"""Which image a Dockerfile's final stage starts from (pure): its ``FROM``, with build arguments
resolved and stage names followed to the stage's own ``FROM``; ``scratch`` means no base."""

from __future__ import annotations

import re
from collections.abc import Mapping

_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::?([-+])([^}]*))?\}|(\w+))")


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#") and current:
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append((current + stripped).strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def _expand(value: str, variables: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        known = variables.get(name)
        operator, word = match.group(2), match.group(3) or ""
        if operator == "-":
            return known if known else word
        if operator == "+":
            return word if known else ""
        return known or ""

    return _VARIABLE.sub(replace, value)


def final_base(
    text: str, build_args: Mapping[str, str] | None = None, target: str | None = None
) -> str | None:
    """The image the final stage (or ``target``) builds on, e.g. ``debian:bookworm-slim``; None
    for ``scratch`` or when it cannot be told."""
    args = dict(build_args or {})
    global_args: dict[str, str] = {}
    stages: list[tuple[str | None, str]] = []  # (name, from)
    for line in _logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            for item in rest.split():
                name, sep, default = item.partition("=")
                value = args.get(name, _expand(default.strip("\"'"), global_args) if sep else "")
                if name in args or sep:
                    global_args[name] = value
        elif keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            if not words:
                continue
            image = _expand(words[0], global_args)
            stage = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append((stage, image))
    if not stages:
        return None
    by_name = {stage: image for stage, image in stages if stage}
    picked = by_name.get(target.lower()) if target else stages[-1][1]
    if picked is None:
        return None
    chosen: str = picked
    seen: set[str] = set()
    while chosen.lower() in by_name and chosen.lower() not in seen:
        seen.add(chosen.lower())
        chosen = by_name[chosen.lower()]
    return None if chosen.lower() == "scratch" or not chosen else chosen
