"""What is (not) inside the multi-stage image, read from the image's own layers: no shell needed."""

from __future__ import annotations

import struct

import pytest

from pytest_imagesize import Image

PT_INTERP = 3


def program_header_types(elf: bytes) -> list[int]:
    """The p_type of every program header of an ELF file (32- or 64-bit, either byte order)."""
    assert elf[:4] == b"\x7fELF", "not an ELF file"
    is64 = elf[4] == 2
    order = "<" if elf[5] == 1 else ">"
    if is64:
        (phoff,) = struct.unpack_from(order + "Q", elf, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", elf, 0x36)
    else:
        (phoff,) = struct.unpack_from(order + "I", elf, 0x1C)
        phentsize, phnum = struct.unpack_from(order + "HH", elf, 0x2A)
    return [struct.unpack_from(order + "I", elf, phoff + i * phentsize)[0] for i in range(phnum)]


@pytest.mark.parametrize(
    "path",
    [
        "/bin/sh",
        "/bin/bash",
        "/bin/busybox",
        "/usr/bin/apt",
        "/usr/bin/apt-get",
        "/usr/bin/dpkg",
        "/sbin/apk",
    ],
)
def test_no_shell_or_package_manager(slim: Image, path: str) -> None:
    assert not slim.has_file(path)


def test_nothing_shell_like_anywhere(slim: Image) -> None:
    assert slim.find("**/busybox") == []
    assert slim.find("**/bin/*sh") == []
    # var/lib/dpkg holds the package database distroless writes (status.d), not dpkg itself
    assert [path for path in slim.find("**/dpkg") if path != "/var/lib/dpkg"] == []


def test_entry_binary_is_statically_linked(slim: Image) -> None:
    assert slim.config.entrypoint == ("/hello",)
    elf = slim.read_file("/hello")
    types = program_header_types(elf)
    assert types, "no program headers"
    assert PT_INTERP not in types, "the binary asks for a dynamic loader"


def test_runs_as_nonroot(slim: Image) -> None:
    assert slim.config.user.split(":")[0] == "65532"
    assert slim.has_file("/etc/passwd")
    assert slim.has_file("/etc/ssl/certs/ca-certificates.crt")
