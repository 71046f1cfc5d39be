"""Benchmark: images where they live (a registry, an OCI layout) against the commands a user of
skopeo and dive runs for the same answer.

    python benchmarks/sources_bench.py --tools DIR --ours DIR [--runs N] IMAGE

IMAGE is the example's single-stage image (~470 MB) in the local engine (benchmarks/run builds it).
It is copied once with skopeo into an OCI layout (gzip layers), a second platform is made beside it
(the same layers, a config naming linux/arm64), and both are pushed as a two-platform index to
Debian's docker-registry on 127.0.0.1 (plain HTTP, a temporary root). Every measurement is a fresh
process, interleaved over ``--runs`` rounds; medians are reported:

  sizes only     `pytest-imagesize check --compressed --all-platforms docker://.../bench:two`, cold
                 (no cache): nothing but the index and the two manifests are fetched; against the
                 `skopeo inspect --raw` calls that fetch the same manifests (1 + one per platform)
  OCI layout     `pytest-imagesize inspect oci:DIR:single --layers --no-cache` (files, waste, Go)
                 against `skopeo copy oci:... docker-archive:...` + `dive --source docker-archive --ci`,
                 and against dive alone on that archive
  registry       `pytest-imagesize inspect docker://.../bench:single --layers --no-cache` against
                 `skopeo copy docker://... docker-archive:...` + dive on it

Peak RSS of ours in every step: at most 150 MB. Exit status 1 when a target is missed; what the
script made (the registry, the layout, archives) is removed afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from analysis_bench import Run, Table, measured, median, series, shell, show, wall

MAX_RSS = 150e6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_registry(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
    )
    log = (root / "log").open("wb")
    process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log)
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://{host}/v2/", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"docker-registry did not start: {(root / 'log').read_text()[-2000:]}")
            time.sleep(0.1)
    return process, host


def blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def read_blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def add_second_platform(layout: Path) -> None:
    """Ref ``two``: an index of the ``single`` image as linux/amd64 and the same layers under a
    config that names linux/arm64 (the sizes a two-platform push stores, without a second build)."""
    index = json.loads((layout / "index.json").read_text())
    single = next(
        m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "single"
    )
    manifest = json.loads(read_blob(layout, single["digest"]))
    config = json.loads(read_blob(layout, manifest["config"]["digest"]))
    config["architecture"], config["variant"] = "arm64", "v8"
    digest, size = blob(layout, json.dumps(config).encode())
    arm_manifest = {**manifest, "config": {**manifest["config"], "digest": digest, "size": size}}
    arm_digest, arm_size = blob(layout, json.dumps(arm_manifest).encode())
    amd = {**single, "platform": {"os": "linux", "architecture": "amd64"}}
    amd.pop("annotations")
    arm = {
        "mediaType": single["mediaType"],
        "digest": arm_digest,
        "size": arm_size,
        "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
    }
    two = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [amd, arm],
    }
    index_digest, index_size = blob(layout, json.dumps(two).encode())
    index["manifests"].append(
        {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": index_digest,
            "size": index_size,
            "annotations": {"org.opencontainers.image.ref.name": "two"},
        }
    )
    (layout / "index.json").write_text(json.dumps(index))


def skopeo(*args: str) -> None:
    done = subprocess.run(["skopeo", *args], capture_output=True, check=False)
    if done.returncode != 0:
        sys.exit(f"skopeo {' '.join(args)} failed: {done.stderr.decode()[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tools", type=Path, required=True, help="where dive is")
    parser.add_argument("--ours", type=Path, required=True, help="where pytest-imagesize is")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("image")
    options = parser.parse_args()
    ours, dive = str(options.ours / "pytest-imagesize"), str(options.tools / "dive")
    work = Path(tempfile.mkdtemp(prefix="imagesize-sources-bench."))
    registry: subprocess.Popen[bytes] | None = None
    try:
        layout = work / "layout"
        skopeo("copy", "-q", f"docker-daemon:{options.image}", f"oci:{layout}:single")
        add_second_platform(layout)
        (work / "registry").mkdir()
        registry, host = start_registry(work / "registry")
        plain = "--dest-tls-verify=false"
        skopeo("copy", "-q", plain, f"oci:{layout}:single", f"docker://{host}/bench:single")
        skopeo("copy", "-q", plain, "--all", f"oci:{layout}:two", f"docker://{host}/bench:two")
        raw = subprocess.run(
            ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{host}/bench:two"],
            capture_output=True,
            check=True,
        ).stdout
        digests = [m["digest"] for m in json.loads(raw)["manifests"]]
        print(f"{options.image}: OCI layout with gzip layers, pushed to {host} as bench:single and bench:two")
        print(f"  {len(digests)} platforms in bench:two; {options.runs} runs each, medians\n")

        def inspect_raw(ref: str) -> str:
            return f"skopeo inspect --raw --tls-verify=false docker://{host}/{ref} >/dev/null"

        manifests_script = " && ".join(
            [inspect_raw("bench:two"), *(inspect_raw(f"bench@{d}") for d in digests)]
        )
        archive = work / "dive.tar"

        def dive_user(source: str) -> Run:
            archive.unlink(missing_ok=True)
            run = measured(
                shell(
                    f"skopeo copy -q --src-tls-verify=false {source} docker-archive:{archive} && "
                    f"{dive} --source docker-archive {archive} --ci"
                ),
                env={"CI": "true"},
                ok=(0, 1),
            )
            return run

        def dive_alone() -> Run:
            if not archive.exists():
                skopeo("copy", "-q", f"oci:{layout}:single", f"docker-archive:{archive}")
            return measured(
                [dive, "--source", "docker-archive", str(archive), "--ci"], env={"CI": "true"}, ok=(0, 1)
            )

        steps = {
            "ours: sizes only, 2 platforms": lambda: measured(
                [
                    ours,
                    "check",
                    "--max",
                    "100GB",
                    "--compressed",
                    "--all-platforms",
                    "--no-cache",
                    f"docker://{host}/bench:two",
                ],
            ),
            "skopeo inspect --raw x3": lambda: measured(shell(manifests_script)),
            "ours: OCI layout, full": lambda: measured(
                [ours, "inspect", "--layers", "--no-cache", f"oci:{layout}:single"]
            ),
            "skopeo copy oci: + dive": lambda: dive_user(f"oci:{layout}:single"),
            "dive alone (docker-archive)": dive_alone,
            "ours: registry, full": lambda: measured(
                [ours, "inspect", "--layers", "--no-cache", f"docker://{host}/bench:single"]
            ),
            "skopeo copy docker:// + dive": lambda: dive_user(f"docker://{host}/bench:single"),
        }
        results = series(options.runs, steps)
        show(results)
        print()
        table = Table()
        sizes = wall(results, "ours: sizes only, 2 platforms")
        table.target("sizes only, 2-platform index, cold CLI run (s)", sizes, 0.5, "{:.2f}")
        table.target(
            "... / skopeo inspect --raw of the same manifests",
            sizes / wall(results, "skopeo inspect --raw x3"),
            1.0,
            "{:.2f}",
        )
        layout_full = wall(results, "ours: OCI layout, full")
        table.target(
            "OCI layout full analysis / (skopeo copy + dive)",
            layout_full / wall(results, "skopeo copy oci: + dive"),
            1.0,
            "{:.2f}",
        )
        table.target(
            "OCI layout full analysis / dive alone (stretch 3)",
            layout_full / wall(results, "dive alone (docker-archive)"),
            None,
            "{:.2f}",
        )
        table.target(
            "registry full analysis / (skopeo copy + dive)",
            wall(results, "ours: registry, full") / wall(results, "skopeo copy docker:// + dive"),
            1.0,
            "{:.2f}",
        )
        ours_rss = max(r.rss for name, rows in results.items() if name.startswith("ours") for r in rows)
        table.target("peak RSS of ours, any step (MB)", ours_rss / 1e6, MAX_RSS / 1e6, "{:.0f}")
        cpu = median([r.cpu for r in results["ours: OCI layout, full"]])
        print(f"\n  median CPU of ours, OCI layout: {cpu:.2f} s")
        return 1 if table.missed else 0
    finally:
        if registry is not None:
            registry.send_signal(signal.SIGTERM)
            try:
                registry.wait(10)
            except subprocess.TimeoutExpired:
                registry.kill()
                registry.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
