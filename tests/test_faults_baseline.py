"""Baseline edge cases under faults: partial and failing updates, zero and absurd recorded sizes,
symlinked baseline files; each says what is wrong in one line and leaves the file as it was."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import docker
import pytest

from .conftest import MakeImageDir, write_scratch_dockerfile
from .support.baselines import recorded, write_baseline
from .support.faults import lines_with, nonce, our_leftovers, run_pytest
from .support.output import assert_no_noise

pytestmark = pytest.mark.engine


# ---------------------------------------------------------------------------- baselines


def two_images(pytester: pytest.Pytester, first: str, second: str) -> None:
    write_scratch_dockerfile(pytester.path / "a", 3000)
    write_scratch_dockerfile(pytester.path / "b", 4000)
    pytester.makepyfile(
        f"""
        from pytest_imagesize import build_image
        {first} = build_image("a/Dockerfile")
        {second} = build_image("b/Dockerfile")

        def test_first({first}):
            pass

        def test_second({second}):
            pass
        """
    )


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_partial_update_keeps_recorded_values_and_an_unchanged_update_keeps_the_bytes(
    pytester: pytest.Pytester, docker_client: docker.DockerClient
) -> None:
    first, second = nonce(), nonce()
    two_images(pytester, first, second)
    path = pytester.path / "image-sizes.json"
    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update"])
    assert code == 0, text
    full = strict_json(path.read_text())["images"]
    assert full[first]["compressed_size"] and full[second]["compressed_size"]

    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update", "-k", "test_first"])
    assert code == 0, text
    partial = strict_json(path.read_text())["images"]
    assert partial[second] == full[second]
    for key in ("size", "compressed_size"):
        assert partial[first][key] == full[first][key], key

    # an older recording with the same numbers: the date and commit stay, the file is unchanged
    document = strict_json(path.read_text())
    for image in document["images"].values():
        image["date"], image["commit"] = "2000-01-01", "0123456789ab"
    before = (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    path.write_bytes(before)
    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update"])
    assert code == 0, text
    assert path.read_bytes() == before
    assert len(lines_with(text, "updated: nothing changed")) == 1, text
    assert our_leftovers(docker_client, first) == [] and our_leftovers(docker_client, second) == []


def test_failing_checks_do_not_stop_the_update(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, image_dir: MakeImageDir
) -> None:
    name = nonce()
    image_dir(5000)
    path = pytester.path / "image-sizes.json"
    write_baseline(path, {name: recorded(1000)}, version=2)
    pytester.makepyfile(
        f"""
        import pytest
        from pytest_imagesize import build_image
        {name} = build_image("Dockerfile")

        @pytest.mark.max_image_growth("1%")
        def test_growth({name}):
            pass

        @pytest.mark.max_image_size(100)
        def test_size({name}):
            pass
        """
    )
    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update"])
    assert code == pytest.ExitCode.TESTS_FAILED, text
    assert "2 failed" in text, text
    headers = [line for line in text.splitlines() if line.startswith(f"image {name} (")]
    assert len(headers) == 2, text  # one line per failing test says what failed
    assert "grew from 1,000 B" in headers[0] and "over the limit of 100 B" in headers[1], headers
    assert lines_with(text, "pytest_imagesize/") == [], text  # no traceback of plugin frames
    assert_no_noise(text)
    assert len(lines_with(text, f"baseline {path} updated: {name}")) == 1, text
    assert strict_json(path.read_text())["images"][name]["size"] >= 5000
    assert our_leftovers(docker_client, name) == []


def test_zero_baseline_gives_strict_json_report(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, image_dir: MakeImageDir
) -> None:
    name = nonce()
    image_dir(2000)
    write_baseline(pytester.path / "image-sizes.json", {name: recorded(0, 0)}, version=2)
    pytester.makepyfile(
        f"""
        import pytest
        from pytest_imagesize import build_image
        {name} = build_image("Dockerfile")

        @pytest.mark.max_image_growth("5%")
        def test_growth({name}):
            pass
        """
    )
    code, text, _ = run_pytest(pytester.path, ["--image-report-json=report.json"])
    assert code == pytest.ExitCode.TESTS_FAILED, text
    assert "Infinity" not in text and "inf%" not in text, text
    report = strict_json((pytester.path / "report.json").read_text())
    growth = [o for o in report["checks"] if o["kind"] == "max_image_growth"]
    assert len(growth) == 1 and growth[0]["actual"] is None and growth[0]["delta"] >= 2000, growth
    assert len([line for line in text.splitlines() if line.startswith(f"image {name} (")]) == 1, text
    assert_no_noise(text)
    assert our_leftovers(docker_client, name) == []


def test_absurd_baseline_size_is_one_line_and_cleanup_runs(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, image_dir: MakeImageDir
) -> None:
    name = nonce()
    image_dir(2000)
    path = pytester.path / "image-sizes.json"
    data = write_baseline(path, {name: recorded(987654321)}, version=2).replace(
        b"987654321", b"1" + b"0" * 400
    )
    assert b"0" * 400 in data
    path.write_bytes(data)
    pytester.makepyfile(
        f"""
        import pytest
        from pytest_imagesize import build_image
        {name} = build_image("Dockerfile")

        @pytest.mark.max_image_growth("5%")
        def test_growth({name}):
            pass
        """
    )
    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update"])
    assert code != pytest.ExitCode.OK, text
    hits = lines_with(text, f"baseline {path}")
    assert len(hits) == 1, text
    assert "0" * 100 not in hits[0], hits[0]  # the number is shortened, not printed whole
    assert_no_noise(text)
    assert path.read_bytes() == data
    assert our_leftovers(docker_client, name) == []


def one_image(pytester: pytest.Pytester, image_dir: MakeImageDir, name: str) -> None:
    image_dir(1500)
    pytester.makepyfile(
        f"""
        from pytest_imagesize import build_image
        {name} = build_image("Dockerfile")

        def test_app({name}):
            pass
        """
    )


def test_dangling_baseline_symlink_outside_is_refused(
    pytester: pytest.Pytester, image_dir: MakeImageDir, tmp_path: Path
) -> None:
    one_image(pytester, image_dir, nonce())
    outside = tmp_path / "outside"
    (pytester.path / "image-sizes.json").symlink_to(outside / "sizes.json")
    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update"])
    assert code == pytest.ExitCode.USAGE_ERROR, text
    hits = lines_with(text, "is a symlink to")
    assert len(hits) == 1 and "outside the project" in hits[0], text
    assert not outside.exists(), "something was created outside the rootdir"
    assert_no_noise(text)


def test_baseline_symlink_to_etc_passwd_is_refused(
    pytester: pytest.Pytester, image_dir: MakeImageDir
) -> None:
    one_image(pytester, image_dir, nonce())
    passwd = Path("/etc/passwd")
    before = (passwd.read_bytes(), passwd.stat().st_mtime_ns, sorted(os.listdir("/etc")))
    (pytester.path / "image-sizes.json").symlink_to(passwd)
    code, text, _ = run_pytest(pytester.path, ["--image-baseline-update"])
    assert code == pytest.ExitCode.USAGE_ERROR, text
    hits = lines_with(text, "/etc/passwd")
    assert len(hits) == 1 and "is a symlink to /etc/passwd" in hits[0], text
    assert "fix or delete" not in hits[0] and "edit" not in hits[0], hits[0]
    assert (passwd.read_bytes(), passwd.stat().st_mtime_ns, sorted(os.listdir("/etc"))) == before
    assert_no_noise(text)


def test_explicit_baseline_outside_the_rootdir_is_allowed(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, image_dir: MakeImageDir, tmp_path: Path
) -> None:
    name = nonce()
    one_image(pytester, image_dir, name)
    outside = tmp_path / "elsewhere" / "sizes.json"
    code, text, _ = run_pytest(pytester.path, [f"--image-baseline={outside}", "--image-baseline-update"])
    assert code == 0, text
    assert strict_json(outside.read_text())["images"][name]["size"] > 0
    assert len(lines_with(text, f"baseline {outside} updated: {name}")) == 1, text
    assert our_leftovers(docker_client, name) == []
