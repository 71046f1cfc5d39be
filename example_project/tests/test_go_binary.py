"""The service binary, read from the image's own layers: what it is made of, and how it was built."""

from __future__ import annotations

import pytest

from pytest_imagesize import Image


@pytest.mark.go_build_hygiene
def test_service_binary_is_built_for_production(slim: Image) -> None:
    # stripped, -trimpath, static, not a test binary: the marker fails with the fix otherwise
    pass


def test_only_the_standard_library_and_the_service_are_linked(slim: Image) -> None:
    (binary,) = [b for b in slim.go_binaries if b.path == "/hello"]
    assert binary.main_module == "example.com/hello"
    third_party = sorted(set(binary.modules) - {"std", binary.main_module})
    assert third_party == [], f"third-party modules in the service binary: {third_party}"
    # the standard library and the service itself account for the binary's attributed bytes
    packages = sum(p.size for p in binary.packages.values())
    assert binary.modules["std"].size + binary.modules[binary.main_module].size == packages
    assert packages >= 0.7 * binary.size


def test_the_toolchain_image_is_full_of_go_binaries(fat: Image) -> None:
    paths = {b.path for b in fat.go_binaries}
    assert "/usr/local/bin/hello" in paths
    assert len(paths) >= 10, sorted(paths)  # the go command, its tools, and the service
