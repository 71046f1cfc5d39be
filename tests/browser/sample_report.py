"""Generated JSON report documents (schema version 2) for the HTML report's tests: realistic
shapes and sizes, hostile file names, a Go binary, every kind of check. No engine needed."""

from __future__ import annotations

import random
from typing import Any, NamedTuple

from pytest_imagesize.reports.treemap import summarise

# Names that would run script or break the markup if they were ever parsed as HTML.
HOSTILE_NAMES = [
    "<script>window.__imagesizePwned = 1</script>",
    "</script><script>window.__imagesizePwned = 2</script>",
    '<img src=x onerror="window.__imagesizePwned = 3">',
    "quote\"and'apostrophe & ampersand &amp; <!-- comment",
    "new\nline\u2028sep\u2029para",
]
HOSTILE_DIR = "/srv/<b>bold</b> & co"
GO_BINARY = "/usr/local/bin/server"


class Entry(NamedTuple):
    path: str
    kind: str
    size: int
    layer: int


def _files(rng: random.Random, count: int, layers: int) -> list[Entry]:
    """``count`` entries spread like a distribution's filesystem: a few big files, many small."""
    out: list[Entry] = []
    tops = ["usr/lib", "usr/share/doc", "usr/share/locale", "usr/bin", "etc", "var/lib/dpkg", "opt/app"]
    dirs: set[str] = set()
    for i in range(count):
        top = tops[i % len(tops)]
        depth = rng.randint(0, 3)
        parts = [top] + [f"d{rng.randint(0, 40)}" for _ in range(depth)]
        directory = "/" + "/".join(parts)
        size = (
            int(rng.paretovariate(1.2) * 900) if rng.random() < 0.998 else rng.randint(1_000_000, 9_000_000)
        )
        layer = min(layers - 1, int(rng.random() ** 2 * layers))
        kind = "symlink" if i % 97 == 0 else "file"
        if kind == "symlink":
            size = rng.randint(5, 40)
        out.append(Entry(f"{directory}/file-{i}.bin", kind, size, layer))
        dirs.add(directory)
    for directory in sorted(dirs):
        out.append(Entry(directory, "dir", 0, 0))
    return out


def go_binary(size: int) -> dict[str, Any]:
    """A Go breakdown for the file at GO_BINARY, of exactly ``size`` bytes of file."""
    return {
        "path": GO_BINARY,
        "size": size,
        "modules": [
            {"path": "example.com/server", "size": 1_400_000},
            {"path": "github.com/spf13/cobra", "size": 600_000},
            {"path": "golang.org/x/net", "size": 900_000},
        ],
        "packages": [
            {"path": "example.com/server/internal/api", "size": 800_000},
            {"path": "example.com/server", "size": 300_000},
            {"path": "github.com/spf13/cobra", "size": 550_000},
            {"path": "golang.org/x/net/http2", "size": 700_000},
            {"path": "runtime", "size": 1_100_000},
            {"path": "net/http", "size": 1_300_000},
            {"path": "crypto/tls", "size": 500_000},
        ],
        "other": {"pclntab": 1_200_000, "rodata": 700_000},
        "unattributed": 100_000,
    }


def make_image(name: str, files: int, *, seed: int, go: bool = True, hostile: bool = True) -> dict[str, Any]:
    rng = random.Random(seed)
    layer_count = 6
    entries = _files(rng, files, layer_count)
    if hostile:
        for i, bad in enumerate(HOSTILE_NAMES):
            entries.append(Entry(f"{HOSTILE_DIR}/{bad}", "file", 4_000_000 + i * 150_000, layer_count - 1))
    go_info: list[dict[str, Any]] = []
    if go:
        go_size = 9_000_000
        entries.append(Entry(GO_BINARY, "file", go_size, layer_count - 2))
        go_info.append(go_binary(go_size))
    wasted = [
        (f"/var/cache/apt/archives/pkg-{i}.deb", rng.randint(1_000, 400_000), rng.randint(0, 3))
        for i in range(260)
    ]
    if hostile:
        wasted.append((f"/tmp/{HOSTILE_NAMES[0]}", 5_000_000, 2))
    tree = summarise(entries, wasted=wasted, go_binaries=go_info)
    layer_sizes = [0] * layer_count
    for layer, nbytes in tree["layer_bytes"]:
        layer_sizes[layer] += nbytes
    wasted_total = sum(w[1] for w in wasted)
    layer_sizes[1] += wasted_total
    base_layers = 2
    commands = [
        "/bin/sh -c #(nop) ADD file:4b03b5f551e3fbdf3a0c7b8f4d2e6f1a in / ",
        "RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends ca-certificates curl",
        "COPY dist/ /opt/app/ # buildkit",
        'RUN /bin/sh -c echo "<script>window.__imagesizePwned = 4</script>" > /etc/motd',
        "COPY --from=build /out/server /usr/local/bin/server # buildkit",
        "RUN /bin/sh -c useradd --system app && chown -R app /srv",
    ]
    layers: list[dict[str, Any]] = [
        {
            "created_by": commands[i],
            "size": layer_sizes[i],
            "compressed_size": layer_sizes[i] * 2 // 5,
            "wasted_bytes": wasted_total if i == 1 else 0,
            "diff_id": f"sha256:{rng.getrandbits(256):064x}",
            "from_base": i < base_layers,
        }
        for i in range(layer_count)
    ]
    written = sum(layer_sizes)
    compressed = sum(layer["compressed_size"] for layer in layers)
    base_size = sum(layer_sizes[:base_layers])
    base_compressed = sum(layer["compressed_size"] for layer in layers[:base_layers])
    return {
        "name": name,
        "ref": f"example/{name}:latest",
        "id": f"sha256:{rng.getrandbits(256):064x}",
        "tags": [f"example/{name}:latest", f"example/{name}:1.0"],
        "size": written,
        "engine_size": written + 4096,
        "compressed_size": compressed,
        "base": {
            "ref": "debian:bookworm-slim",
            "id": f"sha256:{rng.getrandbits(256):064x}",
            "size": base_size,
            "compressed_size": base_compressed,
        },
        "own_size": written - base_size,
        "own_compressed_size": compressed - base_compressed,
        "layers": layers,
        "wasted_bytes": wasted_total,
        "efficiency": 1 - wasted_total / written,
        "go_binaries": go_info or None,
        "baseline": {
            "size": written - 1_234_567,
            "compressed_size": None,
            "delta": 1_234_567,
            "compressed_delta": None,
        },
        "treemap": tree,
        "wasted_files": tree["wasted"],
    }


def make_document(files_per_image: int = 30_000, *, hostile: bool = True) -> dict[str, Any]:
    """Two images ("api" and "worker") with ``files_per_image`` files each, and checks."""
    api = make_image("api", files_per_image, seed=1, hostile=hostile)
    worker = make_image("worker", files_per_image, seed=2, go=False, hostile=hostile)
    worker["baseline"] = None
    worker["compressed_size"] = None
    checks: list[dict[str, Any]] = [
        {
            "test": "tests/test_size.py::test_api_size",
            "image": "api",
            "kind": "max_image_size",
            "compressed": False,
            "limit": 900_000_000,
            "actual": api["size"],
            "outcome": "passed",
        },
        {
            "test": "tests/test_size.py::test_api_size",
            "image": "api",
            "kind": "max_image_size",
            "compressed": True,
            "limit": 10_000_000,
            "actual": api["compressed_size"],
            "outcome": "failed",
            "details": ["layer 1 grew the most", {"layer": 1}],
        },
        {
            "test": "tests/test_size.py::test_api_layers",
            "image": "api",
            "kind": "max_image_layers",
            "compressed": False,
            "limit": 10,
            "actual": 6,
            "outcome": "passed",
        },
        {
            "test": "tests/test_size.py::test_api_growth",
            "image": "api",
            "kind": "max_image_growth",
            "compressed": False,
            "limit": 5,
            "actual": 0.8,
            "outcome": "passed",
            "baseline": api["baseline"]["size"],
        },
        {
            "test": "tests/test_size.py::test_worker<script>window.__imagesizePwned = 5</script>",
            "image": "worker",
            "kind": "max_wasted_bytes",
            "compressed": False,
            "limit": 100_000_000,
            "actual": worker["wasted_bytes"],
            "outcome": "warned",
        },
        {
            "test": "tests/test_size.py::test_worker_efficiency",
            "image": "worker",
            "kind": "min_image_efficiency",
            "compressed": False,
            "limit": 0.9,
            "actual": worker["efficiency"],
            "outcome": "passed",
        },
    ]
    return {
        "version": 2,
        "engine": {
            "name": "Docker",
            "version": "27.3.1",
            "storage_driver": "overlay2",
            "arch": "amd64",
            "image_store": "classic",
        },
        "images": [api, worker],
        "checks": checks,
    }
