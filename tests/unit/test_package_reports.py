"""An image's packages in the JSON, Markdown and HTML reports and the terminal lines, on a
package list built here (the readers are tested on real databases elsewhere): what is kept, the
totals, and hostile package names shown as text everywhere."""

from __future__ import annotations

import json
import re

import pytest

from pytest_imagesize.measure.image import Image
from pytest_imagesize.measure.packages.model import ImagePackages, Package
from pytest_imagesize.reports import html
from pytest_imagesize.reports.html_packages import package_tree
from pytest_imagesize.reports.json_report import document
from pytest_imagesize.reports.markdown import markdown
from pytest_imagesize.reports.packages import markdown_lines, package_lines

from ..support.fake_engine import FakeImage, measured

HOSTILE = "<img src=x onerror=alert(1)>|*evil*\x1b[31m"
TOTAL = 10_000_000


def report() -> ImagePackages:
    small = [Package("deb", f"lib{i:03d}", "1.0", "amd64", 1_000 + i, 2_000, 1, (0,)) for i in range(80)]
    return ImagePackages(
        packages=[
            Package("deb", "golang-1.24-go", "1.24.4-1", "amd64", 5_000_000, 6_000_000, 500, (1,)),
            Package("npm", HOSTILE, "1.0.0", "", 200_000, None, 20, (1,)),
            Package("python", "PyYAML", "6.0.2", "", 150_000, None, 30, (0,), within="deb:python3-yaml"),
            *small,
        ],
        unowned=4_000_000,
        total=TOTAL,
        databases=["deb: var/lib/dpkg/status (81 packages)", "npm: app/node_modules (1 package)"],
        warnings=["deb: var/lib/dpkg/info/x.list is a directory, not read"],
    )


@pytest.fixture(scope="module")
def image() -> Image:
    fake = FakeImage.from_layers(
        [{"base": b"x" * 100}, {"tools": b"y" * 100}],
        created_by=["ADD rootfs.tar /", "RUN /bin/sh -c apt-get install -y golang-go"],
    )
    measured_image = measured(fake, name="app")[0]
    measured_image.analysis().packages = report()
    return measured_image


def test_the_json_report_keeps_the_top_50_and_every_package_of_one_percent(image: Image) -> None:
    data = document(None, {"app": image}, [])["images"][0]["packages"]
    names = [p["name"] for p in data["packages"]]
    assert len(names) == 50 and names[:3] == ["golang-1.24-go", HOSTILE, "PyYAML"]
    assert (data["complete"], data["count"], data["unowned"], data["total"]) == (False, 83, 4_000_000, TOTAL)
    assert data["by_ecosystem"]["python"] == {"packages": 1, "size": 0}  # its bytes are python3-yaml's
    assert data["by_ecosystem"]["npm"] == {"packages": 1, "size": 200_000}
    assert data["warnings"] == ["deb: var/lib/dpkg/info/x.list is a directory, not read"]


def test_the_package_tree_adds_up_to_the_owned_and_unowned_bytes(image: Image) -> None:
    data = document(None, {"app": image}, [])["images"][0]["packages"]
    tree = package_tree(data)
    assert tree is not None
    deb = next(c for c in tree["children"] if c["name"] == "deb")
    assert deb["size"] == 5_000_000 + sum(1_000 + i for i in range(80))
    assert sum(c["size"] for c in deb["children"]) == deb["size"]  # the unlisted in one node
    assert deb["children"][-1]["kind"] == "more"
    assert tree["size"] == deb["size"] + 200_000 + 4_000_000 and tree["children"][-1]["size"] == 4_000_000
    assert not any(c["name"] == "python" for c in tree["children"])  # inside python3-yaml
    npm = next(c for c in tree["children"] if c["name"] == "npm")
    assert npm["children"][0]["label"] == "<img src=x onerror=alert(1)>|*evil*\\x1b[31m"


def test_hostile_names_are_text_in_html(image: Image) -> None:
    page = html.render(document(None, {"app": image}, []))
    assert "<img" not in page and "\x1b" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;|*evil*\\x1b[31m" in page
    rows = re.findall(r'<tr data-package="([^"]*)" data-ecosystem="(\w+)">', page)
    assert rows[0] == ("golang-1.24-go", "deb") and len(rows) == 50
    assert 'class="tm-packages"' in page
    embedded = re.search(r'<script type="application/json" id="imagesize-data">(.*?)</script>', page, re.S)
    assert embedded is not None
    assert json.loads(embedded.group(1))["images"][0]["package_treemap"]["children"][0]["name"] == "deb"


def test_hostile_names_are_text_in_markdown(image: Image) -> None:
    data = document(None, {"app": image}, [])["images"][0]["packages"]
    text = markdown([], None, packages=markdown_lines("app", data))
    assert "<img" not in text and "\x1b" not in text
    assert "| &lt;img src=x onerror=alert(1)&gt;\\|\\*evil\\*\\\\x1b\\[31m | npm | 1.0.0 | 200 KB |" in text
    assert "63 smaller packages not listed." in text


def test_terminal_lines(image: Image) -> None:
    lines = package_lines(image, top=2)
    assert lines[0].endswith(
        ": 83 packages: deb 81 (5.08 MB), npm 1 (200 KB), python 1 (0 B); 4 MB unowned of 10 MB of files"
    )
    assert "  warning: deb: var/lib/dpkg/info/x.list is a directory, not read" in lines
    assert lines[-3].split()[:5] == ["5", "MB", "50.0", "%", "golang-1.24-go"]
    assert "\\x1b[31m (npm)" in lines[-2] and "\x1b" not in lines[-2]
    assert lines[-1] == "  ... and 81 smaller packages"
