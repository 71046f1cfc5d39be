"""A growth failure names the package that appeared, with its bytes and the layer and instruction
that wrote it, read from a distroless-style database (``var/lib/dpkg/status.d``, one control
stanza and one ``.md5sums`` list per package, as distroless writes it); and the baseline keeps
the packages."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine

STANZA = """Package: {name}
Version: {version}
Architecture: amd64
Maintainer: Nobody <nobody@example.org>
Installed-Size: {kib}
Section: libs
Priority: optional
Description: a package of the test
"""

TEST_FILE = """
import pytest
from pytest_imagesize import build_image

app = build_image("Dockerfile")

@pytest.mark.max_image_growth("5%", floor="100kB")
def test_app_does_not_creep(app):
    pass
"""


def package(root: Path, name: str, version: str, files: dict[str, bytes]) -> None:
    """``files`` (paths relative to /) and the package's status.d entry, under ``root``."""
    status = root / "var/lib/dpkg/status.d"
    status.mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    size = sum(len(d) for d in files.values())
    (status / name).write_text(STANZA.format(name=name, version=version, kib=(size + 1023) // 1024))
    (status / f"{name}.md5sums").write_text("".join(f"{'0' * 32}  {path}\n" for path in files))


def test_a_new_package_is_named_in_the_growth_failure(pytester: pytest.Pytester) -> None:
    base, extra = pytester.path / "base", pytester.path / "extra"
    package(base, "tzdata", "2025b-4", {"usr/share/zoneinfo/UTC": os.urandom(20_000)})
    package(
        extra, "libllvm19", "1:19.1.7-3", {"usr/lib/x86_64-linux-gnu/libLLVM.so.19.1": os.urandom(3_000_000)}
    )
    (pytester.path / "Dockerfile").write_text("FROM scratch\nCOPY base/ /\nARG GROW=\nCOPY ${GROW}extra/ /\n")
    (pytester.path / "emptyextra").mkdir()
    pytester.makepyfile(test_app=TEST_FILE)
    # the baseline, without the new package (its layer copies an empty directory)
    pytester.runpytest("--image-baseline-update", "--image-build-arg", "GROW=empty").assert_outcomes(passed=1)
    entry = json.loads((pytester.path / "image-sizes.json").read_text())["images"]["app"]
    assert entry["packages"] == {"deb:tzdata": {"size": 20_000, "version": "2025b-4", "layer": 0}}
    assert entry["packages_complete"] is True
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines(
        [
            r".*packages that moved:",
            # BuildKit records the instruction; the classic builder a digest of what it copied
            r"\s+\+3 MB  package libllvm19 \(deb\) new in layer 1: "
            r"COPY ((\$\{GROW\})?extra/|dir:[0-9a-f]+ in) /",
        ]
    )
