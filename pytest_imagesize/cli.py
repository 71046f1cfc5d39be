"""The ``pytest-imagesize`` command: inspect and check images outside pytest (the disl use case)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import report
from .errors import ImageSizeError
from .image import measure_image
from .sizes import describe_size, format_size, parse_size


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pytest-imagesize", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="show an image's sizes")
    inspect.add_argument("image")
    inspect.add_argument("--json", action="store_true", help="print the JSON report's image entry")
    inspect.add_argument("--layers", action="store_true", help="per-layer rows and wasted files")
    check = sub.add_parser("check", help="exit 1 when an image is larger than a limit")
    check.add_argument("image")
    check.add_argument("--max", required=True, help="limit, e.g. 5MB or 4.5MiB")
    check.add_argument("--compressed", action="store_true", help="check the compressed (pull) size")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":
            try:
                limit = parse_size(args.max)
            except ImageSizeError as exc:
                raise ImageSizeError(f"--max {args.max!r}: {exc}") from None
            image = measure_image(args.image)
            actual = image.compressed_size if args.compressed else image.size
            what = "compressed size" if args.compressed else "size"
            if actual > limit:
                print(
                    f"FAIL {args.image}: {what} {describe_size(actual)} is over the limit "
                    f"{describe_size(limit)} by {describe_size(actual - limit)}"
                )
                return 1
            print(f"OK {args.image}: {what} {describe_size(actual)} <= {format_size(limit)}")
            return 0
        image = measure_image(args.image)
        if args.layers or args.json:
            image.analysis()
        if args.json:
            print(json.dumps(report.image_json(image), indent=2))
            return 0
        rows = report.rows({image.name: image}, [])
        for line in report.table(rows):
            print(line)
        if args.layers:
            print()
            for line in report.layer_lines(image):
                print(line)
        return 0
    except ImageSizeError as exc:
        print(f"pytest-imagesize: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
