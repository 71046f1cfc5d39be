"""The HTML report without an engine or a browser: summarise() keeps every byte within its node
budget, Go binaries nest, render() shows the JSON's numbers, hostile names stay text, pages stay
small."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from html import escape, unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_imagesize.reports import html, treemap
from pytest_imagesize.reports.treemap import summarise
from pytest_imagesize.sizes import format_size
from tests.browser.sample_report import GO_BINARY, HOSTILE_NAMES, go_binary, make_document, make_image

DATA = re.compile(r'<script type="application/json" id="imagesize-data">(.*?)</script>', re.S)


class F(NamedTuple):
    path: str
    kind: str
    size: int
    layer: int


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    here = path.rstrip("/") + "/" + node["name"] if path else "/"
    yield here, node
    for child in node.get("children") or ():
        yield from walk(child, here)


def assert_sums(tree: dict[str, Any]) -> None:
    for path, node in walk(tree):
        if "children" in node:
            assert node["size"] == sum(c["size"] for c in node["children"]), path


def node_count(tree: dict[str, Any]) -> int:
    return sum(1 for _ in walk(tree))


def find(tree: dict[str, Any], path: str) -> dict[str, Any]:
    for here, node in walk(tree):
        if here == path:
            return node
    raise KeyError(path)


# -- summarise ----------------------------------------------------------------------------------


def test_small_tree_is_kept_whole() -> None:
    files = [
        F("/", "dir", 0, 0),
        F("/usr", "dir", 0, 0),
        F("/usr/bin", "dir", 0, 0),
        F("/usr/bin/go", "file", 1000, 1),
        F("/usr/bin/gofmt", "file", 300, 2),
        F("/usr/bin/golang", "symlink", 2, 2),
        F("/etc/hosts", "file", 50, 0),
        F("/empty", "dir", 0, 3),
    ]
    tree = summarise(files)
    assert tree["size"] == 1352
    assert tree["files"] == 4
    assert node_count(tree) == tree["nodes"] == 9  # / usr bin go gofmt golang etc hosts empty
    assert find(tree, "/usr/bin/go") == {"name": "go", "size": 1000, "layer": 1}
    assert find(tree, "/usr/bin/golang")["kind"] == "symlink"
    usr_bin = find(tree, "/usr/bin")
    assert usr_bin["layer"] == 1  # most bytes
    assert [c["name"] for c in usr_bin["children"]] == ["go", "gofmt", "golang"]  # largest first
    assert find(tree, "/empty") == {"name": "empty", "size": 0, "layer": 3, "children": []}
    assert tree["layer_bytes"] == [[0, 50], [1, 1000], [2, 302]]
    assert_sums(tree)


def test_inputs_as_objects_mappings_and_tuples() -> None:
    class Obj:
        def __init__(self, path: str, size: int) -> None:
            self.path, self.kind, self.size, self.layer = path, "file", size, 0

    tree = summarise(
        [
            Obj("/a", 1),
            {"path": "/b", "kind": "file", "size": 2, "layer": 1},
            ("/c", "file", 4, 2),
            F("/d", "hardlink", 0, 2),
        ]
    )
    assert tree["size"] == 7
    assert sorted(c["name"] for c in tree["children"]) == ["a", "b", "c", "d"]


def test_small_files_fold_into_one_node_per_directory() -> None:
    files = [F("/big", "file", 10_000, 0)]
    files += [F(f"/many/f{i}", "file", 10, 1) for i in range(1000)]
    files += [F("/many/large", "file", 5_000, 2)]
    tree = summarise(files, max_nodes=6)
    assert tree["nodes"] <= 6
    assert tree["size"] == 10_000 + 10_000 + 5_000
    many = find(tree, "/many")
    names = [c["name"] for c in many["children"]]
    assert names[0] == "large"
    fold = many["children"][-1]
    assert fold["kind"] == "more"
    assert fold["count"] == 1000 - (len(names) - 2)
    assert fold["name"] == f"{fold['count']} more files"
    assert fold["layer"] == 1
    assert_sums(tree)


def test_folded_directories_keep_their_file_count() -> None:
    files = [F(f"/d{i}/sub/f{j}", "file", 100 + i, 0) for i in range(30) for j in range(20)]
    tree = summarise(files, max_nodes=40)
    assert tree["nodes"] <= 40
    folded = [node for _, node in walk(tree) if node.get("kind") == "dir"]
    assert folded and all(node["count"] == 20 and "children" not in node for node in folded)
    assert_sums(tree)


def test_more_directories_than_nodes_fit_in_four_thousand_nodes() -> None:
    # 12,000 files in 4,500 directories (every pair of p0..p499 and s0..s8): the directories alone
    # are over the budget
    files = [
        F(f"/usr/lib/p{i % 500}/s{i % 9}/f{i}", "file", (i * 7919) % 50_000, i % 4) for i in range(12_000)
    ]
    assert len({f.path.rsplit("/", 1)[0] for f in files}) == 4_500
    tree = summarise(files)
    assert tree["nodes"] == node_count(tree) <= 4000
    assert tree["files"] == 12_000
    assert tree["size"] == sum(f.size for f in files)
    assert_sums(tree)
    assert len(json.dumps(tree)) < 400_000


def test_odd_path_spellings_land_in_one_directory() -> None:
    files = [
        F("/a/b", "file", 1, 0),
        F("a//b2", "file", 2, 0),
        F("/a/./b3/", "file", 4, 0),
        F("/a/", "dir", 0, 1),
    ]
    tree = summarise(files)
    assert [c["name"] for c in tree["children"]] == ["a"]
    assert sorted(c["name"] for c in find(tree, "/a")["children"]) == ["b", "b2", "b3"]
    assert tree["size"] == 7


def test_max_nodes_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="max_nodes"):
        summarise([F("/a", "file", 1, 0)], max_nodes=1)


entries = st.lists(
    st.tuples(
        st.lists(st.sampled_from(["a", "b", "c", "lib", "x y", "<s>"]), min_size=1, max_size=5),
        st.sampled_from(["file", "symlink", "hardlink", "other"]),
        st.integers(min_value=0, max_value=10**9),
        st.integers(min_value=0, max_value=5),
    ),
    max_size=80,
)


@settings(max_examples=40, deadline=None)
@given(entries, st.integers(min_value=2, max_value=40))
def test_every_byte_is_kept_within_the_budget(raw: list[Any], max_nodes: int) -> None:
    files = [
        F("/" + "/".join(parts) + f"/{i}", kind, size, layer)
        for i, (parts, kind, size, layer) in enumerate(raw)
    ]
    tree = summarise(files, max_nodes=max_nodes)
    assert tree["size"] == sum(f.size for f in files)
    assert tree["files"] == len(files)
    assert tree["nodes"] == node_count(tree) <= max_nodes
    assert_sums(tree)
    json.dumps(tree, allow_nan=False)


def test_go_binary_nests_modules_then_packages() -> None:
    size = 9_000_000
    tree = summarise(
        [F(GO_BINARY, "file", size, 4), F("/etc/x", "file", 5, 0)], go_binaries=[go_binary(size)]
    )
    server = find(tree, GO_BINARY)
    assert server["kind"] == "go-binary" and server["size"] == size and server["layer"] == 4
    assert_sums(tree)
    top = {c["name"]: c for c in server["children"]}
    assert set(top) == {
        "example.com/server",
        "github.com/spf13/cobra",
        "golang.org/x/net",
        "(standard library)",
        "pclntab",
        "rodata",
        "unattributed",
    }
    module = top["example.com/server"]
    assert module["kind"] == "go-module" and module["size"] == 1_400_000
    assert {c["name"]: c["size"] for c in module["children"]} == {
        "example.com/server/internal/api": 800_000,  # longest module prefix wins
        "example.com/server": 300_000,
        "other": 300_000,  # module bytes not in its packages
    }
    assert {c["name"] for c in top["(standard library)"]["children"]} == {"runtime", "net/http", "crypto/tls"}
    assert {c["name"]: c["size"] for c in top["golang.org/x/net"]["children"]} == {
        "golang.org/x/net/http2": 700_000,
        "other": 200_000,
    }
    claimed = 2_900_000 + 2_900_000 + 1_900_000 + 100_000  # modules, std packages, buckets, unattributed
    assert top["unattributed"]["size"] == 100_000 + (size - claimed)  # the file's unexplained bytes
    for _, node in walk(server):
        assert node["layer"] == 4


def test_go_breakdown_larger_than_the_file_is_trimmed_or_dropped() -> None:
    info = go_binary(0)
    claimed = 7_800_000
    trimmed = summarise([F(GO_BINARY, "file", claimed - 50_000, 1)], go_binaries=[info])
    node = find(trimmed, GO_BINARY)
    assert node["size"] == claimed - 50_000
    assert find(trimmed, GO_BINARY + "/unattributed")["size"] == 50_000
    assert_sums(trimmed)
    dropped = summarise([F(GO_BINARY, "file", 1000, 1)], go_binaries=[info])
    assert find(dropped, GO_BINARY) == {"name": "server", "size": 1000, "layer": 1}


def test_go_binary_for_a_missing_file_is_ignored() -> None:
    tree = summarise([F("/bin/sh", "file", 10, 0)], go_binaries=[go_binary(10)])
    assert tree["size"] == 10 and tree["nodes"] == 3


def test_wasted_copies_are_listed_largest_first_not_in_the_tree() -> None:
    wasted = [(f"/tmp/w{i}", i, i % 3) for i in range(300)]
    tree = summarise([F("/a", "file", 1, 0)], wasted=wasted)
    assert tree["size"] == 1
    assert len(tree["wasted"]) == treemap.WASTED_LIMIT == 200
    assert tree["wasted"][0] == {"path": "/tmp/w299", "size": 299, "layer": 2}
    assert [w["size"] for w in tree["wasted"]] == sorted((w["size"] for w in tree["wasted"]), reverse=True)


# -- render ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return make_document(3_000)


@pytest.fixture(scope="module")
def page(document: dict[str, Any]) -> str:
    return html.render(document)


class Parsed(HTMLParser):
    """Elements and text of a page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Parsed:
    parser = Parsed()
    parser.feed(page)
    parser.close()
    return parser


def spans(page: str, field: str) -> list[tuple[str, str]]:
    """(data-bytes, text) of the elements with ``data-field="field"``."""
    pattern = re.compile(
        rf'<span class="num[^"]*" data-field="{field}" data-bytes="(\d*)"[^>]*>([^<]*)</span>'
    )
    return pattern.findall(page)


def test_embedded_document_is_the_document(document: dict[str, Any], page: str) -> None:
    match = DATA.search(page)
    assert match
    assert json.loads(match.group(1)) == json.loads(json.dumps(document))


def test_visible_numbers_are_the_json_numbers(document: dict[str, Any], page: str) -> None:
    sizes = spans(page, "size")
    for image in document["images"]:
        for field in ("size", "compressed_size", "own_size", "engine_size", "wasted_bytes"):
            value = image[field]
            expected = ("" if value is None else str(value), escape(format_size(value)))
            assert expected in spans(page, field), (image["name"], field)
        for layer in image["layers"]:
            assert (str(layer["size"]), format_size(layer["size"])) in sizes
            assert (str(layer["compressed_size"]), format_size(layer["compressed_size"])) in spans(
                page, "compressed_size"
            )
        assert f'data-image="{image["name"]}"' in page
    api = document["images"][0]
    assert (str(api["baseline"]["delta"]), "+" + format_size(api["baseline"]["delta"])) in [
        (b, t) for b, t in re.findall(r'data-field="delta" data-bytes="(-?\d+)"[^>]*>([^<]*)<', page)
    ]
    assert 'data-field="compressed_size" data-bytes="">-</span>' in page  # worker: not measured
    for check in document["checks"]:
        assert escape(check["test"]) in page


def test_check_values_in_their_units(page: str) -> None:
    assert ">900 MB</span>" in page  # size limit
    assert '<span class="num" data-field="limit" data-value="10">10</span>' in page  # layers
    assert ">5 %</span>" in page and ">+0.80 %</span>" in page  # growth
    assert ">90.00 %</span>" in page  # efficiency limit
    for outcome in ("passed", "failed", "warned"):
        assert f'<span class="badge {outcome}">{outcome}</span>' in page


def test_hostile_names_are_text(document: dict[str, Any], page: str) -> None:
    parsed = parse(page)
    tags = [tag for tag, _ in parsed.tags]
    assert tags.count("script") == 3
    assert "img" not in tags and "b" not in tags
    for bad in HOSTILE_NAMES:
        assert bad not in page  # never verbatim: escaped in markup, \u-escaped in the JSON
    text = "".join(parsed.text)
    assert f"/tmp/{HOSTILE_NAMES[0]}" in text  # shown as text (wasted copies)
    assert "tests/test_size.py::test_worker<script>window.__imagesizePwned = 5</script>" in text
    data = DATA.search(page)
    assert data
    for char in "<>&\u2028\u2029":
        assert char not in data.group(1)
    names = {
        node["name"] for image in json.loads(data.group(1))["images"] for _, node in walk(image["treemap"])
    }
    assert "new\nline\u2028sep\u2029para" in names


def test_hostile_image_name_and_instruction() -> None:
    image = make_image('x"><script>alert(1)</script>', 50, seed=3, go=False, hostile=False)
    image["layers"][0]["created_by"] = "RUN echo '</script><script>alert(2)</script>' \u2028"
    image["tags"] = ["<i>t</i>"]
    page = html.render({"version": 2, "engine": None, "images": [image], "checks": []})
    assert "<script>alert" not in page and "alert(1)</script>" not in page
    assert [tag for tag, _ in parse(page).tags].count("script") == 3
    assert "\u2028" not in page.split('id="imagesize-data">')[1]


def test_scripts_are_allowed_by_the_page_policy_and_nothing_else(page: str) -> None:
    found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert found
    policy = unescape(found.group(1))
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 2
    for code in scripts:
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing from the network


def test_missing_numbers_show_a_dash() -> None:
    image = {
        "name": "bare",
        "ref": None,
        "id": None,
        "tags": [],
        "size": None,
        "engine_size": None,
        "compressed_size": None,
        "base": None,
        "own_size": None,
        "own_compressed_size": None,
        "layers": [{"created_by": None, "size": None, "compressed_size": None, "wasted_bytes": None}],
        "wasted_bytes": None,
        "efficiency": None,
        "go_binaries": None,
        "baseline": None,
        "treemap": None,
        "wasted_files": None,
    }
    check = {
        "test": "t",
        "image": "bare",
        "kind": "max_image_growth",
        "compressed": False,
        "limit": 5,
        "actual": float("inf"),
        "outcome": "failed",
    }
    page = html.render({"version": 2, "engine": None, "images": [image], "checks": [check]})
    assert '<span class="num na" data-field="size" data-bytes="">-</span>' in page
    assert "Not analysed" in page
    assert ">+inf %<" in page
    data = DATA.search(page)
    assert data and json.loads(data.group(1))["checks"][0]["actual"] is None  # JSON.parse-safe


def test_checks_of_unknown_images_are_still_shown() -> None:
    check = {"test": "t::x", "image": "ghost", "kind": "max_image_layers", "limit": 3, "actual": 4}
    page = html.render(
        {"version": 2, "engine": None, "images": [], "checks": [{**check, "outcome": "failed"}]}
    )
    assert "Other checks" in page and "t::x" in page and '<span class="badge failed">' in page


def test_go_binaries_without_a_treemap_are_listed_without_zoom() -> None:
    image = make_image("g", 20, seed=4, hostile=False)
    image["treemap"] = None
    page = html.render({"version": 2, "engine": None, "images": [image], "checks": []})
    assert GO_BINARY in page and "data-zoom-path=" not in page


def test_no_images() -> None:
    page = html.render({"version": 2, "engine": None, "images": [], "checks": []})
    assert "No images were measured" in page


def test_two_images_at_the_node_budget_stay_under_two_megabytes(document: dict[str, Any], page: str) -> None:
    # the page grows with the treemaps' nodes, not with the files: the sample's 3,000 files per
    # image already fill the 4,000-node budget that 30,000 fill
    assert [image["treemap"]["nodes"] for image in document["images"]] == [4000, 4000]
    size = len(page.encode("utf-8"))
    assert size < 2_000_000, size


@pytest.fixture(scope="module")
def small_document() -> dict[str, Any]:
    """Writing a page does not depend on its size: a few files per image."""
    return make_document(20)


def test_write_replaces_the_file(tmp_path: Path, small_document: dict[str, Any]) -> None:
    target = tmp_path / "out" / "report.html"
    html.write(target, small_document)
    html.write(str(target), small_document)
    assert target.read_text(encoding="utf-8") == html.render(small_document)
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_write_errors_are_oserrors(tmp_path: Path, small_document: dict[str, Any]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):
        html.write(blocker / "report.html", small_document)
    directory = tmp_path / "dir.html"
    directory.mkdir()
    with pytest.raises(OSError):
        html.write(directory, small_document)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.html", "file"]  # no temporary file left
    assert list(directory.iterdir()) == []


def test_vendored_library_and_its_licence_ship_with_the_package() -> None:
    from importlib import resources

    assets = resources.files("pytest_imagesize.reports") / "assets"
    assert "treemap" in (assets / "d3-hierarchy.min.js").read_text(encoding="utf-8")
    licence = (assets / "d3-hierarchy.LICENSE").read_text(encoding="utf-8")
    assert "Mike Bostock" in licence and "Permission to use, copy, modify" in licence
