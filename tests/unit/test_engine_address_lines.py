"""A DOCKER_HOST socket path that is a regular file or a directory is said to be one, not an
engine that did not answer within the timeout."""

from __future__ import annotations

from pathlib import Path

from pytest_imagesize.engine.address import unanswered


def test_a_regular_file_is_not_a_socket(tmp_path: Path) -> None:
    path = tmp_path / "docker.sock"
    path.write_text("")
    line = str(unanswered(f"unix://{path}", 10, ConnectionRefusedError(111, "Connection refused")))
    assert line.startswith(f"no container engine at unix://{path}: {path} is a regular file, not a socket")
    assert "within" not in line and "refused" not in line


def test_a_directory_is_not_a_socket(tmp_path: Path) -> None:
    line = str(unanswered(f"unix://{tmp_path}", 10, ConnectionRefusedError(111, "Connection refused")))
    assert f"{tmp_path} is a directory, not a socket" in line


def test_a_missing_socket_keeps_its_line(tmp_path: Path) -> None:
    line = str(unanswered(f"unix://{tmp_path}/none.sock", 10, FileNotFoundError(2, "No such file")))
    assert line.startswith(f"no container engine answers at unix://{tmp_path}/none.sock within 10 s")
