"""Image archives built in memory: layer tars from a spec, the classic ``docker save`` layout
around them, and the chunked streams the archive reader is fed."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

# bytes: a regular file; ("dir",); ("symlink", target); ("hardlink", target); ("chr",); ("fifo",);
# ("whiteout",): the path is deleted (a .wh. file); ("opaque",): the directory hides what lower
# layers put in it.
EntrySpec = bytes | tuple[str, ...]
LayerSpec = Mapping[str, EntrySpec] | Sequence[tuple[str, EntrySpec]]


def tar_info(name: str, **attrs: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.mode = 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def layer_tar(spec: LayerSpec, *, fmt: int = tarfile.PAX_FORMAT, raw: bool = False) -> bytes:
    """The uncompressed layer tar of ``spec`` (a mapping, or a sequence of pairs where a path may
    come twice). Paths are made relative and missing parent directories are listed first, as
    Docker writes layers; with ``raw`` each name and link target is written exactly as given and
    nothing else is added (absolute names, ``..``, a path twice: what the reader must clean up)."""
    buffer = io.BytesIO()
    listed: set[str] = set()
    items = spec.items() if isinstance(spec, Mapping) else spec
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:

        def directory(path: str) -> None:
            if raw:
                tar.addfile(tar_info(path, type=tarfile.DIRTYPE, mode=0o755))
            elif path and path not in listed:
                directory(path.rpartition("/")[0])
                listed.add(path)
                tar.addfile(tar_info(path + "/", type=tarfile.DIRTYPE, mode=0o755))

        for given, what in items:
            path = given if raw else given.strip("/")
            parent, _, base = path.rpartition("/")
            if not raw:
                directory(parent)
            if isinstance(what, bytes):
                tar.addfile(tar_info(path, size=len(what)), io.BytesIO(what))
            elif what[0] == "dir":
                directory(path)
            elif what[0] == "symlink":
                tar.addfile(tar_info(path, type=tarfile.SYMTYPE, linkname=what[1], mode=0o777))
            elif what[0] == "hardlink":
                target = what[1] if raw else what[1].strip("/")
                tar.addfile(tar_info(path, type=tarfile.LNKTYPE, linkname=target))
            elif what[0] == "chr":
                tar.addfile(tar_info(path, type=tarfile.CHRTYPE, devmajor=1, devminor=3))
            elif what[0] == "fifo":
                tar.addfile(tar_info(path, type=tarfile.FIFOTYPE))
            elif what[0] == "whiteout":
                name = f"{parent}/.wh.{base}" if parent else f".wh.{base}"
                tar.addfile(tar_info(name, size=0), io.BytesIO(b""))
            elif what[0] == "opaque":
                if not raw:
                    directory(path)
                tar.addfile(tar_info(f"{path}/.wh..wh..opq", size=0), io.BytesIO(b""))
            else:
                raise ValueError(f"unknown entry {what!r} for {given}")
    return buffer.getvalue()


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(tar_info(name, size=len(data)), io.BytesIO(data))


def classic_archive(layers: list[bytes], gzip_layers: bool = False) -> bytes:
    """What ``docker save`` wrote before Engine 25: <id>/layer.tar, config, manifest.json last."""
    buffer = io.BytesIO()
    names = []
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for i, data in enumerate(layers):
            blob = gzip.compress(data) if gzip_layers else data
            name = f"{hashlib.sha256(data + bytes([i])).hexdigest()}/layer.tar"
            names.append(name)
            add(tar, name, blob)
        config = json.dumps({"rootfs": {"diff_ids": [], "type": "layers"}, "history": []}).encode()
        add(tar, "cfg.json", config)
        add(tar, "manifest.json", json.dumps([{"Config": "cfg.json", "Layers": names}]).encode())
    return buffer.getvalue()


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    """``data`` in pieces of ``size`` bytes, as a socket delivers a stream."""
    for start in range(0, len(data), size):
        yield data[start : start + size]
