"""Build real Go binaries for the Go-binary reader's tests, offline, with the toolchains of scripts/ensure-go.

Every build runs with GOPROXY=off, GOTOOLCHAIN=local, GOFLAGS=-mod=vendor|mod and a private GOCACHE, so
nothing touches the network. Third-party modules come from bookworm's golang-*-dev sources (GOCODE),
copied into a vendor/ directory, plus a local module pulled in through a ``replace`` directive.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENSURE_GO = REPO / "scripts" / "ensure-go"
EXAMPLE_MAIN = REPO / "example_project" / "main.go"


@dataclass(frozen=True)
class Toolchains:
    """GOROOTs found (None when missing) and the module-source dir for third-party deps."""

    go119: str | None
    go124: str | None
    gocode: str | None
    why: str = ""


def find_toolchains() -> Toolchains:
    """GOROOTs from GO119/GO124/GOCODE in the environment, else from scripts/ensure-go."""
    found = {k: os.environ.get(k) for k in ("GO119", "GO124", "GOCODE")}
    why = ""
    if not all(found.values()):
        try:
            proc = subprocess.run([str(ENSURE_GO)], capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Toolchains(found["GO119"], found["GO124"], found["GOCODE"], f"scripts/ensure-go: {exc}")
        for line in proc.stdout.splitlines():
            key, sep, value = line.partition("=")
            if sep and key in found and not found[key]:
                found[key] = value.strip()
        why = proc.stderr.strip().replace("\n", "; ")
    ok = {k: v if v and Path(v).is_dir() else None for k, v in found.items()}
    return Toolchains(ok["GO119"], ok["GO124"], ok["GOCODE"], why)


def go_env(
    goroot: str, work: Path, *, goarch: str = "amd64", cgo: bool = False, mod: str = "mod"
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO") and k != "CGO_ENABLED"}
    env.update(
        GOROOT=goroot,
        PATH=f"{goroot}/bin:{env.get('PATH', '/usr/bin:/bin')}",
        GOOS="linux",
        GOARCH=goarch,
        CGO_ENABLED="1" if cgo else "0",
        GOFLAGS=f"-mod={mod}",
        GOPROXY="off",
        GOSUMDB="off",
        GOTOOLCHAIN="local",
        GOWORK="off",
        GOCACHE=str(work / "gocache"),
        GOPATH=str(work / "gopath"),
        GOTMPDIR="",
        HOME=str(work),
    )
    return env


class BuildFailed(RuntimeError):
    pass


def run_go(goroot: str, args: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    proc = subprocess.run(
        [f"{goroot}/bin/go", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise BuildFailed(f"go {' '.join(args)} in {cwd} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def go_version_line(goroot: str) -> str:
    return Path(goroot, "VERSION").read_text().split()[0]


def write_hello(src: Path, go_directive: str) -> None:
    """The example project's small HTTP service (main.go) as module example.com/hello."""
    src.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE_MAIN, src / "main.go")
    (src / "go.mod").write_text(f"module example.com/hello\n\ngo {go_directive}\n")
    (src / "main_test.go").write_text(
        'package main\n\nimport (\n\t"testing"\n\t"time"\n)\n\n'
        'func TestMux(t *testing.T) {\n\tif newMux(time.Now()) == nil {\n\t\tt.Fatal("nil mux")\n\t}\n}\n'
    )


DEPS_MAIN = """package main

import (
	"fmt"
	"os"

	"example.com/widgets"
	"github.com/google/uuid"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

func main() {
	tag, _ := language.Parse(os.Getenv("LANG_TAG") + "en-US")
	p := message.NewPrinter(tag)
	p.Printf("%d widgets, id %s, %s\\n", widgets.Count(), uuid.New(), widgets.Name())
	fmt.Println(language.English, tag)
}
"""

WIDGETS = """package widgets

import "strings"

// Count says how many widgets there are.
func Count() int { return len(strings.Fields("a b c")) }

// Name names them.
func Name() string { return strings.ToUpper("widgets") }
"""


def write_deps(src: Path, gocode: str, go_directive: str) -> None:
    """A program with third-party modules, vendored from GOCODE, and a module replaced by a local dir."""
    src.mkdir(parents=True, exist_ok=True)
    (src / "main.go").write_text(DEPS_MAIN)
    widgets = src / "widgets"
    widgets.mkdir(exist_ok=True)
    (widgets / "widgets.go").write_text(WIDGETS)
    (widgets / "go.mod").write_text(f"module example.com/widgets\n\ngo {go_directive}\n")
    (src / "go.mod").write_text(
        f"module example.com/deps\n\ngo {go_directive}\n\nrequire (\n"
        "\texample.com/widgets v1.2.3\n\tgithub.com/google/uuid v1.3.0\n\tgolang.org/x/text v0.7.0\n)\n\n"
        "replace example.com/widgets => ./widgets\n"
    )
    vendor = src / "vendor"
    if vendor.exists():
        shutil.rmtree(vendor)
    text_pkgs = [
        "golang.org/x/text/feature/plural",
        "golang.org/x/text/internal",
        "golang.org/x/text/internal/catmsg",
        "golang.org/x/text/internal/format",
        "golang.org/x/text/internal/language",
        "golang.org/x/text/internal/language/compact",
        "golang.org/x/text/internal/number",
        "golang.org/x/text/internal/stringset",
        "golang.org/x/text/internal/tag",
        "golang.org/x/text/language",
        "golang.org/x/text/message",
        "golang.org/x/text/message/catalog",
    ]
    for pkg in ["github.com/google/uuid", *text_pkgs]:
        dst = vendor / pkg
        dst.mkdir(parents=True, exist_ok=True)
        for f in Path(gocode, pkg).iterdir():
            if f.is_file() and f.suffix == ".go" and not f.name.endswith("_test.go"):
                shutil.copy(f, dst / f.name)
    dst = vendor / "example.com" / "widgets"
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(widgets / "widgets.go", dst / "widgets.go")
    modules = (
        "# example.com/widgets v1.2.3 => ./widgets\n## explicit\nexample.com/widgets\n"
        "# github.com/google/uuid v1.3.0\n## explicit\ngithub.com/google/uuid\n"
        "# golang.org/x/text v0.7.0\n## explicit\n"
        + "".join(p + "\n" for p in text_pkgs)
        + "# example.com/widgets => ./widgets\n"
    )
    (vendor / "modules.txt").write_text(modules)


CGO_MAIN = """package main

/*
#include <stdlib.h>
static int twice(int x) { return 2 * x; }
*/
import "C"

import (
	"fmt"
	"net/http"
)

func main() {
	fmt.Println(int(C.twice(21)), http.StatusOK)
}
"""


def write_cgo(src: Path, go_directive: str) -> None:
    src.mkdir(parents=True, exist_ok=True)
    (src / "main.go").write_text(CGO_MAIN)
    (src / "go.mod").write_text(f"module example.com/cgo\n\ngo {go_directive}\n")
