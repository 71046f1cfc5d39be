"""Measuring images through the fake engine: portable sizes on every image store, when the
archive is read (never, once, or not again with a warm cache), compressed sizes of stored blobs,
waste, ``Image.find`` and what the ``Image`` attributes hand out."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from pytest_imagesize.engine.protocol import Engine, ImageStore
from pytest_imagesize.errors import ImageNotFound, ImageSizeError
from pytest_imagesize.measure.cache import DirectoryCache
from pytest_imagesize.measure.image import Image, layers_from_history, measure_image

from ..support.fake_engine import Compression, FakeEngine, FakeImage, compress, measured

STORES: list[ImageStore] = ["graphdriver", "containerd", "podman"]
OTHER_STORES: list[ImageStore] = ["containerd", "podman"]

TARGET = "../lib/ünïcode"  # 16 bytes in UTF-8, 14 characters


def links_image(**kwargs: object) -> FakeImage:
    """Two layers: 1,000 + 3 + 0 + 16 = 1,019 bytes, and 500 + 4 = 504 bytes."""
    return FakeImage.from_layers(
        [
            {
                "bin/app": b"a" * 1000,
                "bin/sh": ("symlink", "app"),  # 3 bytes
                "bin/hard": ("hardlink", "bin/app"),  # 0 bytes
                "lib/uni": ("symlink", TARGET),  # 16 bytes
                "etc": ("dir",),
            },
            {"data/blob": b"b" * 500, "data/link": ("symlink", "blob")},
        ],
        tags=["app:1"],
        created_by=["COPY app /bin/app", "RUN /bin/sh -c make data"],
        **kwargs,  # type: ignore[arg-type]
    )


def test_the_fake_engine_is_an_engine() -> None:
    engine: Engine = FakeEngine()  # mypy checks the protocol here
    assert engine.info().size_is_portable
    assert not FakeEngine("containerd").info().size_is_portable
    assert FakeEngine("podman").info().name == "podman"


@pytest.mark.parametrize("store", STORES)
def test_portable_size_counts_file_bytes_and_symlink_targets(store: ImageStore) -> None:
    assert len(TARGET.encode()) == 16 and len(TARGET) == 14
    image, _ = measured(links_image(), store)
    assert [layer.size for layer in image.layers] == [1019, 504]
    assert image.size == 1523
    hard = image.files.get("/bin/hard")
    assert hard is not None and (hard.kind, hard.size, hard.link) == ("hardlink", 0, "/bin/app")
    assert image.analysis().written == 1_500  # the two regular files
    if store != "graphdriver":
        assert image.engine_size != image.size  # the store's own number is not the portable one


@pytest.mark.parametrize("compression", ["tar", "gzip", "zstd"])
@pytest.mark.parametrize("layout", ["classic", "oci"])
def test_sizes_agree_across_image_stores_layouts_and_blob_compression(layout: str, compression: str) -> None:
    results = set()
    for store in STORES:
        image, _ = measured(links_image(layout=layout, compression=compression), store)
        results.add((image.size, tuple(layer.size for layer in image.layers), image.wasted_bytes))
    assert results == {(1523, (1019, 504), 0)}


def test_graphdriver_fast_path_reads_no_archive() -> None:
    image, engine = measured(links_image())
    assert image.size == 1523
    assert [layer.size for layer in image.layers] == [1019, 504]
    assert image.layer_count == 2
    assert [layer.instruction for layer in image.layers] == ["COPY app /bin/app", "RUN make data"]
    assert engine.saves[image.id] == 0
    assert not image.analysed
    assert image.compressed_size > 0  # needs the archive
    assert engine.saves[image.id] == 1
    assert image.wasted_bytes == 0 and image.has_file("/bin/app")
    assert engine.saves[image.id] == 1


@pytest.mark.parametrize("store", OTHER_STORES)
def test_other_stores_read_the_archive_once_per_image(store: ImageStore) -> None:
    image, engine = measured(links_image(), store)
    assert engine.saves[image.id] == 0  # measuring is inspect + history only
    assert image.size == 1523
    assert engine.saves[image.id] == 1
    _ = (image.layers, image.compressed_size, image.files, image.wasted_bytes, image.efficiency)
    _ = (image.find("**"), image.has_file("/etc"), image.size)
    assert engine.saves[image.id] == 1


@pytest.mark.parametrize("store", STORES)
def test_a_warm_directory_cache_reads_no_archive(store: ImageStore, tmp_path: Path) -> None:
    fake = links_image()
    engine = FakeEngine(store, [fake])
    first = Image.measure(engine, "app:1", "app", DirectoryCache(tmp_path))
    wanted = (first.size, first.compressed_size, first.wasted_bytes, sorted(r.path for r in first.files))
    assert engine.saves[fake.id] == 1
    # a second session (new Image, new cache object, same directory): nothing is read
    second = Image.measure(engine, "app:1", "other-name", DirectoryCache(tmp_path))
    again = (second.size, second.compressed_size, second.wasted_bytes, sorted(r.path for r in second.files))
    assert again == wanted
    assert [la.compressed_size for la in second.layers] == [la.compressed_size for la in first.layers]
    assert engine.saves[fake.id] == 1
    # without the cache it is read again
    third = Image.measure(engine, "app:1", "app", DirectoryCache(tmp_path / "empty"))
    assert third.compressed_size == wanted[1]
    assert engine.saves[fake.id] == 2


def test_a_damaged_cache_entry_is_analysed_again(tmp_path: Path) -> None:
    fake = links_image()
    engine = FakeEngine("containerd", [fake])
    assert Image.measure(engine, "app:1", "app", DirectoryCache(tmp_path)).size == 1523
    entries = list(tmp_path.glob("*/*.json"))
    assert entries
    for entry in entries:
        entry.write_text("{ damaged")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert Image.measure(engine, "app:1", "app", DirectoryCache(tmp_path)).size == 1523
    assert engine.saves[fake.id] == 2
    assert any("damaged" in str(w.message) for w in caught)


def test_the_cache_is_keyed_by_image_id_not_name(tmp_path: Path) -> None:
    small = FakeImage.from_layers([{"f": b"1" * 10}], tags=["a:1"])
    big = FakeImage.from_layers([{"f": b"2" * 20}], tags=["b:1"])
    engine = FakeEngine("podman", [small, big])
    assert Image.measure(engine, "a:1", "same", DirectoryCache(tmp_path)).size == 10
    assert Image.measure(engine, "b:1", "same", DirectoryCache(tmp_path)).size == 20
    assert engine.saves == {small.id: 1, big.id: 1}


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
@pytest.mark.parametrize("layout", ["classic", "oci"])
def test_compressed_blobs_count_at_their_stored_size(compression: str, layout: str) -> None:
    fake = links_image(compression=compression, layout=layout)
    image, _ = measured(fake)
    stored = [len(layer.blob) for layer in fake.layers]
    assert image.compressed_size == sum(stored)
    assert [layer.compressed_size for layer in image.layers] == stored
    other: Compression = "zstd" if compression == "gzip" else "gzip"
    assert sum(stored) != sum(len(compress(layer.tar, other)) for layer in fake.layers)


def test_plain_layer_tars_are_sized_as_gzip() -> None:
    fake = FakeImage.from_layers([{"text": b"0123456789abcdef" * 4000, "rand": bytes(range(256)) * 40}])
    image, _ = measured(fake)
    tar = fake.layers[0].tar
    reference = len(compress(tar, "gzip"))
    assert image.compressed_size < len(tar) // 10
    assert abs(image.compressed_size - reference) <= reference * 0.1


def waste_image() -> FakeImage:
    return FakeImage.from_layers(
        [
            {
                "a": b"1" * 1000,
                "dir/x": b"2" * 300,
                "dir/y": b"3" * 200,
                "keep": b"4" * 100,
                "same": b"5" * 7,
            },
            {"a": ("whiteout",), "dir": ("opaque",), "dir/z": b"6" * 50},
            {"keep": b"7" * 400, "same": b"5" * 7},
        ]
    )


@pytest.mark.parametrize("store", STORES)
def test_waste_counts_each_hidden_copy_once(store: ImageStore) -> None:
    image, _ = measured(waste_image(), store)
    # hidden: /a (whiteout), /dir/x and /dir/y (opaque), /keep and /same (overwritten)
    assert image.wasted_bytes == 1000 + 300 + 200 + 100 + 7
    written = 1607 + 50 + 407
    assert image.efficiency == pytest.approx(1 - 1607 / written)
    assert [stats.wasted for stats in image.analysis().layers] == [1607, 0, 0]
    files = image.files
    assert not image.has_file("/a") and "/dir/x" not in files and "/dir/y" not in files
    assert image.has_file("/dir") and image.has_file("/dir/z")
    keep = files.get("/keep")
    assert keep is not None and (keep.size, keep.layer) == (400, 2)
    hidden = image.analysis().hidden
    assert [(h.path, h.size, h.layer) for h in hidden[:2]] == [("/a", 1000, 0), ("/dir/x", 300, 0)]
    assert image.size == 1607 + 50 + 407  # whiteouts and opaque markers are empty files


def test_a_file_replacing_a_directory_hides_its_contents() -> None:
    image, _ = measured(FakeImage.from_layers([{"d/one": b"x" * 10, "d/sub/two": b"y" * 20}, {"d": b"z"}]))
    assert image.wasted_bytes == 30
    assert image.find("/d/**") == ["/d"]


def test_an_image_that_writes_nothing_is_fully_efficient() -> None:
    image, _ = measured(FakeImage.from_layers([{"etc": ("dir",)}]))
    assert (image.size, image.wasted_bytes, image.efficiency) == (0, 0, 1.0)
    assert image.layer_count == 1


GLOB_FILES: dict[str, bytes | tuple[str, ...]] = {
    "busybox": b"root",
    "bin/busybox": b"bin",
    "usr/bin/busybox": b"usr",
    "usr/bin/busybox.static": b"s",
    "usr/lib/.hidden": b"h",
    "usr/lib/libc.so.6": b"c",
    "usr/lib/libm.so.6": b"m",
    "usr/.config/busybox": b"dot",
    "etc/passwd": b"p",
    "etc/a\nb": b"newline",
    "etc/[x]": b"brackets",
}


@pytest.fixture(scope="module")
def globbed() -> Image:
    image, _ = measured(FakeImage.from_layers([GLOB_FILES]), "containerd")
    return image


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("**/busybox", ["/bin/busybox", "/busybox", "/usr/.config/busybox", "/usr/bin/busybox"]),
        ("/**/busybox", ["/bin/busybox", "/busybox", "/usr/.config/busybox", "/usr/bin/busybox"]),
        ("/usr/**/busybox", ["/usr/.config/busybox", "/usr/bin/busybox"]),
        ("/*/busybox", ["/bin/busybox"]),
        ("/usr/*/busybox", ["/usr/.config/busybox", "/usr/bin/busybox"]),
        ("/busybox", ["/busybox"]),
        ("/u*", ["/usr"]),  # * stays within one name
        ("/usr/bin/busybox*", ["/usr/bin/busybox", "/usr/bin/busybox.static"]),
        ("/usr/lib/*", ["/usr/lib/.hidden", "/usr/lib/libc.so.6", "/usr/lib/libm.so.6"]),
        ("**/.hidden", ["/usr/lib/.hidden"]),
        ("/usr/lib/lib?.so.6", ["/usr/lib/libc.so.6", "/usr/lib/libm.so.6"]),
        ("/usr/lib/lib[c].so.[0-9]", ["/usr/lib/libc.so.6"]),
        ("/usr/lib/lib[!c].so.6", ["/usr/lib/libm.so.6"]),
        ("/etc/a*", ["/etc/a\nb"]),
        ("/etc/a?b", ["/etc/a\nb"]),
        ("**/a\nb", ["/etc/a\nb"]),
        ("/etc/pass", []),
        ("/etc/passw?d", []),
        ("**/sh", []),
    ],
)
def test_find_glob_semantics(globbed: Image, pattern: str, expected: list[str]) -> None:
    assert globbed.find(pattern) == expected


def test_a_bracket_inside_a_bracket_expression_matches_literally(globbed: Image) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert globbed.find("/etc/[[]x]") == ["/etc/[x]"]


def test_find_double_star_alone_lists_everything(globbed: Image) -> None:
    everything = globbed.find("**")
    assert len(everything) == len(globbed.files)
    assert "/etc/a\nb" in everything and "/usr" in everything


def test_reading_compressed_size_does_not_rewrite_a_held_layer_list() -> None:
    image, engine = measured(links_image())
    held = image.layers
    before = list(held)
    assert all(layer.compressed_size is None for layer in held)
    assert image.compressed_size > 0
    assert engine.saves[image.id] == 1
    assert held == before and all(layer.compressed_size is None for layer in held)
    fresh = image.layers
    assert all(layer.compressed_size for layer in fresh)
    assert [layer.size for layer in fresh] == [layer.size for layer in held]
    held.clear()  # the caller's list is the caller's
    assert image.layer_count == 2 and len(image.layers) == 2


def test_config_and_tags_come_from_inspect() -> None:
    fake = FakeImage.from_layers(
        [{"app": b"x"}],
        tags=["app:1", "app:latest"],
        user="65532",
        entrypoint=["/app"],
        cmd=["serve"],
        labels={"org.opencontainers.image.title": "app"},
        workdir="/srv",
        exposed_ports=["8080/tcp"],
    )
    image, engine = measured(fake)
    assert image.tags == ["app:1", "app:latest"]
    assert image.config.user == "65532"
    assert image.config.entrypoint == ("/app",) and image.config.cmd == ("serve",)
    assert image.config.labels == {"org.opencontainers.image.title": "app"}
    assert image.config.workdir == "/srv" and image.config.exposed_ports == ("8080/tcp",)
    assert image.id.startswith("sha256:") and image.short_id == image.id[7:19]
    assert image.label == f"app ({image.short_id})"
    assert image.read_file("/app") == b"x"
    assert engine.saves[image.id] == 0


def test_history_metadata_entries_make_no_layer() -> None:
    fake = FakeImage.from_layers(
        [{"a": b"x" * 5}, {"etc": ("dir",)}, {"b": b"y" * 7}],
        created_by=["COPY a /a", "RUN /bin/sh -c mkdir /etc", "COPY b /b"],
        metadata=["/bin/sh -c #(nop)  ENV A=1", '/bin/sh -c #(nop)  CMD ["/b"]'],
    )
    image, engine = measured(fake)
    assert [(la.index, la.size, la.instruction) for la in image.layers] == [
        (0, 5, "COPY a /a"),
        (1, 0, "RUN mkdir /etc"),
        (2, 7, "COPY b /b"),
    ]
    assert [la.diff_id for la in image.layers] == [layer.diff_id for layer in fake.layers]
    assert engine.saves[image.id] == 0


def test_history_pairs_sized_entries_and_skips_metadata() -> None:
    history = [  # newest first, as the engine returns it
        {"CreatedBy": '/bin/sh -c #(nop)  CMD ["/app"]', "Size": 0},
        {"CreatedBy": "/bin/sh -c #(nop) COPY file:abc in /app ", "Size": 5000},
        {"CreatedBy": "/bin/sh -c #(nop)  ENV A=b", "Size": 0},
        {"CreatedBy": "/bin/sh -c #(nop) ADD file:def in / ", "Size": 100},
    ]
    layers = layers_from_history(history, ["sha256:a", "sha256:b"])
    assert [(la.size, la.instruction) for la in layers] == [
        (100, "ADD file:def in /"),
        (5000, "COPY file:abc in /app"),
    ]


def test_history_counts_an_empty_run_layer_when_the_layer_count_says_so() -> None:
    history = [
        {"CreatedBy": "/bin/sh -c true", "Size": 0},
        {"CreatedBy": "/bin/sh -c #(nop) ADD file:def in / ", "Size": 100},
    ]
    assert [la.size for la in layers_from_history(history, ["sha256:a", "sha256:b"])] == [100, 0]
    assert [la.size for la in layers_from_history(history, ["sha256:a"])] == [100]


def test_missing_image_is_image_not_found() -> None:
    with pytest.raises(ImageNotFound, match="nope:1"):
        Image.measure(FakeEngine(), "nope:1")


def test_an_image_gone_before_its_archive_is_read_names_the_image() -> None:
    image, engine = measured(links_image(), "containerd")
    engine.images.clear()
    with pytest.raises(ImageNotFound) as info:
        _ = image.size
    assert str(info.value).startswith(f"image {image.label} ")
    assert "\n" not in str(info.value)


def test_an_image_without_engine_cannot_be_analysed() -> None:
    image, _ = measured(links_image(), "containerd")
    copy = Image.from_wire(image.to_wire())
    with pytest.raises(ImageSizeError, match="without an engine connection"):
        _ = copy.compressed_size


def test_measure_image_takes_an_engine(tmp_path: Path) -> None:
    fake = links_image()
    engine = FakeEngine("podman", [fake])
    image = measure_image("app:1", engine, DirectoryCache(tmp_path), name="cli")
    assert (image.name, image.size, engine.saves[fake.id]) == ("cli", 1523, 1)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "/var/run/docker.sock"),
        ({"DOCKER_HOST": "unix:///run/user/1000/podman/podman.sock"}, "/run/user/1000/podman/podman.sock"),
        ({"DOCKER_HOST": "tcp://127.0.0.1:2375"}, None),
        ({"DOCKER_HOST": "ssh://me@host"}, None),
        ({"DOCKER_HOST": "unix:///var/run/docker.sock", "DOCKER_TLS_VERIFY": "1"}, None),
        ({"DOCKER_CERT_PATH": "/certs"}, None),
        ({"DOCKER_HOST": "unix://"}, None),
    ],
)
def test_the_quick_engine_takes_only_a_plain_unix_socket(
    environ: dict[str, str], expected: str | None
) -> None:
    from pytest_imagesize.engine.quick import socket_path

    assert socket_path(environ) == expected
