"""Benchmark of ``pytest-imagesize history``: a repository of 1,000 commits, each changing a
baseline file of 10 images (every entry with 12 layers, a base image, a manifest of 200 files, 60
directories and a Go binary's modules, as ``--image-baseline-update`` writes them), made with
``git fast-import``; the file is renamed once half-way. The command runs as users run it (a fresh
process through the ``pytest-imagesize`` entry point); best of RUNS wall-clock times, with the CPU
time it used and the load average (on a shared machine the wall clock says more about the others).

Run: ``.venv/bin/python benchmarks/history_bench.py [--runs N] [--commits N]``. Exits non-zero when
the best time is over ``BUDGET_S`` or the series do not have one point per commit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 3.0
IMAGES = 10


def _entry(image: int, commit: int) -> dict[str, object]:
    size = 50_000_000 + image * 7_000_000 + commit * 1_000 * (image + 1)
    files = {f"/usr/lib/app{image}/module{n:03d}/file{n}.so": 200_000 + n * 37 + commit for n in range(200)}
    dirs = {f"/usr/lib/app{image}/module{n:03d}": 400_000 + n * 53 + commit for n in range(60)}
    return {
        "size": size,
        "compressed_size": size // 3,
        "own_size": size - 30_000_000,
        "own_compressed_size": (size - 30_000_000) // 3,
        "base": {
            "ref": "debian:bookworm-slim" if commit < 600 else "debian:trixie-slim",
            "id": "sha256:" + ("1" if commit < 600 else "2") * 64,
            "size": 30_000_000,
            "compressed_size": 10_000_000,
        },
        "layers": [
            {
                "instruction": f"RUN step {n} of image {image}",
                "size": size // 12,
                "diff_id": f"sha256:{n:064x}",
            }
            for n in range(12)
        ],
        "engine": {"name": "docker", "version": "28.5.2", "arch": "amd64", "storage_driver": "overlay2"},
        "date": "2026-11-30",
        "commit": f"{commit:012x}",
        "platform": "linux/amd64",
        "files": files,
        "files_complete": False,
        "dirs": dirs,
        "go": {f"/usr/bin/app{image}": {f"example.com/mod{n}": 10_000 + n + commit for n in range(20)}},
    }


def _baseline(commit: int) -> bytes:
    images = {(f"app{i}" if i % 2 else f"app{i}[linux/amd64]"): _entry(i, commit) for i in range(IMAGES)}
    document = {"version": 2, "images": images}
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def make_repo(directory: Path, commits: int) -> str:
    """A repository of ``commits`` commits, each rewriting the baseline, and one more half-way
    that renames it; returns the baseline's current name."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(directory)], check=True)
    stream = bytearray()
    when = 1_700_000_000
    old, new = "ci/image-sizes.json", "image-sizes.json"
    for n in range(commits):
        if n == commits // 2:  # the rename, a commit of its own (as `git mv` makes it)
            stream += b"commit refs/heads/main\n"
            stream += f"committer Bench <bench@example.com> {when + n * 3600 - 60} +0000\n".encode()
            stream += b"data 7\nrename\n"
            stream += f"R {old} {new}\n\n".encode()
        data = _baseline(n)
        message = f"change {n}\n".encode()
        stream += b"commit refs/heads/main\n"
        stream += f"committer Bench <bench@example.com> {when + n * 3600} +0000\n".encode()
        stream += b"data %d\n%s" % (len(message), message)
        path = old if n < commits // 2 else new
        stream += b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=directory, input=bytes(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=directory, check=True)
    return new


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--commits", type=int, default=1_000)
    args = parser.parse_args()
    command = shutil.which("pytest-imagesize", path=str(Path(sys.executable).parent)) or "pytest-imagesize"
    with tempfile.TemporaryDirectory(prefix="imagesize-history-bench-") as tmp:
        repo = Path(tmp) / "repo"
        started = time.perf_counter()
        name = make_repo(repo, args.commits)
        made = time.perf_counter() - started
        size = (repo / name).stat().st_size
        print(
            f"repository: {args.commits} commits, a baseline of {IMAGES} images "
            f"({size / 1e3:.0f} kB), made in {made:.1f} s"
        )
        times, cpu = [], []
        out = ""
        for _ in range(max(1, args.runs)):
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(
                [command, "history", "--json", "--baseline", name],
                cwd=repo,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
            times.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
            if done.returncode != 0:
                print(f"history failed: {done.stderr.strip()}")
                return 1
            out = done.stdout
        series = json.loads(out)["images"]
        points = {len(s["points"]) for s in series}
        best = min(times)
        ok = best <= BUDGET_S and len(series) == IMAGES and points == {args.commits}
        runs = ", ".join(f"{t:.2f}" for t in times)
        load = os.getloadavg()[0]
        print(
            f"history --json over {args.commits} commits: best {best:.2f} s (runs: {runs}; CPU, git's "
            f"included: best {min(cpu):.2f} s; load average {load:.1f} on {os.cpu_count()} cores); "
            f"target <= {BUDGET_S:g} s; {len(series)} series of {sorted(points)} points: "
            + ("OK" if ok else "MISSED")
        )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
