"""A registry reference that carries a login is refused without echoing it, however it is
spelled: after a scheme (``https://user:password@host/repo``) or with no repository path."""

from __future__ import annotations

import pytest

from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.registry import parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "text",
    [
        "https://bob:hunter2@ghcr.io/org/app:1",
        "docker://https://bob:hunter2@ghcr.io/org/app:1",
        "docker://bob:hunter2@registry.example.com",
        "bob:hunter2@registry.example.com:5000",
    ],
)
def test_a_login_in_a_reference_is_never_echoed(text: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_reference(text)
    assert "hunter2" not in str(caught.value)
    assert str(caught.value).startswith("a registry reference carries credentials")


@pytest.mark.parametrize("text", [f"alpine@{DIGEST}", f"alpine:3.19@{DIGEST}", f"host:5000/app:1@{DIGEST}"])
def test_a_digest_after_a_name_is_not_taken_for_a_login(text: str) -> None:
    assert parse_reference(text).digest == DIGEST
