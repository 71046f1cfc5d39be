"""Bad package databases: one warning line each, the rest of the analysis stands."""

from __future__ import annotations

import sqlite3

import pytest

from pytest_imagesize.measure.analysis import layer_from_json, layer_to_json
from pytest_imagesize.measure.archive import LayerScan, TarEntry
from pytest_imagesize.measure.packages.probe import LIMITS, PackageProbe, take
from tests.unit.test_packages_attribution import STATUS, analyse, debian, fs, rpm_header

GARBAGE = bytes(range(256)) * 4
RPMDB = "/var/lib/rpm/rpmdb.sqlite"


def one_line(warnings: list[str], *words: str) -> str:
    [line] = [w for w in warnings if all(word in w for word in words)]
    assert "\n" not in line
    return line


def rpmdb(*blobs: bytes) -> bytes:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
    connection.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b,) for b in blobs])
    connection.commit()
    data = connection.serialize()
    connection.close()
    return data


@pytest.mark.parametrize(
    ("path", "data", "words"),
    [
        ("/var/lib/dpkg/status", GARBAGE, ("deb:", "status is damaged")),
        ("/lib/apk/db/installed", GARBAGE, ("apk:", "installed is damaged")),
        (
            "/var/lib/rpm/rpmdb.sqlite",
            rpmdb(rpm_header("a", ["/a"]))[:3000],
            ("rpm: not read", "rpmdb.sqlite"),
        ),
        (RPMDB, GARBAGE, ("rpm: not read", "not an SQLite database")),
        (
            "/var/lib/rpm/rpmdb.sqlite",
            rpmdb(b"\x00\x00\x10\x00" + GARBAGE, rpm_header("a", ["/a"])),
            ("damaged",),
        ),
        ("/app/node_modules/x/package.json", b'{"name": "x", "vers', ("npm: not read", "not valid JSON")),
        ("/var/lib/dpkg/status.d/libc6", GARBAGE, ("deb:", "status.d name no package")),
    ],
    ids=["dpkg-status", "apk", "rpm-truncated", "rpm-not-sqlite", "rpm-bad-header", "npm", "status.d"],
)
def test_a_damaged_database_is_one_warning(path: str, data: bytes, words: tuple[str, ...]) -> None:
    result = analyse(fs((path, "file", data), ("/usr/bin/tool", "file", 100)))
    one_line(result.warnings, *words)
    assert result.total == len(data) + 100


def test_a_truncated_file_list_and_files_missing_from_the_image() -> None:
    result = debian(("/usr/bin/a", "file", 10), alpha=b"/usr/bin/a\n/usr/bin/missing\n/usr/bin/also-mis")
    assert result.get("alpha").size == 10  # type: ignore[union-attr]
    line = one_line(result.warnings, "not in the image")
    assert line.startswith("deb: 2 paths listed in var/lib/dpkg/status are not in the image, e.g. /usr/bin/")


@pytest.mark.parametrize("kind", ["symlink", "dir"])
def test_a_list_file_that_is_not_a_regular_file(kind: str) -> None:
    result = analyse(
        fs(
            ("/var/lib/dpkg/status", "file", STATUS),
            ("/var/lib/dpkg/info/alpha:amd64.list", kind, 0, "/etc/passwd" if kind == "symlink" else ""),
            ("/var/lib/dpkg/info/beta.list", "file", b"/usr/bin/b\n"),
            ("/usr/bin/b", "file", 5),
        )
    )
    one_line(result.warnings, "deb:", "alpha:amd64.list", "a directory" if kind == "dir" else "a symlink")
    assert result.get("beta").size == 5  # type: ignore[union-attr]
    assert result.get("alpha") is not None


def test_a_hostile_path_in_a_warning_stays_one_line() -> None:
    result = debian(alpha="/usr/bin/\x1b[31mred\u202e\n".encode())
    line = one_line(result.warnings, "not in the image")
    assert "\\x1b[31mred\\u202e" in line and "\x1b" not in line


def test_an_rpmdb_of_another_format_is_named_not_read() -> None:
    result = analyse(
        fs(("/var/lib/rpm/Packages", "file", GARBAGE), ("/usr/lib/sysimage/rpm/Packages.db", "file", 9))
    )
    one_line(result.warnings, "var/lib/rpm/Packages", "Berkeley DB", "not read")
    one_line(result.warnings, "Packages.db", "ndb", "not read")
    assert result.databases == []


def test_a_database_over_the_bound_is_named_not_kept() -> None:
    assert not PackageProbe().wants("/var/lib/dpkg/status", LIMITS["dpkg-status"] + 1, b"")
    assert PackageProbe().wants("/var/lib/dpkg/status", LIMITS["dpkg-status"], b"")
    result = analyse(fs(("/var/lib/dpkg/status", "file", LIMITS["dpkg-status"] + 1)))
    one_line(result.warnings, "deb: not read: var/lib/dpkg/status (larger than")


def test_what_the_probe_kept_is_cached_with_its_layer() -> None:
    kept = take("dpkg-status", "/var/lib/dpkg/status", STATUS)
    broken = take("npm", "/n/node_modules/x/package.json", b"{")
    scan = LayerScan(
        key="k",
        entries=[TarEntry("/var/lib/dpkg/status", "file", len(STATUS), 0o644, 0, 0)],
        portable_size=len(STATUS),
        diff_id="sha256:x",
        probed={"/var/lib/dpkg/status": kept, "/n/node_modules/x/package.json": broken},
    )
    again = layer_from_json(layer_to_json(scan), "sha256:x")
    assert again is not None and again.probed == scan.probed
