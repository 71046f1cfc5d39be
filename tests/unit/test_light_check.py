"""``pytest-imagesize check --compressed`` of an image source starts fast: it answers from the
manifests and imports none of the modules that measure an image, check markers or read blobs
(nor urllib3 or humanfriendly). The modules it loads are listed, so that a heavy import sneaking
back into that path fails here."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

from ..support.fake_engine import FakeImage

# what the check of an OCI layout's compressed size may load of the package, and nothing else
LIGHT = {
    "pytest_imagesize",
    "pytest_imagesize.cli",
    "pytest_imagesize.cli.packages",  # the parser's packages options (checks load only when asked for)
    "pytest_imagesize.errors",
    "pytest_imagesize.measure",
    "pytest_imagesize.measure.index",
    "pytest_imagesize.measure.stored",
    "pytest_imagesize.measure.targets",
    "pytest_imagesize.sizes",
    "pytest_imagesize.sources",
    "pytest_imagesize.sources.manifests",
    "pytest_imagesize.sources.model",
    "pytest_imagesize.sources.open",
    "pytest_imagesize.sources.platforms",
    "pytest_imagesize.sources.oci_layout",
    "pytest_imagesize.sources.refs",
    "pytest_imagesize.sources.stores",
}
# the registry source adds its own modules; a login would add credentials
REGISTRY = {
    "pytest_imagesize.sources.registry",
    "pytest_imagesize.sources.registry.client",
    "pytest_imagesize.sources.registry.http",
    "pytest_imagesize.sources.registry.reference",
    "pytest_imagesize.sources.registry.source",
    "pytest_imagesize.sources.registry.transport",
}
HEAVY = ("urllib3", "humanfriendly", "docker", "zlib_ng", "zstandard", "elftools", "pytest")

LOADED = (
    "import sys\n"
    "mine = sorted(m for m in sys.modules if m.startswith('pytest_imagesize'))\n"
    f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
    "print(repr((mine, heavy)))\n"
)


def run_python(code: str) -> tuple[list[str], list[str], str]:
    done = subprocess.run([sys.executable, "-c", code + LOADED], capture_output=True, text=True, check=True)
    *printed, last = done.stdout.strip().splitlines()
    mine, heavy = eval(last)  # the repr of two lists of names, printed above
    return mine, heavy, "\n".join(printed)


def oci_layout(tmp_path: Path) -> Path:
    image = FakeImage.from_layers(
        [{"bin/app": b"a" * 5000}, {"etc/conf": b"c" * 300}], compression="gzip", layout="oci"
    )
    layout = tmp_path / "layout"
    with tarfile.open(fileobj=io.BytesIO(image.archive())) as tar:
        tar.extractall(layout, filter="data")
    return layout


def test_check_of_a_layouts_compressed_size_loads_only_the_light_modules(tmp_path: Path) -> None:
    layout = oci_layout(tmp_path)
    mine, heavy, out = run_python(
        "from pytest_imagesize import cli\n"
        f"status = cli.main(['check', '--max', '1GB', '--compressed', '--no-cache', 'oci:{layout}'])\n"
        "assert status == 0, status\n"
    )
    assert out.startswith(f"OK oci:{layout}: compressed size ")
    assert out.endswith(" <= 1 GB")
    # the layout's store still loads the archive reader (blob paths, tar walking, zlib_ng with it)
    reader = ("pytest_imagesize.measure.archive", "pytest_imagesize.measure.paths")
    assert {m for m in set(mine) - LIGHT if not m.startswith(reader)} == set()
    assert [m for m in heavy if m.split(".")[0] != "zlib_ng"] == []


def test_a_failing_check_still_gets_the_full_wording(tmp_path: Path) -> None:
    """Over the limit, the check measures the image as before (largest layers named)."""
    layout = oci_layout(tmp_path)
    mine, _, out = run_python(
        "from pytest_imagesize import cli\n"
        f"status = cli.main(['check', '--max', '10B', '--compressed', '--no-cache', 'oci:{layout}'])\n"
        "assert status == 1, status\n"
    )
    assert out.startswith(f"FAIL oci:{layout}: image oci:{layout} (")
    assert "largest layers:" in out
    assert "pytest_imagesize.checks.kinds" in mine


def test_the_registry_path_imports_light() -> None:
    mine, heavy, _ = run_python(
        "import pytest_imagesize.cli, pytest_imagesize.measure.targets, pytest_imagesize.measure.stored\n"
        "import pytest_imagesize.sources.registry.source\n"
        "from pytest_imagesize.measure.stored import open_source\n"
        "open_source('docker://127.0.0.1:9/app:1').close()\n"  # opened: nothing is fetched yet
    )
    assert set(mine) - LIGHT - REGISTRY == set()
    assert heavy == []
    assert "email.utils" not in mine
