"""Multi-platform builds without an engine: the one-line refusal of buildx's docker driver on the
classic image store (through a stand-in docker CLI), platform lists, the layout's removal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_imagesize.engine.build import BUILDKIT_HINT, BuildSpec, failure_message
from pytest_imagesize.engine.multiplatform import (
    LAYOUT_PREFIX,
    MultiPlatformUnsupported,
    build_platforms,
    check_platforms,
    oci_export_refusal,
    remove_layout,
)
from pytest_imagesize.errors import BuildError
from tests.support.fake_engine import FakeEngine

NEEDS = (
    "it needs buildx with the containerd image store (dockerd features.containerd-snapshotter) "
    "or a docker-container builder"
)


def fake_docker(directory: Path, driver: str) -> Path:
    """A docker CLI that answers ``buildx version`` and ``buildx inspect`` with ``driver``, and
    notes any other call (a build that should not have started)."""
    calls = directory / "calls"
    script = directory / "docker"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {calls}\n'
        'case "$1 $2" in\n'
        '  "buildx version") echo "github.com/docker/buildx v0.13.1"; exit 0 ;;\n'
        f'  "buildx inspect") printf "Name:   default\\nDriver: {driver}\\n"; exit 0 ;;\n'
        "esac\n"
        "exit 1\n"
    )
    script.chmod(0o755)
    return calls


@pytest.fixture
def spec(tmp_path: Path) -> BuildSpec:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    return BuildSpec(context / "Dockerfile", context)


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the build's temporary directories go, to see that none is left."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setenv("TMPDIR", str(root))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    return root


def on_path(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")


def test_docker_driver_on_the_classic_store_is_refused_in_one_line(
    tmp_path: Path, spec: BuildSpec, temp_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_docker(tmp_path, "docker")
    on_path(monkeypatch, tmp_path)
    noted: list[tuple[str, str]] = []
    with pytest.raises(MultiPlatformUnsupported) as caught:  # a fixture skips on this one
        build_platforms(
            FakeEngine("graphdriver", version="20.10.24"),
            spec,
            ["linux/amd64", "linux/arm64"],
            record=lambda kind, value: noted.append((kind, value)),
        )
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("a multi-platform build on docker 20.10.24 (overlay2 image store)")
    assert "buildx's docker driver cannot export an OCI layout" in message
    assert NEEDS in message
    assert set(calls.read_text().splitlines()) == {"buildx version", "buildx inspect"}  # no build
    assert noted == [] and list(temp_root.iterdir()) == []  # nothing made, nothing to sweep


@pytest.mark.parametrize(
    ("store", "driver"),
    [("containerd", "docker"), ("graphdriver", "docker-container"), ("graphdriver", "kubernetes")],
)
def test_other_drivers_and_the_containerd_store_may_export(store: str, driver: str) -> None:
    info = FakeEngine(store).info()  # type: ignore[arg-type]
    assert oci_export_refusal(info, driver) is None


def test_the_refusal_names_the_classic_store_for_the_docker_driver() -> None:
    assert NEEDS in (oci_export_refusal(FakeEngine("graphdriver").info(), "docker") or "")


def test_a_missing_buildx_plugin_is_one_line(
    tmp_path: Path, spec: BuildSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "docker"
    script.write_text("#!/bin/sh\nexit 1\n")
    script.chmod(0o755)
    on_path(monkeypatch, tmp_path)
    with pytest.raises(
        BuildError, match=r"^a multi-platform build needs docker buildx: .*install docker-buildx$"
    ):
        build_platforms(FakeEngine("containerd"), spec, ["linux/amd64", "linux/arm64"])


@pytest.mark.parametrize(
    ("platforms", "message"),
    [
        ([], "give a list such as"),
        ("linux/amd64", "give a list such as"),
        (["linux"], "'linux' for .* is not os/architecture"),
        (["linux/amd64", "Linux/AMD64"], "platform linux/amd64 is named twice"),
    ],
)
def test_platform_lists_are_checked(spec: BuildSpec, platforms: object, message: str) -> None:
    with pytest.raises(BuildError, match=message):
        check_platforms(spec, platforms)  # type: ignore[arg-type]


def test_platforms_are_kept_in_order() -> None:
    spec = BuildSpec(Path("/x/Dockerfile"), Path("/x"))
    assert check_platforms(spec, [" linux/arm64", "linux/amd64", "linux/arm/v7"]) == (
        "linux/arm64",
        "linux/amd64",
        "linux/arm/v7",
    )


def test_remove_layout_removes_only_ours(tmp_path: Path) -> None:
    ours = tmp_path / f"{LAYOUT_PREFIX}abc"
    (ours / "blobs").mkdir(parents=True)
    other = tmp_path / "my-layout"
    other.mkdir()
    remove_layout(ours)
    remove_layout(other)
    assert not ours.exists()
    assert other.exists()


def test_the_classic_builders_empty_buildplatform_points_at_buildkit() -> None:
    spec = BuildSpec(Path("/p/Dockerfile"), Path("/p"))
    said = 'failed to parse platform : "" is an invalid OS component of "": OSAndVersion specifier'
    step = "FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build"
    head = failure_message(spec, said, [], step)
    assert head == (
        f"build of /p/Dockerfile (context /p) failed at `{step}`: "
        'failed to parse platform : "": the classic builder sets no BUILDPLATFORM' + BUILDKIT_HINT
    )
