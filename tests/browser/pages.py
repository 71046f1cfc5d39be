"""Helpers of the browser tests: the report under test, loading it, where screenshots go."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.support.ui import WebDriverWait

_DATA = re.compile(r'<script type="application/json" id="imagesize-data">(.*?)</script>', re.S)


@dataclass(frozen=True)
class Report:
    path: Path
    document: dict[str, Any]
    generated: bool  # ours, with the hostile names and the Go binary


def document_of(page: str) -> dict[str, Any]:
    """The JSON document embedded in a report page."""
    match = _DATA.search(page)
    assert match, "the report has no embedded JSON document"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def browser_log(browser: WebDriver) -> list[dict[str, Any]]:
    """The console messages logged since the last call (Selenium leaves get_log untyped)."""
    entries: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    return entries


def open_report(browser: WebDriver, path: Path) -> None:
    """Load a report and wait until its script says it has drawn everything."""
    browser_log(browser)  # drop what earlier pages logged
    browser.get(path.as_uri())
    WebDriverWait(browser, 20).until(
        lambda b: b.execute_script("return document.documentElement.getAttribute('data-rendered')")
    )


def screenshot_dir(tmp_path: Path) -> Path:
    configured = os.environ.get("IMAGESIZE_SCREENSHOT_DIR")
    directory = Path(configured) if configured else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory
