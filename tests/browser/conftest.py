"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``, through Selenium) for the HTML
report's browser tests. ``scripts/ensure-browser`` installs the browser when it is missing.

Reports under test: a generated one (two images, 60,000 files, hostile names, a Go binary), and
the report named by ``IMAGESIZE_HTML_REPORT`` when that is set (e.g. the example project's)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.chrome.service import Service

from pytest_imagesize.reports import html

from .pages import Report, document_of
from .sample_report import make_document

ROOT = Path(__file__).resolve().parents[2]
CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
GENERATED_FILES_PER_IMAGE = 30_000  # two images: 60,000 files


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def _browser() -> tuple[str, str]:
    chromium = _find("chromium", "chromium-browser")
    driver = _find("chromedriver")
    if chromium is None or driver is None:
        result = subprocess.run([str(ROOT / "scripts" / "ensure-browser")], capture_output=True, text=True)
        chromium = _find("chromium", "chromium-browser")
        driver = _find("chromedriver")
        if result.returncode != 0 or chromium is None or driver is None:
            pytest.fail(
                "the browser tests need chromium and chromedriver; scripts/ensure-browser could not "
                f"install them:\n{result.stdout}{result.stderr}",
                pytrace=False,
            )
    return chromium, driver


@pytest.fixture(scope="session")
def driver() -> Iterator[WebDriver]:
    chromium, chromedriver = _browser()
    options = webdriver.ChromeOptions()
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="imagesize-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1300,1000")
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(chromedriver))
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def generated_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    document = make_document(GENERATED_FILES_PER_IMAGE)
    path = tmp_path_factory.mktemp("html-report") / "image-report.html"
    html.write(path, document)
    return Report(path, document, generated=True)


def _reports() -> list[str]:
    return ["generated", "env"] if os.environ.get("IMAGESIZE_HTML_REPORT") else ["generated"]


@pytest.fixture(scope="session", params=_reports())
def report(request: pytest.FixtureRequest, generated_report: Report) -> Report:
    """The generated report, then the one named by IMAGESIZE_HTML_REPORT when set."""
    if request.param == "generated":
        return generated_report
    path = Path(os.environ["IMAGESIZE_HTML_REPORT"]).resolve()
    return Report(path, document_of(path.read_text(encoding="utf-8")), generated=False)
