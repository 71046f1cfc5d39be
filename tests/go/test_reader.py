"""The Go-binary reader on real binaries built at test time (amd64/arm64, Go 1.24/1.19, stripped or not)."""

from __future__ import annotations

import os
import subprocess

import pytest

from pytest_imagesize.measure.go import GoBinary, analyse_go_binary, hygiene_findings, package_of
from tests.go.conftest import BINARIES, GoBuilds

STRIPPED = [n for n in BINARIES if n.endswith("strip")]


def analyse(go_builds: GoBuilds, name: str) -> GoBinary:
    binary = analyse_go_binary(f"/app/{name}", go_builds.data(name))
    assert binary is not None
    return binary


@pytest.mark.parametrize("name", list(BINARIES))
def test_every_byte_lands_in_a_named_bucket(go_builds: GoBuilds, name: str) -> None:
    b = analyse(go_builds, name)
    assert b.problem is None
    assert b.size == len(go_builds.data(name))
    assert b.attributed_total() == b.size
    assert b.unattributed == 0
    assert all(p.size >= p.code >= 0 for p in b.packages.values())
    assert sum(m.size for m in b.modules.values()) == sum(p.size for p in b.packages.values())


@pytest.mark.parametrize("name", STRIPPED)
def test_stripped_binary_is_mostly_attributed_to_packages(go_builds: GoBuilds, name: str) -> None:
    b = analyse(go_builds, name)
    assert b.stripped
    share = sum(p.size for p in b.packages.values()) / b.size
    assert share >= 0.70, f"{share:.1%} attributed to packages"


def nm_code_by_package(go_builds: GoBuilds, name: str) -> dict[str, int]:
    """`go tool nm -size` text symbols (T/t) of an unstripped build, grouped by the package rule."""
    version = BINARIES[name][1]
    goroot = go_builds.goroot(version)
    env = {**os.environ, "GOROOT": goroot}
    out = subprocess.run(
        [f"{goroot}/bin/go", "tool", "nm", "-size", str(go_builds.get(name))],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    sizes: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[2] in ("T", "t"):
            pkg = package_of(parts[3])
            sizes[pkg] = sizes.get(pkg, 0) + int(parts[1])
    return sizes


@pytest.mark.parametrize(
    "stripped, full",
    [
        ("hello-1.24-amd64-strip", "hello-1.24-amd64-full"),
        ("hello-1.24-arm64-strip", "hello-1.24-arm64-full"),
        ("hello-1.19-amd64-strip", "hello-1.19-amd64-full"),
        ("hello-1.19-arm64-strip", "hello-1.19-arm64-full"),
        ("deps-1.24-amd64-strip", "deps-1.24-amd64-full"),
        ("cgo-1.24-amd64-strip", "cgo-1.24-amd64-full"),
    ],
)
def test_code_per_package_matches_nm_of_unstripped_build(
    go_builds: GoBuilds, stripped: str, full: str
) -> None:
    nm = nm_code_by_package(go_builds, full)
    b = analyse(go_builds, stripped)
    big = {pkg: n for pkg, n in nm.items() if n >= 10_000}
    assert len(big) >= 10
    off = {}
    for pkg, n in big.items():
        mine = b.packages[pkg].code if pkg in b.packages else 0
        if abs(mine - n) > 0.02 * n:
            off[pkg] = (mine, n)
    assert not off, f"code bytes (reader, nm) off by > 2 %: {off}"


def test_buildinfo_of_the_http_service(go_builds: GoBuilds) -> None:
    b = analyse(go_builds, "hello-1.24-amd64-strip")
    assert b.go_version.startswith("go1.24")
    assert b.main_module == "example.com/hello"
    assert b.settings["-trimpath"] == "true"
    assert "-ldflags" not in b.settings  # Go leaves -ldflags out of the build info of -trimpath builds
    assert b.settings["GOARCH"] == "amd64"
    assert b.settings["CGO_ENABLED"] == "0"
    assert b.stripped and b.static and not b.is_test and not b.packed
    assert b.modules["std"].version == b.go_version
    assert b.top_modules(1)[0][0] == "std"
    assert b.packages["net/http"].code > 100_000
    assert b.packages["main"].code > 0
    assert b.modules["example.com/hello"].size == b.packages["main"].size
    assert b.other["padding"] > 0
    assert hygiene_findings(b, image_has_loader=False) == []


def test_arm64_and_go119(go_builds: GoBuilds) -> None:
    arm = analyse(go_builds, "hello-1.24-arm64-strip")
    assert arm.settings["GOARCH"] == "arm64"
    old = analyse(go_builds, "hello-1.19-amd64-strip")
    assert old.go_version.startswith("go1.19")
    assert old.packages["net/http"].code > 100_000


def test_third_party_modules_and_replacements(go_builds: GoBuilds) -> None:
    b = analyse(go_builds, "deps-1.24-amd64-strip")
    assert b.main_module == "example.com/deps"
    assert b.settings["-ldflags"] == "-s -w"
    assert "-trimpath" not in b.settings
    assert b.modules["github.com/google/uuid"].version == "v1.3.0"
    assert b.modules["golang.org/x/text"].version == "v0.7.0"
    assert b.modules["example.com/widgets"].replace == "./widgets"
    assert b.modules["golang.org/x/text"].size > 50_000
    assert b.modules["github.com/google/uuid"].size > 1_000
    assert b.modules["example.com/widgets"].size > 0
    assert b.packages["golang.org/x/text/internal/language"].code > 10_000
    assert b.packages["golang.org/x/text/language"].code > 5_000
    assert [m for m, _ in b.top_modules(2)] == ["std", "golang.org/x/text"]


@pytest.mark.parametrize("name", ["hello-1.24-amd64-test", "hello-1.19-amd64-test"])
def test_go_test_c_binary_is_flagged(go_builds: GoBuilds, name: str) -> None:
    b = analyse(go_builds, name)
    assert b.is_test
    rules = [f.rule for f in hygiene_findings(b, image_has_loader=False)]
    assert "test-binary" in rules


def test_unstripped_binary_findings(go_builds: GoBuilds) -> None:
    b = analyse(go_builds, "deps-1.24-amd64-full")
    assert not b.stripped
    assert b.other["dwarf"] > 100_000 and b.other["symtab"] > 10_000
    by_rule = {f.rule: f for f in hygiene_findings(b, image_has_loader=False)}
    assert set(by_rule) == {"stripped", "trimpath"}
    assert by_rule["stripped"].cost_bytes == b.other["dwarf"] + b.other["symtab"]
    assert by_rule["stripped"].fix == 'build with -ldflags="-s -w"'
    assert "-trimpath" in by_rule["trimpath"].fix
    stripped = analyse(go_builds, "deps-1.24-amd64-strip")
    # what the finding promises is what stripping saved (give or take section alignment)
    assert abs((b.size - stripped.size) - by_rule["stripped"].cost_bytes) < 64 * 1024


def test_cgo_binary_is_dynamic(go_builds: GoBuilds) -> None:
    b = analyse(go_builds, "cgo-1.24-amd64-strip")
    assert not b.static
    assert b.settings["CGO_ENABLED"] == "1"
    assert b.other["dynamic linking"] > 0
    assert "static" in [f.rule for f in hygiene_findings(b, image_has_loader=False)]
    assert "static" not in [f.rule for f in hygiene_findings(b, image_has_loader=True)]


@pytest.mark.parametrize("name", ["deps-1.24-amd64-strip", "hello-1.19-amd64-full"])
def test_json_round_trip(go_builds: GoBuilds, name: str) -> None:
    b = analyse(go_builds, name)
    js = b.to_json()
    assert set(js) >= {
        "path",
        "size",
        "go_version",
        "main_module",
        "is_test",
        "stripped",
        "static",
        "packed",
        "settings",
        "modules",
        "packages",
        "other",
        "unattributed",
    }
    sizes = [m["size"] for m in js["modules"]]
    assert sizes == sorted(sizes, reverse=True)
    sizes = [p["size"] for p in js["packages"]]
    assert sizes == sorted(sizes, reverse=True)
    assert GoBinary.from_json(js) == b


def test_position_independent_binary(go_builds: GoBuilds) -> None:
    """-buildmode=pie puts the function table in .data.rel.ro.gopclntab; it is still found and split."""
    b = analyse(go_builds, "hello-1.24-amd64-pie")
    assert not b.static  # a PIE has an interpreter
    assert b.settings["-buildmode"] == "pie"
    assert b.packages["net/http"].code > 100_000
    assert sum(p.size for p in b.packages.values()) / b.size >= 0.70
    assert "pclntab:filetab" in b.other
