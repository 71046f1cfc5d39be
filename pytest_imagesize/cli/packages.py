"""``pytest-imagesize packages IMAGE [--json]``: an image's OS and language packages by measured
bytes; and ``check --forbid-packages``, the ``forbid_packages`` marker as command-line options."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ..errors import ImageSizeError, MarkerError

if TYPE_CHECKING:
    from ..checks import Check
    from ..measure.image import Image


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    image_help: str,
    formatter_class: type[argparse.HelpFormatter],
) -> argparse.ArgumentParser:
    command = sub.add_parser(
        "packages",
        help="the OS and language packages in an image, largest (measured bytes) first",
        formatter_class=formatter_class,
    )
    command.add_argument("image", help=image_help)
    command.add_argument("--json", action="store_true", help="print every package in full as JSON")
    command.add_argument("--top", type=int, default=30, metavar="N", help="packages listed (default 30)")
    return command


def add_check_options(check: argparse.ArgumentParser) -> None:
    """The ``forbid_packages`` marker's arguments as options of ``check``."""
    check.add_argument(
        "--forbid-packages",
        action="append",
        default=[],
        metavar="GLOB",
        help="fail when a package's name matches GLOB, e.g. 'gcc*' (repeatable; commas separate several)",
    )
    check.add_argument(
        "--allow-packages", action="append", default=[], metavar="GLOB", help="let these names through"
    )
    check.add_argument(
        "--package-ecosystem",
        action="append",
        default=[],
        metavar="NAME",
        help="look only at deb, apk, rpm, python or npm packages (repeatable; default: every one)",
    )
    check.add_argument(
        "--packages-strict",
        action="store_true",
        help="fail (not warn) on an image without a package database",
    )


def _globs(values: list[str]) -> list[str]:
    return [glob.strip() for value in values for glob in value.split(",") if glob.strip()]


def forbid_check(args: argparse.Namespace) -> Check | None:
    """The check ``--forbid-packages`` asks for, or None."""
    globs = _globs(args.forbid_packages)
    if not globs:
        if args.allow_packages or args.package_ecosystem or args.packages_strict:
            raise ImageSizeError(
                "--allow-packages, --package-ecosystem and --packages-strict go with --forbid-packages GLOB"
            )
        return None
    kwargs = {
        "allow": tuple(_globs(args.allow_packages)),
        "ecosystem": tuple(args.package_ecosystem) or None,
        "strict": args.packages_strict,
    }
    text = "--forbid-packages " + ",".join(globs)
    from ..checks import check_from_marker  # only now: a check of sizes alone stays light

    try:
        return check_from_marker("forbid_packages", globs, kwargs, text=text)
    except MarkerError as exc:
        raise ImageSizeError(f"{text}: {exc.problem}") from None


def run(args: argparse.Namespace, images: list[Image], note: str | None) -> int:
    """Print the packages of each image (lines, or JSON with every package in full)."""
    from ..reports.packages import package_lines

    if args.json:
        if args.all_platforms:
            from ..measure.targets import platform_label

            platforms = {platform_label(image) or "": image.package_report.to_json() for image in images}
            print(json.dumps({"image": args.image, "platforms": platforms}, indent=2))
        else:
            print(json.dumps({"image": args.image, **images[0].package_report.to_json()}, indent=2))
        return 0
    if note:
        print(note)
    for number, image in enumerate(images):
        if number:
            print()
        for line in package_lines(image, max(args.top, 0)):
            print(line)
    return 0
