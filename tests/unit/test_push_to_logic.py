"""The pure parts of ``--image-push-to`` and of an engine image's platforms: the target's
spelling (a usage error at startup otherwise, option and ini), the run-unique reference, the one
line for a refused push, the one line for what a registry kept; which platforms of a containerd
store's index are measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_imagesize.engine.build import BuildSpec
from pytest_imagesize.engine.multiplatform import push_refusal
from pytest_imagesize.errors import ImageSizeError
from pytest_imagesize.measure.pushed import PushTarget, delete_all, parse_push_target
from pytest_imagesize.sources.engine_index import stored_index
from pytest_imagesize.sources.registry.reference import parse_reference


@pytest.mark.parametrize(
    ("text", "registry", "prefix"),
    [
        ("127.0.0.1:5000", "127.0.0.1:5000", ""),
        ("127.0.0.1:5000/ci", "127.0.0.1:5000", "ci"),
        ("registry.example.com/team/ci-images/", "registry.example.com", "team/ci-images"),
        ("localhost/x", "localhost", "x"),
        ("[::1]:5000/ci", "[::1]:5000", "ci"),
    ],
)
def test_push_targets(text: str, registry: str, prefix: str) -> None:
    assert parse_push_target(text) == PushTarget(registry, prefix)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ci/app", "names no registry host ('ci')"),
        ("", "is not a registry and prefix"),
        ("https://reg.example.com/ci", "is not a registry and prefix"),
        ("user:pw@reg.example.com/ci", "holds '@' (a login or a digest)"),
        ("reg.example.com/ci:tag", "is not lower-case repository path components"),
        ("reg.example.com/CI", "is not lower-case repository path components"),
        ("reg.example.com/ci@sha256:00", "holds '@' (a login or a digest)"),
    ],
)
def test_bad_push_targets_say_how_to_write_one(text: str, says: str) -> None:
    with pytest.raises(ImageSizeError) as raised:
        parse_push_target(text)
    assert says in str(raised.value)
    assert "--image-push-to=HOST[:PORT][/PREFIX]" in str(raised.value)
    assert "pw" not in str(raised.value)


def test_the_pushed_reference_is_run_unique_and_valid() -> None:
    target = parse_push_target("127.0.0.1:5000/ci")
    ref = target.ref_for("App_Image", "0123456789ab", "f" * 64)
    assert ref == "127.0.0.1:5000/ci/app-image:pytest-imagesize-0123456789ab-ffffffffffff"
    parsed = parse_reference(ref)  # the registry client takes it as it is
    assert (parsed.registry, parsed.repository, parsed.tag) == ("127.0.0.1:5000", "ci/app-image", parsed.tag)
    assert target.ref_for("app", "other", "f" * 64) != target.ref_for("app", "0123456789ab", "f" * 64)
    assert PushTarget("reg.example.com").ref_for("x", "r", "k").startswith("reg.example.com/x:")


def test_a_malformed_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--image-push-to=ci/app")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [
        line for line in result.errlines if "--image-push-to" in line and "names no registry host" in line
    ]
    assert len(errors) == 1, result.errlines


def test_a_malformed_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nimagesize_push_to = not a host\n")
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any("ini imagesize_push_to = not a host" in line for line in result.errlines), result.errlines


def test_option_and_ini_reach_the_settings(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nimagesize_push_to = reg.example.com/from-ini\n")
    pytester.makeconftest(
        """
        def pytest_sessionfinish(session):
            from pytest_imagesize.glue.options import read_settings
            print("PUSH_TO=" + str(read_settings(session.config).push_to))
        """
    )
    pytester.makepyfile("def test_nothing(): pass")
    assert "PUSH_TO=reg.example.com/from-ini" in pytester.runpytest("-s").stdout.str()
    result = pytester.runpytest("-s", "--image-push-to=127.0.0.1:5000/opt/")
    assert "PUSH_TO=127.0.0.1:5000/opt" in result.stdout.str()


SPEC = BuildSpec(Path("/p/Dockerfile"), Path("/p"))
REF = "127.0.0.1:5000/ci/app:pytest-imagesize-1-2"


@pytest.mark.parametrize(
    ("said", "fix"),
    [
        (
            "ERROR: failed to push 127.0.0.1:5000/ci/app:t: unexpected status from HEAD request to "
            "http://127.0.0.1:5000/v2/ci/app/blobs/sha256:" + "a" * 64 + ": 401 Unauthorized",
            "run `docker login 127.0.0.1:5000`",
        ),
        (
            "ERROR: failed to push: dial tcp 127.0.0.1:5000: connect: connection refused",
            "no registry answers",
        ),
        ("Error: writing manifest: denied: requested access to the resource is denied", "docker login"),
    ],
)
def test_a_refused_push_is_one_line_naming_the_registry_and_the_fix(said: str, fix: str) -> None:
    refused = push_refusal(SPEC, ["linux/amd64", "linux/arm64"], REF, ["#8 pushing layers", said])
    assert refused is not None
    message = str(refused)
    assert "\n" not in message and len(message) < 400
    assert "to registry 127.0.0.1:5000 failed" in message
    assert fix in message


def test_a_failing_dockerfile_is_no_push_refusal() -> None:
    assert push_refusal(SPEC, ["linux/amd64"], REF, ['ERROR: failed to solve: "/nope": not found']) is None


def test_what_is_left_is_one_line_and_keep_keeps() -> None:
    assert delete_all([], None) == []
    kept = delete_all([REF], None, keep=True)
    assert kept == [f"pytest-imagesize: pushed images kept (--image-keep): {REF}"]
    # a registry that cannot be reached: nothing deleted, one line naming what is left and why
    unreachable = "127.0.0.1:9/ci/app:pytest-imagesize-1-2"
    from pytest_imagesize.sources.registry.reference import RegistryOptions

    lines = delete_all([unreachable, unreachable.replace("-2", "-3")], RegistryOptions(timeout=2, retries=0))
    assert len(lines) == 1
    assert lines[0].startswith("pytest-imagesize: left in registry 127.0.0.1:9 (")
    assert unreachable in lines[0]


def _manifest(kind: str, arch: str, available: bool, digest: str) -> dict[str, object]:
    platform = (
        {"os": "unknown", "architecture": "unknown"}
        if kind == "attestation"
        else {"os": "linux", "architecture": arch}
    )
    return {"Kind": kind, "Available": available, "Descriptor": {"digest": digest, "platform": platform}}


def test_an_index_of_two_platforms_held_is_measured_per_platform() -> None:
    manifests = [
        _manifest("image", "amd64", True, "sha256:a"),
        _manifest("image", "arm64", True, "sha256:b"),
        _manifest("attestation", "", True, "sha256:c"),
        _manifest("image", "s390x", False, "sha256:d"),
    ]
    index = stored_index(manifests, "app:1")
    assert index is not None
    assert [str(p) for p, _ in index.available] == ["linux/amd64", "linux/arm64"]
    assert index.digests == {"sha256:a", "sha256:b"}
    note = index.missing_note("app")
    assert note is not None and "linux/s390x of app:1 not in the engine's image store" in note


def test_one_platform_held_stays_a_single_engine_image() -> None:
    one = [_manifest("image", "amd64", True, "sha256:a"), _manifest("image", "arm64", False, "sha256:b")]
    assert stored_index(one, "debian:12") is None
    assert stored_index([], "app:1") is None  # the classic store, Podman
    only_attested = [
        _manifest("image", "amd64", True, "sha256:a"),
        _manifest("attestation", "", True, "sha256:c"),
    ]
    assert stored_index(only_attested, "app:1") is None
