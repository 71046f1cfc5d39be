"""What a run printed: words that must never reach the user (a traceback, a library's internals)."""

from __future__ import annotations

import pytest

NOISE = (
    "Traceback",
    "urllib3",
    "ProtocolError",
    "requests.exceptions",
    "docker.errors",
    "humanfriendly",
    "During handling of the above exception",
    "The above exception was the direct cause",
)


def text_of(result: pytest.RunResult) -> str:
    """All a pytester run printed, stdout then stderr."""
    return result.stdout.str() + "\n" + result.stderr.str()


def assert_no_noise(output: str | pytest.RunResult) -> None:
    text = output if isinstance(output, str) else text_of(output)
    for word in NOISE:
        assert word not in text, f"{word!r} leaked into the output:\n{text[-3000:]}"
