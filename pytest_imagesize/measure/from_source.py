"""Measuring an image where it lives besides the engine: ``measure_source()`` reads an image
source's manifests and configs (small documents) and makes an ``Image`` per platform whose lazy
fields read the layer blobs once (``source_read.SourceBlobs``).

Platform choice: a single manifest gives its ``Image``; an index gives the ``Image`` of
``platform`` when one is asked for, else an ``ImageIndex`` of every platform. Nothing picks the
host's platform behind the caller's back: the CLI asks for the host's platform itself, and says
which it measured."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..ids import short_id
from ..sources.model import ImageSource, PlatformEntry, SourceError
from ..sources.platforms import Platform, PlatformError, choose
from .history import Layer, config_from_inspect
from .image import BaseImage, Image
from .index import ImageIndex, member_name
from .layers import layer_history
from .source_read import SourceBlobs, diff_ids_of
from .stored import PREFIXES as PREFIXES
from .stored import open_source as open_source  # the seam tests replace
from .stored import registry_options as registry_options
from .stored import stored_compressed

if TYPE_CHECKING:
    from ..progress import ProgressSink
    from ..sources.model import ImageManifest
    from .cache import AnalysisCache

BaseRef = ImageSource | Image | ImageIndex


def measure_source(
    source: ImageSource,
    *,
    platform: str | Platform | None = None,
    all_platforms: bool = False,
    name: str | None = None,
    cache: AnalysisCache | None = None,
    progress: ProgressSink | None = None,
    base: BaseRef | None = None,
) -> Image | ImageIndex:
    """Measure the image ``source`` holds: an ``Image`` for a single manifest or for the
    ``platform`` asked for (``PlatformError``, naming the platforms there are, when it has no such
    image), an ``ImageIndex`` of every platform for an index when no platform is asked for, and
    always with ``all_platforms`` (an index of one for a single manifest).

    Only manifests and configs are read here; ``compressed_size`` is exact from the manifest when
    every layer blob is stored compressed, and everything else reads the layer blobs once, on first
    use. ``base`` (another source, or a measured ``Image`` / ``ImageIndex``) marks the layers the
    image shares with it as the base's, platform by platform. The source stays open for those
    reads: close it when done with the images."""
    if platform is not None and all_platforms:
        raise PlatformError("ask for one platform or for all platforms, not both")
    wanted = Platform.parse(platform) if isinstance(platform, str) else platform
    label = name or source.reference
    entries = source.platforms()
    if source.index_digest is None and len(entries) == 1:
        image = _measure_entry(source, entries[0], label, cache, progress, base, in_index=False)
        if wanted is not None:
            stated = Platform.parse(image.platform) if image.platform else None
            choose([stated], wanted, source.what)
        return ImageIndex(label, source.reference, [image]) if all_platforms else image
    if wanted is not None:
        entry = entries[choose([e.platform for e in entries], wanted, source.what)]
        return _measure_entry(source, entry, label, cache, progress, base, in_index=True)
    images = [_measure_entry(source, e, label, cache, progress, base, in_index=True) for e in entries]
    return ImageIndex(label, source.reference, images, source.index_digest)


def _measure_entry(
    source: ImageSource,
    entry: PlatformEntry,
    name: str,
    cache: AnalysisCache | None,
    progress: ProgressSink | None,
    base: BaseRef | None,
    *,
    in_index: bool,
) -> Image:
    manifest = source.manifest(entry)
    config = source.config(manifest)
    platform = entry.platform or Platform.from_json(config)
    return source_image(
        source,
        manifest,
        config,
        platform,
        name=name,
        cache=cache,
        progress=progress,
        base=base,
        in_index=in_index,
    )


def source_image(
    source: ImageSource,
    manifest: ImageManifest,
    config: dict[str, Any],
    platform: Platform | None,
    *,
    name: str,
    cache: AnalysisCache | None = None,
    progress: ProgressSink | None = None,
    base: BaseRef | None = None,
    in_index: bool = False,
) -> Image:
    """One image of ``source``: its layers from the config (history, ``rootfs.diff_ids``) with
    the manifest's stored sizes; its blobs are read on first use."""
    what = f"{source.what}" + (f" ({platform})" if in_index and platform else "")
    diff_ids = diff_ids_of(config, manifest, what)
    created_by = layer_history(config, len(diff_ids)) or [None] * len(diff_ids)
    found = None if base is None else base_of(base, platform, diff_ids)
    from_base = found.layer_count if found is not None else 0
    layers = [
        Layer(i, 0, step, diff_id, compressed_size=blob.size, from_base=i < from_base)
        for i, (diff_id, step, blob) in enumerate(zip(diff_ids, created_by, manifest.layers, strict=True))
    ]
    image_id = manifest.config.digest
    shown = member_name(name, str(platform)) if in_index and platform else name
    exact = all(stored_compressed(layer.media_type) for layer in manifest.layers)
    reader = SourceBlobs(
        source,
        manifest,
        config,
        label=f"{shown} ({short_id(image_id)})",
        name=shown,
        cache=cache,
        progress=progress,
    )
    inner = config.get("config")
    image = Image(
        name=name,
        ref=source.reference,
        id=image_id,
        tags=[],
        config=config_from_inspect({"Config": inner if isinstance(inner, dict) else {}}),
        layers=layers,
        engine_size=0,
        engine_info=None,
        cache=cache,
        progress=progress,
        reader=reader,
        stored_compressed_size=manifest.compressed_size if exact else None,
    )
    image.platform = None if platform is None else str(platform)
    image.source = source.kind
    image.config_size = manifest.config.size
    image.base_image = found
    return image


def base_of(base: BaseRef, platform: Platform | None, diff_ids: list[str]) -> BaseImage:
    """The base image of an image of ``platform`` with ``diff_ids``: how many of its leading
    layers are the base's (0, with a one-line note, when they differ or the base has no such
    platform)."""
    if isinstance(base, ImageIndex):
        if platform is None or str(platform) not in base.platforms:
            return _unmatched(base.ref, None, f"has no {platform or 'such'} image")
        base = base[str(platform)]
    if isinstance(base, Image):
        return match_base(base.ref, base.id, [d or "" for d in base.diff_ids], diff_ids)
    entries = base.platforms()
    if len(entries) == 1 and base.index_digest is None:
        entry = entries[0]
    elif platform is None:
        return _unmatched(base.reference, None, "is an index and the image states no platform")
    else:
        try:
            entry = entries[choose([e.platform for e in entries], platform, base.what)]
        except PlatformError:
            return _unmatched(base.reference, None, f"has no {platform} image")
    manifest = base.manifest(entry)
    config = base.config(manifest)
    return match_base(
        base.reference, manifest.config.digest, diff_ids_of(config, manifest, base.what), diff_ids
    )


def match_base(ref: str, base_id: str, base_ids: list[str], diff_ids: list[str]) -> BaseImage:
    """``base_ids`` as the leading layers of ``diff_ids``, or a note saying they are not."""
    if base_ids and diff_ids[: len(base_ids)] == base_ids:
        return BaseImage(ref, base_id, len(base_ids))
    return _unmatched(
        ref, base_id, f"({short_id(base_id)}) has other layers than the ones this image was built on"
    )


def _unmatched(ref: str, base_id: str | None, why: str) -> BaseImage:
    return BaseImage(ref, base_id, 0, f"base image {ref} {why}: the whole image counts as its own layers")


def path_source(path: Path, ref: str | None = None) -> str:
    """The source reference for an OCI layout directory or an image archive on disk: ``oci:``
    for a directory, ``oci-archive:`` for a tar with an ``oci-layout`` file, ``docker-archive:``
    for one with a ``manifest.json`` only (what ``docker save`` before Docker 25 writes)."""
    tail = f":{ref}" if ref else ""
    if path.is_dir():
        return f"oci:{path}{tail}"
    if not path.is_file():
        raise SourceError(
            f"{path}: no such OCI layout directory or image archive: write it first "
            "(skopeo copy ... oci:DIR:REF, docker save -o FILE.tar)"
        )
    names: set[str] = set()
    try:
        with tarfile.open(path, mode="r:") as tar:
            for member in tar:
                names.add(member.name.removeprefix("./"))
                if "oci-layout" in names:
                    return f"oci-archive:{path}{tail}"
    except (tarfile.TarError, OSError) as exc:
        raise SourceError(
            f"{path} is not a readable tar archive ({exc}): give an OCI layout or image archive"
        ) from None
    if "manifest.json" in names:
        return f"docker-archive:{path}{tail}"
    raise SourceError(
        f"{path} is a tar archive but neither an OCI archive (no oci-layout) nor a docker-archive "
        "(no manifest.json): write it with skopeo copy or docker save"
    )
