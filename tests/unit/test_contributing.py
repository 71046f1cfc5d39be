"""CONTRIBUTING.md's "Where things live" names every module of the package, and nothing else.

The rule: the section holds one bullet per module, ``- `pytest_imagesize/PATH` — purpose``. Every
``.py`` file is named by its path, except a package's ``__init__.py``, which is named by the
package directory with a trailing slash (``pytest_imagesize/measure/``). A bullet must say what
the module holds (a purpose after the dash)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pytest_imagesize"
SECTION = "## Where things live"
BULLET = re.compile(r"^- `(?P<path>pytest_imagesize/[^`]*)` — (?P<purpose>\S.*)$")


def listed_in(text: str) -> list[str]:
    """The module paths the section's bullets name, in order; a bullet of another shape fails."""
    start = text.index(SECTION) + len(SECTION)
    end = text.find("\n## ", start)
    paths = []
    for line in text[start : end if end != -1 else len(text)].splitlines():
        if not line.startswith("- "):
            continue
        match = BULLET.match(line)
        assert match, f"CONTRIBUTING.md: a bullet is not '- `pytest_imagesize/PATH` — purpose': {line!r}"
        paths.append(match["path"])
    return paths


def modules_on_disk() -> set[str]:
    names = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if path.name == "__init__.py":
            names.add(relative.parent.as_posix() + "/")
        else:
            names.add(relative.as_posix())
    return names


def test_the_parser_reads_bullets_and_stops_at_the_next_section() -> None:
    text = (
        "## Where things live\n\nintro\n\n- `pytest_imagesize/` — api\n- `pytest_imagesize/a.py` — a\n"
        "\n## Next\n- `pytest_imagesize/b.py` — not this section\n"
    )
    assert listed_in(text) == ["pytest_imagesize/", "pytest_imagesize/a.py"]


def test_contributing_names_every_module_and_no_other() -> None:
    listed = listed_in((ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8"))
    duplicates = sorted({p for p in listed if listed.count(p) > 1})
    on_disk = modules_on_disk()
    assert duplicates == [], f"CONTRIBUTING.md lists these twice: {duplicates}"
    assert sorted(on_disk - set(listed)) == [], "modules missing from CONTRIBUTING.md's 'Where things live'"
    assert sorted(set(listed) - on_disk) == [], "CONTRIBUTING.md names modules that do not exist"
