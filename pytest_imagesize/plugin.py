"""pytest hooks, a few lines each: they hand the work to the settings, the session and the
report modules."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from .checks import KINDS
from .glue import hookspecs
from .glue.collection import CHECKS_KEY, attach_checks
from .glue.fixtures import SESSION_KEY
from .glue.options import add_options, read_settings, spell_out_bare_report
from .glue.run import PytestRun, catch_sigterm, release_sigterm, start_session


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
    config.stash[SESSION_KEY] = start_session(config, read_settings(config))
    catch_sigterm(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = config.stash[SESSION_KEY].settings
    attach_checks(items, settings.growth_default, settings.growth_scope)


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
