"""A multi-platform image held by the engine's containerd image store, as an image source.

Docker's containerd image store keeps an image index with each platform's manifest; its inspect
with ``manifests=1`` (API 1.48+) lists them, each ``Available`` or not (a pull for one platform
keeps the index and that platform's content only), attestation manifests as ``Kind:
attestation``. ``docker save`` of the index writes an OCI archive of every platform the store
holds: it is written into a temporary directory (noted in the build record as it is made, so a
killed run's is swept by the next run) and read as an OCI archive; ``close`` deletes it.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine.multiplatform import LAYOUT_PREFIX, remove_layout
from ..engine.protocol import Engine
from .archives import OciArchiveSource
from .model import PlatformEntry, SourceError
from .platforms import Platform

Record = Callable[[str, str], None]


@dataclass(frozen=True)
class StoredIndex:
    """The image platforms of an engine image's index: those the store holds (their manifest
    digests) and those it does not."""

    ref: str
    available: tuple[tuple[Platform, str], ...]
    missing: tuple[Platform, ...]

    @property
    def digests(self) -> frozenset[str]:
        return frozenset(digest for _, digest in self.available)

    def missing_note(self, name: str) -> str | None:
        """One line naming the platforms of the index that are not in the store, if any."""
        if not self.missing:
            return None
        listed = ", ".join(str(platform) for platform in self.missing)
        return (
            f"image {name}: {listed} of {self.ref} not in the engine's image store (only "
            f"{', '.join(str(p) for p, _ in self.available)} measured): pull or build them "
            "there to measure them"
        )


def stored_index(manifests: list[dict[str, Any]], ref: str) -> StoredIndex | None:
    """The platforms of ``manifests`` (the engine's ``image_manifests``) when the store holds
    two or more image platforms of ``ref``; None otherwise (one platform is measured as the
    engine's image, as for the classic store)."""
    available: list[tuple[Platform, str]] = []
    missing: list[Platform] = []
    for entry in manifests:
        descriptor = entry.get("Descriptor") or {}
        if entry.get("Kind") != "image" or not isinstance(descriptor, dict):
            continue  # attestations and what the engine cannot tell apart are no platform
        platform = Platform.from_json(
            descriptor.get("platform") or (entry.get("ImageData") or {}).get("Platform")
        )
        digest = descriptor.get("digest")
        if platform is None or not isinstance(digest, str):
            continue
        if entry.get("Available"):
            available.append((platform, digest))
        else:
            missing.append(platform)
    if len(available) < 2:
        return None
    return StoredIndex(ref, tuple(available), tuple(missing))


class EngineIndexSource(OciArchiveSource):
    """Every platform the engine's image store holds of ``index.ref``, read from the engine's
    ``docker save`` of the index, written to a temporary archive (removed by ``close``)."""

    kind = "engine"

    def __init__(self, engine: Engine, index: StoredIndex, record: Record | None = None) -> None:
        self._directory = Path(tempfile.mkdtemp(prefix=LAYOUT_PREFIX))
        self._index = index
        try:
            if record is not None:
                record("dir", str(self._directory))
            archive = self._directory / "image.tar"
            with open(archive, "wb") as file:
                for chunk in engine.save(index.ref):
                    file.write(chunk)
            super().__init__(archive)
        except BaseException:
            remove_layout(self._directory)
            raise
        self.reference = index.ref
        self.what = f"image {index.ref} on the engine"

    def platforms(self) -> list[PlatformEntry]:
        """The platforms the store holds (the archive names only those; attestations left out)."""
        found = [entry for entry in super().platforms() if entry.manifest.digest in self._index.digests]
        if not found:
            raise SourceError(
                f"{self.what}: the engine's saved archive holds none of its platforms "
                f"({', '.join(str(p) for p, _ in self._index.available)}): save it with docker save to check"
            )
        return found

    def close(self) -> None:
        with contextlib.suppress(SourceError):
            super().close()
        remove_layout(self._directory)
