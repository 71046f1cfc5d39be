"""Package databases made by the real tools, in images built on the real engine: Python
distributions from PyPI wheels, Node packages from the npm registry (both downloaded on the host,
installed there, copied in: the engine's builds reach no registry), an rpmdb made by Debian's
``rpm`` with packages built by ``rpmbuild``, an apk database written by the test to apk-tools'
published format (no reachable Debian release packages apk-tools), a distroless-like
``status.d`` made the way distroless makes it, and a lower layer's database replaced by a later
layer's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from pytest_imagesize.measure.cache import NoCache
from pytest_imagesize.measure.image import Image, measure_image

pytestmark = pytest.mark.engine

WHEELS = (
    "requests",
    "urllib3",
    "idna",
    "certifi",
    "six",
    "attrs",
    "packaging",
    "click",
    "jinja2",
    "markupsafe",
)
Build = Callable[[Path, str], Image]
SITE = "usr/local/lib/python3.11/site-packages"


@pytest.fixture
def build(docker_client: docker.DockerClient) -> Iterator[Build]:
    made: list[str] = []

    def make(context: Path, dockerfile: str) -> Image:
        (context / "Dockerfile").write_text(dockerfile)
        tag = f"pytest-imagesize-test/packages-{len(made)}:1"
        docker_client.images.build(path=str(context), tag=tag, rm=True, forcerm=True)
        made.append(tag)
        return measure_image(tag, client=docker_client, cache=NoCache())

    yield make
    for tag in reversed(made):  # a later image may be built on an earlier one
        docker_client.images.remove(tag, force=True)


def run(*command: str, cwd: Path | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


def wheel_cache(tmp_path: Path) -> Path:
    """Where downloaded wheels are kept between runs (beside the stand-ins' cached tree)."""
    for where in (Path("/var/cache/pytest-imagesize/wheels"), tmp_path / "wheels"):
        try:
            where.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(where, os.W_OK):
            return where
    return tmp_path


def tree_bytes(image: Image, prefix: str) -> int:
    return sum(r.size for r in image.files if r.kind == "file" and r.path.startswith(prefix))


def test_pip_installed_wheels_own_their_tree(build: Build, tmp_path: Path) -> None:
    wheels = wheel_cache(tmp_path)
    pip = (sys.executable, "-m", "pip")
    download = (*pip, "download", "-q", "--only-binary=:all:", "--no-deps", "--dest", str(wheels), *WHEELS)
    # the wheels kept by an earlier run first: an engine run in a network namespace of its own
    # (scripts/with-engine) reaches no index
    kept = subprocess.run(
        [*download, "--no-index", "--find-links", str(wheels)], capture_output=True, timeout=300
    )
    if kept.returncode != 0:
        run(*download, "--timeout", "30", "--retries", "1")
    site = tmp_path / "ctx" / "site"
    run(
        *pip,
        "install",
        "-q",
        "--no-index",
        "--no-deps",
        "--find-links",
        str(wheels),
        "--target",
        str(site),
        *WHEELS,
    )
    image = build(tmp_path / "ctx", f"FROM scratch\nCOPY site/ /{SITE}/\n")
    packages = {p.name.lower(): p for p in image.packages if p.ecosystem == "python"}
    assert set(packages) == set(WHEELS)
    owned = sum(p.size for p in packages.values())
    share = owned / tree_bytes(image, f"/{SITE}/")
    print(f"pip: {share:.1%} of site-packages owned by its {len(packages)} distributions")
    assert share >= 0.90
    requests = packages["requests"]
    assert requests.version and requests.files > 10 and requests.layers == (0,) and requests.within is None
    assert image.package_report.databases == [f"python: {SITE} ({len(WHEELS)} packages)"]


def test_npm_packages_own_their_node_modules(build: Build, tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: install Debian's npm")
    app = tmp_path / "ctx" / "app"
    app.mkdir(parents=True)
    install = ("npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "express@4")
    # npm's own cache first: an engine run in a network namespace of its own (scripts/with-engine)
    # reaches no registry, and a run on the host's network has filled the cache
    offline = subprocess.run([*install, "--offline"], cwd=app, capture_output=True, text=True, timeout=300)
    if offline.returncode != 0:
        run(*install, "--fetch-retries=1", "--fetch-timeout=30000", cwd=app)
    image = build(tmp_path / "ctx", "FROM scratch\nCOPY app/ /app/\n")
    npm = [p for p in image.packages if p.ecosystem == "npm"]
    assert len(npm) > 30
    express = image.package("express", "npm")
    assert express is not None and express.version.startswith("4.") and express.files > 5
    share = sum(p.size for p in npm) / tree_bytes(image, "/app/node_modules/")
    print(f"npm: {share:.1%} of node_modules owned by its {len(npm)} packages")
    assert share >= 0.95


def test_an_rpmdb_made_by_rpm(build: Build, tmp_path: Path) -> None:
    if shutil.which("rpmbuild") is None:
        pytest.fail("rpmbuild is missing: install Debian's rpm (scripts/ensure-test-tools)")
    top, root = tmp_path / "top", tmp_path / "ctx" / "root"
    (top / "SPECS").mkdir(parents=True)
    rpms = []
    for name, size in (("alpha-data", 300_000), ("beta-tools", 50_000)):
        (top / "SPECS" / f"{name}.spec").write_text(
            f"Name: {name}\nVersion: 1.2\nRelease: 3\nSummary: t\nLicense: MIT\nBuildArch: noarch\n"
            f"%description\nt\n%install\nmkdir -p %{{buildroot}}/usr/share/{name} %{{buildroot}}/usr/bin\n"
            f"head -c {size} /dev/urandom > %{{buildroot}}/usr/share/{name}/data.bin\n"
            f"echo hi > %{{buildroot}}/usr/bin/{name}\n"
            f"%files\n/usr/share/{name}/data.bin\n/usr/bin/{name}\n"
        )
        run("rpmbuild", "--define", f"_topdir {top}", "-bb", str(top / "SPECS" / f"{name}.spec"))
        rpms.append(str(top / "RPMS" / "noarch" / f"{name}-1.2-3.noarch.rpm"))
    rpm = ("rpm", "--root", str(root), "--dbpath", "/var/lib/rpm")
    run(*rpm, "--initdb")
    run(*rpm, "-i", "--nodeps", "--noscripts", *rpms)
    assert (root / "var/lib/rpm/rpmdb.sqlite").is_file()  # Debian's rpm writes the sqlite format
    image = build(tmp_path / "ctx", "FROM scratch\nCOPY root/ /\n")
    alpha = image.package("alpha-data", "rpm")
    assert alpha is not None and alpha.version == "1.2-3" and alpha.arch == "noarch"
    assert alpha.size == 300_003 and alpha.files == 2 and alpha.claimed_size == 300_003
    beta = image.package("beta-tools", "rpm")
    assert beta is not None and beta.size == 50_003
    assert image.package_report.databases == ["rpm: var/lib/rpm/rpmdb.sqlite (2 packages)"]


def test_an_apk_database_written_to_the_format_spec(build: Build, tmp_path: Path) -> None:
    root = tmp_path / "ctx" / "root"
    for path, size in (("usr/lib/libz.so.1.3", 100_000), ("bin/busybox", 800_000), ("etc/motd", 100)):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(b"x" * size)
    (root / "lib").symlink_to("usr/lib")  # merged /usr: the database names /lib
    (root / "usr/lib/ld-musl.so.1").write_bytes(b"m" * 50_000)
    (root / "usr/lib/apk/db").mkdir(parents=True)  # /lib/apk/db, merged into /usr
    (root / "usr/lib/apk/db/installed").write_text(
        "C:Q1abc=\nP:zlib\nV:1.3.1-r2\nA:x86_64\nS:53000\nI:100000\nT:a compression library\n"
        "F:usr\nF:usr/lib\nR:libz.so.1.3\nZ:Q1def=\n\n"
        "P:busybox\nV:1.37.0-r8\nA:x86_64\nI:819200\nF:bin\nR:busybox\nF:etc\nR:motd\n\n"
        "P:musl\nV:1.2.5-r9\nA:x86_64\nI:50000\nF:lib\nR:ld-musl.so.1\n\n"
    )
    image = build(tmp_path / "ctx", "FROM scratch\nCOPY root/ /\n")
    zlib, busybox = image.package("zlib", "apk"), image.package("busybox", "apk")
    assert zlib is not None and (zlib.version, zlib.size, zlib.claimed_size) == ("1.3.1-r2", 100_000, 100_000)
    assert busybox is not None and busybox.size == 800_100 and busybox.files == 2
    musl = image.package("musl", "apk")
    assert musl is not None and musl.size == 50_000


@pytest.mark.docker_only("the stand-in is made with the docker CLI (make-standins); not run on Podman")
def test_a_distroless_status_d_and_a_database_replaced_by_a_later_layer(
    build: Build, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    from tests.test_packages_debian import MAKE_STANDINS

    done = subprocess.run(["bash", str(MAKE_STANDINS)], capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-500:]
    debian = dict(line.split("=", 1) for line in done.stdout.split() if "=" in line)["GO_IMAGE"]
    # distroless copies each package's files, its status paragraph to status.d/<pkg> and its
    # md5sums to status.d/<pkg>.md5sums
    context = tmp_path / "ctx"
    context.mkdir()
    script = (
        "set -e; mkdir -p /out/var/lib/dpkg/status.d; for p in libc6 tzdata netbase base-files; do "
        'dpkg -L $p | while read -r f; do if [ -f "$f" ] && [ ! -L "$f" ]; then '
        'cp -a --parents "$f" /out; fi; done; '
        "dpkg-query -s $p > /out/var/lib/dpkg/status.d/$p; "
        "cat /var/lib/dpkg/info/$p.md5sums /var/lib/dpkg/info/$p:*.md5sums 2>/dev/null "
        "> /out/var/lib/dpkg/status.d/$p.md5sums || true; done"
    )
    image = build(
        context,
        f"FROM {debian} AS src\nRUN {script}\nFROM scratch\nCOPY --from=src /out/ /\n",
    )
    report = image.package_report
    assert report.databases == ["deb: var/lib/dpkg/status.d (4 packages)"]
    libc = image.package("libc6", "deb")
    assert libc is not None and libc.size > 5_000_000 and libc.claimed_size is not None
    assert (report.total - report.unowned) / report.total >= 0.9
    # a later layer replaces libc6's status file: the final filesystem's copy counts
    (context / "libc6").write_text(
        "Package: libc6\nVersion: 9.99-1\nArchitecture: amd64\nInstalled-Size: 1\n"
    )
    later = build(context, f"FROM {image.id}\nCOPY libc6 /var/lib/dpkg/status.d/libc6\n")
    replaced = later.package("libc6", "deb")
    assert replaced is not None and replaced.version == "9.99-1"
    assert (replaced.size, replaced.layers) == (libc.size, libc.layers)
