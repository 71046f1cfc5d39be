"""A multi-platform image as measured: one ``Image`` per platform, in the index's order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ..errors import ImageSizeError

if TYPE_CHECKING:
    from .image import Image


class ImageIndex:
    """The platforms of one image reference (an OCI index or Docker manifest list), each an
    ``Image`` whose ``.platform`` names it. ``index["linux/arm64"]`` picks one (``linux/arm64/v8``
    is the same platform); iterating yields every ``Image``."""

    def __init__(self, name: str, ref: str, images: Sequence[Image], digest: str | None = None) -> None:
        self.name = name
        self.ref = ref
        self.digest = digest
        self._images = list(images)

    def __repr__(self) -> str:
        return f"ImageIndex(name={self.name!r}, platforms={self.platforms!r})"

    @property
    def platforms(self) -> list[str]:
        return [image.platform or "" for image in self._images]

    def __iter__(self) -> Iterator[Image]:
        return iter(self._images)

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, platform: str) -> Image:
        from ..sources.platforms import Platform

        wanted = str(Platform.parse(platform))
        for image in self._images:
            if image.platform == wanted:
                return image
        raise ImageSizeError(
            f"image {self.name} has no {wanted} image; it has {', '.join(self.platforms) or 'none'}"
        )
