"""One version string: ``pytest_imagesize.__version__``, which pyproject.toml reads
(``[tool.setuptools.dynamic]``), so the installed metadata carries the same one."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest_imagesize

ROOT = Path(__file__).resolve().parents[2]


def test_installed_metadata_has_the_package_version() -> None:
    assert importlib.metadata.version("pytest-imagesize") == pytest_imagesize.__version__


def test_pyproject_reads_the_version_from_the_package() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    assert re.search(r"^version\s*=", project, re.M) is None, "a second version string in [project]"
    assert re.search(r'^dynamic\s*=\s*\[[^\]]*"version"', project, re.M)
    assert re.search(
        r'^\[tool\.setuptools\.dynamic\]\s*\nversion\s*=\s*\{\s*attr\s*=\s*"pytest_imagesize\.__version__"\s*\}',
        text,
        re.M,
    )
