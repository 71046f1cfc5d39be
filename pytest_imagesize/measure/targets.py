"""What the CLI measures for an argument: an image source named by its prefix (``oci:PATH[:REF]``,
``oci-archive:PATH[:REF]``, ``docker-archive:PATH``, ``docker://HOST/REPO:TAG|@DIGEST``) or an
image of the engine (a plain name), at the platform asked for, at every platform, or, for an index
when neither is asked for, at this machine's platform with a note saying so. Two arguments
(``diff``) are paired by platform: an index is measured at the platform of the single image on the
other side (``diff docker://reg/app:1.4 app:pr-123`` compares the release's image for the build's
platform with the build)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ImageSizeError
from ..sources.platforms import Platform, PlatformError, choose, host_platform
from .index import member_name, split_member_name
from .stored import _no_host_image, _note_of, open_source

if TYPE_CHECKING:
    from ..engine.protocol import Engine
    from ..progress import ProgressSink
    from ..sources.engine_index import StoredIndex
    from ..sources.model import ImageSource
    from .cache import AnalysisCache
    from .image import Image


@dataclass
class Options:
    """How the CLI measures: cache, progress, registry settings."""

    cache: AnalysisCache | None = None
    progress: ProgressSink | None = None
    registry_options: Any = None
    _engine: Engine | None = None

    def engine(self) -> Engine:
        if self._engine is None:
            from ..engine.quick import connect

            self._engine = connect()
        return self._engine


@dataclass
class Side:
    """One argument, opened: an engine image or a single manifest (``image``), or an index of a
    source (``platforms``, its images measured when asked for)."""

    text: str
    options: Options
    source: ImageSource | None = None
    image: Image | None = None
    platforms: list[Platform | None] = field(default_factory=list)
    note: str | None = None  # platforms of an engine image's index not in its store

    @property
    def platform(self) -> Platform | None:
        """The platform of a single image, where it says (None for an index)."""
        if self.image is None:
            return None
        stated = self.image.platform or self.image.engine_platform
        return Platform.parse(stated) if stated else None

    def at(self, platform: Platform) -> Image:
        """The image for ``platform``: an index's entry, or the single image when it is that
        platform's (``PlatformError`` naming what there is otherwise)."""
        if self.image is not None:
            if self.platform is not None and self.platform != platform:
                choose([self.platform], platform, self._what())
            return self.image
        from .from_source import measure_source
        from .image import Image

        assert self.source is not None
        image = measure_source(self.source, platform=platform, **self._measuring())
        assert isinstance(image, Image)
        image.name = member_name(self.text, str(platform))
        return image

    def every(self) -> list[Image]:
        """Every platform's image (one for a single image)."""
        if self.image is not None:
            return [self.image]
        from .from_source import measure_source
        from .index import ImageIndex

        assert self.source is not None
        index = measure_source(self.source, all_platforms=True, **self._measuring())
        assert isinstance(index, ImageIndex)
        return list(index)  # each named text[platform]

    def _measuring(self) -> dict[str, Any]:
        return {"name": self.text, "cache": self.options.cache, "progress": self.options.progress}

    def _what(self) -> str:
        return self.source.what if self.source is not None else f"image {self.text} on the engine"

    def close(self) -> None:
        if self.source is not None:
            self.source.close()


def open_side(text: str, options: Options) -> Side:
    """``text`` opened: a source's index listed, a single image measured (manifest and config, or
    the engine's inspect data: no blob read)."""
    if not text.strip():
        raise ImageSizeError(
            "an empty image reference: name an image like 'myorg/app:ci' or docker://HOST/REPO:TAG"
        )
    from .from_source import measure_source
    from .image import Image

    source = open_source(text, options.registry_options)
    note = None
    if source is None:
        engine = options.engine()
        index = _engine_index(engine, text)
        if index is None:
            return Side(
                text, options, image=Image.measure(engine, text, text, options.cache, options.progress)
            )
        from ..sources.engine_index import EngineIndexSource

        source, note = EngineIndexSource(engine, index), index.missing_note(text)
    side = Side(text, options, source=source, note=note)
    try:
        entries = source.platforms()
        if source.index_digest is None and len(entries) == 1:
            image = measure_source(source, **side._measuring())
            assert isinstance(image, Image)
            side.image = image
        else:
            side.platforms = [entry.platform for entry in entries]
    except BaseException:
        source.close()
        raise
    return side


def _engine_index(engine: Engine, text: str) -> StoredIndex | None:
    """The platforms of an engine image of which the containerd image store holds several."""
    if engine.info().image_store != "containerd":
        return None
    from ..sources.engine_index import stored_index

    return stored_index(engine.image_manifests(text), text)


@dataclass
class Chosen:
    """What to measure: rows (one per platform), and the note saying which platform was chosen
    for an index when none was asked for ("linux/amd64 of 2 platforms: ...")."""

    images: list[Image]
    note: str | None = None


def choose_rows(side: Side, platform: str | None, all_platforms: bool) -> Chosen:
    """The rows for one argument (``inspect``, ``check``, ``go``)."""
    if platform is not None and all_platforms:
        raise PlatformError("--platform and --all-platforms: give one of them")
    if all_platforms:
        return Chosen(side.every(), side.note)
    if platform is not None:
        return Chosen([side.at(Platform.parse(platform))], side.note)
    if side.image is not None:
        return Chosen([side.image])
    host = _host_choice(side)
    return Chosen([side.at(host)], "; ".join(filter(None, [_note(host, side), side.note])))


def _host_choice(side: Side) -> Platform:
    host = host_platform()
    if host not in side.platforms:
        raise _no_host_image(side._what(), host, side.platforms)
    return host


def _note(platform: Platform, side: Side) -> str:
    return _note_of(platform, side.platforms)


@dataclass
class Pairs:
    """What ``diff`` compares: (old, new) pairs, one per platform; platforms found on one side
    only; the note on the platform chosen."""

    pairs: list[tuple[Image, Image]]
    unpaired: list[str] = field(default_factory=list)
    note: str | None = None


def pair_sides(new: Side, old: Side, platform: str | None, all_platforms: bool) -> Pairs:
    """The images of two arguments to compare, paired by platform."""
    if platform is not None and all_platforms:
        raise PlatformError("--platform and --all-platforms: give one of them")
    if platform is not None:
        wanted = Platform.parse(platform)
        return Pairs([(old.at(wanted), new.at(wanted))])
    if all_platforms:
        olds = {platform_label(image): image for image in old.every()}
        news = {platform_label(image): image for image in new.every()}
        pairs = [(olds[p], news[p]) for p in news if p in olds]
        unpaired = [f"{p or 'no stated platform'} only in {new.text}" for p in news if p not in olds]
        unpaired += [f"{p or 'no stated platform'} only in {old.text}" for p in olds if p not in news]
        if not pairs:
            raise PlatformError(
                f"{new.text} and {old.text} have no platform in common ({'; '.join(unpaired)}): "
                "compare one platform of each with --platform"
            )
        return Pairs(pairs, unpaired)
    if new.image is not None and old.image is not None:
        return Pairs([(old.image, new.image)])
    single = new if new.image is not None else old if old.image is not None else None
    if single is not None and single.platform is not None:  # the index at the single image's platform
        return Pairs([(old.at(single.platform), new.at(single.platform))])
    index = new if new.image is None else old
    host = _host_choice(index)
    return Pairs([(old.at(host), new.at(host))], note=_note(host, index))


def platform_label(image: Image) -> str | None:
    """The platform an image is paired by: its label in an index's names (``linux/amd64#2`` for
    a platform listed again), else its platform."""
    return split_member_name(image.name)[1] or _platform_of(image)


def _platform_of(image: Image) -> str | None:
    return image.platform or image.engine_platform
