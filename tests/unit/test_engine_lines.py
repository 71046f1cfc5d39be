"""The engine's one-line errors carry their reason as data, and name no pytest option (the CLI
shows them too; the pytest glue adds its own hint)."""

from __future__ import annotations

from pathlib import Path

from pytest_imagesize.engine.address import engine_lost, unanswered
from pytest_imagesize.engine.build import BuildSpec, engine_died

SPEC = BuildSpec(Path("/p/Dockerfile"), Path("/p"), None, (), "Dockerfile")


def test_a_lost_engine_says_why_in_its_reason() -> None:
    lost = engine_lost("unix:///x.sock", "saving image 1234", ConnectionRefusedError())
    assert lost.reason == "connection refused"
    assert str(lost).startswith(
        "lost the container engine at unix:///x.sock while saving image 1234 (connection refused): "
        "start an engine"
    )
    assert "--image-" not in str(lost)


def test_an_unanswered_engine_says_why_in_its_reason() -> None:
    silent = unanswered("unix:///x.sock", 10, "no answer: timed out")
    assert silent.reason == "no answer: timed out"
    assert "within 10 s (no answer: timed out): start an engine" in str(silent)
    assert "--image-" not in str(silent)


def test_an_engine_gone_during_a_build_is_worded_from_the_reason() -> None:
    lost = engine_lost("unix:///x.sock", "building", ConnectionResetError("reset (by peer)"))
    assert str(engine_died(SPEC, "classic", lost)) == (
        f"the container engine went away during the build of /p/Dockerfile (classic builder): "
        f"{lost.reason}; restart the engine and run again"
    )
