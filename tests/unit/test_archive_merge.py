"""The archive reader and the layer merge: generated archives (hypothesis), odd tar entries,
truncation and whiteouts. Archives written by real tools: tests/test_podman.py."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_imagesize.measure.archive import ArchiveError, read_archive
from pytest_imagesize.measure.layers import merge
from pytest_imagesize.measure.paths import clean_path as normalise

from ..support.archives import EntrySpec, add, chunks, classic_archive, layer_tar

# ---------------------------------------------------------------- building archives in memory

Member = tuple[str, str, int]  # (name, kind, size)


def members_tar(members: list[Member], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """A layer tar of exactly these members, names as given (files hold ``size`` bytes)."""
    spec: list[tuple[str, EntrySpec]] = []
    for name, kind, size in members:
        what: EntrySpec = (kind,)  # "dir", "chr", "fifo"
        if kind == "file":
            what = bytes([size % 251]) * size
        elif kind == "symlink":
            what = ("symlink", "../target")
        elif kind == "hardlink":
            what = ("hardlink", "/etc/passwd")
        spec.append((name, what))
    return layer_tar(spec, fmt=fmt, raw=True)


# ---------------------------------------------------------------- generated archives

names = st.sampled_from(
    [
        "a",
        "b",
        "dir",
        "dir/x",
        "dir/y",
        "./dir/z",
        "/abs/path",
        "../../escape",
        "dir/../b",
        "dir/.wh.x",
        ".wh.a",
        "dir/.wh..wh..opq",
        "x" * 150,
        "deep/" + "d" * 120 + "/f",
        "ünï/cödé",
    ]
)
kinds = st.sampled_from(["file", "file", "file", "dir", "symlink", "hardlink", "chr", "fifo"])
members = st.lists(st.tuples(names, kinds, st.integers(0, 3000)), max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    layers=st.lists(members, min_size=1, max_size=4),
    chunk=st.integers(61, 70_000),  # one-byte chunks: test_archive_reader.py::test_one_byte_chunks
    fmt=st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]),
)
def test_generated_archives_are_accounted_for(layers: list[list[Member]], chunk: int, fmt: int) -> None:
    tars = [members_tar(m, fmt) for m in layers]
    scan = read_archive(chunks(classic_archive(tars), chunk))
    # portable size: file bytes plus symlink target lengths ("../target"), as the tar holds them
    portable = [
        sum(size if kind == "file" else 9 if kind == "symlink" else 0 for _, kind, size in m) for m in layers
    ]
    assert [layer.portable_size for layer in scan.layers] == portable
    for layer, tar in zip(scan.layers, tars, strict=False):
        assert layer.compressed_size > 0
        assert abs(layer.compressed_size - len(gzip.compress(tar, 6))) <= 0.05 * len(tar) + 64
        assert all(entry.path.startswith("/") and "/../" not in entry.path for entry in layer.entries)
    analysis = merge(scan)
    written = sum(
        e.size
        for layer in scan.layers
        for e in layer.entries
        if "/.wh." not in e.path and not e.path.rsplit("/", 1)[-1].startswith(".wh.")
    )
    surviving = sum(r.size for r in analysis.files if r.kind == "file")
    assert analysis.written == written
    assert analysis.wasted_bytes + surviving == written
    assert 0.0 <= analysis.efficiency <= 1.0
    assert not any(p.rsplit("/", 1)[-1].startswith(".wh.") for p in (r.path for r in analysis.files))


@settings(max_examples=30, deadline=None)
@given(layers=st.lists(members, min_size=1, max_size=3), cut=st.floats(0.0, 0.999))
def test_truncated_archives_fail_cleanly(layers: list[list[Member]], cut: float) -> None:
    data = classic_archive([members_tar(m) for m in layers])
    short = data[: int(len(data) * cut)]
    try:
        scan = read_archive(chunks(short, 4096))
    except ArchiveError as exc:
        assert "\n" not in str(exc)
    else:  # cut inside the trailing zero blocks: everything was read
        assert len(scan.layers) == len(layers)


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=5000))
def test_garbage_fails_cleanly(data: bytes) -> None:
    with pytest.raises(ArchiveError):
        read_archive([data])


# ---------------------------------------------------------------- specific layouts and entries


def test_whiteouts_opaque_dirs_and_replacement() -> None:
    base = members_tar(
        [
            ("etc", "dir", 0),
            ("etc/a", "file", 100),
            ("etc/b", "file", 200),
            ("opt", "dir", 0),
            ("opt/x", "file", 300),
            ("opt/sub/y", "file", 400),
        ]
    )
    top = members_tar(
        [(".wh.opt", "file", 0), ("etc/.wh..wh..opq", "file", 0), ("etc/c", "file", 50), ("etc/b", "file", 7)]
    )
    analysis = merge(read_archive([classic_archive([base, top])]))
    assert sorted(r.path for r in analysis.files) == ["/etc", "/etc/b", "/etc/c"]
    assert analysis.wasted_bytes == 100 + 200 + 300 + 400
    assert [la.wasted for la in analysis.layers] == [1000, 0]
    assert (analysis.hidden[0].path, analysis.hidden[0].size, analysis.hidden[0].layer) == (
        "/opt/sub/y",
        400,
        0,
    )


def test_directory_replaced_by_a_file_hides_its_contents() -> None:
    base = members_tar([("d", "dir", 0), ("d/f", "file", 10)])
    top = members_tar([("d", "file", 5)])
    analysis = merge(read_archive([classic_archive([base, top])]))
    assert [r.path for r in analysis.files] == ["/d"]
    assert analysis.wasted_bytes == 10


def test_gzip_compressed_layer_blobs_are_read_and_sized_as_stored() -> None:
    tar = members_tar([("f", "file", 1000)])
    scan = read_archive([classic_archive([tar], gzip_layers=True)])
    assert scan.layers[0].compressed_size == len(gzip.compress(tar))
    assert [e.path for e in scan.layers[0].entries] == ["/f"]


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("a/b", "/a/b"),
        ("./a", "/a"),
        ("/abs", "/abs"),
        ("../../x", "/x"),
        ("a/../../b", "/b"),
        ("//a//b/", "/a/b"),
        (".", "/"),
        ("", "/"),
    ],
)
def test_member_names_cannot_climb_out(name: str, path: str) -> None:
    assert normalise(name) == path


def test_manifest_naming_a_missing_layer_is_an_error() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        add(tar, "manifest.json", json.dumps([{"Config": "c.json", "Layers": ["x/layer.tar"]}]).encode())
    with pytest.raises(ArchiveError, match=r"lacks layer x/layer\.tar"):
        read_archive([buffer.getvalue()])
