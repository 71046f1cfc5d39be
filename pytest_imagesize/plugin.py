"""pytest hooks, a few lines each: they hand the work to the settings, the session and the
report modules."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from . import hookspecs
from .checks import KINDS, Check
from .collection import checks_for_item
from .errors import ImageSizeError
from .fixtures import SESSION_KEY
from .options import Settings, add_options, spell_out_bare_report
from .run import PytestRun, catch_sigterm, release_sigterm, start_session

CHECKS_KEY = pytest.StashKey[list[Check]]()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    spell_out_bare_report(early_config, args)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    for kind in KINDS.values():
        config.addinivalue_line("markers", kind.marker_line)
    config.stash[SESSION_KEY] = start_session(config, Settings.from_config(config))
    catch_sigterm(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = config.stash[SESSION_KEY].settings
    problems = []
    for item in items:
        try:
            checks = checks_for_item(item, settings.growth_default, settings.growth_scope)
        except ImageSizeError as exc:
            problems.append(f"{item.nodeid}: {exc}")
            continue
        if checks:
            item.stash[CHECKS_KEY] = checks
    if problems:
        raise pytest.UsageError(*problems)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    checks = item.stash.get(CHECKS_KEY, [])
    if checks and isinstance(item, pytest.Function):
        PytestRun.of(item.config).check_item(item, checks)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    PytestRun.of(item.config).attach_progress(report)
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    PytestRun.of(config).terminal_summary(terminalreporter)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    PytestRun.of(session.config).finish(session)


def pytest_unconfigure(config: pytest.Config) -> None:
    release_sigterm(config)
    state = config.stash.get(SESSION_KEY, None)
    if state is not None:
        state.close()
