"""Deep analysis on the real engine: files, whiteouts, wasted bytes, compressed sizes, cache."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import docker
import pytest

pytestmark = pytest.mark.engine


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_overwritten_file_is_wasted_once(pytester: pytest.Pytester) -> None:
    write(pytester.path / "a", os.urandom(1000))
    write(pytester.path / "b", os.urandom(2000))
    (pytester.path / "Dockerfile").write_text("FROM scratch\nCOPY a /data/a\nCOPY b /data/a\n")
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image
        app = build_image("Dockerfile")

        def test_numbers(app):
            assert app.wasted_bytes == 1000
            assert app.efficiency == pytest.approx(1 - 1000 / 3000)
            assert app.has_file("/data/a") and app.has_file("data/a")
            assert app.files.get("/data/a").size == 2000
            assert app.files.get("/data/a").layer == 1
            assert app.find("/data/*") == ["/data/a"]
            assert app.read_file("/data/a") == open("b", "rb").read()

        @pytest.mark.max_wasted_bytes(1000)
        def test_waste_limit_equal(app):
            pass

        @pytest.mark.max_wasted_bytes(999)
        def test_waste_limit_below(app):
            pass

        @pytest.mark.min_image_efficiency(0.66)
        def test_efficiency_ok(app):
            pass

        @pytest.mark.min_image_efficiency(0.67)
        def test_efficiency_too_low(app):
            pass
        """
    )
    result = pytester.runpytest("--image-report=layers")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*image app (*) wasted bytes is 1,000 B (1 KB), over the limit of 999 B*",
            "*image app (*) has efficiency 0.6667, below @pytest.mark.min_image_efficiency(0.67)'s 0.6700*",
            "app (*): 2 layers, efficiency 0.6667",
            "*top wasted files*",
            "*1 KB  /data/a",
        ]
    )


def test_deleted_file_and_opaque_directory(pytester: pytest.Pytester, busybox_image: str) -> None:
    write(pytester.path / "a", os.urandom(1000))
    write(pytester.path / "dir" / "x", os.urandom(500))
    write(pytester.path / "dir" / "y", os.urandom(700))
    (pytester.path / "Dockerfile").write_text(
        f"FROM {busybox_image}\n"
        "COPY a /data/a\n"
        "COPY dir/ /tree/\n"
        "RUN rm /data/a\n"
        "RUN rm -rf /tree && mkdir /tree && echo hi > /tree/new\n"
    )
    pytester.makepyfile(
        """
        import os
        from pytest_imagesize import build_image
        app = build_image("Dockerfile")

        def test_numbers(app):
            busybox = os.path.getsize("/bin/busybox")
            assert app.wasted_bytes == 1000 + 500 + 700
            assert not app.has_file("/data/a")
            assert app.has_file("/data")
            assert app.find("/tree/*") == ["/tree/new"]
            assert app.has_file("/bin/sh") and app.files.get("/bin/sh").kind == "symlink"
            written = busybox + 1000 + 1200 + 3  # "hi\\n"
            assert app.analysis().written == written
            # each layer's instruction, paired through the image config's history
            ins = [la.instruction for la in app.layers]
            assert ins[1].startswith("COPY") and ins[1].endswith(" /data/a")
            assert ins[2].startswith("COPY") and ins[2].endswith(" /tree/")
            assert ins[3:] == ["RUN rm /data/a", "RUN rm -rf /tree && mkdir /tree && echo hi > /tree/new"]
            assert app.efficiency == 1 - 2200 / written
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_compressed_size_follows_compressibility(pytester: pytest.Pytester) -> None:
    write(pytester.path / "random" / "blob", os.urandom(200_000))
    write(pytester.path / "text" / "blob", b"hello world, hello layers\n" * 10_000)
    for sub in ("random", "text"):
        (pytester.path / sub / "Dockerfile").write_text("FROM scratch\nCOPY blob /blob\n")
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image
        noise = build_image("random/Dockerfile")
        text = build_image("text/Dockerfile")

        def test_sizes(noise, text):
            assert noise.compressed_size >= 200_000
            assert text.size >= 260_000
            assert text.compressed_size < 5_000
            assert text.layers[0].compressed_size == text.compressed_size

        @pytest.mark.max_image_size("5kB", compressed=True, image="text")
        @pytest.mark.max_image_size("5kB", image="text")
        def test_compressed_limit(text):
            pass
        """
    )
    result = pytester.runpytest("--image-report-json=r.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*image text (*) size is *, over the limit of 5,000 B*"])
    data = json.loads((pytester.path / "r.json").read_text())
    text = next(i for i in data["images"] if i["name"] == "text")
    assert 0 < text["compressed_size"] < 5_000
    assert text["layers"][0]["compressed_size"] == text["compressed_size"]
    assert text["wasted_bytes"] == 0 and text["efficiency"] == 1.0
    checks = {(c["compressed"], c["outcome"]) for c in data["checks"]}
    assert checks == {(True, "passed"), (False, "failed")}


def _saves(client: docker.DockerClient, image_id: str, since: float) -> int:
    """How many times the engine exported ``image_id`` since ``since`` (its "image save" events)."""
    time.sleep(1.1)  # event times have whole-second filters
    events = client.api.events(
        since=int(since), until=int(time.time()) + 1, decode=True, filters={"type": "image", "event": "save"}
    )
    return sum(1 for event in events if event.get("id") == image_id)


@pytest.mark.docker_only(reason="counts Docker's image save events")
def test_plain_size_check_never_reads_the_archive_and_results_are_cached(
    pytester: pytest.Pytester, docker_client: docker.DockerClient
) -> None:
    """Where the engine's own size is the portable one (Docker's graph-driver store) a plain size
    check reads no archive; elsewhere (the containerd image store) the size comes from the archive,
    read exactly once for the image ID. Either way, once read, the analysis is cached by image ID:
    later runs over the same image read nothing, whatever they ask for."""
    write(pytester.path / "blob", os.urandom(50_000))
    (pytester.path / "Dockerfile").write_text("FROM scratch\nCOPY blob /blob\n")
    built = """
        import pytest
        from pytest_imagesize import build_image
        app = build_image("Dockerfile")

        @pytest.mark.max_image_size("1MB")
        def test_app(app):
            pass
        """
    start = time.time() - 1
    pytester.makepyfile(test_plain=built)
    pytester.runpytest("--image-keep", "--image-report-json=r1.json").assert_outcomes(passed=1)
    report = json.loads((pytester.path / "r1.json").read_text())
    image_id = report["images"][0]["id"]
    portable = report["engine"]["image_store"] == "graphdriver"
    kept = docker_client.images.get(image_id)
    tag = next(t for t in kept.tags if t.startswith("pytest-imagesize/app:"))
    try:
        assert report["images"][0]["size"] == 50_000
        # graph driver: the engine's number, no archive; containerd store: one archive read
        assert _saves(docker_client, image_id, start) == (0 if portable else 1)
        assert (report["images"][0]["compressed_size"] is None) == portable

        # The same image ID in later runs (named by its tag: a rebuild may give another ID,
        # e.g. BuildKit's provenance attestation on the containerd store changes it every build).
        existing = """
            import pytest
            from pytest_imagesize import existing_image
            app = existing_image("{tag}")

            @pytest.mark.max_image_size("1MB"{extra})
            def test_app(app):
                pass
            """
        pytester.makepyfile(test_plain=existing.format(tag=tag, extra=", compressed=True"))
        pytester.runpytest("--image-report-json=r2.json").assert_outcomes(passed=1)
        assert json.loads((pytester.path / "r2.json").read_text())["images"][0]["id"] == image_id
        assert _saves(docker_client, image_id, start) == 1  # read now (graph driver), or cached

        pytester.makepyfile(test_plain=existing.format(tag=tag, extra=""))
        pytester.runpytest().assert_outcomes(passed=1)  # same image ID: the cache answers
        pytester.makepyfile(test_plain=existing.format(tag=tag, extra=", compressed=True"))
        pytester.runpytest().assert_outcomes(passed=1)
        assert _saves(docker_client, image_id, start) == 1
    finally:
        docker_client.images.remove(tag, noprune=True)
        # the classic builder leaves an intermediate image (BuildKit none): no longer known to be
        # the plugin's once the run that built it is over, so this test removes it
        parent = str(kept.attrs.get("Parent") or "")
        if parent:
            with contextlib.suppress(docker.errors.NotFound):
                docker_client.images.remove(parent)
