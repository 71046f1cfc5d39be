"""``--image-push-to``: ``build_image(..., platforms=[...])`` pushed to a real docker-registry on
127.0.0.1 and measured there; the same sizes as the OCI-export path to the byte; what was pushed
deleted by digest afterwards, or one line naming what a registry without deletion kept; a registry
that refuses the push (htpasswd, no credentials) one line and nothing left. Needs buildx on
Docker's containerd image store (IMAGESIZE_ENGINE=docker-containerd) or Podman (``podman manifest
push --all``); skips elsewhere."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_imagesize.engine.docker_api import DockerEngine

from .sources.registry_support import Registry, htpasswd_line, running_registry
from .support.faults import nonce, run_pytest, start_pytest, wait_for

pytestmark = pytest.mark.engine

PLATFORMS = '["linux/amd64", "linux/arm64"]'
PAYLOAD = {"amd64": 1000, "arm64": 3000}
DOCKERFILE = """\
FROM --platform=$BUILDPLATFORM scratch AS build
COPY payload-* /out/
FROM scratch
ARG TARGETARCH
COPY --from=build /out/payload-${TARGETARCH} /payload
"""
TEST_FILE = f"""
import json
from pytest_imagesize import build_image

app = build_image("Dockerfile", platforms={PLATFORMS})

def test_sizes(app):
    found = {{image.platform: [image.size, image.compressed_size, image.source] for image in app}}
    with open("sizes.json", "w") as out:
        json.dump({{"sizes": found, "ref": app.ref}}, out)
"""


@pytest.fixture(scope="module")
def pushing_engine() -> Iterator[DockerEngine]:
    """Docker with the containerd image store, where buildx's docker driver pushes an index, or
    Podman, which pushes its manifest list."""
    engine = DockerEngine.connect()
    info = engine.info()
    if info.name != "podman" and (info.name != "docker" or info.image_store != "containerd"):
        engine.close()
        pytest.skip(
            "--image-push-to tests need Docker's containerd image store (IMAGESIZE_ENGINE=docker-containerd) "
            "or Podman"
        )
    yield engine
    engine.close()


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    (pytester.path / "Dockerfile").write_text(DOCKERFILE)
    for arch, size in PAYLOAD.items():
        (pytester.path / f"payload-{arch}").write_bytes(nonce().encode().ljust(size, b"x"))
    pytester.makepyfile(test_push=TEST_FILE)
    return pytester.path


def _get(registry: Registry, path: str, auth: tuple[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://{registry.address}{path}")
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def tags(registry: Registry, repository: str, auth: tuple[str, str] | None = None) -> list[str]:
    status, data = _get(registry, f"/v2/{repository}/tags/list", auth)
    return list((data or {}).get("tags") or []) if status == 200 else []


def local_names(engine: DockerEngine, registry: Registry) -> list[str]:
    images = engine.client.images.list()
    return [tag for image in images for tag in image.tags if tag.startswith(registry.address)]


def measured(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    return result, json.loads((pytester.path / "sizes.json").read_text())


def test_pushed_sizes_equal_the_oci_export_and_nothing_is_left(
    pushing_engine: DockerEngine, project: Path, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    _, exported = measured(pytester)
    with running_registry(tmp_path / "registry") as registry:
        mark = registry.log_mark()
        result, pushed = measured(pytester, f"--image-push-to={registry.address}/ci")
        requests = registry.requests_since(mark)
        deleted = [path for method, path in requests if method == "DELETE"]
        gone = [_get(registry, path)[0] for path in deleted]
        assert tags(registry, "ci/app") == []
        assert local_names(pushing_engine, registry) == []
    assert pushed["ref"].startswith(f"docker://{registry.address}/ci/app:pytest-imagesize-")
    assert {p: s[:2] for p, s in pushed["sizes"].items()} == {p: s[:2] for p, s in exported["sizes"].items()}
    assert set(pushed["sizes"]) == {"linux/amd64", "linux/arm64"}
    assert {s[2] for s in pushed["sizes"].values()} == {"registry"}
    assert {s[2] for s in exported["sizes"].values()} == {"oci"}
    assert len(deleted) == 3, deleted  # the index, then each platform's manifest, by digest
    assert all("/manifests/sha256:" in path for path in deleted)
    assert gone == [404, 404, 404]
    assert "left in registry" not in result.stdout.str()


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["single", "xdist"])
def test_a_registry_without_deletion_gets_one_line_naming_what_is_left(
    pushing_engine: DockerEngine, project: Path, pytester: pytest.Pytester, tmp_path: Path, xdist: list[str]
) -> None:
    with running_registry(tmp_path / "registry", delete=False) as registry:
        result, pushed = measured(pytester, f"--image-push-to={registry.address}", *xdist)
        kept = tags(registry, "app")
        lines = [line for line in result.outlines if "left in registry" in line]
        assert local_names(pushing_engine, registry) == []
    assert len(kept) == 1 and kept[0].startswith("pytest-imagesize-")
    assert len(lines) == 1, result.outlines
    assert f"left in registry {registry.address} (the registry does not allow deletion (405" in lines[0]
    assert f"{registry.address}/app@sha256:" in lines[0]
    assert set(pushed["sizes"]) == {"linux/amd64", "linux/arm64"}


def test_a_registry_refusing_the_push_is_one_line_and_nothing_is_left(
    pushing_engine: DockerEngine,
    project: Path,
    pytester: pytest.Pytester,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text("{}")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))  # no credentials for the registry
    login = ("pusher", nonce())
    with running_registry(tmp_path / "registry", htpasswd=htpasswd_line(*login)) as registry:
        # -rN: pytest repeats the error in its short summary, in full where CI is set
        result = pytester.runpytest("-rN", f"--image-push-to={registry.address}/ci")
        status, catalog = _get(registry, "/v2/_catalog", login)
        assert local_names(pushing_engine, registry) == []
    result.assert_outcomes(errors=1)
    lines = [line for line in result.outlines if f"to registry {registry.address} failed" in line]
    assert len(lines) == 1, result.outlines
    tool = "podman" if pushing_engine.info().name == "podman" else "docker"
    assert f"run `{tool} login {registry.address}`" in lines[0]
    assert login[1] not in result.stdout.str()
    assert status == 200 and catalog == {"repositories": []}
    assert not (pytester.path / "sizes.json").exists()


def test_the_push_path_writes_no_temporary_file(
    pushing_engine: DockerEngine, project: Path, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    with running_registry(tmp_path / "registry") as registry:
        code, text, _ = run_pytest(
            pytester.path,
            ["-q", f"--image-push-to={registry.address}/ci"],
            env={"TMPDIR": str(temp)},
            timeout=600,
        )
        assert code == 0, text[-2000:]
        assert tags(registry, "ci/app") == []
    assert [p.name for p in temp.iterdir()] == []


BLOCKING_TEST = f"""
import threading
from pytest_imagesize import build_image

app = build_image("Dockerfile", platforms={PLATFORMS})

def test_waits(app):
    print("READY", flush=True)
    threading.Event().wait()  # until Ctrl-C
"""


def test_ctrl_c_after_the_push_deletes_it_at_cleanup_and_leaves_no_file(
    pushing_engine: DockerEngine, project: Path, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(test_push=BLOCKING_TEST)
    temp = tmp_path / "tmp"
    temp.mkdir()
    with running_registry(tmp_path / "registry") as registry:
        run = start_pytest(
            pytester.path, ["-s", f"--image-push-to={registry.address}/ci"], {"TMPDIR": str(temp)}
        )
        try:  # until the test runs: built, pushed and measured
            wait_for(lambda: "READY" in run.text(), 300, "the test to start")
            pushed = tags(registry, "ci/app")
            run.interrupt()
            code, rest = run.wait(300)
        finally:
            if run.process.poll() is None:
                run.process.kill()
        assert code == pytest.ExitCode.INTERRUPTED, rest
        left = tags(registry, "ci/app")
        assert local_names(pushing_engine, registry) == []
    assert len(pushed) == 1 and pushed[0].startswith("pytest-imagesize-")
    assert left == []
    assert "left in registry" not in rest
    assert [p.name for p in temp.iterdir()] == []


def test_the_classic_image_store_says_what_a_push_needs(project: Path, pytester: pytest.Pytester) -> None:
    engine = DockerEngine.connect()
    try:
        info = engine.info()
    finally:
        engine.close()
    if info.name != "docker" or info.image_store != "graphdriver":
        pytest.skip("the refusal is Docker's classic image store's (IMAGESIZE_ENGINE=docker)")
    result = pytester.runpytest("-rs", "--image-push-to=127.0.0.1:9/ci")
    result.assert_outcomes(skipped=1)
    lines = [line for line in result.outlines if "cannot push a multi-platform image" in line]
    assert len(lines) == 1, result.outlines
    assert "containerd image store" in lines[0]
