"""The terminal rows and table, the per-layer lines and the Markdown table, from images measured
on the fake engine and outcomes of real checks, with and without a baseline."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from pytest_imagesize.baseline import BaselineEntry
from pytest_imagesize.checks import Outcome
from pytest_imagesize.measure.image import Image
from pytest_imagesize.reports.markdown import markdown
from pytest_imagesize.reports.terminal import layer_lines, rows, table

from ..support.fake_engine import FakeEngine, FakeImage
from .test_checks import COMPRESSED, PODMAN, entry, fake, run


@pytest.fixture
def engine() -> FakeEngine:
    fat = FakeImage.from_layers([{"usr/lib/big": b"z" * 2_500_000}, {"app": b"a" * 1_000}], tags=["fat:1"])
    return FakeEngine("graphdriver", [fake(), fat])


@pytest.fixture
def images(engine: FakeEngine) -> dict[str, Image]:
    """``app`` (12 KB, 3 layers, gzip blobs of COMPRESSED bytes) and ``fat`` (2.5 MB, 2 layers)."""
    return {
        "app": Image.measure(engine, fake().id, "app"),
        "fat": Image.measure(engine, "fat:1", "fat"),
    }


def passing(app: Image) -> list[Outcome]:
    return [
        run(app, "max_image_size", "20KB"),  # 8 KB of 20 KB left: 40 %
        run(app, "max_image_size", COMPRESSED + 100, compressed=True),  # 100 B left: the tightest
        run(app, "max_image_layers", 4),  # 1 of 4 left: 25 %
        run(app, "max_image_layers", 4),  # the same limit twice is shown once
    ]


def lines(text: str, app: Image, fat: Image) -> list[str]:
    return text.replace("APP_ID", app.short_id).replace("FAT_ID", fat.short_id).splitlines()


def test_rows_without_a_baseline(images: dict[str, Image], engine: FakeEngine) -> None:
    app, fat = images["app"], images["fat"]
    report = rows(images, passing(app))
    assert report == [
        {
            "image": "app",
            "id": app.short_id,
            "size": "12 KB",
            "compressed": f"{COMPRESSED} B",
            "layers": "3",
            "limit": f"20 KB, {COMPRESSED + 100} B (c), 4 layers",
            "headroom": "100 B",
            "verdict": "passed",
            "extra": {},
        },
        {
            "image": "fat",
            "id": fat.short_id,
            "size": "2.5 MB",
            "compressed": "-",  # never analysed: not guessed
            "layers": "2",
            "limit": "-",
            "headroom": "-",
            "verdict": "-",
            "extra": {},
        },
    ]
    assert engine.saves[fat.id] == 0  # the report reads no archive for an image nobody analysed


def test_the_table_aligns_sizes_right(images: dict[str, Image]) -> None:
    app, fat = images["app"], images["fat"]
    assert table(rows(images, passing(app))) == lines(
        """\
image  id              size  compressed  layers  limit                       headroom  verdict
app    APP_ID   12 KB       311 B       3  20 KB, 411 B (c), 4 layers     100 B  passed
fat    FAT_ID  2.5 MB           -       2  -                                  -  -""",
        app,
        fat,
    )
    assert COMPRESSED == 311  # the table above is written for it


def test_a_failure_decides_the_verdict_and_headroom(images: dict[str, Image]) -> None:
    app = images["app"]
    outcomes = [*passing(app), run(app, "max_image_size", "11kB")]
    (row, _) = rows(images, outcomes)
    assert (row["verdict"], row["headroom"]) == ("failed", "1 KB over")
    assert row["limit"] == f"20 KB, {COMPRESSED + 100} B (c), 4 layers, 11 KB"
    warned = rows(images, [run(app, "max_image_size", "20KB", warn="11kB"), run(app, "max_image_layers", 9)])
    assert (warned[0]["verdict"], warned[0]["headroom"]) == ("warned", "8 KB")


def test_outcomes_of_other_images_stay_on_their_row(images: dict[str, Image]) -> None:
    app, fat = images["app"], images["fat"]
    fat_outcome = run(fat, "max_image_size", "2MB")  # `run` names the image by its fixture, "fat"
    assert fat_outcome.image == "fat" and fat_outcome.outcome == "failed"
    report = rows(images, [*passing(app), fat_outcome])
    assert [(r["image"], r["verdict"], r["limit"], r["headroom"]) for r in report] == [
        ("app", "passed", f"20 KB, {COMPRESSED + 100} B (c), 4 layers", "100 B"),
        ("fat", "failed", "2 MB", "501 KB over"),
    ]


def baseline() -> Mapping[str, BaselineEntry]:
    return {"app": entry(10_000, COMPRESSED - 11)}


def test_rows_and_table_with_a_baseline(images: dict[str, Image]) -> None:
    app, fat = images["app"], images["fat"]
    report = rows(images, passing(app), baseline())
    assert [(r["size_delta"], r["compressed_delta"], r["extra"]) for r in report] == [
        ("+20.0 % ▲", "+3.7 % ▲", {"vs baseline": "+2 KB (+20.0 % ▲)"}),
        ("new", "new", {"vs baseline": "new"}),
    ]
    assert table(report) == lines(
        """\
image  id              size  compressed  layers  limit                       headroom  verdict  vs baseline
app    APP_ID   12 KB       311 B       3  20 KB, 411 B (c), 4 layers     100 B  passed   +2 KB (+20.0 % ▲)
fat    FAT_ID  2.5 MB           -       2  -                                  -  -        new""",
        app,
        fat,
    )


def test_unchanged_shrunk_and_incomparable_baselines(images: dict[str, Image]) -> None:
    app, fat = images["app"], images["fat"]
    _ = app.compressed_size
    entries = {
        "app": entry(12_000, COMPRESSED),
        "fat": BaselineEntry(3_002_000, None, (), PODMAN, version=2),
    }
    report = rows(images, [], entries)
    assert [(r["size_delta"], r["compressed_delta"], r["extra"]["vs baseline"]) for r in report] == [
        ("±0", "±0", "±0"),
        ("-16.7 % ▼", "", "-501 KB (-16.7 % ▼)"),
    ]
    v1 = {"app": entry(15_000, COMPRESSED, PODMAN, version=1)}
    (row, _) = rows(images, [], v1)
    assert (row["size_delta"], row["compressed_delta"]) == ("not comparable", "±0")
    assert fat.layer_count == 2


def test_markdown_without_and_with_a_baseline(images: dict[str, Image], engine: FakeEngine) -> None:
    app = images["app"]
    plain = markdown(rows(images, passing(app)), engine.info())
    assert plain == (
        "### Image sizes\n"
        "\n"
        "| image | size | compressed | layers | limit | headroom | verdict |\n"
        "|---|---:|---:|---:|---|---:|---|\n"
        "| `app` | 12 KB | 311 B | 3 | 20 KB, 411 B (c), 4 layers | 100 B | ✅ passed |\n"
        "| `fat` | 2.5 MB | - | 2 | - | - | - |\n"
        "\n"
        "Measured by docker 27.0.0-fake, overlay2, amd64. "
        "MB = 1,000,000 bytes; (c) = compressed (pull) size.\n"
    )
    compared = markdown(rows(images, [*passing(app), run(app, "max_image_size", "11kB")], baseline()), None)
    assert compared.splitlines()[4:] == [
        "| `app` | 12 KB (+20.0 % ▲) | 311 B (+3.7 % ▲) | 3 | 20 KB, 411 B (c), 4 layers, 11 KB "
        "| 1 KB over | ❌ failed |",
        "| `fat` | 2.5 MB (new) | - | 2 | - | - | - |",
    ]


def test_markdown_escapes_pipes_and_marks_warnings(images: dict[str, Image]) -> None:
    app = images["app"]
    report = rows({"app": app}, [run(app, "max_image_size", "20KB", warn="11kB")])
    report[0]["limit"] = "a | b"  # as a pytest_imagesize_report_rows hook may write
    (line,) = markdown(report, None).splitlines()[4:]
    assert line == "| `app` | 12 KB | - | 3 | a \\| b | 8 KB | ⚠️ warned |"


def test_layer_lines_show_sizes_waste_and_the_wasted_files(
    images: dict[str, Image], engine: FakeEngine
) -> None:
    app = images["app"]
    assert layer_lines(app) == [
        f"app ({app.short_id}): 3 layers, efficiency 0.1667",
        "    #        size  compressed      wasted  instruction",
        "    0       10 KB       114 B       10 KB  COPY big /big",
        "    1        2 KB       104 B         0 B  COPY small /small",
        "    2         0 B        93 B         0 B  RUN rm /big",
        "  top wasted files (bytes hidden by later layers):",
        "         10 KB  /big",
    ]
    assert [len(layer.blob) for layer in fake().layers] == [114, 104, 93]
    assert engine.saves[app.id] == 1


def test_layer_lines_quote_names_with_newlines() -> None:
    image = Image.measure(
        FakeEngine("containerd", [FakeImage.from_layers([{"a\nb": b"x" * 50}, {"a\nb": ("whiteout",)}])]),
        FakeImage.from_layers([{"a\nb": b"x" * 50}, {"a\nb": ("whiteout",)}]).id,
        "odd",
    )
    assert layer_lines(image)[-1] == "          50 B  '/a\\nb'"
