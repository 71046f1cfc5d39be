"""A Go binary cut short inside an image, on the real engine: listed as a truncated executable (its
build info gone with the cut), and ``go_build_hygiene`` fails naming it unless allow= says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from .go.gobuild import find_toolchains

pytestmark = pytest.mark.engine


def truncated_gofmt(directory: Path) -> int:
    """Debian's gofmt (Go 1.19), cut where its function table is: its build info lies past the cut."""
    tc = find_toolchains()
    if tc.go119 is None:
        pytest.fail(f"no Go 1.19 toolchain for a real Go binary: {tc.why}")
    whole = (Path(tc.go119) / "bin" / "gofmt").read_bytes()
    cut = whole[: len(whole) // 2]
    assert b"\xff Go buildinf:" not in cut
    (directory / "server").write_bytes(cut)
    (directory / "Dockerfile").write_text("FROM scratch\nCOPY server /app/server\n")
    return len(cut)


def test_go_command_lists_the_truncated_binary(docker_client: docker.DockerClient, tmp_path: Path) -> None:
    size = truncated_gofmt(tmp_path)
    ref = "pytest-imagesize-test/go-truncated:1"
    image, _ = docker_client.images.build(path=str(tmp_path), tag=ref, rm=True, forcerm=True)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest_imagesize.cli", "go", ref, "--json"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        binaries = data["binaries"] if isinstance(data, dict) else data
        [server] = [b for b in binaries if b["path"] == "/app/server"]
        assert server["size"] == size
        assert server["problem"].startswith("truncated ELF (")
        assert server["partial"] is True
    finally:
        docker_client.images.remove(str(image.id), force=True)


def test_hygiene_fails_on_a_binary_it_cannot_read(pytester: pytest.Pytester) -> None:
    truncated_gofmt(pytester.path)
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image

        app = build_image("Dockerfile")

        @pytest.mark.go_build_hygiene
        def test_strict(app):
            pass

        @pytest.mark.go_build_hygiene(allow="unreadable")
        def test_allowed(app):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*1 Go build hygiene problem*",
            "*/app/server: cannot be read: truncated ELF (* ends at byte *but the file has *; "
            "its Go build info is cut off; not measured; fix: ship an intact binary*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
