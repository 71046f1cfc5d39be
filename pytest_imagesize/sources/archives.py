"""Image archives as image sources, read where they are: the tar file is indexed once (its headers
only, the data seeked over) and blobs are read at their offsets; nothing is extracted or written.

``OciArchiveSource``: a tar of an OCI image layout (``docker buildx build --output type=oci``,
``skopeo copy ... oci-archive:FILE``), read as ``oci_layout`` reads the directory.

``DockerArchiveSource``: ``docker save``, ``podman save``, ``skopeo copy ... docker-archive:FILE``.
Its ``manifest.json`` lists the images (``Config``, ``RepoTags``, ``Layers``), in Docker's classic
layout (``<id>/layer.tar``) or Docker 25+'s (``blobs/sha256/<hex>``, an OCI layout beside it,
whose manifest of the image is used when it names the same blobs). Otherwise the archive holds no
registry manifest, so one is made from the entry: each layer's stored size, its
digest (from its name, or for a plain tar the diff ID the config names, else hashed) and its media
type by its first bytes: a plain tar is ``application/vnd.docker.image.rootfs.diff.tar``, whose
stored size is not what a registry would store compressed."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from ..measure.archive.layer import compression
from ..measure.archive.layout import MAX_JSON, blob_digest, blob_path
from .manifests import DOCKER_MANIFEST, MAX_LAYERS, digest_of
from .model import Descriptor, ImageManifest, PlatformEntry, SourceError
from .oci_layout import OciImages, OciSource
from .platforms import Platform
from .refs import normal_name
from .stores import LayerBlobs, TarStore, read_small

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
PLAIN_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
LAYER_TYPES = {
    None: PLAIN_LAYER,
    "gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
MAX_SAVED_LOOKS = 64  # manifests of a Docker 25+ archive's OCI layout compared with the made one
_HEX = re.compile(r"^[0-9a-f]{64}$")


def _archive_path(path: Path | str) -> Path:
    archive = Path(path)
    if archive.is_dir():
        raise SourceError(
            f"{archive} is a directory, not an archive: for an OCI layout directory pass oci:{archive}"
        )
    if not archive.exists():
        raise SourceError(f"{archive} does not exist: pass the file an image archive was written to")
    return archive


class OciArchiveSource(OciSource):
    """The image ``ref`` names in the tar of an OCI image layout at ``path``."""

    kind = "oci-archive"

    def __init__(self, path: Path | str, ref: str | None = None) -> None:
        archive = _archive_path(path)
        self.reference = f"oci-archive:{archive}" + (f":{ref}" if ref else "")
        self.what = f"OCI archive {archive}" + (f":{ref}" if ref else "")
        store = TarStore(archive, f"the OCI archive {archive}")
        try:
            hint = (
                f": it is a docker-archive, pass docker-archive:{archive}"
                if store.size("manifest.json") is not None
                else ": pass the file `buildx --output type=oci` or `skopeo copy ... oci-archive:FILE` wrote"
            )
            self._images = OciImages(
                store,
                ref,
                f"oci-archive:{archive}",
                f"{archive} is not an OCI archive (no oci-layout member){hint}",
            )
        except BaseException:
            store.close()
            raise


class DockerArchiveSource:
    """The image ``ref`` names (one of its ``RepoTags``, as Docker normalises names, or ``@N``)
    in the ``docker save`` archive at ``path`` (the only image when ``ref`` is None)."""

    kind = "docker-archive"
    index_digest: str | None = None  # a docker-archive holds single-platform images

    def __init__(self, path: Path | str, ref: str | None = None) -> None:
        archive = _archive_path(path)
        self.reference = f"docker-archive:{archive}" + (f":{ref}" if ref else "")
        self.what = f"docker archive {archive}" + (f":{ref}" if ref else "")
        self._store = TarStore(archive, f"the docker archive {archive}")
        try:
            self._entry = self._select(archive, ref)
            self._config_data, self._config_digest = self._read_config()
            self._config = self._parse_config()
            self._manifest = self._make_manifest()
            self._manifest = self._saved_manifest() or self._manifest
        except BaseException:
            self._store.close()
            raise

    def _select(self, archive: Path, ref: str | None) -> dict[str, Any]:
        store = self._store
        if store.size("manifest.json") is None:
            hint = (
                f": it is an OCI archive, pass oci-archive:{archive}"
                if store.size("oci-layout") is not None
                else ": pass the file `docker save` or `skopeo copy ... docker-archive:FILE` wrote"
            )
            raise SourceError(f"{archive} is not a docker archive (no manifest.json){hint}")
        data = read_small(store, "manifest.json", MAX_JSON, "manifest.json")
        try:
            listed = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            listed = None
        if not isinstance(listed, list) or not all(isinstance(e, dict) for e in listed):
            raise SourceError(f"{store.what}: manifest.json is not a list of images: the archive is damaged")
        if not listed:
            raise SourceError(f"{store.what} holds no image (its manifest.json lists none)")
        if len(listed) > MAX_LAYERS:
            raise SourceError(f"{store.what} lists {len(listed)} images, more than {MAX_LAYERS}: refused")
        if ref is not None and ref.startswith("@"):
            if not ref[1:].isdigit() or int(ref[1:]) >= len(listed):
                raise SourceError(
                    f"{store.what} has no image {ref}: it has {len(listed)} (@0 to @{len(listed) - 1}); "
                    f"pass one of {_tags_of(listed)}"
                )
            return dict(listed[int(ref[1:])])
        if ref:
            wanted = normal_name(ref)
            found = [e for e in listed if wanted in {normal_name(str(t)) for t in e.get("RepoTags") or []}]
            if not found:
                raise SourceError(
                    f"{store.what} has no image tagged {ref!r}; it has {_tags_of(listed)}: pass one of those"
                )
            return dict(found[0])
        if len(listed) > 1:
            raise SourceError(
                f"{store.what} holds {len(listed)} images ({_tags_of(listed)}): "
                f"name one, as docker-archive:{archive}:TAG"
            )
        return dict(listed[0])

    def _read_config(self) -> tuple[bytes, str]:
        name = str(self._entry.get("Config") or "")
        if not name:
            raise SourceError(f"{self._store.what}: manifest.json names no Config: the archive is damaged")
        data = read_small(self._store, name, MAX_JSON, "the image config")
        digest = digest_of(data)
        named = _named_digest(name)
        if named is not None and named != digest:
            raise SourceError(
                f"{self._store.what}: config {name} does not match its digest (got {digest}): "
                "the archive is damaged; save it again"
            )
        return data, digest

    def _parse_config(self) -> dict[str, Any]:
        try:
            config = json.loads(self._config_data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            config = None
        if not isinstance(config, dict):
            raise SourceError(
                f"{self._store.what}: the image config is not a JSON object: the archive is damaged"
            )
        return config

    def _make_manifest(self) -> ImageManifest:
        names = self._entry.get("Layers")
        if not isinstance(names, list):
            raise SourceError(f"{self._store.what}: manifest.json names no Layers: the archive is damaged")
        if len(names) > MAX_LAYERS:
            raise SourceError(
                f"{self._store.what} claims {len(names)} layers, more than {MAX_LAYERS}: refused"
            )
        rootfs = self._config.get("rootfs")
        diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
        if not isinstance(diff_ids, list) or len(diff_ids) != len(names):
            diff_ids = [None] * len(names)
        self._keys = [str(name) for name in names]
        layers = tuple(self._layer(key, diff_id) for key, diff_id in zip(self._keys, diff_ids, strict=True))
        config = Descriptor(DOCKER_CONFIG, self._config_digest, len(self._config_data))
        document = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": config.media_type, "size": config.size, "digest": config.digest},
            "layers": [{"mediaType": d.media_type, "size": d.size, "digest": d.digest} for d in layers],
        }
        self._manifest_data = json.dumps(document, separators=(",", ":")).encode()
        return ImageManifest(digest_of(self._manifest_data), DOCKER_MANIFEST, config, layers)

    def _saved_manifest(self) -> ImageManifest | None:
        """Docker 25+ saves the image's own manifest too, in the OCI layout beside
        ``manifest.json``: that one (its digest is the image's in a registry) when it names the
        same config and layer blobs."""
        if self._store.size("oci-layout") is None or self._store.size("index.json") is None:
            return None
        made = self._manifest
        wanted = (made.config.digest, [(d.digest, d.size) for d in made.layers])
        try:
            images = OciImages(self._store, "@0", "", "")
        except SourceError:
            return None
        looked = 0
        for image in images.top:
            try:
                entries = images.platforms_of(image)
            except SourceError:  # not saved whole, or damaged: the made manifest will do
                continue
            for entry in entries:
                looked += 1
                if looked > MAX_SAVED_LOOKS:
                    return None
                try:
                    saved = images.manifest(entry)
                except SourceError:  # another platform's, not saved
                    continue
                if (saved.config.digest, [(d.digest, d.size) for d in saved.layers]) == wanted:
                    self._manifest_data = b"".join(
                        self._store.chunks(blob_path(saved.digest), entry.manifest.size)
                    )
                    return saved
        return None

    def _layer(self, key: str, diff_id: Any) -> Descriptor:
        store = self._store
        size = store.size(key)
        if size is None:
            raise SourceError(
                f"{store.what} lacks layer {key} that manifest.json names: it is incomplete; save it again"
            )
        head = b"".join(store.chunks(key, min(size, 512)))
        stored_as = compression(head)
        digest = _named_digest(key)
        if digest is None and stored_as is None and isinstance(diff_id, str):
            digest = diff_id  # a plain layer tar is what its diff ID hashes
        if digest is None:
            hasher = hashlib.sha256()
            for chunk in store.chunks(key, size):
                hasher.update(chunk)
            digest = "sha256:" + hasher.hexdigest()
        return Descriptor(LAYER_TYPES[stored_as], digest, size)

    def platforms(self) -> list[PlatformEntry]:
        manifest = Descriptor(self._manifest.media_type, self._manifest.digest, len(self._manifest_data))
        return [PlatformEntry(Platform.from_json(self._config), manifest)]

    def manifest(self, entry: PlatformEntry) -> ImageManifest:
        if entry.manifest.digest != self._manifest.digest:
            raise SourceError(f"{self.what} has no manifest {entry.manifest.digest}")
        return self._manifest

    def config(self, manifest: ImageManifest) -> dict[str, Any]:
        return self._config

    def blobs(self, manifest: ImageManifest) -> LayerBlobs:
        if manifest.digest != self._manifest.digest:
            raise SourceError(f"{self.what} has no manifest {manifest.digest}")
        return LayerBlobs(
            self._store, self.what, self._config, list(zip(self._keys, manifest.layers, strict=True))
        )

    def close(self) -> None:
        self._store.close()


def _named_digest(name: str) -> str | None:
    """The digest a member's name gives: ``blobs/sha256/<hex>``, ``<hex>.json``, ``<hex>.tar``."""
    digest = blob_digest(name)
    if digest is not None:
        return digest if digest.startswith("sha256:") and _HEX.match(digest[7:]) else None
    stem = name.rsplit(".", 1)[0] if "/" not in name else ""
    return f"sha256:{stem}" if _HEX.match(stem) and name.endswith(".json") else None


def _tags_of(listed: list[Any]) -> str:
    shown = []
    for i, entry in enumerate(listed):
        tags = [str(t) for t in entry.get("RepoTags") or []]
        shown.append(", ".join(tags) if tags else f"@{i} (untagged)")
    return ", ".join(shown)
