"""Registry credentials as the Docker CLI keeps them: the Docker config's ``auths`` (a base64
``auth`` or ``username``/``password``, or an ``identitytoken``), its ``credHelpers`` per registry
and its ``credsStore`` for all (``docker-credential-<name> get``). Read only when a registry asks
for them; never shown: the secrets are left out of ``repr`` and of every message."""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model import SourceError
from .reference import DOCKER_HUB, DOCKER_HUB_KEY

HELPER_TIMEOUT = 30.0  # seconds a credential helper may take
TOKEN_USER = "<token>"  # a helper's user name for an identity token


@dataclass(frozen=True)
class Credentials:
    """A user name and password, or an identity token (OAuth refresh token); ``origin`` says
    where they came from (the config file or the helper), for messages."""

    username: str
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    origin: str = ""

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, self.identity_token) if s)


def config_path(explicit: Path | None) -> Path:
    """``explicit``, else ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    if explicit is not None:
        return explicit
    directory = os.environ.get("DOCKER_CONFIG")
    return Path(directory) / "config.json" if directory else Path.home() / ".docker" / "config.json"


def _key_host(key: str) -> str:
    """An ``auths`` key as the host it names: scheme and path dropped."""
    host = key.split("://", 1)[-1].split("/", 1)[0]
    return DOCKER_HUB if host in ("index.docker.io", "registry-1.docker.io") else host


def lookup(registry: str, path: Path) -> Credentials | None:
    """The credentials the Docker config at ``path`` holds for ``registry`` (``host[:port]``),
    None when it holds none (or there is no config)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid JSON"
        raise SourceError(
            f"Docker config {path} cannot be read ({reason}): fix it or point docker_config elsewhere"
        ) from None
    if not isinstance(document, dict):
        raise SourceError(
            f"Docker config {path} is not a JSON object: fix it or point docker_config elsewhere"
        )
    server = DOCKER_HUB_KEY if registry == DOCKER_HUB else registry
    helpers = document.get("credHelpers")
    if isinstance(helpers, dict):
        helper = next((v for k, v in helpers.items() if _key_host(str(k)) == registry), None)
        if isinstance(helper, str) and helper:
            return run_helper(helper, server, path)
    store = document.get("credsStore")
    if isinstance(store, str) and store:
        found = run_helper(store, server, path)
        if found is not None:
            return found
    auths = document.get("auths")
    if isinstance(auths, dict):
        for key, entry in auths.items():
            if _key_host(str(key)) == registry and isinstance(entry, dict):
                found = _from_entry(entry, path)
                if found is not None:
                    return found
    return None


def _from_entry(entry: dict[str, Any], path: Path) -> Credentials | None:
    origin = str(path)
    username, password = entry.get("username"), entry.get("password")
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise SourceError(
                f"Docker config {path}: an `auth` entry is not base64 of user:password: "
                "run `docker login` again"
            ) from None
    token = entry.get("identitytoken")
    if isinstance(token, str) and token:
        return Credentials(str(username or ""), identity_token=token, origin=origin)
    if isinstance(username, str) and username and isinstance(password, str):
        return Credentials(username, password, origin=origin)
    return None


def run_helper(name: str, server: str, config: Path) -> Credentials | None:
    """``docker-credential-<name> get`` for ``server``; None when it has nothing for it."""
    program = f"docker-credential-{name}"
    binary = shutil.which(program)
    if binary is None:
        raise SourceError(
            f"credential helper {program} named in Docker config {config} is not installed: "
            "install it or remove it from the config"
        )
    try:
        done = subprocess.run(
            [binary, "get"], input=server.encode(), capture_output=True, timeout=HELPER_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise SourceError(f"credential helper {program} did not answer in {HELPER_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        if b"credentials not found" in done.stdout.lower() + done.stderr.lower():
            return None
        raise SourceError(
            f"credential helper {program} failed (exit status {done.returncode}) for {server}: "
            f"run `{program} get` by hand to see why"
        )
    try:
        answer = json.loads(done.stdout)
        username, secret = str(answer["Username"]), str(answer["Secret"])
    except (ValueError, KeyError, TypeError, RecursionError):
        raise SourceError(f"credential helper {program} gave no Username and Secret for {server}") from None
    if username == TOKEN_USER:
        return Credentials(username, identity_token=secret, origin=program)
    return Credentials(username, secret, origin=program)
