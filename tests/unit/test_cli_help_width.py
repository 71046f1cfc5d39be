"""The CLI's argparse formatter sizes help as argparse's own does (``COLUMNS``, else the terminal,
else 80) without importing ``shutil``, which building the parser would otherwise load."""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

import pytest

from pytest_imagesize import cli


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action: Any = parser._subparsers._group_actions[0]  # type: ignore[union-attr]
    return dict(action.choices)


@pytest.mark.parametrize("columns", ["57", "120", "0", "wide"])
def test_help_is_wrapped_as_argparse_wraps_it(monkeypatch: pytest.MonkeyPatch, columns: str) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    ours, theirs = cli._parser(), cli._parser()
    assert {name: sub.formatter_class for name, sub in subcommands(ours).items()} == {
        name: cli._Formatter for name in subcommands(ours)
    }
    for parser in [theirs, *subcommands(theirs).values()]:
        parser.formatter_class = argparse.HelpFormatter
    assert ours.format_help() == theirs.format_help()
    for name, sub in subcommands(ours).items():
        assert sub.format_help() == subcommands(theirs)[name].format_help(), name


def test_building_the_parser_does_not_import_shutil() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"  # what start-up loaded (an editable install's finder) aside
        "from pytest_imagesize import cli\n"
        "cli._parser().parse_args(['check', 'x', '--max', '1'])\n"
        "print('shutil' in set(sys.modules) - before)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
