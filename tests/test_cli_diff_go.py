"""`pytest-imagesize diff` and `pytest-imagesize go` against images on the real engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from .go.gobuild import find_toolchains

pytestmark = pytest.mark.engine

OLD, NEW, SAME, GO = (f"pytest-imagesize-test/diff-{n}:1" for n in ("old", "new", "same", "go"))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_imagesize.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def images(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """OLD: /a (3,000 B); NEW: /a grown to 5,000 B and a new /extra/b; SAME: OLD's files, another
    content (same size: a content change)."""
    made = []
    for ref, files in (
        (OLD, {"a": os.urandom(3000)}),
        (NEW, {"a": os.urandom(5000), "b": os.urandom(1000)}),
        (SAME, {"a": os.urandom(3000)}),
    ):
        directory = tmp_path_factory.mktemp("diff")
        lines = ["FROM scratch"]
        for name, data in files.items():
            (directory / name).write_bytes(data)
            lines.append(f"COPY {name} /{'extra/' if name == 'b' else ''}{name}")
        (directory / "Dockerfile").write_text("\n".join(lines) + "\n")
        image, _ = docker_client.images.build(path=str(directory), tag=ref, rm=True, forcerm=True)
        made.append(str(image.id))
    yield
    for image_id in made:
        docker_client.images.remove(image_id, force=True)


def test_diff_of_two_images_names_what_moved(images: None) -> None:
    result = cli("diff", NEW, OLD, "--json")
    assert result.returncode == 1, result.stderr  # something changed
    data = json.loads(result.stdout)
    assert data["size"] == {"a": 3000, "b": 6000, "delta": 3000}
    files = {f["path"]: f for f in data["files"]}
    assert files["/a"]["status"] == "grown" and files["/a"]["delta"] == 2000
    assert files["/extra/b"]["status"] == "added" and files["/extra/b"]["a"] is None
    assert {layer["status"] for layer in data["layers"]} == {"added", "removed"}
    assert any(d["path"] == "/extra" and d["delta"] == 1000 for d in data["dirs"])
    text = cli("diff", NEW, OLD)
    assert text.returncode == 1
    assert "/extra/b (new)" in text.stdout and "size" in text.stdout


def test_diff_exit_status_and_same_size_content_change(images: None) -> None:
    assert cli("diff", OLD, OLD).returncode == 0
    same = cli("diff", SAME, OLD, "--json")
    assert same.returncode == 1  # same size, another diff ID: a change
    data = json.loads(same.stdout)
    assert data["size"]["delta"] == 0
    assert sorted(layer["status"] for layer in data["layers"]) == ["added", "removed"]


def test_diff_against_a_baseline_entry_and_bad_input(images: None, tmp_path: Path) -> None:
    baseline = tmp_path / "image-sizes.json"
    baseline.write_text(
        json.dumps({"version": 2, "images": {"app": {"size": 3000, "compressed_size": None, "layers": []}}})
    )
    before = baseline.read_bytes()
    result = cli("diff", NEW, "--baseline", str(baseline), "--name", "app", "--json")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["size"] == {"a": 3000, "b": 6000, "delta": 3000}
    for args, says in (
        (("diff", NEW, "--baseline", str(baseline), "--name", "nope"), "has no entry 'nope' (entries: app)"),
        (("diff", "pytest-imagesize-test/no-such:1", OLD), "is not present on the engine"),
        (("diff", NEW, "--baseline", str(tmp_path / "missing.json")), "no such file"),
    ):
        bad = cli(*args)
        assert bad.returncode == 2, bad.stdout
        assert len(bad.stderr.strip().splitlines()) == 1 and says in bad.stderr, bad.stderr
    assert cli("diff", NEW).returncode == 2  # usage: neither OLD nor --baseline
    assert baseline.read_bytes() == before  # nothing rewritten


@pytest.fixture(scope="module")
def go_image(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Go binary (Debian's gofmt, Go 1.19) on scratch, next to a file that is not one."""
    tc = find_toolchains()
    if tc.go119 is None:
        pytest.fail(f"no Go 1.19 toolchain for a real Go binary: {tc.why}")
    directory = tmp_path_factory.mktemp("go")
    shutil.copy(Path(tc.go119) / "bin" / "gofmt", directory / "gofmt")
    (directory / "notes.txt").write_text("not a binary\n")
    (directory / "Dockerfile").write_text(
        "FROM scratch\nCOPY gofmt /usr/bin/gofmt\nCOPY notes.txt /notes.txt\n"
    )
    image, _ = docker_client.images.build(path=str(directory), tag=GO, rm=True, forcerm=True)
    yield GO
    docker_client.images.remove(str(image.id), force=True)


def test_go_command_lists_the_binary_and_its_modules(go_image: str) -> None:
    data = json.loads(cli("go", go_image, "--json").stdout)
    assert data["image"] == go_image
    (binary,) = data["binaries"]
    assert binary["path"] == "/usr/bin/gofmt" and binary["go_version"].startswith("go1.19")
    assert binary["modules"][0]["path"] == "std"  # the largest module of gofmt
    parts = (
        sum(p["size"] for p in binary["packages"]) + sum(binary["other"].values()) + binary["unattributed"]
    )
    assert parts == binary["size"]  # every byte lands in a bucket
    text = cli("go", go_image, "--top", "2")
    assert text.returncode == 0
    assert "/usr/bin/gofmt" in text.stdout and "module std" in text.stdout
    assert len([line for line in text.stdout.splitlines() if "package " in line]) == 2
