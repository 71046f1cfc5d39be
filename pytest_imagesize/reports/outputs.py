"""Write the report files a run asked for: JSON, Markdown (and the GitHub step summary), HTML.

Each failure is one line naming the file and the reason; the test results are not changed by it
(the caller decides)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..atomic import write_atomic, write_json
from ..engine.protocol import EngineInfo
from . import markdown


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def write_report_files(
    *,
    json_path: Path | None,
    markdown_path: Path | None,
    html_path: Path | None,
    document: Mapping[str, Any],
    rows: Sequence[dict[str, Any]],
    engine: EngineInfo | None,
    treemaps: Mapping[str, dict[str, Any] | None] | None = None,
    notes: Sequence[str] = (),
    details: Mapping[str, Sequence[str]] | None = None,
    environ: Mapping[str, str] | None = None,
    baseline_path: Path | None = None,
) -> list[str]:
    """Write what was asked; return one problem line per file that could not be written. The HTML
    report draws each image's size over the git history of ``baseline_path``, when it has one."""
    env = os.environ if environ is None else environ
    problems = []
    if json_path is not None:
        try:
            write_json(json_path, document)
        except OSError as exc:
            problems.append(f"pytest-imagesize: cannot write the JSON report {json_path}: {_why(exc)}")
    summary = env.get("GITHUB_STEP_SUMMARY")
    if markdown_path is not None or summary:
        from .packages import markdown_lines

        packages = [
            line
            for image in document.get("images", [])
            if image.get("packages") and image["packages"].get("databases")
            for line in markdown_lines(str(image["name"]), image["packages"])
        ]
        text = markdown.markdown(rows, engine, notes, details, packages)
        if markdown_path is not None:
            try:
                write_atomic(markdown_path, text)
            except OSError as exc:
                problems.append(
                    f"pytest-imagesize: cannot write the Markdown report {markdown_path}: {_why(exc)}"
                )
        if summary:
            try:
                with open(summary, "a", encoding="utf-8") as handle:
                    handle.write(text)
            except OSError as exc:
                problems.append(
                    f"pytest-imagesize: cannot append to GITHUB_STEP_SUMMARY {summary}: {_why(exc)}"
                )
    if html_path is not None:
        from . import html  # the HTML page and its inlined library: only when asked for

        trees = treemaps or {}
        page = {
            **document,
            "images": [
                {**image, "treemap": trees.get(image["name"]), "wasted_files": None}
                for image in document.get("images", [])
            ],
        }
        from .git_history import for_report

        history = for_report(baseline_path) if baseline_path is not None else None
        try:
            html.write(html_path, page, history)
        except OSError as exc:
            problems.append(f"pytest-imagesize: cannot write the HTML report {html_path}: {_why(exc)}")
    return problems
