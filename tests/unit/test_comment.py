"""``pytest-imagesize comment``: the pull-request comment rendered from a JSON report (schema 2 or
3), checked with GitHub's own Markdown parser (cmark-gfm): hostile names stay inert text inside
code spans, the body fits GitHub's limit with failing checks kept and movers cut first, and a
hostile file (too large, truncated, the wrong version, wrong types) is refused in one line with
nothing on stdout. The JSON report's ``changes`` carry an image's movers against its entry."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from pytest_imagesize.baseline import BaselineEntry
from pytest_imagesize.cli import main
from pytest_imagesize.reports.comment import MAX_CHARS, code, length, render
from pytest_imagesize.reports.comment_input import MAX_REPORT_BYTES, ReportError, against, parse_report
from pytest_imagesize.reports.json_report import document
from pytest_imagesize.text import shown

from ..support.fake_engine import FakeImage, measured

HOSTILE = [
    "@octocat",
    "@my-org/team",
    "fixes #123",
    "<!-- hidden",
    "[click](https://evil.example)",
    "https://evil.example/x",
    "**bold** _em_ ~~gone~~",
    "a|b|c",
    "`tick` ``two``",
    "line\nbreak\r\u202eevil",
    "<img src=x onerror=alert(1)>",
    "&lt;entity&gt;",
    ":smile:",
    "` leading tick",
    "x" * 500,
]


def changes(files: Sequence[tuple[str, int | None, int | None]]) -> dict[str, Any]:
    return {
        "against": "baseline",
        "layers": [{"diff_id": "sha256:1", "status": "added", "size": 10, "instruction": "COPY x /"}],
        "files": [
            {"path": p, "a": a, "b": b, "delta": (b or 0) - (a or 0), "status": "grown"} for p, a, b in files
        ],
        "dirs": [],
        "go": [],
        "go_packages": [],
        "packages": [],
        "omitted": {"files": 0},
    }


def image(
    name: str, size: int, before: int | None, platform: str | None = None, **extra: Any
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": f"{name}[{platform}]" if platform else name,
        "platform": platform,
        "size": size,
        "compressed_size": size // 2,
        "baseline": None if before is None else {"size": before, "compressed_size": before // 2},
        "changes": None,
        "packages": None,
        "go_binaries": None,
        "layers": [],
    }
    return entry | extra


def check(image_name: str, outcome: str = "failed", test: str = "t.py::test_app") -> dict[str, Any]:
    return {
        "test": test,
        "image": image_name,
        "platform": None,
        "kind": "max_image_size",
        "compressed": False,
        "limit": 1_000,
        "warn": None,
        "actual": 2_000,
        "outcome": outcome,
    }


def report(images: list[dict[str, Any]], checks: list[dict[str, Any]], version: int = 3) -> bytes:
    return json.dumps({"version": version, "engine": None, "images": images, "checks": checks}).encode()


class _Html(HTMLParser):
    """The rendered page's text outside ``<code>``, the text of each ``<code>``, tags and comments."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.outside: list[str] = []
        self.codes: list[str] = []
        self.tags: list[str] = []
        self.comments: list[str] = []
        self._in_code = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        if tag == "code":
            self._in_code += 1
            self.codes.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self._in_code -= 1

    def handle_data(self, data: str) -> None:
        if self._in_code:
            self.codes[-1] += data
        else:
            self.outside.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def github_html(markdown: str) -> _Html:
    """``markdown`` as GitHub renders it (cmark-gfm with its table extension), parsed."""
    page = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    parsed = _Html()
    parsed.feed(page)
    return parsed


def test_hostile_names_render_as_inert_code() -> None:
    images = [
        image(name, 2_000 + i, 1_000, changes=changes([(name, None, 500)])) for i, name in enumerate(HOSTILE)
    ]
    checks = [check(name, test=name) for name in HOSTILE]
    body = render(parse_report(report(images, checks), "r.json"))
    page = github_html(body)
    outside = "".join(page.outside)
    for token in ("@", "#1", "click", "evil", "<", "&", "smile", "tick", "bold", "break", "onerror"):
        assert token not in outside, token
    assert page.comments == [" pytest-imagesize:default "]  # the marker, and no other comment
    assert not {"a", "img", "em", "del", "script"} & set(page.tags)
    assert set(page.tags) <= {
        "h3",
        "p",
        "strong",
        "ul",
        "li",
        "code",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "details",
        "summary",
        "sub",
    }
    for name in HOSTILE:
        seen = shown(name) if len(shown(name)) <= 160 else shown(name)[:159] + "…"
        assert seen in page.codes, name  # in full, as the reader should see it (visible escapes)
    # each name: its table row, its failing check (image and test), its movers' heading and file
    assert sum(code == shown("a|b|c") for code in page.codes) == 5


@pytest.mark.parametrize("name", HOSTILE)
def test_a_code_span_holds_any_name(name: str) -> None:
    for table in (False, True):
        markdown = code(name, table=table)
        source = f"| x |\n|---|\n| {markdown} |\n" if table else markdown
        page = github_html(source)
        expected = shown(name) if len(shown(name)) <= 160 else shown(name)[:159] + "…"
        assert page.codes == [expected]
        assert "".join(page.outside).strip() in ("", "x")


def test_fifty_images_on_two_platforms_with_twenty_failing_checks_fit_with_movers_cut_first() -> None:
    images: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    for i in range(50):
        for platform in ("linux/amd64", "linux/arm64"):
            name = f"registry.example.com/team-{i:02d}/service-with-a-long-name-{i:02d}"
            files = [
                (f"/usr/lib/python3.12/site-packages/pkg_{i}/module_{j:03d}/data.bin", 1_000, 90_000 + j)
                for j in range(20)
            ]
            moved = changes(files) | {
                "dirs": [{"path": f"/usr/lib/dir{j}", "a": 1, "b": 2 + j} for j in range(20)],
                "go": [
                    {"binary": "/app", "module": f"github.com/org/module{j}", "a": 1, "b": 9 + j}
                    for j in range(20)
                ],
                "packages": [
                    {"ecosystem": "deb", "name": f"libpackage{j}", "a": 1, "b": 5 + j} for j in range(20)
                ],
                "omitted": {"files": 400},
            }
            images.append(image(name, 50_000_000 + i, 40_000_000, platform, changes=moved))
            if len(checks) < 20:
                checks.append(
                    check(f"{name}[{platform}]", test=f"tests/test_sizes.py::test_size[{name}-{platform}]")
                )
    checks += [check(entry["name"], "passed") for entry in images[20:]]
    parsed = parse_report(report(images, checks), "r.json")
    body = render(parsed)
    assert length(body) <= MAX_CHARS
    page = github_html(body)
    assert body.count("- ❌") == 20  # every failing check
    assert body.count("\n| `registry.example.com") == 100  # every row
    assert "left out to fit GitHub's comment limit" in body and "Movers of" in body
    assert "table row(s) left out" not in body and "failing check(s) left out" not in body
    assert body.count("<details>") == 1 and "details" in page.tags
    print(f"50 images x 2 platforms, 20 failing checks: {length(body):,} characters")

    # with room for everything, nothing is cut
    whole = render(parsed, limit=10**7)
    assert "left out" not in whole and length(whole) > MAX_CHARS

    # a smaller limit cuts the table's rows next, and failing checks only when they alone do not fit
    small = render(parsed, limit=12_000)
    assert length(small) <= 12_000 and small.count("- ❌") == 20 and "table row(s) left out" in small
    tiny = render(parsed, limit=3_000)
    assert length(tiny) <= 3_000 and "failing check(s) left out" in tiny


def test_rows_changes_and_verdicts() -> None:
    images = [
        image("app", 12_000_000, 10_000_000, changes=changes([("/big", None, 2_000_000)])),
        image("new", 100, None),
        image("same", 5_000, 5_000, changes=changes([])),
    ]
    body = render(parse_report(report(images, [check("app"), check("same", "passed")]), "r.json"))
    assert "| `app` | - | 12 MB | +2 MB (+20.0 %) | 6 MB (+1 MB) | ❌ failed |" in body
    assert "| `new` | - | 100 B | new | 50 B | - |" in body
    assert "| `same` | - | 5 KB | ±0 | 2.5 KB | ✅ passed |" in body
    assert "- +2 MB file `/big` (new)" in body
    assert body.startswith("<!-- pytest-imagesize:default -->\n")
    assert "❌ **1 of 2 size checks failed**" in body
    assert render(parse_report(report(images, []), "r.json"), "arm64-images").startswith(
        "<!-- pytest-imagesize:arm64-images -->\n"
    )


def test_a_schema_2_report_renders() -> None:
    """Version 2: no platform field, no changes; the baseline's sizes give the change."""
    entry = image("app", 2_000, 1_000)
    for key in ("platform", "changes", "packages"):
        del entry[key]
    body = render(parse_report(report([entry], [check("app")], version=2), "r.json"))
    assert "| `app` | - | 2 KB | +1 KB (+100.0 %) | 1 KB (+500 B) | ❌ failed |" in body
    assert "<details>" not in body


def test_against_another_report() -> None:
    old = image("app", 1_000, None, layers=[{"diff_id": "sha256:a", "created_by": "COPY a /", "size": 1_000}])
    old["packages"] = {"packages": [{"ecosystem": "deb", "name": "libc6", "size": 500, "within": None}]}
    new = image("app", 3_000, None, layers=[{"diff_id": "sha256:b", "created_by": "COPY b /", "size": 3_000}])
    new["packages"] = {"packages": [{"ecosystem": "deb", "name": "libc6", "size": 2_500, "within": None}]}
    gone = image("gone", 10, None)
    merged = against(parse_report(report([new], []), "a"), parse_report(report([old, gone], []), "b"))
    body = render(merged, against="main.json")
    assert "| `app` | - | 3 KB | +2 KB (+200.0 %) |" in body
    assert "| `gone` | - | - | removed |" in body
    assert "- +2 KB package `libc6` in `deb` (500 B → 2.5 KB)" in body
    assert "- +3 KB layer `COPY b /` (new)" in body and "- -1 KB layer `COPY a /` (removed)" in body
    assert "Changes against the report `main.json`" in body


def test_against_a_cut_package_list_names_only_what_is_known_to_have_moved() -> None:
    def listed(sizes: dict[str, int], complete: bool) -> dict[str, Any]:
        found = [{"ecosystem": "deb", "name": n, "size": b, "within": None} for n, b in sizes.items()]
        return {"packages": found, "complete": complete}

    old, new = image("app", 1_000, None), image("app", 1_000, None)
    # each list holds its largest packages only: small ones fell below the cut on one side
    old["packages"] = listed({"big": 900, "p50": 100, "gone": 500}, complete=False)
    new["packages"] = listed({"big": 950, "p51": 110, "new": 400}, complete=False)
    merged = against(parse_report(report([new], []), "a"), parse_report(report([old], []), "b"))
    changes = merged.images[0].changes
    assert changes is not None
    # p50 (100 B) is missing from the new list, whose smallest is 110 B: it may be there below
    # the cut, so it is no mover; p51 (110 B) is missing from the old list, whose smallest is
    # 100 B: it would have been listed, so it is new
    assert sorted((m.key, m.a, m.b) for m in changes.packages) == [
        ("big", 900, 950),
        ("gone", 500, None),
        ("new", None, 400),
        ("p51", None, 110),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"version": 3, "images": [', "not valid JSON (Expecting value; truncated?)"),
        (b'{"version": 4, "images": []}', "schema version 4 is not one this command reads (2, 3)"),
        (b'{"version": "3", "images": []}', 'schema version "3" is not one'),
        (b'{"version": true, "images": []}', "schema version true is not one"),
        (b"[]", "the document: expected an object, found a list"),
        (b'{"version": 3, "images": [{"name": 5}]}', "images[0].name: expected a string, found a number"),
        (
            b'{"version": 3, "images": [{"name": "a", "size": "big"}]}',
            "images[0].size: expected a whole number",
        ),
        (b'{"version": 3, "images": [{"name": "a", "size": -1}]}', "images[0].size: -1 is out of range"),
        (b'{"version": 3, "images": [{"name": "a", "size": NaN}]}', "NaN is not a number JSON allows"),
        (
            b'{"version": 3, "images": [], "checks": [{"outcome": "pwned"}]}',
            "checks[0].outcome: expected one of",
        ),
        (
            b'{"version": 3, "images": [{"name": "a", "size": 1, "changes": {"files": [{"path": []}]}}]}',
            "images[0].changes.files[0].path",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"\xff\xfe", "not UTF-8 text"),
    ],
)
def test_a_bad_report_is_refused_in_one_line(data: bytes, message: str) -> None:
    with pytest.raises(ReportError) as caught:
        parse_report(data, "r.json")
    assert message in str(caught.value)
    assert str(caught.value).startswith("r.json: ") and "\n" not in str(caught.value)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["comment", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_the_command_refuses_a_50_mb_report_without_reading_it_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.json"
    with open(big, "wb") as handle:
        handle.write(b'{"version": 3, "images": [' + b" " * (50 * 1000 * 1000) + b"]}")
    status, out, err = run_cli([str(big)], capsys)
    assert (status, out) == (2, "")
    assert err == (
        f"pytest-imagesize: error: {big}: larger than 10 MB; a JSON report of this plugin is far "
        "smaller: pass the --image-report-json file\n"
    )
    assert MAX_REPORT_BYTES == 10_000_000


def test_the_command_prints_the_comment_or_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "report.json"
    good.write_bytes(report([image("@octocat", 2_000, 1_000)], [check("@octocat")]))
    status, out, err = run_cli([str(good), "--id", "amd64"], capsys)
    assert (status, err) == (0, "")
    assert out.startswith("<!-- pytest-imagesize:amd64 -->\n") and "| `@octocat` |" in out

    bad_cases = {
        "truncated": (good.read_bytes()[:40], "not valid JSON"),
        "version": (report([], [], version=1), "schema version 1"),
    }
    for label, (data, words) in bad_cases.items():
        path = tmp_path / f"{label}.json"
        path.write_bytes(data)
        status, out, err = run_cli([str(path)], capsys)
        assert (status, out) == (2, ""), label
        assert words in err and err.count("\n") == 1, label
    status, out, err = run_cli([str(good), "--id", "x --> <b>"], capsys)
    assert (status, out) == (2, "") and "--id 'x --> <b>': use 1 to 64 letters" in err
    status, out, err = run_cli([str(tmp_path / "missing.json")], capsys)
    assert (status, out) == (2, "") and "missing.json: no such file" in err
    status, out, err = run_cli([str(good), "--against", str(tmp_path / "truncated.json")], capsys)
    assert (status, out) == (2, "") and "truncated.json: not valid JSON" in err


def test_the_json_report_carries_the_movers_against_the_baseline_entry() -> None:
    before, _ = measured(FakeImage.from_layers([{"app/big": b"a" * 20_000, "app/keep": b"k" * 5_000}]))
    entry = BaselineEntry.of(before.summary(files=True), {"name": "docker"}, "2026-12-01", "abc1234")
    after, _ = measured(
        FakeImage.from_layers([{"app/big": b"b" * 30_000, "app/keep": b"k" * 5_000, "app/new": b"n" * 4_000}])
    )
    untouched, _ = measured(FakeImage.from_layers([{"app/keep": b"k" * 5_000}]), name="other")
    doc = document(None, {"app": after, "other": untouched}, [], {"app": entry})
    changes = doc["images"][0]["changes"]
    assert changes["against"] == "baseline" and changes["a"] == "baseline:app" and changes["b"] == "app"
    assert changes["size"] == {"a": entry.size, "b": after.size, "delta": after.size - (entry.size or 0)}
    assert [(f["path"], f["a"], f["b"], f["status"]) for f in changes["files"]] == [
        ("/app/big", 20_000, 30_000, "grown"),
        ("/app/new", None, 4_000, "added"),
    ]
    assert [layer["status"] for layer in changes["layers"]] == ["added", "removed"]
    assert changes["packages"] == [] and changes["omitted"]["files"] == 0 and changes["files_compared"]
    assert doc["images"][0]["compressed_size"] is not None  # read for the movers, so reported too
    assert doc["images"][1]["changes"] is None  # no entry
    # an image that did not grow is not read for its movers: sizes and layers only
    same, _ = measured(FakeImage.from_layers([{"app/other": b"o" * 5_000}]), name="same")
    unread = document(None, {"same": same}, [], {"same": entry})["images"][0]["changes"]
    assert unread["files_compared"] is False and unread["files"] == unread["dirs"] == []
    assert unread["size"]["delta"] < 0 and not same.analysed
    # the report's changes render as the comment's movers
    rendered = render(parse_report(json.dumps(copy.deepcopy(doc)).encode(), "r.json"))
    assert "- +10 KB file `/app/big` (20 KB → 30 KB)" in rendered
    assert "- +4 KB file `/app/new` (new)" in rendered


def test_the_command_reads_no_more_than_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A report that never ends (a pipe fed 50 MB) is refused after the first 10 MB + 1 byte:
    what the writer got into the pipe is that plus at most the pipe's buffer."""
    import os
    import threading

    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    written = 0

    def feed() -> None:
        nonlocal written
        chunk = b" " * 65_536
        with open(fifo, "wb", buffering=0) as pipe:
            try:
                while written < 50 * 1000 * 1000:
                    pipe.write(chunk)
                    written += len(chunk)
            except BrokenPipeError:
                pass

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        status, out, err = run_cli([str(fifo)], capsys)
    finally:
        writer.join()
    assert (status, out) == (2, "") and "larger than 10 MB" in err
    assert written < MAX_REPORT_BYTES + 2 * 1024 * 1024


def test_the_reports_movers_keep_the_largest_twenty_of_each_kind() -> None:
    before, _ = measured(FakeImage.from_layers([{"app/keep": b"k" * 5_000}]))
    entry = BaselineEntry.of(before.summary(files=True), {"name": "docker"}, None, None)
    files = {f"app/new{i:02d}": bytes(1_000 + i) for i in range(30)}
    after, _ = measured(FakeImage.from_layers([{"app/keep": b"k" * 5_000, **files}]))
    changes = document(None, {"app": after}, [], {"app": entry})["images"][0]["changes"]
    assert [f["path"] for f in changes["files"]] == [f"/app/new{i:02d}" for i in range(29, 9, -1)]
    assert changes["omitted"]["files"] == 10


def test_packages_of_another_shape_count_as_not_measured() -> None:
    """Package and Go module sizes serve ``--against`` only: a shape this version does not know
    leaves them out instead of refusing the report."""
    entry = image("app", 2_000, 1_000, packages={"reason": "not read"}, go_binaries=[{"path": 5}])
    parsed = parse_report(report([entry], []), "r.json")
    assert (parsed.images[0].packages, parsed.images[0].go_modules) == (None, None)
    entry["packages"] = {"packages": [{"ecosystem": "deb", "name": "libc6", "size": 7, "within": None}]}
    assert parse_report(report([entry], []), "r.json").images[0].packages == {"deb:libc6": ("libc6", 7)}
