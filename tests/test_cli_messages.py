"""``pytest-imagesize diff --baseline DIR`` says it is a directory (not "no such file")."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_cli import cli, cli_image  # noqa: F401 (the fixture)

pytestmark = pytest.mark.engine


def test_diff_baseline_directory_is_named_one(cli_image: str, tmp_path: Path) -> None:  # noqa: F811
    result = cli("diff", cli_image, "--baseline", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"pytest-imagesize: error: --baseline {tmp_path} is a directory")
    assert len(result.stderr.strip().splitlines()) == 1
