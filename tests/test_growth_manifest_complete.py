"""A growth failure names a file added since the baseline even when it is smaller than every file
the baseline's manifest lists: the baseline records that its manifest is complete. A baseline
written without that record keeps the older rule (such a file is not known to be new)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

SUITE = """
import pytest
from pytest_imagesize import build_image

app = build_image("Dockerfile")

@pytest.mark.max_image_growth("5%")
def test_app(app):
    pass
"""


def write_image(directory: Path, files: dict[str, int]) -> None:
    """A FROM scratch image of the given files (random bytes, so each build is new)."""
    lines = ["FROM scratch"]
    for name, size in files.items():
        (directory / name).write_bytes(os.urandom(size))
        lines.append(f"COPY {name} /{name}")
    (directory / "Dockerfile").write_text("\n".join(lines) + "\n")


@pytest.mark.engine
def test_growth_failure_lists_a_new_file_smaller_than_the_baselines_smallest(
    pytester: pytest.Pytester, docker_client: object
) -> None:
    pytester.makepyfile(SUITE)
    before = {"big": 1_000_000, "medium": 500_000}
    write_image(pytester.path, before)
    result = pytester.runpytest("--image-baseline-update")
    result.assert_outcomes(passed=1)
    recorded = json.loads((pytester.path / "image-sizes.json").read_text())["images"]["app"]
    assert recorded["files"] == {"/big": 1_000_000, "/medium": 500_000}
    assert recorded["files_complete"] is True

    write_image(pytester.path, {**before, "small": 300_000})
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*image app (*) size grew from *", "*files that moved most:*", "*+300 KB  /small (new)*"],
        consecutive=False,
    )

    # The same baseline without the record (as written before it existed): /small is smaller
    # than the manifest's smallest entry, so it may have been there unlisted; it is not named.
    del recorded["files_complete"]
    path = pytester.path / "image-sizes.json"
    document = json.loads(path.read_text())
    document["images"]["app"] = recorded
    path.write_text(json.dumps(document))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*image app (*) size grew from *"])
    assert "/small" not in result.stdout.str()
