"""``pytest-imagesize history``: each image's size over the commits that changed the baseline
file, from the repository's git history (renames followed): a table per image, the series as
JSON (``--json``), or a standalone page of charts (``--html PATH``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ImageSizeError
from ..text import shown


def run(args: argparse.Namespace) -> int:
    from ..reports import git_history
    from ..reports.history import dumps, text_lines, warnings

    html_path = Path(args.html) if args.html else None
    if html_path is not None and html_path.is_dir():
        raise ImageSizeError(f"history: --html {html_path} is a directory; name the page's file")
    found = git_history.read(Path(args.baseline), since=args.since)
    if found.commits and len(found.skipped) == found.commits:
        raise ImageSizeError(
            f"history: {shown(found.path)} does not parse in any of its {found.commits} committed versions "
            f"({found.skipped_reason}); nothing to show"
        )
    for line in warnings(found):
        print(f"pytest-imagesize: warning: {line}", file=sys.stderr)
    if args.json:
        print(dumps(found))
    elif html_path is not None:
        from ..atomic import write_atomic
        from ..reports import svg_history

        try:
            write_atomic(html_path, svg_history.page(found))
        except OSError as exc:
            raise ImageSizeError(f"history: cannot write {html_path}: {exc.strerror or exc}") from None
        print(f"history of {shown(found.path)}: {len(found.series)} series written to {html_path}")
    elif not found.commits:
        print(f"no commit after {shown(args.since)} changed {shown(found.path)}")
    else:
        for line in text_lines(found):
            print(line)
    return 0
