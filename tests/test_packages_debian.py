"""Debian packages measured on a real debootstrap image (one layer: minbase + golang-go, the
example's stand-in, ``example_project/scripts/make-standins``): nearly every byte goes to a
package, and each package's measured size is what a container of the image counts itself."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import docker
import pytest

from pytest_imagesize.measure.cache import NoCache
from pytest_imagesize.measure.image import measure_image

pytestmark = [
    pytest.mark.engine,
    pytest.mark.docker_only("the stand-in is made with the docker CLI (make-standins); not run on Podman"),
]

MAKE_STANDINS = Path(__file__).resolve().parent.parent / "example_project" / "scripts" / "make-standins"

# Inside the image (perl-base is in every Debian): for each package, the regular files (lstat)
# that `dpkg -L` lists, at their canonical path (the realpath of the directory), each inode once.
SIZES_PL = r"""
use strict; use Cwd 'realpath'; use File::Basename;
for my $p (@ARGV) {
  my (%seen, $sum); $sum = 0;
  open(my $fh, "-|", "dpkg", "-L", $p) or die "dpkg -L $p";
  while (my $f = <$fh>) {
    chomp $f; next unless $f =~ m{^/};
    lstat($f) or next; next unless -f _;
    my $d = realpath(dirname($f)); next unless defined $d;
    my @st = lstat(($d eq "/" ? "" : $d) . "/" . basename($f)) or next;
    next if $seen{"$st[0]:$st[1]"}++;
    $sum += $st[7];
  }
  print "$p $sum\n";
}
"""


@pytest.fixture(scope="module")
def debian_image(docker_client: docker.DockerClient) -> str:
    """The debootstrapped Debian stand-in (made from the cached tree when the engine lacks it)."""
    done = subprocess.run(["bash", str(MAKE_STANDINS)], capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        pytest.fail(f"make-standins failed: {done.stderr.strip().splitlines()[-1:]}")
    args = dict(line.split("=", 1) for line in done.stdout.split() if "=" in line)
    return args["GO_IMAGE"]


def test_nearly_every_byte_of_a_debootstrap_image_is_a_packages(
    debian_image: str, docker_client: docker.DockerClient
) -> None:
    image = measure_image(debian_image, client=docker_client, cache=NoCache())
    report = image.package_report
    assert len(image.layers) == 1
    assert report.databases == [f"deb: var/lib/dpkg/status ({len(image.packages)} packages)"]
    assert len(image.packages) > 50
    assert report.total == sum(r.size for r in image.files if r.kind == "file")
    assert sum(p.size for p in image.packages if p.within is None) + report.unowned == report.total
    assert (report.total - report.unowned) / report.total >= 0.95, (report.unowned, report.total)
    go = image.package("golang-1.24-go", "deb")
    assert go is not None and go.version.startswith("1.24") and go.layers == (0,)
    assert go.claimed_size is not None and go.size > 50_000_000


def test_each_packages_size_is_what_the_container_counts(
    debian_image: str, docker_client: docker.DockerClient
) -> None:
    image = measure_image(debian_image, client=docker_client, cache=NoCache())
    names = [p.name for p in image.packages]
    out = docker_client.containers.run(
        debian_image, ["perl", "-e", SIZES_PL, *names], remove=True, user="0", environment={"LC_ALL": "C"}
    ).decode()
    inside = {name: int(size) for name, size in (line.split() for line in out.splitlines())}
    assert set(inside) == set(names)
    equal = [n for n in names if image.package(n, "deb").size == inside[n]]  # type: ignore[union-attr]
    assert len(equal) >= 20
    assert equal == names, {n: (image.package(n).size, inside[n]) for n in names if n not in equal}  # type: ignore[union-attr]
    engine = os.environ.get("IMAGESIZE_ENGINE", "docker")
    print(f"{len(equal)} of {len(names)} Debian packages measured to the byte ({engine})")
