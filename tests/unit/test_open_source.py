"""Image references as skopeo spells its transports: PATH and REF split at the first colon, plain
names left to the engine, the registry's source loaded only when named."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.open import open_source, split_reference
from pytest_imagesize.sources.refs import normal_name


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("oci:build/oci", ("oci", "build/oci", None)),
        ("oci:build/oci:app", ("oci", "build/oci", "app")),
        ("oci:build/oci:app:1.4", ("oci", "build/oci", "app:1.4")),  # the ref keeps its colons
        ("oci:/abs/dir:", ("oci", "/abs/dir", None)),
        ("oci:dir:@1", ("oci", "dir", "@1")),
        ("oci-archive:app.tar", ("oci-archive", "app.tar", None)),
        ("oci-archive:out/app.tar:latest", ("oci-archive", "out/app.tar", "latest")),
        (
            "docker-archive:app.tar:registry.test:5000/app:2",
            ("docker-archive", "app.tar", "registry.test:5000/app:2"),
        ),
    ],
)
def test_split_at_the_first_colon(text: str, parts: tuple[str, str, str | None]) -> None:
    assert split_reference(text) == parts


@pytest.mark.parametrize(
    "text", ["app:1", "registry.test:5000/app:2", "sha256:" + "a" * 64, "ocifoo:x", "docker:x"]
)
def test_plain_names_are_the_engines(text: str) -> None:
    assert split_reference(text) is None
    assert open_source(text) is None


def test_a_transport_without_a_path() -> None:
    with pytest.raises(SourceError, match=r"^'oci-archive:' names no path: write it as oci-archive:PATH"):
        open_source("oci-archive:")


def test_paths_that_are_not_there(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist: pass the directory"):
        open_source(f"oci:{tmp_path / 'nope'}")
    with pytest.raises(SourceError, match="does not exist: pass the file"):
        open_source(f"docker-archive:{tmp_path / 'nope.tar'}:app:1")


def test_registry_source_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pytest_imagesize.sources.registry.source", None)  # import fails
    with pytest.raises(
        SourceError, match=r"^cannot read docker://registry.test/app:1: the registry source is"
    ):
        open_source("docker://registry.test/app:1")


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("app", "docker.io/library/app:latest"),
        ("app:1", "docker.io/library/app:1"),
        ("docker.io/app:1", "docker.io/library/app:1"),
        ("index.docker.io/team/app", "docker.io/team/app:latest"),
        ("localhost/app", "localhost/app:latest"),
        ("registry.test:5000/app", "registry.test:5000/app:latest"),
        ("registry.test:5000/app:2", "registry.test:5000/app:2"),
        ("team/app:1", "docker.io/team/app:1"),
    ],
)
def test_names_normalised_as_docker_does(name: str, normal: str) -> None:
    assert normal_name(name) == normal
