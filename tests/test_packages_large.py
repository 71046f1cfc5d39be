"""A package of 100,000 files and a hostile package name, through the attribution (pure, but
too slow for the unit suite's budget)."""

from __future__ import annotations

from tests.unit.test_packages_attribution import analyse, fs


def test_a_hundred_thousand_file_package_and_hostile_names() -> None:
    paths = [f"/usr/share/big/{i}" for i in range(100_000)]
    hostile = b"<img src=x onerror=alert(1)>|*`[x](y)`"
    status = b"Package: " + hostile + b"\nVersion: 1\nArchitecture: all\n"
    result = analyse(
        fs(
            ("/var/lib/dpkg/status", "file", status),
            (f"/var/lib/dpkg/info/{hostile.decode()}.list", "file", "\n".join(paths).encode()),
            *((p, "file", 1) for p in paths),
        )
    )
    [package] = result.packages
    assert package.name == hostile.decode() and (package.size, package.files) == (100_000, 100_000)
