"""Benchmark of the layer merge: a layer that deletes thousands of directories (``RUN rm -rf /m/*``
over 2,000 directories of 20 files) costs about as much to merge as one that keeps them, the
merge being linear in the entries. Timings are best-of-RUNS ratios on the same machine.

Run: ``.venv/bin/python benchmarks/merge_bench.py [--runs N]``. Prints both timings and the ratio;
exits non-zero when deleting costs more than ``RATIO_BUDGET`` times keeping (plus 50 ms).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
import time

from pytest_imagesize.measure.archive import read_archive
from pytest_imagesize.measure.layers import merge

DIRS = 2_000
FILES = 20
RATIO_BUDGET = 2.0
SLACK_S = 0.05


def _tar(members: list[tarfile.TarInfo]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as out:
        for member in members:
            out.addfile(member, io.BytesIO(bytes(member.size)) if member.size else None)
    return buffer.getvalue()


def _archive(layers: list[bytes]) -> bytes:
    """A classic ``docker save`` archive (``<n>/layer.tar`` + ``manifest.json``) of these layers."""
    buffer = io.BytesIO()
    names = [f"{i:064x}/layer.tar" for i in range(len(layers))]
    config = json.dumps({"rootfs": {"diff_ids": [], "type": "layers"}, "history": []}).encode()
    manifest = json.dumps([{"Config": "cfg.json", "Layers": names}]).encode()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in [
            *zip(names, layers, strict=False),
            ("cfg.json", config),
            ("manifest.json", manifest),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def deleting_image(delete: bool) -> bytes:
    """DIRS directories of FILES 10-byte files, then a layer that deletes each directory (or, to
    compare, one that adds a single file)."""
    base = []
    for d in range(DIRS):
        info = tarfile.TarInfo(f"m/{d}")
        info.type = tarfile.DIRTYPE
        base.append(info)
        for f in range(FILES):
            member = tarfile.TarInfo(f"m/{d}/{f}")
            member.size = 10
            base.append(member)
    top = [tarfile.TarInfo(f"m/.wh.{d}") for d in range(DIRS)] if delete else [tarfile.TarInfo("m/kept")]
    return _archive([_tar(base), _tar(top)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    timings = {}
    for delete in (False, True):
        scan = read_archive([deleting_image(delete)])
        best = float("inf")
        for _ in range(max(1, args.runs)):
            start = time.perf_counter()
            merged = merge(scan)
            best = min(best, time.perf_counter() - start)
        timings[delete] = best
        if delete and merged.wasted_bytes != DIRS * FILES * 10:
            print(f"merge_bench: {merged.wasted_bytes} bytes wasted, expected {DIRS * FILES * 10}")
            return 1
    ratio = timings[True] / timings[False]
    ok = timings[True] <= RATIO_BUDGET * timings[False] + SLACK_S
    print(
        f"merge of {DIRS:,} directories of {FILES} files: kept {timings[False] * 1000:.0f} ms, "
        f"deleted {timings[True] * 1000:.0f} ms ({ratio:.2f}x; budget {RATIO_BUDGET:g}x + "
        f"{SLACK_S * 1000:.0f} ms) {'ok' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
