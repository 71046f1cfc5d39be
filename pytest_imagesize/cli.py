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

from .errors import ImageSizeError, MarkerError


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
    go = sub.add_parser("go", help="the Go binaries in an image: what they are, where their bytes go")
    go.add_argument("image")
    go.add_argument("--json", action="store_true", help="print every binary in full as JSON")
    go.add_argument("--top", type=int, default=10, metavar="N", help="modules and packages listed per binary")
    diff = sub.add_parser(
        "diff",
        help="what changed between two images, or between an image and its baseline entry "
        "(exit 0: nothing changed, 1: something did)",
    )
    diff.add_argument("image", help="the image (the newer one when comparing two)")
    diff.add_argument("other", nargs="?", help="an older image to compare with")
    diff.add_argument("--baseline", metavar="PATH", help="compare with this baseline file's entry instead")
    diff.add_argument(
        "--name",
        help="the baseline entry's name (default: the image argument); one platform of a "
        "multi-platform image is NAME[PLATFORM], e.g. app[linux/arm64]",
    )
    diff.add_argument("--json", action="store_true", help="print the comparison as JSON")
    for command in (inspect, check, go, diff):
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
    except MarkerError as exc:
        raise ImageSizeError(f"--max {args.max!r}: {exc.problem}") from None
    image = _measure(args.image, args.no_cache)
    assert isinstance(image, Image)
    outcome = evaluate(check, image, "pytest-imagesize check")
    if outcome.outcome == "failed":
        print(f"FAIL {args.image}: {outcome.message}")
        return 1
    what = check.record.title(check.compressed)
    assert outcome.actual is not None
    limit = int(check.limit or 0)
    print(f"OK {args.image}: {what} {describe_size(int(outcome.actual))} <= {format_size(limit)}")
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


def _diff(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from pathlib import Path

    from . import baseline
    from .compare.changes import compare
    from .compare.wording import comparison_json, movers_lines, signed
    from .measure.image import Image
    from .sizes import format_size

    if (args.other is None) == (args.baseline is None):
        parser.error("diff: give two images (diff NEW OLD) or one image and --baseline PATH")
    if args.name and not args.baseline:
        parser.error("diff: --name goes with --baseline")
    new = _measure(args.image, args.no_cache)
    assert isinstance(new, Image)
    new_files = {r.path: r.size for r in new.files if r.kind == "file"}
    if args.baseline:
        path = Path(args.baseline)
        if path.is_dir():
            raise ImageSizeError(
                f"--baseline {path} is a directory: name the baseline file in it "
                f"(e.g. {path / 'image-sizes.json'})"
            )
        if not path.is_file():
            raise ImageSizeError(f"--baseline {path}: no such file")
        entries = baseline.load(path)
        name = args.name or args.image
        entry = baseline.lookup(entries, name)
        if entry is None:
            known = ", ".join(sorted(entries)) or "none"
            raise ImageSizeError(
                f"baseline {path} has no entry {name!r} (entries: {known}); pick one with --name"
            )
        old_label, old_summary, old_files = f"baseline {path}:{name}", entry.summary(), None
    else:
        old = _measure(args.other, args.no_cache)
        assert isinstance(old, Image)
        old_label, old_summary = args.other, old.summary(files=True)
        old_files = {r.path: r.size for r in old.files if r.kind == "file"}
    comparison = compare(old_summary, new.summary(files=True), a_files=old_files, b_files=new_files)
    if args.json:
        print(json.dumps(comparison_json(comparison, old_label, args.image), indent=2))
    else:
        a, b = comparison.a, comparison.b
        print(f"{old_label} → {args.image}")
        for what, old_value, new_value in (
            ("size", a.size, b.size),
            ("compressed", a.compressed_size, b.compressed_size),
            ("own", a.own_size, b.own_size),
            ("base", a.base.size if a.base else None, b.base.size if b.base else None),
        ):
            if old_value is None and new_value is None:
                continue
            change = signed(new_value - old_value) if old_value is not None and new_value is not None else "?"
            print(f"  {what:<10} {format_size(old_value):>10} → {format_size(new_value):>10}  {change}")
        lines = movers_lines(comparison, max_lines=200)
        print("\n".join(lines) if lines else "  nothing changed")
    return 1 if comparison.changed else 0


def _go(args: argparse.Namespace) -> int:
    from .measure.image import Image
    from .reports import terminal

    image = _measure(args.image, args.no_cache)
    assert isinstance(image, Image)
    if args.json:
        binaries = [binary.to_json() for binary in image.go_binaries]
        print(json.dumps({"image": args.image, "binaries": binaries}, indent=2))
        return 0
    for line in terminal.go_lines(image, max(args.top, 0)):
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "diff":
            return _diff(args, parser)
        if args.command == "go":
            return _go(args)
        return _check(args) if args.command == "check" else _inspect(args)
    except ImageSizeError as exc:
        print(f"pytest-imagesize: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
