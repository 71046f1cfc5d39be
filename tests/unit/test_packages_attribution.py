"""Attribution rules on small final filesystems: canonical paths through the image's symlinks,
each inode once, directories for nobody, first owner in database order, OS before language
packages (``within``), and the sum rule."""

from __future__ import annotations

import json
from typing import Any

from pytest_imagesize.measure.layers import FileRecord
from pytest_imagesize.measure.packages.model import ImagePackages, Package
from pytest_imagesize.measure.packages.probe import kind_of, take
from pytest_imagesize.measure.packages.read import read_packages


def fs(*items: tuple[Any, ...]) -> dict[str, tuple[FileRecord, bytes | None]]:
    """Records from (path, kind, size-or-content[, link][, layer]); content bytes make a file the
    probe keeps."""
    out: dict[str, tuple[FileRecord, bytes | None]] = {}
    for item in items:
        path, kind, body = item[0], item[1], item[2]
        link = item[3] if len(item) > 3 else ""
        layer = item[4] if len(item) > 4 else 0
        data = body if isinstance(body, bytes) else None
        size = len(body) if isinstance(body, bytes) else int(body)
        out[path] = (FileRecord(path, kind, size, 0o644, 0, 0, link, layer), data)
    return out


def analyse(files: dict[str, tuple[FileRecord, bytes | None]]) -> ImagePackages:
    kept = {}
    for path, (_record, data) in files.items():
        kind = kind_of(path)
        if data is not None and kind is not None:
            kept[path] = take(kind, path, data)
    result = read_packages([r for r, _ in files.values()], lambda r: kept.get(r.path))
    assert sum(p.size for p in result.packages if p.within is None) + result.unowned == result.total
    return result


STATUS = b"""Package: alpha
Status: install ok installed
Architecture: amd64
Version: 1.0-1
Installed-Size: 4

Package: beta
Status: install ok installed
Architecture: all
Version: 2.0
Installed-Size: 1

Package: gone
Status: deinstall ok config-files
Version: 0.1
"""


def debian(*extra: tuple[Any, ...], alpha: bytes, beta: bytes = b"/.\n/usr\n") -> ImagePackages:
    return analyse(
        fs(
            ("/var/lib/dpkg/status", "file", STATUS),
            ("/var/lib/dpkg/info/alpha:amd64.list", "file", alpha),
            ("/var/lib/dpkg/info/beta.list", "file", beta),
            ("/usr", "dir", 0),
            ("/usr/bin", "dir", 0),
            ("/usr/lib", "dir", 0),
            ("/bin", "symlink", 0, "usr/bin"),
            ("/lib", "symlink", 0, "/usr/lib"),
            *extra,
        )
    )


def test_merged_usr_hardlinks_and_directories() -> None:
    result = debian(
        ("/usr/bin/tool", "file", 1000, "", 1),
        ("/usr/bin/tool2", "hardlink", 0, "/usr/bin/tool", 1),
        ("/usr/lib/libx.so", "file", 3000, "", 2),
        ("/usr/lib/libx.so.1", "symlink", 0, "libx.so"),
        alpha=b"/.\n/bin\n/bin/tool\n/bin/tool2\n/lib/./libx.so\n/usr//lib/libx.so.1\n",
    )
    alpha = next(p for p in result.packages if p.name == "alpha")
    assert (alpha.size, alpha.files, alpha.layers, alpha.layer_sizes) == (4000, 2, (1, 2), (1000, 3000))
    assert Package.from_json(json.loads(json.dumps(alpha.to_json()))) == alpha
    assert (alpha.version, alpha.arch, alpha.claimed_size) == ("1.0-1", "amd64", 4096)
    assert [p.name for p in result.packages] == ["alpha", "beta"]  # "gone" is not installed
    assert result.databases == ["deb: var/lib/dpkg/status (2 packages)"]
    assert result.warnings == []


def test_first_owner_in_database_order_and_one_warning() -> None:
    result = debian(
        ("/usr/bin/a", "file", 10),
        ("/usr/bin/b", "file", 20),
        alpha=b"/usr/bin/a\n/usr/bin/b\n",
        beta=b"/bin/a\n/usr/bin/b\n",
    )
    assert result.get("alpha") is not None and result.get("alpha").size == 30  # type: ignore[union-attr]
    assert result.get("beta").size == 0  # type: ignore[union-attr]
    [line] = [w for w in result.warnings if "claimed by two" in w]
    assert line.startswith("deb: 2 files are claimed by two packages of var/lib/dpkg/status")


def test_a_symlinked_directory_of_the_image_is_followed() -> None:
    result = debian(
        ("/opt", "dir", 0),
        ("/opt/app", "symlink", 0, "../srv/app-1"),
        ("/srv/app-1/data", "file", 500),
        alpha=b"/opt/app/data\n",
    )
    assert result.get("alpha").size == 500  # type: ignore[union-attr]
    assert result.unowned == len(STATUS) + len(b"/opt/app/data\n") + len(b"/.\n/usr\n")


def test_python_within_an_os_package_is_not_counted_twice() -> None:
    site = "/usr/lib/python3/dist-packages"
    record = b"yaml/__init__.py,sha256=x,700\nyaml/extra.py,,\nPyYAML-6.0.dist-info/RECORD,,\n"
    result = debian(
        (f"{site}/yaml/__init__.py", "file", 700),
        (f"{site}/yaml/extra.py", "file", 300),
        (f"{site}/PyYAML-6.0.dist-info/RECORD", "file", record),
        (f"{site}/mixed-1.0.dist-info/RECORD", "file", b"mixed.py,,\n../../../bin/mixed,,\n"),
        (f"{site}/mixed.py", "file", 40),
        ("/usr/bin/mixed", "file", 2),
        alpha=f"{site}/yaml/__init__.py\n{site}/yaml/extra.py\n{site}/mixed.py\n".encode(),
    )
    yaml = result.get("pyyaml", "python")
    assert result.get("py-yaml") is None
    assert yaml is not None and yaml.within is None and yaml.size == len(record)  # only RECORD is its own
    mixed = result.get("mixed", "python")
    assert mixed is not None and (mixed.size, mixed.version) == (2, "1.0")  # ../../../bin/mixed
    assert result.get("alpha").size == 1040  # type: ignore[union-attr]
    only_os = debian(
        (f"{site}/six.py", "file", 900),
        (f"{site}/six-1.16.dist-info/RECORD", "file", b"six.py,,\n"),
        alpha=f"{site}/six.py\n{site}/six-1.16.dist-info/RECORD\n".encode(),
    )
    six = only_os.get("six", "python")
    assert six is not None and (six.within, six.size, six.files) == ("deb:alpha", 900, 1)


def test_a_debian_python_package_without_a_file_list_is_within_its_deb() -> None:
    site = "/usr/lib/python3/dist-packages"
    files = (f"{site}/yaml/__init__.py", f"{site}/_yaml/x.so", f"{site}/PyYAML-6.0.2.egg-info/PKG-INFO")
    result = debian(
        *((path, "file", 100 * (i + 1)) for i, path in enumerate(files)),
        (f"{site}/other.py", "file", 7),
        alpha="\n".join(files).encode(),
    )
    yaml = result.get("pyyaml", "python")
    assert yaml is not None and (yaml.within, yaml.size, yaml.files, yaml.version) == (
        "deb:alpha",
        600,
        3,
        "6.0.2",
    )
    assert result.get("alpha").size == 600  # type: ignore[union-attr]
    assert result.databases[-1] == "python: usr/lib/python3/dist-packages (1 package)"


def test_node_packages_are_their_directories() -> None:
    root = "/app/node_modules"
    result = analyse(
        fs(
            (f"{root}/express/package.json", "file", b'{"name": "express", "version": "4.21.0"}'),
            (f"{root}/express/index.js", "file", 100),
            (f"{root}/express/node_modules/ms/package.json", "file", b'{"name": "ms", "version": "2.0.0"}'),
            (f"{root}/express/node_modules/ms/index.js", "file", 10),
            (f"{root}/ms/package.json", "file", b'{"name": "ms", "version": "2.1.3"}'),
            (f"{root}/ms/index.js", "file", 20),
            (f"{root}/@types/node/package.json", "file", b'{"name": "@types/node", "version": "1"}'),
            (f"{root}/@types/node/index.d.ts", "file", 5),
            (f"{root}/.package-lock.json", "file", 7),
            (f"{root}/express/lib/package.json", "file", 3),
        )
    )
    express, ms = result.get("express", "npm"), result.get("ms", "npm")
    assert express is not None and express.size == 100 + 40 + 3 and express.version == "4.21.0"
    assert ms is not None and ms.version == "2.0.0, 2.1.3" and ms.files == 4
    assert (ms.size, ms.layers, ms.layer_sizes) == (98, (0,), (98,))  # 10 + 20 + two package.json of 34
    assert result.get("@types/node") is not None
    assert result.unowned == 7
    assert result.databases == ["npm: app/node_modules (4 packages)"]


def test_apk_and_rpm_beside_each_other() -> None:
    from pytest_imagesize.measure.packages import rpm

    installed = b"P:zlib\nV:1.3\nA:x86_64\nI:1000\nF:usr/lib\nR:libz.so\n\nP:musl\nV:1.2\nF:lib\nR:ld.so\n"
    result = analyse(
        fs(
            ("/lib/apk/db/installed", "file", installed),
            ("/usr/lib/libz.so", "file", 800),
            ("/lib/ld.so", "file", 90),
        )
    )
    assert (result.get("zlib", "apk").size, result.get("zlib", "apk").claimed_size) == (800, 1000)  # type: ignore[union-attr]
    assert result.get("musl", "apk").size == 90  # type: ignore[union-attr]
    header = rpm.parse_header(rpm_header(name="curl", files=["/usr/bin/curl"]))
    assert header["name"] == "curl" and header["files"] == ["/usr/bin/curl"] and header["size"] == 1234


def rpm_header(name: str, files: list[str]) -> bytes:
    """A header blob as rpm writes them into rpmdb.sqlite (see measure/packages/rpm.py)."""
    import struct

    data = bytearray()
    entries = []

    def add(tag: int, kind: int, value: bytes, count: int) -> None:
        if kind == 4:
            while len(data) % 4:
                data.append(0)
        entries.append(struct.pack(">IIII", tag, kind, len(data), count))
        data.extend(value)

    dirs = sorted({f.rsplit("/", 1)[0] + "/" for f in files})
    add(1000, 6, name.encode() + b"\0", 1)
    add(1001, 6, b"8.0\0", 1)
    add(1002, 6, b"1.fc40\0", 1)
    add(1022, 6, b"x86_64\0", 1)
    add(1117, 8, b"".join(f.rsplit("/", 1)[1].encode() + b"\0" for f in files), len(files))
    add(1118, 8, b"".join(d.encode() + b"\0" for d in dirs), len(dirs))
    add(1009, 4, struct.pack(">i", 1234), 1)
    add(
        1116, 4, b"".join(struct.pack(">i", dirs.index(f.rsplit("/", 1)[0] + "/")) for f in files), len(files)
    )
    return struct.pack(">II", len(entries), len(data)) + b"".join(entries) + bytes(data)
