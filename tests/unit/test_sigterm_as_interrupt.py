"""SIGTERM handled like Ctrl-C (``glue.run.SigtermAsInterrupt``): raised as KeyboardInterrupt each
time it comes unless the run is cleaning up, never installed over a handler of the user's, and
restored afterwards."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from pytest_imagesize.glue.run import SigtermAsInterrupt


@pytest.fixture
def default_sigterm() -> Iterator[None]:
    before = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.05)  # the handler runs at the next bytecode boundary; this bounds it


@pytest.mark.usefixtures("default_sigterm")
def test_every_sigterm_interrupts_unless_shielded_and_the_default_comes_back() -> None:
    handler = SigtermAsInterrupt()
    handler.install()
    try:
        for _ in range(2):  # an absorbed first one does not make the next one harmless
            with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
                _sigterm()
        handler.shielded = True
        _sigterm()  # noted, not raised: cleanup goes on
        assert handler.received
    finally:
        handler.restore()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.usefixtures("default_sigterm")
def test_a_users_handler_is_left_alone() -> None:
    def mine(signum: int, frame: object) -> None:
        pass

    signal.signal(signal.SIGTERM, mine)
    handler = SigtermAsInterrupt()
    handler.install()
    assert signal.getsignal(signal.SIGTERM) is mine
    handler.restore()
    assert signal.getsignal(signal.SIGTERM) is mine
