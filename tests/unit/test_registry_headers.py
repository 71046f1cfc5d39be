"""Numbers in a registry's headers that ``str.isdigit`` accepts but ``int``/``float`` do not
(superscripts) count as absent, never a ``ValueError`` traceback."""

from __future__ import annotations

from email.message import Message
from typing import cast

from pytest_imagesize.sources.registry.client import Response, retry_after
from pytest_imagesize.sources.registry.source import _declared_length


def test_a_retry_after_of_superscript_digits_is_unreadable() -> None:
    assert retry_after("²") is None
    assert retry_after("2") == 2.0


class _Answer:
    def __init__(self, length: str) -> None:
        self.headers = Message()
        self.headers["Content-Length"] = length


def test_a_content_length_of_superscript_digits_is_unknown() -> None:
    assert _declared_length(cast(Response, _Answer("²"))) is None
    assert _declared_length(cast(Response, _Answer("12"))) == 12
