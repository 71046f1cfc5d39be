"""A podman command that hangs ends the multi-platform build with one line, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagesize.engine import multiplatform
from pytest_imagesize.errors import BuildError


def test_a_hung_podman_command_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hung = tmp_path / "podman"
    hung.write_text("#!/bin/sh\nexec sleep 30\n")
    hung.chmod(0o755)
    monkeypatch.setattr(multiplatform, "PODMAN_TIMEOUT", 0.1)
    podman = multiplatform._Podman(None, None)
    podman._cli = str(hung)
    with pytest.raises(BuildError) as raised:
        podman._podman("manifest", "push", "--all", "x", "oci:/nowhere")
    message = str(raised.value)
    assert "\n" not in message and message.startswith("`podman manifest` did not finish within 0.1 s")
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
