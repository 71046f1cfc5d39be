"""Benchmark: the full analysis of the example's single-stage image on the containerd image store
against the graph-driver store, in one run (issue target: <= 0.5x, since the containerd store keeps
the compressed layer blobs and nothing needs compressing).

    python benchmarks/store_bench.py --ours BIN [--runs N]            # on the current engine (graph
                                                                      # driver), then docker-containerd
    python benchmarks/store_bench.py --ours BIN --measure-here        # one engine: JSON on stdout

Each measurement is a fresh `pytest-imagesize inspect IMAGE --layers` with an empty cache; medians.
The containerd-store engine is Debian sid's Docker started by scripts/with-engine in its own network
namespace (the graph-driver engine keeps running). Exit status 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
TAG = "pytest-imagesize-bench/store:1"
TARGET = 0.5


def run(cmd: list[str], **kw: object) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return str(done.stdout)


def measure_here(ours: Path, runs: int) -> dict[str, object]:
    standins = run([str(HERE / "example_project/scripts/make-standins")])
    go_image = next(line.split("=", 1)[1] for line in standins.splitlines() if line.startswith("GO_IMAGE="))
    run(
        [
            "docker",
            "build",
            "-q",
            "--build-arg",
            f"GO_IMAGE={go_image}",
            "-f",
            "Dockerfile.single",
            "-t",
            TAG,
            ".",
        ],
        cwd=HERE / "example_project",
    )
    info = json.loads(run(["docker", "info", "--format", "{{json .}}"]))
    store = (
        "containerd" if "io.containerd.snapshotter" in json.dumps(info.get("DriverStatus")) else "graphdriver"
    )
    walls, saves = [], []
    try:
        for _ in range(runs):  # the engine's own pace, for context: what the stream alone takes
            start = time.perf_counter()
            run(["bash", "-c", f"docker save {TAG} | wc -c"])
            saves.append(time.perf_counter() - start)
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="imagesize-store-bench-") as cache:
                start = time.perf_counter()
                run(
                    [str(ours / "pytest-imagesize"), "inspect", TAG, "--layers"],
                    env={**os.environ, "XDG_CACHE_HOME": cache},
                )
                walls.append(time.perf_counter() - start)
    finally:
        subprocess.run(["docker", "rmi", TAG], capture_output=True, check=False)
    return {"store": store, "version": info.get("ServerVersion"), "walls": walls, "saves": saves}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ours", type=Path, required=True, help="bin/ of the venv with pytest-imagesize")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure-here", action="store_true", help="measure on the current engine only")
    args = parser.parse_args()
    runs = max(3, args.runs)
    if args.measure_here:
        print(json.dumps(measure_here(args.ours, runs)))
        return 0
    print("\ncontainerd image store against graph-driver store: cold `inspect --layers`, example image\n")
    here = measure_here(args.ours, runs)
    if here["store"] != "graphdriver":
        print(f"  skipped: the current engine is not a graph-driver store ({here['store']})")
        return 0
    other = run(
        [
            str(HERE / "scripts/with-engine"),
            "--setup",
            "example_project/scripts/make-standins >/dev/null",
            sys.executable,
            __file__,
            "--ours",
            str(args.ours),
            "--runs",
            str(runs),
            "--measure-here",
        ],
        env={**os.environ, "IMAGESIZE_ENGINE": "docker-containerd"},
        cwd=HERE,
    )
    there = json.loads(next(line for line in reversed(other.splitlines()) if line.startswith("{")))
    rows = [here, there]
    for row in rows:
        walls = [float(w) for w in row["walls"]]
        each = ", ".join(f"{w:.2f}" for w in walls)
        mid = statistics.median(walls)
        save = statistics.median(float(w) for w in row["saves"])
        print(
            f"  {row['store']:<12} Docker {row['version']:<16} median {mid:6.2f} s  ({each});"
            f"  its `docker save | wc -c`: {save:.2f} s"
        )
    ratio = statistics.median(there["walls"]) / statistics.median(here["walls"])  # type: ignore[arg-type]
    met = ratio <= TARGET
    verdict = "met" if met else "MISSED"
    print(f"\n  containerd store / graph-driver store     {ratio:.2f}x   (target <= {TARGET}x)  {verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
