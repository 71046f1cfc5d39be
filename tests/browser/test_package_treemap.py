"""The HTML report's packages in headless Chromium: the package table and the package treemap
draw beside the files' treemap without disturbing it, zoom into an ecosystem, and show a hostile
package name as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.common.by import By

from pytest_imagesize.reports import html

from .pages import browser_log, open_report
from .sample_report import make_document

HOSTILE = '<img src=x onerror="document.title=1">'


def packages() -> dict[str, Any]:
    listed = [
        {"ecosystem": "deb", "name": "golang-1.24-go", "version": "1.24.4-1", "arch": "amd64",
         "size": 120_000_000, "claimed_size": 121_000_000, "files": 900, "layers": [0], "within": None},
        {"ecosystem": "deb", "name": "libc6", "version": "2.41-12", "arch": "amd64",
         "size": 13_000_000, "claimed_size": None, "files": 300, "layers": [0], "within": None},
        {"ecosystem": "npm", "name": HOSTILE, "version": "1.0.0", "arch": "",
         "size": 2_000_000, "claimed_size": None, "files": 20, "layers": [1], "within": None},
    ]  # fmt: skip
    return {
        "packages": listed,
        "complete": False,
        "count": 90,
        "by_ecosystem": {
            "deb": {"packages": 89, "size": 140_000_000},
            "npm": {"packages": 1, "size": 2_000_000},
        },
        "unowned": 30_000_000,
        "total": 172_000_000,
        "databases": ["deb: var/lib/dpkg/status (89 packages)", "npm: app/node_modules (1 package)"],
        "warnings": [],
    }


def test_the_package_treemap_draws_zooms_and_shows_names_as_text(driver: WebDriver, tmp_path: Path) -> None:
    document = make_document(2_000, hostile=False)
    document["images"][0]["packages"] = packages()
    path = tmp_path / "report.html"
    html.write(path, document)
    open_report(driver, path)
    assert [e for e in browser_log(driver) if e.get("level") == "SEVERE"] == []
    section = driver.find_elements(By.CSS_SELECTOR, "section.image")[0]
    files_map = section.find_element(By.CSS_SELECTOR, ".treemap")
    wrapper = section.find_element(By.CSS_SELECTOR, ".tm-packages")
    paths = [n.get_attribute("data-path") for n in wrapper.find_elements(By.CSS_SELECTOR, ".pkgmap .node")]
    assert "/deb" in paths and "/owned by no package" in paths, paths
    assert not files_map.find_elements(By.CSS_SELECTOR, ".node[data-path='/deb']")  # maps apart
    # a hostile name is text in the table and in the map, never an element
    assert section.find_elements(By.CSS_SELECTOR, "table.packages img") == []
    assert wrapper.find_elements(By.CSS_SELECTOR, "img") == []
    assert driver.title == "Image size report"
    names = [td.text for td in section.find_elements(By.CSS_SELECTOR, "table.packages td.path")]
    assert names[0] == "golang-1.24-go" and HOSTILE in names
    # zoom into an ecosystem: its packages, and the unlisted ones in one box
    deb = wrapper.find_element(By.CSS_SELECTOR, ".pkgmap .node[data-path='/deb']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", wrapper)
    driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", deb)
    assert wrapper.get_attribute("data-zoom") == "/deb"
    inside = [
        str(n.get_attribute("data-path")) for n in wrapper.find_elements(By.CSS_SELECTOR, ".pkgmap .node")
    ]
    assert "/deb/golang-1.24-go" in inside and any("smaller packages" in p for p in inside), inside
    assert section.get_attribute("data-zoom") in (None, "/")  # the files' map did not move
