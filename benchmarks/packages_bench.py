"""Benchmark: what reading package databases adds to the cold analysis of the example's
single-stage image (~470 MB, the Go toolchain on Debian: 85 deb packages, ~30,000 files).

    python benchmarks/packages_bench.py [--ours DIR] [--runs N] IMAGE

Each run is a fresh process doing the cold analysis without the cache (one archive pass, the
merge, the final analysis): with package databases probed, read and attributed, and without
(the Go probe only, as before packages). Interleaved, ``--runs`` times; medians are compared.
Exit status 1 when packages add more than 10 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analysis_bench import Table, measured, series, show, wall

RATIO_BUDGET = 1.10

COLD = """
import sys, docker
from pytest_imagesize.measure.analysis import ImageAnalysis, assemble, image_probe
from pytest_imagesize.measure.archive import read_archive
from pytest_imagesize.measure.go.probe import GoProbe
from pytest_imagesize.measure.layers import layer_history, merge
packages = sys.argv[2] == "packages"
probe = image_probe() if packages else GoProbe()
scan = read_archive(docker.from_env().api.get_image(sys.argv[1], chunk_size=1 << 20), probe=probe)
merged = merge(scan)
if packages:
    analysis = assemble(merged, scan, scan.config)
else:
    from pytest_imagesize.measure.analysis import _surviving_go_binaries as go
    history = layer_history(scan.config, len(scan.layers))
    analysis = ImageAnalysis(merged.layers, merged.files, merged.hidden, history, go(merged, scan))
report = analysis.packages
print(len(report.packages), report.total - report.unowned, report.total)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ours", type=Path, help="bin/ of the venv with pytest-imagesize")
    args = parser.parse_args()
    python = str(args.ours / "python") if args.ours else sys.executable

    def cold(packages: bool) -> object:
        return lambda: measured([python, "-c", COLD, args.image, "packages" if packages else "none"])

    print(f"package databases: the cold analysis of {args.image} with them and without them\n")
    runs = series(
        args.runs,
        {"cold analysis, packages read": cold(True), "cold analysis, no packages": cold(False)},  # type: ignore[dict-item]
    )
    show(runs)
    count, owned, total = (int(x) for x in runs["cold analysis, packages read"][0].out.split())
    print(f"  packages: {count}, {owned / max(total, 1):.1%} of {total:,} regular-file bytes attributed")
    print()
    table = Table()
    ratio = wall(runs, "cold analysis, packages read") / wall(runs, "cold analysis, no packages")
    table.target("with packages / without", ratio, RATIO_BUDGET, "{:.3f}x")
    cpu = [statistics.median(r.cpu for r in runs[name]) for name in runs]
    table.target("CPU time with packages / without", cpu[0] / cpu[1], None, "{:.3f}x")
    return 1 if table.missed else 0


if __name__ == "__main__":
    sys.exit(main())
