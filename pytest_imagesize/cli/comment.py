"""``pytest-imagesize comment REPORT.json [--against BASE_REPORT.json] [--id NAME]``: print the
pull-request comment for a JSON report (schema 2 or 3) on stdout, or one error line on stderr and
nothing on stdout (exit 2). The report is untrusted (a pull request's artifact): it is read up to
``MAX_REPORT_BYTES`` and no further, checked, and every name in it rendered inert
(reports/comment.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ImageSizeError
from ..reports.comment import MARKER_NAME, render
from ..reports.comment_input import MAX_REPORT_BYTES, Report, against, parse_report


def read_report(path: Path) -> Report:
    """The report at ``path``, read and checked (at most ``MAX_REPORT_BYTES`` + 1 bytes are read)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_REPORT_BYTES + 1)
    except FileNotFoundError:
        raise ImageSizeError(f"{path}: no such file; pass the --image-report-json file") from None
    except IsADirectoryError:
        raise ImageSizeError(f"{path} is a directory; pass the --image-report-json file in it") from None
    except OSError as exc:
        raise ImageSizeError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    return parse_report(data, str(path))


def run(args: argparse.Namespace) -> int:
    if not MARKER_NAME.fullmatch(args.id):
        raise ImageSizeError(
            f"--id {args.id[:80]!r}: use 1 to 64 letters, digits, '.', '_' or '-' (starting with a "
            "letter or digit)"
        )
    report = read_report(Path(args.report))
    label = None
    if args.against:
        report = against(report, read_report(Path(args.against)))
        label = Path(args.against).name
    body = render(report, args.id, against=label)
    sys.stdout.write(body)
    return 0
