"""`pytest-imagesize check --compressed --all-platforms docker://…` of a two-platform index in a
real registry: nothing but the manifests is fetched, on one kept-alive connection, and the process
loads none of the heavy standard modules (``http.client`` and the ``email`` package, ``ssl`` for
a plain-HTTP registry, ``dataclasses``/``inspect``, ``pathlib``, ``urllib.parse``, ``shutil``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_engine import FakeImage

from .registry_support import Platformed, Registry, running_registry, skopeo, write_index_layout

HEAVY = (
    "http.client",
    "email",
    "ssl",
    "dataclasses",
    "inspect",
    "pathlib",
    "urllib.parse",
    "shutil",
    "ipaddress",
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("registry-light")
    amd64 = FakeImage.from_layers([{"bin/app": b"amd " * 2000}], compression="gzip")
    arm64 = FakeImage.from_layers([{"bin/app": b"arm " * 3000}], compression="gzip")
    with running_registry(root / "registry") as running:
        layout = root / "layout"
        write_index_layout(layout, [Platformed(amd64, "amd64"), Platformed(arm64, "arm64", "v8")])
        skopeo(
            "copy", "--quiet", "--all", "--preserve-digests", "--dest-tls-verify=false",
            f"oci:{layout}", f"docker://{running.address}/two:1",
        )  # fmt: skip
        yield running


def test_the_quick_check_fetches_manifests_only_and_loads_light(registry: Registry, tmp_path: Path) -> None:
    mark = registry.log_mark()
    ref = f"docker://{registry.address}/two:1"
    args = ["check", "--max", "1GB", "--compressed", "--all-platforms", "--no-cache", ref]
    code = (  # what the start-up loaded already (an editable install's finder: pathlib) is not counted
        "import sys\n"
        "before = set(sys.modules)\n"
        "from pytest_imagesize import cli\n"
        f"status = cli.main({args!r})\n"
        "heavy = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in {'email', 'inspect'} "
        f"or m in {HEAVY!r})\n"
        "print(repr((status, heavy)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    *rows, last = done.stdout.strip().splitlines()
    status, heavy = eval(last)  # the repr printed above
    assert status == 0, done.stdout + done.stderr
    assert [row.split(": ")[0] for row in rows] == [f"OK {ref}[linux/amd64]", f"OK {ref}[linux/arm64]"]
    assert heavy == []
    requests = registry.requests_since(mark)
    assert [method for method, _ in requests] == ["GET"] * 4
    assert requests[0][1] == "/v2/" and requests[1][1] == "/v2/two/manifests/1"
    assert all(re.fullmatch(r"/v2/two/manifests/sha256:[0-9a-f]{64}", path) for _, path in requests[2:])
    assert not any("/blobs/" in path for _, path in requests)
    index = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.address}/two:1"))
    assert {path.rsplit("/", 1)[1] for _, path in requests[2:]} == {
        m["digest"] for m in index["manifests"] if m["platform"]["architecture"] != "unknown"
    }
