"""The CLI on image sources (through the in-memory fake source in place of ``open_source``): the
platform chosen for an index and said, ``--platform``, ``--all-platforms`` (a row each), checks of
compressed sizes that read no blob, ``diff`` paired by platform, clean stdout for ``--json``, and
usage errors in one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_imagesize import cli
from pytest_imagesize.measure import stored, targets
from pytest_imagesize.measure.targets import Options, open_side, pair_sides
from pytest_imagesize.sources.model import ImageSource
from pytest_imagesize.sources.platforms import Platform, PlatformError

from ..support.fake_engine import FakeEngine, FakeImage
from ..support.fake_source import FakeSource
from .test_measure_source import AMD64, ARM64, app

S390X = Platform.parse("linux/s390x")


@pytest.fixture
def sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, FakeSource]:
    """Fake sources by reference, in place of the real ones; the host is linux/amd64."""
    made: dict[str, FakeSource] = {}
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def fake_open(text: str, registry_options: object = None) -> ImageSource | None:
        if text in made:
            return made[text]
        if text.startswith(("oci:", "docker://")):
            from pytest_imagesize.sources.model import SourceError

            raise SourceError(f"{text}: not found")
        return None

    monkeypatch.setattr(targets, "open_source", fake_open)
    monkeypatch.setattr(targets, "host_platform", lambda: AMD64)
    monkeypatch.setattr(stored, "open_source", fake_open)  # the CLI's check from the manifests
    monkeypatch.setattr(stored, "host_platform", lambda: AMD64)
    return made


def index_of(*platforms: Platform, reference: str) -> FakeSource:
    return FakeSource(
        [(p, app(extra=b"x" * (10 * (i + 1)), seed=i)) for i, p in enumerate(platforms)],
        index=True,
        reference=reference,
    )


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def call(*args: str) -> tuple[int, str, str]:
        status = cli.main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return call


def test_an_index_is_measured_for_this_machine_and_says_so(sources: dict[str, FakeSource], run: Run) -> None:
    sources["oci:app"] = index_of(AMD64, ARM64, reference="oci:app")
    status, out, err = run("inspect", "oci:app", "--no-cache")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "linux/amd64 of 2 platforms: linux/amd64, linux/arm64"
    assert any("oci:app[linux/amd64]" in line for line in lines[1:])
    assert not any("linux/arm64" in line for line in lines[1:])
    assert err == ""  # stderr is no terminal here: no progress


def test_platform_and_all_platforms(sources: dict[str, FakeSource], run: Run) -> None:
    sources["oci:app"] = index_of(AMD64, ARM64, reference="oci:app")
    status, out, _ = run("inspect", "oci:app", "--platform", "linux/arm64/v8", "--no-cache")
    assert status == 0 and "of 2 platforms" not in out
    assert "oci:app[linux/arm64]" in out and "linux/amd64" not in out
    status, out, _ = run("inspect", "oci:app", "--all-platforms", "--no-cache")
    assert status == 0 and "oci:app[linux/amd64]" in out and "oci:app[linux/arm64]" in out


def test_json_of_every_platform_is_clean(sources: dict[str, FakeSource], run: Run) -> None:
    sources["oci:app"] = index_of(AMD64, ARM64, reference="oci:app")
    status, out, err = run("inspect", "oci:app", "--all-platforms", "--json", "--no-cache")
    assert status == 0 and err == ""
    entries = json.loads(out)
    assert [(e["platform"], e["source"]) for e in entries] == [("linux/amd64", "oci"), ("linux/arm64", "oci")]
    assert [e["size"] for e in entries] == [3003 + 2010, 3003 + 2020]
    status, out, _ = run("inspect", "oci:app", "--json", "--no-cache")
    assert json.loads(out)["platform"] == "linux/amd64"


def test_check_of_compressed_sizes_reads_no_blob(sources: dict[str, FakeSource], run: Run) -> None:
    source = sources["oci:app"] = index_of(AMD64, ARM64, reference="oci:app")
    status, out, _ = run("check", "oci:app", "--max", "1MB", "--compressed", "--all-platforms", "--no-cache")
    assert status == 0, out
    assert [line.split(":")[0] for line in out.splitlines()] == ["OK oci", "OK oci"]
    assert "OK oci:app[linux/arm64]: compressed size" in out
    assert source.blob_reads == []


def test_check_fails_where_one_platform_is_over(sources: dict[str, FakeSource], run: Run) -> None:
    sources["oci:app"] = index_of(AMD64, ARM64, reference="oci:app")
    status, out, _ = run("check", "oci:app", "--max", "5015", "--all-platforms", "--no-cache")
    assert status == 1
    lines = out.splitlines()
    assert lines[0].startswith("OK oci:app[linux/amd64]: size 5,013 B")
    assert lines[1].startswith("FAIL oci:app[linux/arm64]: image oci:app[linux/arm64] (")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--platform", "linux/s390x"], "has no linux/s390x image; it has linux/amd64, linux/arm64"),
        (["--platform", "linux"], "platform 'linux' is not os/architecture[/variant]"),
        (
            ["--platform", "linux/amd64", "--all-platforms"],
            "--platform and --all-platforms: give one of them",
        ),
    ],
)
def test_platform_errors_are_one_line(
    sources: dict[str, FakeSource], run: Run, args: list[str], message: str
) -> None:
    sources["oci:app"] = index_of(AMD64, ARM64, reference="oci:app")
    status, out, err = run("inspect", "oci:app", *args, "--no-cache")
    assert status == 2 and out == ""
    assert err.startswith("pytest-imagesize: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_an_index_without_this_machines_platform(sources: dict[str, FakeSource], run: Run) -> None:
    sources["oci:app"] = index_of(ARM64, S390X, reference="oci:app")
    status, _, err = run("inspect", "oci:app", "--no-cache")
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "has no linux/amd64 image (this machine's platform); it has linux/arm64, linux/s390x" in err
    assert "--platform" in err


def test_a_missing_source_is_one_line(sources: dict[str, FakeSource], run: Run) -> None:
    status, _, err = run("check", "docker://reg.local/none:1", "--max", "1MB")
    assert status == 2 and err.strip() == "pytest-imagesize: error: docker://reg.local/none:1: not found"


def test_diff_pairs_the_index_with_the_single_images_platform(
    sources: dict[str, FakeSource], run: Run
) -> None:
    sources["docker://reg/app:1.4"] = index_of(AMD64, ARM64, reference="docker://reg/app:1.4")
    sources["oci:build"] = FakeSource([(ARM64, app(extra=b"y" * 500, seed=1))], reference="oci:build")
    status, out, err = run("diff", "oci:build", "docker://reg/app:1.4", "--no-cache")
    assert status == 1, err
    lines = out.splitlines()
    assert lines[0] == "docker://reg/app:1.4[linux/arm64] → oci:build"
    assert "of 2 platforms" not in out
    assert "/data/extra" in out


def test_diff_all_platforms_names_the_unpaired(sources: dict[str, FakeSource], run: Run) -> None:
    sources["oci:new"] = index_of(AMD64, ARM64, S390X, reference="oci:new")
    sources["oci:old"] = index_of(AMD64, ARM64, reference="oci:old")
    status, out, _ = run("diff", "oci:new", "oci:old", "--all-platforms", "--no-cache")
    assert status == 0  # the same images where both have the platform
    assert out.splitlines()[0] == "linux/s390x only in oci:new"
    assert (
        "oci:old[linux/amd64] → oci:new[linux/amd64]" in out
        and "oci:old[linux/arm64] → oci:new[linux/arm64]" in out
    )
    status, out, _ = run("diff", "oci:new", "oci:old", "--all-platforms", "--json", "--no-cache")
    assert len(json.loads(out)) == 2


def test_diff_of_two_indexes_takes_this_machines_platform(sources: dict[str, FakeSource], run: Run) -> None:
    sources["oci:new"] = index_of(AMD64, ARM64, reference="oci:new")
    sources["oci:old"] = index_of(AMD64, ARM64, reference="oci:old")
    status, out, _ = run("diff", "oci:new", "oci:old", "--no-cache")
    assert status == 0
    assert out.splitlines()[:2] == [
        "linux/amd64 of 2 platforms: linux/amd64, linux/arm64",
        "oci:old[linux/amd64] → oci:new[linux/amd64]",
    ]


def test_an_engine_image_pairs_with_its_platform(sources: dict[str, FakeSource]) -> None:
    """``diff docker://reg/app:1.4 app:pr-123``: the release's image for the build's platform."""
    build = FakeImage.from_layers([{"bin/app": b"a" * 100}], tags=["app:pr-123"])
    options = Options(_engine=FakeEngine(images=[build], arch="arm64"))
    release = index_of(AMD64, ARM64, reference="docker://reg/app:1.4")
    sources["docker://reg/app:1.4"] = release
    new = open_side("app:pr-123", options)
    old = open_side("docker://reg/app:1.4", options)
    assert new.image is not None and new.image.engine_platform == "linux/arm64" and new.image.platform is None
    paired = pair_sides(new, old, None, False)
    ((before, after),) = paired.pairs
    assert before.platform == "linux/arm64" and before.name == "docker://reg/app:1.4[linux/arm64]"
    assert after is new.image and paired.note is None
    with pytest.raises(
        PlatformError, match="image app:pr-123 on the engine has no linux/amd64 image; it has linux/arm64"
    ):
        pair_sides(new, old, "linux/amd64", False)
