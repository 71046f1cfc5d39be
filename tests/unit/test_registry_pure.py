"""The registry source's pure parts: references as Docker reads them, which hosts may use plain
HTTP, ``WWW-Authenticate`` and ``Retry-After`` parsing, credentials from a Docker config (secrets
kept out of repr). The registry itself is tested in tests/sources/test_registry_*.py."""

from __future__ import annotations

import base64
import email.utils
import json
from pathlib import Path

import pytest

from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.registry import RegistryOptions, RegistrySource, parse_reference
from pytest_imagesize.sources.registry.client import RETRY_AFTER_MAX, parse_challenge, retry_after
from pytest_imagesize.sources.registry.credentials import Credentials, config_path, lookup
from pytest_imagesize.sources.registry.reference import plain_http_allowed

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "shown"),
    [
        ("docker://127.0.0.1:5000/app:1.4", "127.0.0.1:5000", "app", "1.4", None, "127.0.0.1:5000/app:1.4"),
        ("127.0.0.1:5000/t/app", "127.0.0.1:5000", "t/app", "latest", None, "127.0.0.1:5000/t/app:latest"),
        (f"localhost/app@{DIGEST}", "localhost", "app", None, DIGEST, f"localhost/app@{DIGEST}"),
        (f"ghcr.io/o/app:v1@{DIGEST}", "ghcr.io", "o/app", "v1", DIGEST, f"ghcr.io/o/app:v1@{DIGEST}"),
        ("ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", None, "docker.io/library/ubuntu:22.04"),
        ("docker://me/tool", "docker.io", "me/tool", "latest", None, "docker.io/me/tool:latest"),
        ("index.docker.io/library/bb:1", "docker.io", "library/bb", "1", None, "docker.io/library/bb:1"),
        ("[::1]:5000/app:1", "[::1]:5000", "app", "1", None, "[::1]:5000/app:1"),
    ],
)  # fmt: skip
def test_references_parse_as_docker_reads_them(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None, shown: str
) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert ref.name == shown
    assert str(ref) == "docker://" + shown
    assert ref.manifest_ref == (digest or tag)


def test_credentials_in_a_reference_are_refused_and_never_echoed() -> None:
    with pytest.raises(SourceError) as caught:
        parse_reference("docker://me:hunter2@registry.example/app:1")
    assert "hunter2" not in str(caught.value)
    assert str(caught.value).startswith("a registry reference carries credentials (user:password@host)")


def test_docker_hub_is_reached_at_its_api_host() -> None:
    assert parse_reference("busybox").api_host == "registry-1.docker.io"
    assert parse_reference("127.0.0.1:5000/busybox").api_host == "127.0.0.1:5000"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "write it as docker://host[:port]/repository[:tag|@sha256:<hex>]"),
        ("https://host/app", "write it as docker://host[:port]/repository[:tag|@sha256:<hex>]"),
        ("host.io/App:1", "the repository 'App' is not lower-case path components"),
        ("host.io/app:-x", "the tag '-x' is not a valid tag"),
        ("host.io/app@sha256:abc", "the digest 'sha256:abc' is not sha256:<64 hex digits>"),
        ("bad_host.io:x/app", "the registry 'bad_host.io:x' is not host[:port]"),
    ],
)
def test_a_bad_reference_is_one_line_saying_what(text: str, problem: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_reference(text)
    assert str(caught.value) == f"registry reference {text!r} is not valid: {problem}"


def test_the_source_names_itself_without_credentials() -> None:
    src = RegistrySource("127.0.0.1:5000/app:1")
    assert (src.kind, src.what, src.reference) == (
        "registry",
        "registry 127.0.0.1:5000/app:1",
        "docker://127.0.0.1:5000/app:1",
    )
    src.close()


@pytest.mark.parametrize(
    ("registry", "insecure", "allowed"),
    [
        ("127.0.0.1:5000", (), True),
        ("127.9.9.9", (), True),
        ("localhost:5000", (), True),
        ("[::1]:5000", (), True),
        ("registry.example:5000", (), False),
        ("registry.example:5000", ("registry.example",), True),
        ("registry.example:5000", ("registry.example:5000",), True),
        ("registry.example:5000", ("registry.example:6000",), False),
        ("10.0.0.1", (), False),
    ],
)
def test_plain_http_is_for_loopback_and_the_insecure_hosts(
    registry: str, insecure: tuple[str, ...], allowed: bool
) -> None:
    assert plain_http_allowed(registry, frozenset(insecure)) is allowed


def test_options_are_checked() -> None:
    with pytest.raises(SourceError, match="must be positive"):
        RegistryOptions(blobs_at_once=0)
    assert RegistryOptions().memory_budget == 48 << 20


def test_challenges_parse_quoted_and_bare_parameters() -> None:
    challenge = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'
    )
    assert challenge is not None
    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:a/b:pull,push",
    }
    basic = parse_challenge('Basic realm="x y"')
    assert basic is not None and (basic.scheme, basic.params) == ("basic", {"realm": "x y"})
    assert parse_challenge("") is None
    assert parse_challenge(None) is None


def test_retry_after_in_seconds_or_as_a_date_capped() -> None:
    assert retry_after("3") == 3.0
    assert retry_after("100000") == RETRY_AFTER_MAX
    now = 1_800_000_000.0
    assert retry_after(email.utils.formatdate(now + 7, usegmt=True), now=now) == 7.0
    assert retry_after(email.utils.formatdate(now - 7, usegmt=True), now=now) == 0.0
    assert retry_after("soon") is None
    assert retry_after(None) is None


def write_config(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    return path


def test_credentials_from_auths_by_any_spelling_of_the_host(tmp_path: Path) -> None:
    encoded = base64.b64encode(b"me:pa:ss").decode()
    path = write_config(tmp_path, {"auths": {"https://reg.example:5000/v1/": {"auth": encoded}}})
    found = lookup("reg.example:5000", path)
    assert found == Credentials("me", "pa:ss", origin=str(path))
    assert lookup("reg.example", path) is None
    assert "pa:ss" not in repr(found)


def test_credentials_of_docker_hub_and_identity_tokens(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "auths": {
                "https://index.docker.io/v1/": {"username": "hubuser", "password": "hubpass"},
                "reg.example": {"identitytoken": "refresh-me", "auth": base64.b64encode(b"u:").decode()},
            }
        },
    )
    assert lookup("docker.io", path) == Credentials("hubuser", "hubpass", origin=str(path))
    token = lookup("reg.example", path)
    assert token is not None and token.identity_token == "refresh-me" and not token.password
    assert "refresh-me" not in repr(token)


def test_no_config_means_no_credentials_and_a_broken_one_is_named(tmp_path: Path) -> None:
    assert lookup("reg.example", tmp_path / "absent.json") is None
    broken = tmp_path / "config.json"
    broken.write_text("{not json")
    with pytest.raises(SourceError, match=f"Docker config {broken} cannot be read \\(not valid JSON\\)"):
        lookup("reg.example", broken)


def test_a_bad_auth_entry_is_named_without_its_value(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"auths": {"reg.example": {"auth": "!!not-base64-secret!!"}}})
    with pytest.raises(SourceError) as caught:
        lookup("reg.example", path)
    assert "not-base64-secret" not in str(caught.value)


def test_the_config_path_follows_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert config_path(None) == tmp_path / "config.json"
    assert config_path(tmp_path / "x.json") == tmp_path / "x.json"
    monkeypatch.delenv("DOCKER_CONFIG")
    assert config_path(None) == Path.home() / ".docker" / "config.json"
