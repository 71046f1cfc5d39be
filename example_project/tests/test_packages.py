"""What packages the runtime image holds, read from its own package database (distroless writes
one per package in var/lib/dpkg/status.d): no compiler, no headers, no package manager."""

from __future__ import annotations

import pytest

from pytest_imagesize import Image

COMPILERS = ("gcc*", "g++*", "cpp*", "clang*", "llvm*", "golang*", "rustc*", "make", "build-essential")
HEADERS = ("*-dev",)
PACKAGE_MANAGERS = ("apt", "dpkg", "apk-tools", "rpm", "dnf", "yum", "pip", "npm")


# strict=True: an image without any package database fails here instead of passing unchecked;
# gcc-14-base (a runtime library's companion in every Debian) is no compiler
@pytest.mark.forbid_packages(*COMPILERS, *HEADERS, *PACKAGE_MANAGERS, allow=("gcc-*-base",), strict=True)
def test_runtime_image_has_no_build_tools(slim: Image) -> None:
    pass


def test_runtime_packages_are_the_distroless_few(slim: Image) -> None:
    names = {p.name for p in slim.packages}
    assert {"base-files", "netbase", "tzdata", "ca-certificates"} <= names, names
    assert len(names) <= 10, names
    tzdata = slim.package("tzdata", "deb")
    assert tzdata is not None and tzdata.size > 100_000
