"""Benchmark: full image analysis (compressed size + files + waste) against `docker save | gzip -6`.

    python benchmarks/analysis_bench.py IMAGE

Runs, in one go and on the same image:
  reference  `docker save IMAGE | gzip -6 | wc -c` (what a shell script would do for a pull size)
  cold       pytest-imagesize's analysis with an empty cache (fresh process)
  warm       the same with the cache the cold run left (fresh process)
and prints the cold/reference time ratio (target <= 0.5), the cold run's peak RSS (target
<= 150 MB) and the warm time (target <= 0.2 s). Exit status 1 when a target is missed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHILD = """
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from pytest_imagesize import measure_image
class DirCache:
    def __init__(self, root): self.root = Path(root)
    def _path(self, key): return self.root / (key.replace("/", "_") + ".json")
    def get(self, key, default):
        try: return json.loads(self._path(key).read_text())
        except (OSError, ValueError): return default
    def set(self, key, value):
        self.root.mkdir(parents=True, exist_ok=True)
        self._path(key).write_text(json.dumps(value, indent=2, sort_keys=True))
t1 = time.perf_counter()
image = measure_image(sys.argv[1])
image._cache = DirCache(sys.argv[2])
image.analysis()
t2 = time.perf_counter()
print(json.dumps({"seconds": t2 - t1, "import_seconds": t1 - t0, "size": image.size,
                  "compressed": image.compressed_size, "wasted": image.wasted_bytes,
                  "files": len(image.files)}))
"""


def run_child(image: str, cache: str) -> tuple[dict[str, Any], float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, image, cache], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"analysis of {image} failed (exit {proc.returncode})")
    return json.loads(out), wall, usage.ru_maxrss * 1024


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    image = sys.argv[1]
    start = time.perf_counter()
    reference = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"docker save {image} | gzip -6 | wc -c"],
        capture_output=True,
        text=True,
        check=True,
    )
    reference_seconds = time.perf_counter() - start
    gzip_bytes = int(reference.stdout.strip())
    with tempfile.TemporaryDirectory() as cache:
        cold, cold_wall, cold_rss = run_child(image, str(Path(cache)))
        warm, warm_wall, _ = run_child(image, str(Path(cache)))
    ratio = cold["seconds"] / reference_seconds
    print(f"image                {image}: {cold['size']:,} B, {cold['files']:,} files")
    print(f"reference            docker save | gzip -6 | wc -c: {reference_seconds:.2f} s ({gzip_bytes:,} B)")
    print(
        f"cold analysis        {cold['seconds']:.2f} s (process {cold_wall:.2f} s); "
        f"compressed {cold['compressed']:,} B, wasted {cold['wasted']:,} B"
    )
    print(f"ratio cold/reference {ratio:.3f}   (target <= 0.5)")
    print(f"peak RSS (cold)      {cold_rss / 1e6:.1f} MB   (target <= 150 MB)")
    print(f"warm analysis        {warm['seconds']:.3f} s (process {warm_wall:.2f} s)   (target <= 0.2 s)")
    missed = [
        name
        for name, bad in [("ratio", ratio > 0.5), ("rss", cold_rss > 150e6), ("warm", warm["seconds"] > 0.2)]
        if bad
    ]
    if missed:
        print(f"MISSED: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
