"""The ``pytest-imagesize`` command: inspect and check images outside pytest, for a CI step that
wants a one-shot size gate (like docker-image-size-limit) with the plugin's numbers and wording.

An image is an engine's image by name, or an image source by prefix: oci:PATH[:REF],
oci-archive:PATH[:REF], docker-archive:PATH[:TAG], docker://HOST/REPO:TAG (or @DIGEST). An index
is measured for this machine's platform (the output says which) unless --platform P or
--all-platforms (one row per platform) says otherwise.

Every command that takes an image uses the plugin's per-user analysis cache, keyed by image ID
(``--no-cache`` reads the archive again); comment and history read files only. Exit status:
0 passed, 1 failed, 2 usage error or image/engine problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..errors import ImageSizeError, MarkerError

if TYPE_CHECKING:
    from ..measure.image import Image
    from ..measure.targets import Options, Side
    from ..progress import ProgressEvent


IMAGE_HELP = (
    "an engine's image name, or a source: oci:PATH[:REF], oci-archive:PATH[:REF], "
    "docker-archive:PATH[:TAG], docker://HOST/REPO:TAG or @DIGEST"
)


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, sized to the terminal as ``shutil.get_terminal_size`` sizes it
    (``COLUMNS``, else the terminal on stdout, else 80) without importing ``shutil``: argparse
    builds a formatter for every argument added, and the CLI's start-up would pay for it."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24) -> None:
        import os

        try:
            columns = int(os.environ.get("COLUMNS", "0"))
        except ValueError:
            columns = 0
        if columns <= 0:
            try:
                columns = os.get_terminal_size(1).columns
            except OSError:
                columns = 0
        super().__init__(prog, indent_increment, max_help_position, width=(columns or 80) - 2)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pytest-imagesize", description=__doc__, formatter_class=_Formatter)
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="show an image's sizes", formatter_class=_Formatter)
    inspect.add_argument("image", help=IMAGE_HELP)
    inspect.add_argument("--json", action="store_true", help="print the JSON report's image entry")
    inspect.add_argument("--layers", action="store_true", help="per-layer rows and wasted files")
    check = sub.add_parser(
        "check", help="exit 1 when an image is larger than a limit", formatter_class=_Formatter
    )
    check.add_argument("image", help=IMAGE_HELP)
    check.add_argument("--max", help="limit, e.g. 5MB or 4.5MiB (MB = 1,000,000 bytes)")
    check.add_argument("--compressed", action="store_true", help="check the compressed (pull) size")
    from . import packages

    packages.add_check_options(check)
    listed = packages.add_parser(sub, IMAGE_HELP, _Formatter)
    go = sub.add_parser(
        "go",
        help="the Go binaries in an image: what they are, where their bytes go",
        formatter_class=_Formatter,
    )
    go.add_argument("image", help=IMAGE_HELP)
    go.add_argument("--json", action="store_true", help="print every binary in full as JSON")
    go.add_argument("--top", type=int, default=10, metavar="N", help="modules and packages listed per binary")
    diff = sub.add_parser(
        "diff",
        help="what changed between two images, or between an image and its baseline entry "
        "(exit 0: nothing changed, 1: something did)",
        formatter_class=_Formatter,
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
    comment = sub.add_parser(
        "comment",
        help="print a pull-request comment (Markdown) for a JSON report",
        formatter_class=_Formatter,
    )
    comment.add_argument("report", help="the --image-report-json file of the pull request's run")
    comment.add_argument(
        "--against", metavar="BASE_REPORT", help="compare with this JSON report instead of the baseline"
    )
    comment.add_argument(
        "--id", default="default", metavar="NAME", help="the hidden marker <!-- pytest-imagesize:NAME -->"
    )
    for command in (inspect, check, go, diff, listed):
        command.add_argument("--no-cache", action="store_true", help="read the image's archive again")
        command.add_argument(
            "--platform", metavar="OS/ARCH", help="the platform of an index to measure, e.g. linux/arm64"
        )
        command.add_argument(
            "--all-platforms", action="store_true", help="every platform of an index, one row each"
        )
        command.add_argument(
            "--insecure-registry",
            action="append",
            default=[],
            metavar="HOST[:PORT]",
            help="a registry reached over plain HTTP (repeatable; loopback addresses always are)",
        )
        command.add_argument(
            "--registry-ca", metavar="PATH", help="a CA certificate file trusted for registries"
        )
    history = sub.add_parser(
        "history", help="each image's size over the baseline file's git history", formatter_class=_Formatter
    )
    history.add_argument("--baseline", metavar="PATH", default="image-sizes.json", help="the baseline file")
    history.add_argument("--since", metavar="REV", help="only the commits after this revision (REV..HEAD)")
    output = history.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the series as JSON")
    output.add_argument("--html", metavar="PATH", help="write a page with a size chart per image")
    return parser


class _StderrProgress:
    """Progress on stderr, a line per step and a status line rewritten in place (only on a
    terminal: piped output stays clean)."""

    def __init__(self) -> None:
        self._status = False

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage == "status":
            sys.stderr.write("\r\033[K" + event.text[:120])
            self._status = True
        else:
            sys.stderr.write(("\r\033[K" if self._status else "") + event.text + "\n")
            self._status = False
        sys.stderr.flush()


def _registry_options(args: argparse.Namespace) -> Any:
    from ..measure.stored import registry_options

    ca = None
    if args.registry_ca:
        from pathlib import Path

        ca = Path(args.registry_ca)
        if not ca.is_file():
            raise ImageSizeError(
                f"--registry-ca {args.registry_ca}: no such file; name a PEM CA certificate file"
            )
    return registry_options(args.insecure_registry, ca) if args.insecure_registry or ca else None


def _options(args: argparse.Namespace) -> Options:
    from ..measure.cache import DirectoryCache, NoCache
    from ..measure.targets import Options

    registry = _registry_options(args)
    return Options(
        cache=NoCache() if args.no_cache else DirectoryCache(),
        progress=_StderrProgress() if sys.stderr.isatty() else None,
        registry_options=registry,
    )


def _side(text: str, options: Options) -> Side:
    """One argument opened (``measure.targets.open_side``)."""
    from ..measure.targets import open_side

    return open_side(text, options)


@contextmanager
def _opened(text: str, options: Options) -> Iterator[Side]:
    side = _side(text, options)
    try:
        yield side
    finally:
        side.close()


@contextmanager
def _measured(args: argparse.Namespace) -> Iterator[tuple[list[Image], str | None]]:
    """The rows to show for ``args.image`` and the note on the platform chosen, if one was."""
    from ..measure.targets import choose_rows

    with _opened(args.image, _options(args)) as side:
        chosen = choose_rows(side, args.platform, args.all_platforms)
        yield chosen.images, chosen.note


def _stored_check(args: argparse.Namespace) -> int | None:
    """``check --compressed`` of an image source answered from its manifests alone, when every
    row passes (the status; nothing printed otherwise, None: the full check runs and words it)."""
    from ..errors import SizeParseError
    from ..measure.stored import PREFIXES, stored_sizes
    from ..sizes import describe_size, format_size, parse_size

    if not args.compressed or not args.image.startswith(PREFIXES):
        return None
    try:
        limit = parse_size(args.max)
    except SizeParseError:
        return None  # the full check says why
    found = stored_sizes(args.image, _registry_options(args), args.platform, args.all_platforms)
    if found is None or limit == 0 or any(size > limit for _, size in found[0]):
        return None
    rows, note = found
    if note:
        print(note)
    for name, size in rows:
        print(f"OK {name}: compressed size {describe_size(size)} <= {format_size(limit)}")
    return 0


def _check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .packages import forbid_check

    forbid = forbid_check(args)
    if args.max is None and forbid is None:
        parser.error("check: give --max LIMIT, --forbid-packages GLOB, or both")
    quick = _stored_check(args) if forbid is None else None
    if quick is not None:
        return quick
    from ..checks import check_from_marker, evaluate
    from ..sizes import describe_size, format_size

    check = None
    if args.max is not None:
        try:
            check = check_from_marker(
                "max_image_size", [args.max], {"compressed": args.compressed}, text=f"--max {args.max}"
            )
        except MarkerError as exc:
            raise ImageSizeError(f"--max {args.max!r}: {exc.problem}") from None
    failed = False
    with _measured(args) as (images, note):
        if note:
            print(note)
        for image in images:
            if forbid is not None:
                found = evaluate(forbid, image, "pytest-imagesize check")
                if found.outcome == "passed":
                    print(f"OK {image.name}: no forbidden packages")
                else:
                    print(f"{'FAIL' if found.outcome == 'failed' else 'WARN'} {image.name}: {found.message}")
                    failed = failed or found.outcome == "failed"
            if check is None:
                continue
            outcome = evaluate(check, image, "pytest-imagesize check")
            if outcome.outcome == "failed":
                print(f"FAIL {image.name}: {outcome.message}")
                failed = True
                continue
            what = check.record.title(check.compressed)
            assert outcome.actual is not None
            limit = int(check.limit or 0)
            print(f"OK {image.name}: {what} {describe_size(int(outcome.actual))} <= {format_size(limit)}")
    return 1 if failed else 0


def _inspect(args: argparse.Namespace) -> int:
    from ..reports import json_report, terminal

    with _measured(args) as (images, note):
        for image in images:
            if args.layers or args.json:
                image.analysis()
        if args.json:
            entries = [json_report.image_json(image) for image in images]
            print(json.dumps(entries if args.all_platforms else entries[0], indent=2))
            return 0
        if note:
            print(note)
        for line in terminal.table(terminal.rows({image.name: image for image in images}, [])):
            print(line)
        if args.layers:
            for image in images:
                print()
                if len(images) > 1:
                    print(f"{image.name}:")
                for line in terminal.layer_lines(image):
                    print(line)
    return 0


def _diff(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ..measure.targets import Pairs, choose_rows, pair_sides

    if (args.other is None) == (args.baseline is None):
        parser.error("diff: give two images (diff NEW OLD) or one image and --baseline PATH")
    if args.name and not args.baseline:
        parser.error("diff: --name goes with --baseline")
    if args.baseline and args.all_platforms:
        parser.error("diff: --baseline compares one image: pick its platform with --platform")
    options = _options(args)
    with _opened(args.image, options) as new:
        if args.baseline:
            chosen = choose_rows(new, args.platform, False)
            if chosen.note and not args.json:
                print(chosen.note)
            return _diff_baseline(args, chosen.images[0])
        with _opened(args.other, options) as old:
            paired: Pairs = pair_sides(new, old, args.platform, args.all_platforms)
            if not args.json:
                for line in ([paired.note] if paired.note else []) + paired.unpaired:
                    print(line)
            changed, reports = False, []
            for number, (before, after) in enumerate(paired.pairs):
                if number and not args.json:
                    print()
                change, report = _compare(args, before, after, before.name, after.name)
                changed = changed or change
                reports.append(report)
            if args.json:
                print(json.dumps(reports if args.all_platforms else reports[0], indent=2))
    return 1 if changed else 0


def _diff_baseline(args: argparse.Namespace, new: Image) -> int:
    from pathlib import Path

    from .. import baseline

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
    changed, report = _compare(args, None, new, f"baseline {path}:{name}", args.image, entry.summary())
    if args.json:
        print(json.dumps(report, indent=2))
    return 1 if changed else 0


def _compare(
    args: argparse.Namespace,
    old: Image | None,
    new: Image,
    old_label: str,
    new_label: str,
    old_summary: Any = None,
) -> tuple[bool, dict[str, Any]]:
    """One comparison: printed unless ``--json``; whether something changed, and its JSON."""
    from ..compare.changes import compare
    from ..compare.wording import comparison_json, movers_lines, signed
    from ..sizes import format_size

    new_files = {r.path: r.size for r in new.files if r.kind == "file"}
    old_files = None
    if old is not None:
        old_summary = old.summary(files=True)
        old_files = {r.path: r.size for r in old.files if r.kind == "file"}
    comparison = compare(old_summary, new.summary(files=True), a_files=old_files, b_files=new_files)
    if not args.json:
        a, b = comparison.a, comparison.b
        print(f"{old_label} → {new_label}")
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
    return bool(comparison.changed), comparison_json(comparison, old_label, new_label)


def _go(args: argparse.Namespace) -> int:
    from ..reports import terminal

    with _measured(args) as (images, note):
        if args.json:
            if args.all_platforms:
                from ..measure.targets import platform_label

                platforms = {
                    platform_label(image) or "": [b.to_json() for b in image.go_binaries] for image in images
                }
                print(json.dumps({"image": args.image, "platforms": platforms}, indent=2))
            else:
                binaries = [binary.to_json() for binary in images[0].go_binaries]
                print(json.dumps({"image": args.image, "binaries": binaries}, indent=2))
            return 0
        if note:
            print(note)
        for image in images:
            if len(images) > 1:
                print(f"{image.name}:")
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
        if args.command == "packages":
            from . import packages

            with _measured(args) as (images, note):
                return packages.run(args, images, note)
        if args.command == "comment":
            from .comment import run

            return run(args)
        if args.command == "history":
            from . import history

            return history.run(args)
        return _check(args, parser) if args.command == "check" else _inspect(args)
    except ImageSizeError as exc:
        print(f"pytest-imagesize: error: {exc}", file=sys.stderr)
        return 2
