"""What an image's layers and runtime configuration are, as the engine's inspect and history data
(or an image config) give them: ``Layer``, ``ImageConfig``, and the pairing of history entries
with layers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# Instructions that only change the image config, never the filesystem.
_METADATA_ONLY = re.compile(
    r"^(?:/bin/sh -c #\(nop\)\s*)?(ENV|LABEL|CMD|ENTRYPOINT|EXPOSE|USER|ARG|ONBUILD|STOPSIGNAL"
    r"|HEALTHCHECK|SHELL|VOLUME|MAINTAINER)\b"
)


@dataclass(frozen=True)
class Layer:
    """One filesystem layer: its uncompressed size and the instruction that made it."""

    index: int
    size: int  # portable: bytes of the files and link targets it writes
    created_by: str | None
    diff_id: str | None = None
    compressed_size: int | None = None  # known once the archive has been read
    from_base: bool = False  # one of the base image's layers

    @property
    def instruction(self) -> str:
        """The Dockerfile instruction, shortened for messages."""
        text = (self.created_by or "?").strip()
        text = re.sub(r"^/bin/sh -c #\(nop\)\s*", "", text)
        text = re.sub(r"^(RUN )?/bin/sh -c ", "RUN ", text)  # classic, Podman; BuildKit
        text = re.sub(r"\s*# buildkit$", "", text)
        text = re.sub(r"\s+", " ", text)
        text = re.sub(r"\b([0-9a-f]{12})[0-9a-f]{52}\b", r"\1", text)  # digests: 12 hex digits
        return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class ImageConfig:
    """The runtime configuration the image carries."""

    user: str
    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None
    env: tuple[str, ...]
    exposed_ports: tuple[str, ...]
    workdir: str
    labels: dict[str, str] = field(default_factory=dict)


def _tuple(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def config_from_inspect(data: dict[str, Any]) -> ImageConfig:
    cfg: dict[str, Any] = data.get("Config") or {}
    return ImageConfig(
        user=str(cfg.get("User") or ""),
        entrypoint=_tuple(cfg.get("Entrypoint")),
        cmd=_tuple(cfg.get("Cmd")),
        env=tuple(cfg.get("Env") or ()),
        exposed_ports=tuple(sorted(cfg.get("ExposedPorts") or {})),
        workdir=str(cfg.get("WorkingDir") or ""),
        labels=dict(cfg.get("Labels") or {}),
    )


def layers_from_history(history: Sequence[dict[str, Any]], diff_ids: Sequence[str]) -> list[Layer]:
    """Pair the engine's history (newest first) with the image's layers (oldest first).

    History holds one entry per instruction; only some made a layer. An entry with a size made a
    layer; a metadata-only instruction (ENV, CMD, ...) did not; a zero-size RUN/COPY/WORKDIR
    entry may have made an empty layer or none, so those are settled by the layer count.
    """
    entries = list(reversed(history))
    certain = [bool(e.get("Size")) for e in entries]
    maybe = [
        not c and not _METADATA_ONLY.match(str(e.get("CreatedBy") or "").strip())
        for e, c in zip(entries, certain, strict=False)
    ]
    wanted = len(diff_ids)
    if sum(certain) == wanted:
        chosen = certain
    elif sum(certain) + sum(maybe) == wanted:
        chosen = [c or m for c, m in zip(certain, maybe, strict=False)]
    else:
        chosen = []
    if not chosen:
        # Cannot pair with certainty: keep the layers, but do not guess their instructions.
        sizes = [int(e.get("Size") or 0) for e in entries if e.get("Size")]
        sizes += [0] * (wanted - len(sizes))
        return [
            Layer(index=i, size=sizes[i] if i < len(sizes) else 0, created_by=None, diff_id=d)
            for i, d in enumerate(diff_ids)
        ]
    picked = [e for e, keep in zip(entries, chosen, strict=False) if keep]
    return [
        Layer(
            index=i,
            size=int(e.get("Size") or 0),
            created_by=str(e.get("CreatedBy") or e.get("Comment") or "") or None,
            diff_id=diff_ids[i],
        )
        for i, e in enumerate(picked)
    ]
