"""The ``pytest-imagesize`` command: inspect and check images outside pytest, for a CI step that
wants a one-shot size gate (like docker-image-size-limit) with the plugin's numbers and wording.

Every command uses the plugin's per-user analysis cache, keyed by image ID (``--no-cache`` reads
the archive again). Exit status: 0 passed, 1 failed, 2 usage error or image/engine problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .errors import ImageSizeError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pytest-imagesize", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="show an image's sizes")
    inspect.add_argument("image")
    inspect.add_argument("--json", action="store_true", help="print the JSON report's image entry")
    inspect.add_argument("--layers", action="store_true", help="per-layer rows and wasted files")
    check = sub.add_parser("check", help="exit 1 when an image is larger than a limit")
    check.add_argument("image")
    check.add_argument("--max", required=True, help="limit, e.g. 5MB or 4.5MiB (MB = 1,000,000 bytes)")
    check.add_argument("--compressed", action="store_true", help="check the compressed (pull) size")
    for command in (inspect, check):
        command.add_argument("--no-cache", action="store_true", help="read the image's archive again")
    return parser


def _measure(ref: str, no_cache: bool) -> object:
    from .measure.cache import NoCache
    from .measure.image import measure_image

    if not ref.strip():
        raise ImageSizeError("an empty image reference: name an image like 'myorg/app:ci'")
    return measure_image(ref, cache=NoCache() if no_cache else None)


def _check(args: argparse.Namespace) -> int:
    from .checks import check_from_marker, evaluate
    from .measure.image import Image
    from .sizes import describe_size, format_size

    try:
        check = check_from_marker(
            "max_image_size", [args.max], {"compressed": args.compressed}, text=f"--max {args.max}"
        )
    except ImageSizeError as exc:
        raise ImageSizeError(str(exc).replace(f"--max {args.max}: ", f"--max {args.max!r}: ")) from None
    image = _measure(args.image, args.no_cache)
    assert isinstance(image, Image)
    outcome = evaluate(check, image, "pytest-imagesize check")
    if outcome.outcome == "failed":
        print(f"FAIL {args.image}: {outcome.message}")
        return 1
    what = "compressed size" if args.compressed else "size"
    assert outcome.actual is not None
    print(f"OK {args.image}: {what} {describe_size(int(outcome.actual))} <= {format_size(int(check.limit))}")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from .measure.image import Image
    from .reports import json_report, terminal

    image = _measure(args.image, args.no_cache)
    assert isinstance(image, Image)
    if args.layers or args.json:
        image.analysis()
    if args.json:
        print(json.dumps(json_report.image_json(image), indent=2))
        return 0
    for line in terminal.table(terminal.rows({image.name: image}, [])):
        print(line)
    if args.layers:
        print()
        for line in terminal.layer_lines(image):
            print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _check(args) if args.command == "check" else _inspect(args)
    except ImageSizeError as exc:
        print(f"pytest-imagesize: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
