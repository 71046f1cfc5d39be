"""Fixtures for the Go-binary reader's tests: real Go binaries, built once per session, offline.

Toolchains come from GO119/GO124/GOCODE or scripts/ensure-go; a test that needs one that is missing
is skipped with the reason. No container engine is needed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.go.gobuild import (
    BuildFailed,
    Toolchains,
    find_toolchains,
    go_env,
    run_go,
    write_cgo,
    write_deps,
    write_hello,
)

# name -> (project, go version, arch, kind); kind: strip | full | test | pie (stripped, -buildmode=pie)
BINARIES: dict[str, tuple[str, str, str, str]] = {
    "hello-1.24-amd64-strip": ("hello", "1.24", "amd64", "strip"),
    "hello-1.24-amd64-full": ("hello", "1.24", "amd64", "full"),
    "hello-1.24-arm64-strip": ("hello", "1.24", "arm64", "strip"),
    "hello-1.24-arm64-full": ("hello", "1.24", "arm64", "full"),
    "hello-1.19-amd64-strip": ("hello", "1.19", "amd64", "strip"),
    "hello-1.19-amd64-full": ("hello", "1.19", "amd64", "full"),
    "hello-1.19-arm64-strip": ("hello", "1.19", "arm64", "strip"),
    "hello-1.19-arm64-full": ("hello", "1.19", "arm64", "full"),
    "hello-1.24-amd64-test": ("hello", "1.24", "amd64", "test"),
    "hello-1.19-amd64-test": ("hello", "1.19", "amd64", "test"),
    "deps-1.24-amd64-strip": ("deps", "1.24", "amd64", "strip"),
    "deps-1.24-amd64-full": ("deps", "1.24", "amd64", "full"),
    "cgo-1.24-amd64-full": ("cgo", "1.24", "amd64", "full"),
    "cgo-1.24-amd64-strip": ("cgo", "1.24", "amd64", "strip"),
    "hello-1.24-amd64-pie": ("hello", "1.24", "amd64", "pie"),
}


class GoBuilds:
    """Builds the binaries of BINARIES on first use and caches them for the session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._toolchains: Toolchains | None = None
        self._built: dict[str, Path] = {}
        self._failed: dict[str, str] = {}

    @property
    def toolchains(self) -> Toolchains:
        if self._toolchains is None:
            self._toolchains = find_toolchains()
        return self._toolchains

    def goroot(self, version: str) -> str:
        tc = self.toolchains
        root = tc.go124 if version == "1.24" else tc.go119
        if root is None:
            pytest.skip(f"no Go {version} toolchain: scripts/ensure-go could not provide one ({tc.why})")
        return root

    def get(self, name: str) -> Path:
        if name in self._built:
            return self._built[name]
        if name in self._failed:
            pytest.fail(self._failed[name])
        project, version, arch, kind = BINARIES[name]
        goroot = self.goroot(version)
        directive = "1.22" if version == "1.24" else "1.19"
        src = self.root / f"{project}-{version}"
        if not src.exists():
            if project == "hello":
                write_hello(src, directive)
            elif project == "deps":
                if self.toolchains.gocode is None:
                    pytest.skip("no third-party module sources (GOCODE) from scripts/ensure-go")
                write_deps(src, self.toolchains.gocode, directive)
            else:
                if shutil.which("gcc") is None:
                    pytest.skip("cgo build needs gcc")
                write_cgo(src, directive)
        env = go_env(
            goroot, self.root, goarch=arch, cgo=project == "cgo", mod="vendor" if project == "deps" else "mod"
        )
        out = self.root / "bin" / name
        out.parent.mkdir(exist_ok=True)
        if kind == "test":
            args = ["test", "-c", "-o", str(out)]
        else:
            args = ["build", "-o", str(out)]
            if project == "hello":
                args.insert(1, "-trimpath")
            if kind.endswith("strip") or kind == "pie":
                args.insert(1, "-ldflags=-s -w")
            if kind == "pie":
                args.insert(1, "-buildmode=pie")
        try:
            run_go(goroot, args, src, env)
        except BuildFailed as exc:
            self._failed[name] = str(exc)
            raise
        self._built[name] = out
        return out

    def data(self, name: str) -> bytes:
        return self.get(name).read_bytes()


@pytest.fixture(scope="session")
def go_builds(tmp_path_factory: pytest.TempPathFactory) -> GoBuilds:
    return GoBuilds(tmp_path_factory.mktemp("go-builds"))
