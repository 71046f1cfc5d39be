"""An OCI image layout as an image source: a directory (``OciLayoutSource``) as ``docker buildx
build --output type=oci,tar=false``, ``skopeo copy ... oci:DIR[:REF]`` or ``podman manifest push
--all LIST oci:DIR`` write it, or the same layout in a tar (``archives.OciArchiveSource``).

``index.json`` lists the layout's images; a ref names one by its
``org.opencontainers.image.ref.name`` annotation (or ``io.containerd.image.name``, which BuildKit
writes), ``@N`` by its place in the list. The image is a manifest or an index (followed through
nested indexes); every blob is verified against its descriptor as it is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..measure.archive.layout import MAX_JSON, blob_path
from . import manifests
from .manifests import MAX_LAYERS, MAX_MANIFEST, descriptor, index_entries, is_index
from .model import Descriptor, ImageManifest, PlatformEntry, SourceError
from .platforms import Platform
from .refs import normal_name
from .stores import DirectoryStore, LayerBlobs, Store, read_small, verified

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
MAX_NESTING = 4  # index -> index -> ... -> manifest


class OciImages:
    """The image ``ref`` names in the OCI layout ``store``: the ``ImageSource`` methods but
    ``close``. ``spelled`` is how a hint names the layout (``oci:DIR``); ``not_layout`` is the
    error when the store has no ``oci-layout`` file."""

    def __init__(self, store: Store, ref: str | None, spelled: str, not_layout: str) -> None:
        self.store = store
        self.what = store.what
        if store.size("oci-layout") is None:
            raise SourceError(not_layout)
        document = manifests.load(
            read_small(store, "index.json", MAX_MANIFEST, "index.json"), self._at("index.json")
        )
        listed = document.get("manifests")
        if not isinstance(listed, list):
            raise SourceError(f"{self._at('index.json')} has no manifests list: the layout is damaged")
        if len(listed) > MAX_LAYERS:
            raise SourceError(
                f"{self._at('index.json')} lists {len(listed)} images, more than {MAX_LAYERS}: refused"
            )
        top = [descriptor(item, self._at("index.json")) for item in listed]
        self.top = top  # the images index.json lists
        self._index_json = document
        # None: index.json is itself the image's index (platform manifests listed there, unnamed)
        self.target = self._select(top, ref, spelled)
        self._entries: list[PlatformEntry] | None = None
        self._configs: dict[str, dict[str, Any]] = {}

    def _at(self, name: str) -> str:
        return f"{self.what}: {name}"

    def _select(self, top: list[Descriptor], ref: str | None, spelled: str) -> Descriptor | None:
        if not top:
            raise SourceError(f"{self.what} holds no image (its index.json lists none)")
        if ref is not None and ref.startswith("@"):
            if not ref[1:].isdigit() or int(ref[1:]) >= len(top):
                raise SourceError(
                    f"{self.what} has no image {ref}: it has {len(top)} (@0 to @{len(top) - 1}); "
                    f"pass one of {refs_of(top)}"
                )
            return top[int(ref[1:])]
        if ref:
            found = [d for d in top if _matches(d, ref)]
            if not found:
                raise SourceError(
                    f"{self.what} has no image named {ref!r}; it has {refs_of(top)}: pass one of those"
                )
            if len({d.digest for d in found}) > 1:
                raise SourceError(
                    f"{self.what} has several images named {ref!r}: pass one as @N ({refs_of(top)})"
                )
            return found[0]
        if len(top) == 1:
            return top[0]
        if _one_image(top):
            return None
        raise SourceError(f"{self.what} holds {len(top)} images ({refs_of(top)}): name one, as {spelled}:REF")

    @property
    def index_digest(self) -> str | None:
        """The digest of the index the ref names (None for a single manifest, and where
        index.json itself lists the platforms: it is no blob)."""
        if self.target is None:
            return None
        return self.target.digest if self._is_index(self.target) else None

    def _is_index(self, entry: Descriptor) -> bool:
        if entry.media_type:
            return is_index(entry.media_type)
        return "manifests" in self._document(entry, "manifest")

    def _document(self, entry: Descriptor, what: str) -> dict[str, Any]:
        return manifests.load(self._blob(entry, MAX_MANIFEST, what), self._at(f"{what} {entry.digest}"))

    def _blob(self, entry: Descriptor, limit: int, what: str) -> bytes:
        """A small blob (manifest, index, config), its size and digest checked."""
        name = blob_path(entry.digest)
        size = self.store.size(name)
        if size is None:
            raise SourceError(
                f"{self.what} lacks the {what} blob {entry.digest}: it is incomplete; write it again"
            )
        if size != entry.size:
            raise SourceError(
                f"{self._at(name)} is {size} bytes, its descriptor says {entry.size}: the {what} is damaged; "
                "write the layout again"
            )
        if size > limit:
            raise SourceError(
                f"{self._at(name)} is {size} bytes, more than a {what} may be ({limit}): refused"
            )
        return b"".join(
            verified(self.store.chunks(name, size), size, entry.digest, self._at(f"{what} {name}"))
        )

    def platforms(self) -> list[PlatformEntry]:
        if self._entries is None:
            self._entries = self._platforms()
        return list(self._entries)

    def _platforms(self) -> list[PlatformEntry]:
        return self.platforms_of(self.target)

    def platforms_of(self, target: Descriptor | None) -> list[PlatformEntry]:
        """The platform images ``target`` (one of ``top``; None: index.json) leads to."""
        if target is None:
            return self._flatten(self._index_json, self._at("index.json"), 0)
        if not self._is_index(target):
            platform = target.platform
            if platform is None:
                platform = Platform.from_json(self.config(self.manifest(PlatformEntry(None, target))))
            return [PlatformEntry(platform, target)]
        return self._flatten(self._document(target, "index"), self._at(f"index {target.digest}"), 0)

    def _flatten(self, document: dict[str, Any], what: str, depth: int) -> list[PlatformEntry]:
        """The platform manifests an index leads to, nested indexes followed (in their order)."""
        found: list[PlatformEntry] = []
        for entry in index_entries(document, what):
            if self._is_index(entry.manifest):
                if depth + 1 >= MAX_NESTING:
                    raise SourceError(f"{what} nests indexes more than {MAX_NESTING} deep: refused")
                nested = entry.manifest
                found.extend(
                    self._flatten(
                        self._document(nested, "index"), self._at(f"index {nested.digest}"), depth + 1
                    )
                )
            else:
                found.append(entry)
            if len(found) > MAX_LAYERS:
                raise SourceError(f"{what} leads to more than {MAX_LAYERS} images: refused")
        return found

    def manifest(self, entry: PlatformEntry) -> ImageManifest:
        data = self._blob(entry.manifest, MAX_MANIFEST, "manifest")
        return manifests.image_manifest(
            data,
            entry.manifest.digest,
            self._at(f"manifest {entry.manifest.digest}"),
            entry.manifest.media_type or None,
        )

    def config(self, manifest: ImageManifest) -> dict[str, Any]:
        cached = self._configs.get(manifest.config.digest)
        if cached is None:
            data = self._blob(manifest.config, MAX_JSON, "config")
            try:
                cached = json.loads(data)
            except (ValueError, UnicodeDecodeError, RecursionError):
                cached = None
            if not isinstance(cached, dict):
                raise SourceError(
                    f"{self._at('config ' + manifest.config.digest)} is not a JSON object: it is damaged"
                )
            self._configs[manifest.config.digest] = cached
        return cached

    def blobs(self, manifest: ImageManifest) -> LayerBlobs:
        layers = [(blob_path(layer.digest), layer) for layer in manifest.layers]
        return LayerBlobs(self.store, self.what, self.config(manifest), layers)


def _names(entry: Descriptor) -> list[str]:
    return [entry.annotations[key] for key in (REF_NAME, CONTAINERD_NAME) if entry.annotations.get(key)]


def _matches(entry: Descriptor, ref: str) -> bool:
    names = _names(entry)
    if ref in names:
        return True
    containerd = entry.annotations.get(CONTAINERD_NAME)
    return containerd is not None and normal_name(containerd) == normal_name(ref)


def _one_image(top: list[Descriptor]) -> bool:
    """Whether an index.json's entries are one image's platforms: none named, none an index,
    each of a platform of its own."""
    platforms = [d.platform for d in top]
    return (
        all(not _names(d) for d in top)
        and all(d.media_type and not is_index(d.media_type) for d in top)
        and all(p is not None for p in platforms)
        and len(set(platforms)) == len(platforms)
    )


def refs_of(top: list[Descriptor]) -> str:
    """How the layout's images can be named: their ref, else their place (``@N``)."""
    shown = []
    for i, entry in enumerate(top):
        names = _names(entry)
        shown.append(names[0] if names else f"@{i} ({entry.digest[:19]}, unnamed)")
    return ", ".join(shown)


class OciSource:
    """An ``ImageSource`` over ``OciImages`` (a layout directory, or the tar of one)."""

    _images: OciImages

    @property
    def index_digest(self) -> str | None:
        return self._images.index_digest

    def platforms(self) -> list[PlatformEntry]:
        return self._images.platforms()

    def manifest(self, entry: PlatformEntry) -> ImageManifest:
        return self._images.manifest(entry)

    def config(self, manifest: ImageManifest) -> dict[str, Any]:
        return self._images.config(manifest)

    def blobs(self, manifest: ImageManifest) -> LayerBlobs:
        return self._images.blobs(manifest)

    def close(self) -> None:
        self._images.store.close()


class OciLayoutSource(OciSource):
    """The image ``ref`` names in the OCI image layout directory ``path`` (the only image when
    ``ref`` is None and there is one)."""

    kind = "oci"

    def __init__(self, path: Path | str, ref: str | None = None) -> None:
        root = Path(path)
        self.reference = f"oci:{root}" + (f":{ref}" if ref else "")
        self.what = f"OCI layout {root}" + (f":{ref}" if ref else "")
        if not root.is_dir():
            if root.exists():
                raise SourceError(
                    f"{root} is a file, not an OCI layout directory: for a tar of one pass oci-archive:{root}"
                )
            raise SourceError(f"{root} does not exist: pass the directory an OCI layout was written to")
        store = DirectoryStore(root, f"the OCI layout {root}")
        self._images = OciImages(
            store,
            ref,
            f"oci:{root}",
            f"{root} is not an OCI image layout (no oci-layout file): pass the directory "
            "`buildx --output type=oci,tar=false` or `skopeo copy ... oci:DIR` wrote",
        )
