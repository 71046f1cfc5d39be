"""The registry source over TLS (a CA made here, trusted through ``ca_file`` or Docker's certs.d),
with htpasswd Basic logins and with token logins from a token service of our own: credentials
from the Docker config (``auths``, a credential helper, an identity token), and the one-line
errors when they are missing or wrong, none of which ever shows a secret."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.registry import RegistryOptions, RegistrySource
from tests.support.fake_engine import FakeImage

from .registry_support import (
    CA,
    Registry,
    TokenService,
    htpasswd_line,
    make_ca,
    push_archive,
    registry_compressed_sizes,
    running_registry,
    server_cert,
)

USER = "ci-user"
PASSWORD = "s3cret-Pa55word-XYZ"
IDENTITY = "identity-token-0123456789abcdef"
IMAGE = FakeImage.from_layers(
    [{"bin/app": b"app " * 5000}, {"etc/x": b"x" * 3000}], compression="gzip", layout="oci"
)


def docker_config(directory: Path, registry: str, **entry: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(json.dumps({"auths": {registry: entry}}))
    return path


def auth_entry(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def measure(reference: str, options: RegistryOptions) -> int:
    src = RegistrySource(reference, options)
    try:
        [entry] = src.platforms()
        return src.manifest(entry).compressed_size
    finally:
        src.close()


def failure(reference: str, options: RegistryOptions, *secrets: str) -> str:
    """The one line the source fails with; neither it, its repr nor anything chained to it
    holds any of ``secrets``."""
    src = RegistrySource(reference, options)
    try:
        with pytest.raises(SourceError) as caught:
            src.platforms()
    finally:
        src.close()
    error: BaseException | None = caught.value
    while error is not None:
        for text in (str(error), repr(error), *(repr(a) for a in error.args)):
            for secret in secrets:
                assert secret not in text
        error = error.__cause__ or error.__context__
    message = str(caught.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------------- TLS


@dataclass
class TLSRegistry:
    registry: Registry
    ca: CA


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSRegistry]:
    root = tmp_path_factory.mktemp("registry-tls")
    ca = make_ca(root / "ca")
    cert = server_cert(root / "ca", ca)
    with running_registry(root / "registry", tls=cert, ca=ca.cert) as registry:
        push_archive(
            IMAGE.archive(),
            "oci-archive",
            root / "archives",
            f"{registry.address}/app:1",
        )
        yield TLSRegistry(registry, ca)


def test_tls_with_the_ca_from_ca_file(tls_registry: TLSRegistry, tmp_path: Path) -> None:
    address = tls_registry.registry.address
    size = measure(
        f"docker://{address}/app:1", RegistryOptions(ca_file=tls_registry.ca.cert, certs_dir=tmp_path)
    )
    assert size == registry_compressed_sizes(address, "app:1")[""]


def test_tls_with_the_ca_from_docker_certs_d(tls_registry: TLSRegistry, tmp_path: Path) -> None:
    address = tls_registry.registry.address
    (tmp_path / address).mkdir()
    (tmp_path / address / "ca.crt").write_bytes(tls_registry.ca.cert.read_bytes())
    size = measure(f"{address}/app:1", RegistryOptions(certs_dir=tmp_path))
    assert size == sum(len(layer.blob) for layer in IMAGE.layers)


def test_tls_without_the_ca_fails_in_one_line_saying_how_to_trust_it(
    tls_registry: TLSRegistry, tmp_path: Path
) -> None:
    address = tls_registry.registry.address
    message = failure(f"{address}/app:1", RegistryOptions(certs_dir=tmp_path))
    assert message.startswith(f"registry {address}: its TLS certificate is not trusted (")
    assert message.endswith(f"add its CA with the ca_file option or as {tmp_path / address / 'ca.crt'}")


def test_localhost_may_use_plain_http(tmp_path: Path) -> None:
    """``localhost`` counts as loopback: HTTPS is tried, then plain HTTP."""
    with running_registry(tmp_path / "registry") as registry:
        port = registry.address.split(":")[1]
        push_archive(IMAGE.archive(), "oci-archive", tmp_path / "archives", f"{registry.address}/app:1")
        assert measure(f"localhost:{port}/app:1", RegistryOptions()) == sum(len(x.blob) for x in IMAGE.layers)


# ---------------------------------------------------------------------------- htpasswd


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("registry-basic")
    with running_registry(root / "registry", htpasswd=htpasswd_line(USER, PASSWORD)) as registry:
        push_archive(
            IMAGE.archive(),
            "oci-archive",
            root / "archives",
            f"{registry.address}/app:1",
            "--dest-creds",
            f"{USER}:{PASSWORD}",
        )
        yield registry


def test_basic_login_with_the_docker_config(basic_registry: Registry, tmp_path: Path) -> None:
    config = docker_config(tmp_path, basic_registry.address, **auth_entry(USER, PASSWORD))
    size = measure(f"{basic_registry.address}/app:1", RegistryOptions(docker_config=config))
    assert size == sum(len(layer.blob) for layer in IMAGE.layers)


def test_basic_login_through_dollar_docker_config(
    basic_registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker_config(tmp_path / "dc", f"https://{basic_registry.address}", username=USER, password=PASSWORD)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    assert measure(f"{basic_registry.address}/app:1", RegistryOptions()) > 0


def test_basic_without_credentials_says_to_log_in(basic_registry: Registry, tmp_path: Path) -> None:
    message = failure(
        f"{basic_registry.address}/app:1", RegistryOptions(docker_config=tmp_path / "none.json")
    )
    assert message.startswith(f"registry {basic_registry.address} requires login to read the manifest of ")
    assert message.endswith(
        f"run `docker login {basic_registry.address}` or set DOCKER_CONFIG to a config that has "
        "credentials for it"
    )


def test_basic_with_a_wrong_password_says_so_without_the_password(
    basic_registry: Registry, tmp_path: Path
) -> None:
    wrong = "wrong-Pa55word-QQQ"
    config = docker_config(tmp_path, basic_registry.address, **auth_entry(USER, wrong))
    message = failure(
        f"{basic_registry.address}/app:1",
        RegistryOptions(docker_config=config),
        wrong,
        base64.b64encode(f"{USER}:{wrong}".encode()).decode(),
    )
    assert f"refused the credentials from {config}" in message
    assert f"run `docker login {basic_registry.address}` again" in message


def test_a_credential_helper_gives_the_password(
    basic_registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helper_dir = tmp_path / "bin"
    helper_dir.mkdir()
    asked = tmp_path / "asked"
    helper = helper_dir / "docker-credential-imagesize-test"
    helper.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = get ] || exit 3\ncat > {asked}\n'
        f'printf \'{{"ServerURL": "x", "Username": "{USER}", "Secret": "{PASSWORD}"}}\'\n'
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper_dir}{os.pathsep}{os.environ['PATH']}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {basic_registry.address: "imagesize-test"}, "auths": {}}))
    assert measure(f"{basic_registry.address}/app:1", RegistryOptions(docker_config=config)) > 0
    assert asked.read_text() == basic_registry.address


def test_a_missing_credential_helper_is_named(basic_registry: Registry, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credsStore": "imagesize-none-such"}))
    message = failure(f"{basic_registry.address}/app:1", RegistryOptions(docker_config=config))
    assert message == (
        f"credential helper docker-credential-imagesize-none-such named in Docker config {config} is not "
        "installed: install it or remove it from the config"
    )


# ---------------------------------------------------------------------------- tokens


@dataclass
class TokenRegistry:
    registry: Registry
    service: TokenService


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRegistry]:
    root = tmp_path_factory.mktemp("registry-token")
    service = TokenService(root / "token", USER, PASSWORD, IDENTITY)
    try:
        with running_registry(root / "registry", token=service) as registry:
            push_archive(
                IMAGE.archive(), "oci-archive", root / "archives", f"{registry.address}/team/app:1",
                "--dest-creds", f"{USER}:{PASSWORD}",
            )  # fmt: skip
            yield TokenRegistry(registry, service)
    finally:
        service.close()


def test_token_login_with_basic_credentials_for_the_token(
    token_registry: TokenRegistry, tmp_path: Path
) -> None:
    address = token_registry.registry.address
    config = docker_config(tmp_path, address, **auth_entry(USER, PASSWORD))
    before = len(token_registry.service.requests)
    src = RegistrySource(f"{address}/team/app:1", RegistryOptions(docker_config=config))
    try:
        [entry] = src.platforms()
        manifest = src.manifest(entry)
        from pytest_imagesize.measure.archive.reader import read_blobs

        scan = read_blobs(src.blobs(manifest), workers=1)
    finally:
        src.close()
    assert manifest.compressed_size == sum(len(layer.blob) for layer in IMAGE.layers)
    assert [layer.diff_id for layer in scan.layers] == [layer.diff_id for layer in IMAGE.layers]
    # anonymous first: the token service is asked once, with the credentials
    assert token_registry.service.requests[before:] == [("GET", USER)]


def test_token_login_with_an_identity_token(token_registry: TokenRegistry, tmp_path: Path) -> None:
    address = token_registry.registry.address
    config = docker_config(tmp_path, address, identitytoken=IDENTITY, auth=base64.b64encode(b"x:").decode())
    before = len(token_registry.service.requests)
    assert measure(f"{address}/team/app:1", RegistryOptions(docker_config=config)) > 0
    assert token_registry.service.requests[before:] == [("POST", "refresh")]


def test_token_without_credentials_says_to_log_in(token_registry: TokenRegistry, tmp_path: Path) -> None:
    address = token_registry.registry.address
    message = failure(f"{address}/team/app:1", RegistryOptions(docker_config=tmp_path / "none.json"))
    assert message.startswith(
        f"registry {address} requires login to read the manifest of {address}/team/app:1: "
    )


def test_token_with_a_wrong_password_shows_no_secret(token_registry: TokenRegistry, tmp_path: Path) -> None:
    address = token_registry.registry.address
    wrong = "not-the-Pa55word"
    config = docker_config(tmp_path, address, **auth_entry(USER, wrong))
    message = failure(
        f"{address}/team/app:1",
        RegistryOptions(docker_config=config),
        wrong,
        base64.b64encode(f"{USER}:{wrong}".encode()).decode(),
    )
    assert f"refused the credentials from {config}" in message


def test_no_secret_in_any_message_or_repr_of_a_logged_in_source(
    token_registry: TokenRegistry, tmp_path: Path
) -> None:
    """A source that logged in and then fails (a tag that is not there): the password, the Basic
    value and the token it holds appear in no message, repr or chained exception."""
    address = token_registry.registry.address
    config = docker_config(tmp_path, address, **auth_entry(USER, PASSWORD))
    src = RegistrySource(f"{address}/team/app:nope", RegistryOptions(docker_config=config))
    try:
        with pytest.raises(SourceError) as caught:
            src.platforms()
        client = src._client  # the secrets it holds, to look for them
        secrets = {PASSWORD, *client._secrets}
        assert len(secrets) >= 3  # the password, the Basic value, the token
        texts = [repr(src), repr(client._credentials), str(caught.value), repr(caught.value)]
        error: BaseException | None = caught.value
        while error is not None:
            texts += [str(error), repr(error)]
            error = error.__cause__ or error.__context__
    finally:
        src.close()
    assert "team/app has no tag nope; it has 1" in str(caught.value)
    assert [s for s in secrets if any(s in text for text in texts)] == []
