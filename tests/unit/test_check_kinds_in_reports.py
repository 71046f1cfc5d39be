"""Adding a marker touches one module: every writer (terminal table, Markdown, JSON, HTML) shows an
outcome of every registered check kind from that kind's record (its label, its values in its unit,
its JSON fields, its findings in words), never the raw kind name; and a kind registered from
outside the package, here in a test, shows up in every writer the same way."""

from __future__ import annotations

import html as html_escape
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from pytest_imagesize.checks import (
    KINDS,
    UNITS,
    Check,
    CheckKind,
    Context,
    Outcome,
    Reject,
    check_from_marker,
    evaluate,
    register,
    resolve_image,
)
from pytest_imagesize.measure.image import Image
from pytest_imagesize.reports import html
from pytest_imagesize.reports.json_report import document
from pytest_imagesize.reports.markdown import markdown
from pytest_imagesize.reports.terminal import rows, table
from pytest_imagesize.sizes import format_size

from ..support.fake_engine import FakeImage, measured

TEST = "tests/test_app.py::test_app"
COMMON_FIELDS = ["test", "image", "platform", "kind", "compressed", "limit", "warn", "actual", "outcome"]
# a limit and an actual value of each unit, inside the limit
SAMPLES: dict[str, tuple[float | None, float | None]] = {
    "bytes": (900_000, 850_000),
    "count": (10, 7),
    "ratio": (0.9, 0.95),
    "percent": (5.0, 0.8),
    "none": (None, None),
}
FINDING = {
    "rule": "stripped",
    "path": "/app/server",
    "problem": "not stripped",
    "cost_bytes": 1_000,
    "fix": "-s",
}


@pytest.fixture(scope="module")
def image() -> Image:
    fake = FakeImage.from_layers(
        [{"big": b"x" * 10_000}, {"small": b"y" * 2_000, "tiny": b"z" * 10}],
        compression="gzip",
        created_by=["COPY big /big", "COPY small tiny /"],
    )
    return measured(fake, name="app")[0]


def sample(record: CheckKind, compressed: bool) -> Outcome:
    limit, actual = SAMPLES[record.unit]
    return Outcome(
        test=TEST,
        image="app",
        kind=record.name,
        compressed=compressed,
        limit=limit,
        actual=actual,
        outcome="passed",
        message="",
        details=(FINDING,) if record.detail_text is not None else (),
    )


def variants() -> list[tuple[str, bool]]:
    return [
        (name, compressed)
        for name, record in KINDS.items()
        for compressed in ((False, True) if "compressed" in record.options else (False,))
    ]


def visible(markup: str) -> str:
    return html_escape.unescape(re.sub(r"<[^>]*>", " ", markup))


def html_row(page: str, kind: str) -> list[str]:
    """The cells of the HTML checks table's row of ``kind`` (the first such row)."""
    row = re.search(rf'<tr data-kind="{re.escape(kind)}"[^>]*>(.*?)</tr>', page, re.S)
    assert row, f"no checks row of {kind}"
    return re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)


def assert_value_in_its_unit(cell: str, unit: str, value: float | None) -> None:
    if unit == "bytes":
        assert value is not None
        assert f'data-bytes="{int(value)}"' in cell and visible(cell).strip() == format_size(int(value))
    elif unit == "count":
        assert f'data-value="{int(value or 0)}"' in cell
    elif unit in ("ratio", "percent"):
        assert f'data-value="{value!r}"' in cell and visible(cell).strip().endswith(" %")
    else:
        assert visible(cell).strip() == "-"


def assert_every_writer_reads_the_record(image: Image, outcome: Outcome) -> None:
    record = KINDS[outcome.kind]
    title = record.title(outcome.compressed)
    assert title and title != outcome.kind

    # terminal table and Markdown: the limit column is the record's limit text
    report = rows({"app": image}, [outcome])
    assert report[0]["limit"] == record.limit_text(outcome)
    assert report[0]["headroom"] == outcome.headroom_text
    terminal = "\n".join(table(report))
    md = markdown(report, None)
    for text in (terminal, md):
        assert record.limit_text(outcome) in text
        assert outcome.kind not in text

    # JSON: the common fields, then the kind's own, strict JSON, read back the same
    data = document(None, {"app": image}, [outcome])
    check = data["checks"][0]
    assert list(check) == COMMON_FIELDS + list(record.json_fields)
    assert json.loads(json.dumps(check, allow_nan=False)) == check
    assert Outcome.from_json(check | {"message": outcome.message}).to_json() == check

    # HTML: the label, the values in the kind's unit, the findings in words
    page = html.render(data)
    test_cell, label, limit, actual, _ = html_row(page, outcome.kind)
    assert visible(label).strip() == title
    assert outcome.kind not in visible("".join((test_cell, label, limit, actual)))
    assert_value_in_its_unit(limit, record.unit, outcome.limit)
    assert_value_in_its_unit(actual, record.unit, outcome.actual)
    findings = [visible(item).strip() for item in re.findall(r"<li>(.*?)</li>", test_cell, re.S)]
    assert record.detail_text is not None or not outcome.details
    assert findings == ([record.detail_text(d) for d in outcome.details] if record.detail_text else [])


@pytest.mark.parametrize(("kind", "compressed"), variants())
def test_every_registered_kind_in_every_writer(image: Image, kind: str, compressed: bool) -> None:
    assert_every_writer_reads_the_record(image, sample(KINDS[kind], compressed))


def test_the_records_have_what_the_writers_read() -> None:
    for record in KINDS.values():
        assert record.label and record.unit in UNITS, record.name
        assert set(record.json_fields) <= set(Outcome.__dataclass_fields__) - set(COMMON_FIELDS)


# ---------------------------------------------------------------------------- a kind from outside

FILES = "max_image_files"


def _parse_files(value: Any, kwargs: Mapping[str, Any], reject: Reject) -> dict[str, Any]:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise reject(f"{value!r} is not a file count: give a whole number >= 1")
    return {"limit": value}


def _evaluate_files(check: Check, image: Image, test: str, context: Context) -> Outcome:
    files = sorted((r for r in image.files if r.kind == "file"), key=lambda r: -r.size)
    failed = len(files) > (check.limit or 0)
    return Outcome(
        test=test,
        image=image.name,
        kind=check.kind,
        compressed=False,
        limit=check.limit,
        actual=len(files),
        outcome="failed" if failed else "passed",
        message=f"image {image.label} has {len(files)} files ({check.marker})" if failed else "",
        details=tuple({"path": r.path, "size": r.size} for r in files[:2]),
    )


@pytest.fixture
def files_kind() -> Iterator[CheckKind]:
    record = register(
        CheckKind(
            name=FILES,
            signature="n, *, image=None",
            help="fail when the image has more than n files",
            options=frozenset(),
            parse=_parse_files,
            evaluate=_evaluate_files,
            label="files",
            unit="count",
            limit_text=lambda o: f"{int(o.limit or 0)} files",
            amount_text=lambda n: f"{int(n)} files",
            json_fields=("details",),
            detail_text=lambda d: f"{d['path']} ({format_size(d['size'])})",
        )
    )
    try:
        yield record
    finally:
        del KINDS[FILES]


def test_a_kind_registered_from_outside_shows_in_every_writer(image: Image, files_kind: CheckKind) -> None:
    check = resolve_image(check_from_marker(FILES, [2], {}), ["app"])
    outcome = evaluate(check, image, TEST)
    assert (outcome.outcome, outcome.actual) == ("failed", 3)
    assert_every_writer_reads_the_record(image, outcome)
    page = html.render(document(None, {"app": image}, [outcome]))
    _, label, limit, actual, _ = html_row(page, FILES)
    assert (visible(label).strip(), visible(limit).strip(), visible(actual).strip()) == ("files", "2", "3")
    assert "/big (10 KB)" in page and "/small (2 KB)" in page
    assert rows({"app": image}, [outcome])[0]["limit"] == "2 files"


def test_register_refuses_a_second_kind_of_a_name_and_unknown_units_or_fields(
    files_kind: CheckKind,
) -> None:
    from dataclasses import replace

    with pytest.raises(ValueError, match="already registered"):
        register(files_kind)
    with pytest.raises(ValueError, match="unit 'files' is not one of bytes, count"):
        register(replace(files_kind, name="other", unit="files"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"json_fields \['files'\] are not Outcome fields"):
        register(replace(files_kind, name="other", json_fields=("files",)))
    assert "other" not in KINDS
