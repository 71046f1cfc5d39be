"""Hostile names (ESC sequences, newlines, bidi overrides, line separators) are shown escaped in
the terminal, diff and growth text, Markdown and HTML; one rule (``pytest_imagesize.text.shown``)."""

from __future__ import annotations

import re
from pathlib import Path

from pytest_imagesize.compare.changes import compare
from pytest_imagesize.compare.wording import movers_lines
from pytest_imagesize.measure.image import Image
from pytest_imagesize.reports import html, markdown
from pytest_imagesize.reports.terminal import layer_lines
from pytest_imagesize.text import shown

from ..support.fake_engine import FakeEngine, FakeImage

HOSTILE = ["red\x1b[31mtext", "two\nlines", "rtl\u202egpj.exe", "line\u2028sep", "para\u2029sep", "cr\rx"]
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u2028\u2029]")


def test_the_rule() -> None:
    assert shown("two\nlines") == "two\\nlines"
    assert shown("red\x1b[31mtext") == "red\\x1b[31mtext"
    assert shown("rtl\u202egpj.exe") == "rtl\\u202egpj.exe"
    assert shown("line\u2028sep\u2029") == "line\\u2028sep\\u2029"
    assert shown("tab\there\x7f\x85") == "tab\\there\\x7f\\x85"
    assert shown("/usr/share/日本語/café ü") == "/usr/share/日本語/café ü"


def _images() -> tuple[Image, Image]:
    old = FakeImage.from_layers([{"app/keep": b"k" * 10}])
    files = {f"app/{name}": b"x" * (100 + i) for i, name in enumerate(HOSTILE)}
    new = FakeImage.from_layers(
        [{"app/keep": b"k" * 10, **files}, {f"app/{HOSTILE[1]}": ("whiteout",)}],
        created_by=["COPY \x1b[2Jevil\u202e", "RUN rm"],
    )
    engine = FakeEngine("containerd", [old, new])
    return Image.measure(engine, old.id, "old"), Image.measure(engine, new.id, "new")


def _lines_are_safe(lines: list[str]) -> None:
    text = "\n".join(lines)
    for line in lines:
        assert not UNSAFE.search(line), repr(line)
    assert "rtl\\u202egpj.exe" in text


def test_diff_and_growth_movers() -> None:
    old, new = _images()
    full = {r.path: r.size for r in new.files if r.kind == "file"}
    lines = movers_lines(compare(old.summary(files=True), new.summary(files=True), b_files=full))
    _lines_are_safe(lines)
    assert len([line for line in lines if "red\\x1b[31mtext" in line]) == 1


def test_layer_report() -> None:
    _, new = _images()
    lines = layer_lines(new)
    for line in lines:
        assert not UNSAFE.search(line), repr(line)
    assert any("\\x1b[2Jevil\\u202e" in line for line in lines)
    assert any("two\\nlines" in line for line in lines)  # the hidden copy


def test_markdown_and_html_text() -> None:
    details = {"app": ["    +100 B  /app/rtl\u202egpj.exe (new)", "    +1 B  /app/two\nlines (new)"]}
    text = markdown.markdown([], None, notes=["base image x\u2028y changed"], details=details)
    # the note is Markdown text: the escape's backslash is itself escaped, so it renders as \u2028
    assert not UNSAFE.search(text.replace("\n", "")) and "two\\nlines" in text and "x\\\\u2028y" in text
    assert html._t("a\x1b[31m<b>\u202e") == "a\\x1b[31m&lt;b&gt;\\u202e"


def test_markdown_notes_are_literal_text() -> None:
    """A name in a note becomes no link, mention, issue reference, entity or emphasis."""
    note = "base [x](https://evil.example) @org/team #123 &#8238; *bold* `code` changed"
    text = markdown.markdown([], None, notes=[note])
    line = next(line for line in text.splitlines() if "changed" in line)
    assert line == (
        "- base \\[x\\](https://evil.example) \\@org/team \\#123 &amp;\\#8238; \\*bold\\* \\`code\\` changed"
    )


def test_treemap_nodes_keep_the_name_and_carry_what_the_page_shows() -> None:
    from pytest_imagesize.reports.treemap import summarise

    tree = summarise([("/srv/rtl\u202egpj.exe", "file", 10, 0), ("/srv/plain", "file", 5, 0)])
    [srv] = tree["children"]
    nodes = {node["name"]: node for node in srv["children"]}
    assert nodes["rtl\u202egpj.exe"]["label"] == "rtl\\u202egpj.exe"  # the JSON keeps the exact name
    assert "label" not in nodes["plain"]
    script = (Path(html.__file__).parent / "assets" / "report.js").read_text()
    assert "textContent = shownName(data)" in script and ".textContent = data.name" not in script
