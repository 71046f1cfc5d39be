"""A multi-platform image as measured: one ``Image`` per platform, in the index's order; and the
names its platforms are reported and recorded under (``app[linux/arm64]``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ..errors import ImageSizeError

if TYPE_CHECKING:
    from .image import Image


def member_name(name: str, platform: str | None) -> str:
    """``app[linux/arm64]``: the name one platform of a multi-platform image is reported under."""
    return f"{name}[{platform or '?'}]"


def platform_labels(platforms: Sequence[str | None]) -> list[str]:
    """How each platform of an index is told apart in names: the platform itself, and for a
    platform the index lists again (two ``linux/amd64`` manifests, say of different
    ``os.version``), ``linux/amd64#2``, ``#3``... in the index's order; ``?`` for none stated."""
    seen: dict[str, int] = {}
    labels = []
    for platform in platforms:
        plain = platform or "?"
        count = seen[plain] = seen.get(plain, 0) + 1
        labels.append(plain if count == 1 else f"{plain}#{count}")
    return labels


def split_member_name(name: str) -> tuple[str, str | None]:
    """``app[linux/arm64]`` -> ``("app", "linux/arm64")``; a plain name -> ``(name, None)``."""
    if name.endswith("]") and "[" in name:
        plain, _, platform = name[:-1].partition("[")
        if plain and platform:
            return plain, platform
    return name, None


def platform_of(image: Image) -> str | None:
    """The platform an image is for: the one it states, else (an engine's image, which states
    none) the measuring engine's, as ``linux/<its architecture>``; None when neither is known."""
    if image.platform:
        return image.platform
    arch = image.engine.arch if image.engine is not None else None
    if not arch:
        return None
    from ..sources.platforms import Platform

    return str(Platform.of("linux", arch))


class ImageIndex:
    """The platforms of one image reference (an OCI index or Docker manifest list), each an
    ``Image`` whose ``.platform`` names it. ``index["linux/arm64"]`` picks one (``linux/arm64/v8``
    is the same platform); iterating yields every ``Image``.

    Each ``Image`` is renamed ``name[platform]`` (``app[linux/arm64]``): that is the name its
    outcomes, report rows and baseline entry carry, and what its messages say. A platform listed
    twice keeps its first image under that name and the next as ``app[linux/amd64#2]``
    (``platform_labels``); ``index["linux/amd64#2"]`` picks it."""

    def __init__(self, name: str, ref: str, images: Sequence[Image], digest: str | None = None) -> None:
        self.name = name
        self.ref = ref
        self.digest = digest
        self._images = list(images)
        labels = platform_labels([image.platform for image in self._images])
        for image, label in zip(self._images, labels, strict=True):
            image.name = member_name(name, label)

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

        plain, hash_sign, number = platform.partition("#")
        wanted = str(Platform.parse(plain))
        if hash_sign:  # a platform listed again: by its label
            for image in self._images:
                if split_member_name(image.name)[1] == f"{wanted}#{number.strip()}":
                    return image
        for image in self._images:
            if image.platform == wanted:
                return image
        raise ImageSizeError(
            f"image {self.name} has no {wanted} image; it has {', '.join(self.platforms) or 'none'}"
        )
