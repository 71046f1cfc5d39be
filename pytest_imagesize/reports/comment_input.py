"""A JSON report read as untrusted input for ``pytest-imagesize comment`` (pure): its schema is
checked (version 2 or 3, the type of every field the comment uses) and it becomes a
:class:`Report` of plain values. A problem is one :class:`ReportError` line naming the field.

Strings are kept exactly as written: escaping them is the renderer's work (reports/comment.py)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ..errors import ImageSizeError
from ..measure.index import split_member_name
from ..sizes import MAX_BYTES

VERSIONS = (2, 3)
VERDICTS = ("passed", "failed", "warned")
MAX_REPORT_BYTES = 10 * 1000 * 1000
MAX_ENTRIES = 100_000  # images, checks or movers of one list
_T = TypeVar("_T")


class ReportError(ImageSizeError):
    """A report that cannot be used: one line naming the file and the field."""


@dataclass(frozen=True)
class Mover:
    """One thing that moved: ``key`` its name (a path, a package, a module), ``where`` the Go
    binary it is in (or a package's ecosystem), ``a``/``b`` its bytes before and after."""

    key: str
    a: int | None
    b: int | None
    where: str = ""

    @property
    def delta(self) -> int:
        return (self.b or 0) - (self.a or 0)


@dataclass(frozen=True)
class Changes:
    """An image's movers against its baseline entry (or the other report's image)."""

    files: list[Mover] = field(default_factory=list)
    dirs: list[Mover] = field(default_factory=list)
    packages: list[Mover] = field(default_factory=list)
    go: list[Mover] = field(default_factory=list)
    layers: list[Mover] = field(default_factory=list)  # key: the instruction; added (b) or removed (a)
    omitted: int = 0  # movers the report left out

    @property
    def empty(self) -> bool:
        return not (self.files or self.dirs or self.packages or self.go or self.layers)


@dataclass(frozen=True)
class ImageEntry:
    name: str  # as reported: app[linux/arm64] for one platform of a multi-platform image
    image: str  # the name without its platform
    platform: str | None
    size: int | None
    compressed: int | None
    compared: bool  # whether it has a baseline entry (or an image in the other report)
    before: int | None  # the size compared with (the baseline's, or the other report's)
    compressed_before: int | None
    changes: Changes | None
    packages: dict[str, tuple[str, int]] | None  # "ecosystem:name" -> (name, size), for --against
    go_modules: dict[str, int] | None  # "binary module" -> size, for --against
    layers: list[tuple[str | None, str, int]]  # (diff ID, instruction, size)
    packages_complete: bool = True  # False: ``packages`` holds only the largest ones


@dataclass(frozen=True)
class CheckEntry:
    test: str
    image: str
    platform: str | None
    kind: str
    compressed: bool
    limit: float | None
    actual: float | None
    outcome: str
    baseline: float | None
    delta: float | None


@dataclass(frozen=True)
class Report:
    version: int
    images: list[ImageEntry]
    checks: list[CheckEntry]
    engine: str | None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_report(data: bytes, where: str) -> Report:
    """The report in ``data`` (a file's bytes), checked; ``where`` names it in messages."""
    if len(data) > MAX_REPORT_BYTES:
        raise ReportError(
            f"{where}: larger than {MAX_REPORT_BYTES // 1000 // 1000} MB; "
            "a JSON report of this plugin is far smaller: pass the --image-report-json file"
        )
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise ReportError(f"{where}: not UTF-8 text; pass the --image-report-json file") from None
    except RecursionError:
        raise ReportError(f"{where}: JSON nested too deeply; pass the --image-report-json file") from None
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ReportError(
            f"{where}: not valid JSON ({reason}; truncated?); pass a complete --image-report-json file"
        ) from None
    return _Reader(where).report(document)


class _Reader:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, path: str, problem: str) -> ReportError:
        return ReportError(f"{self.where}: {path}: {problem}; pass a report written by --image-report-json")

    def obj(self, value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, found {_kind(value)}")
        return value

    def items(self, value: Any, path: str, optional: bool = False) -> list[Any]:
        if value is None and optional:
            return []
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, found {_kind(value)}")
        if len(value) > MAX_ENTRIES:
            raise self.fail(path, f"more than {MAX_ENTRIES:,} entries")
        return value

    def text(self, value: Any, path: str, optional: bool = False) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(path, f"expected a string, found {_kind(value)}")
        return value

    def size(self, value: Any, path: str, signed: bool = False) -> int | None:
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(path, f"expected a whole number of bytes, found {_kind(value)}")
        if abs(value) > MAX_BYTES or (value < 0 and not signed):
            raise self.fail(path, f"{value} is out of range")
        return value

    def number(self, value: Any, path: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"expected a number, found {_kind(value)}")
        if not math.isfinite(value) or abs(value) > MAX_BYTES:
            raise self.fail(path, f"{value} is out of range")
        return value

    def report(self, document: Any) -> Report:
        top = self.obj(document, "the document")
        version = top.get("version")
        if isinstance(version, bool) or version not in VERSIONS:
            raise ReportError(
                f"{self.where}: schema version {json.dumps(version)[:40]} is not one this command reads "
                f"({', '.join(map(str, VERSIONS))}); write the report with this version of pytest-imagesize"
            )
        engine = top.get("engine")
        engine_text = None
        if isinstance(engine, dict):
            name, number = engine.get("name"), engine.get("version")
            if isinstance(name, str):
                engine_text = f"{name} {number}" if isinstance(number, str) else name
        images = [
            self.image(entry, f"images[{i}]", version)
            for i, entry in enumerate(self.items(top.get("images"), "images"))
        ]
        checks = [
            self.check(entry, f"checks[{i}]")
            for i, entry in enumerate(self.items(top.get("checks"), "checks", optional=True))
        ]
        return Report(version, images, checks, engine_text)

    def image(self, value: Any, path: str, version: int) -> ImageEntry:
        entry = self.obj(value, path)
        name = self.text(entry.get("name"), f"{path}.name")
        assert name is not None
        platform = self.text(entry.get("platform"), f"{path}.platform", optional=True)
        plain, member = split_member_name(name)
        image = plain if member is not None and (platform is None or member == platform) else name
        baseline = entry.get("baseline")
        before = compressed_before = None
        if baseline is not None:
            base = self.obj(baseline, f"{path}.baseline")
            before = self.size(base.get("size"), f"{path}.baseline.size")
            compressed_before = self.size(base.get("compressed_size"), f"{path}.baseline.compressed_size")
        changes = entry.get("changes") if version >= 3 else None
        return ImageEntry(
            name=name,
            image=image,
            platform=platform if platform is not None else member,
            size=self.size(entry.get("size"), f"{path}.size"),
            compared=baseline is not None,
            compressed=self.size(entry.get("compressed_size"), f"{path}.compressed_size"),
            before=before,
            compressed_before=compressed_before,
            changes=None if changes is None else self.changes(changes, f"{path}.changes"),
            packages=self.optional(self.packages, entry.get("packages"), f"{path}.packages"),
            packages_complete=not isinstance(entry.get("packages"), dict)
            or entry["packages"].get("complete") is not False,
            go_modules=self.optional(self.go_modules, entry.get("go_binaries"), f"{path}.go_binaries"),
            layers=self.layers(entry.get("layers"), f"{path}.layers"),
        )

    def movers(self, value: Any, path: str, key: str, where: str | None = None) -> list[Mover]:
        found = []
        for i, item in enumerate(self.items(value, path, optional=True)):
            mover = self.obj(item, f"{path}[{i}]")
            name = self.text(mover.get(key), f"{path}[{i}].{key}")
            assert name is not None
            place = self.text(mover.get(where), f"{path}[{i}].{where}", optional=True) if where else None
            found.append(
                Mover(
                    name,
                    self.size(mover.get("a"), f"{path}[{i}].a"),
                    self.size(mover.get("b"), f"{path}[{i}].b"),
                    place or "",
                )
            )
        return found

    def changes(self, value: Any, path: str) -> Changes:
        changes = self.obj(value, path)
        layers = []
        for i, item in enumerate(self.items(changes.get("layers"), f"{path}.layers", optional=True)):
            layer = self.obj(item, f"{path}.layers[{i}]")
            status = layer.get("status")
            size = self.size(layer.get("size"), f"{path}.layers[{i}].size")
            instruction = self.text(layer.get("instruction"), f"{path}.layers[{i}].instruction", True)
            if status in ("added", "removed"):
                added = status == "added"
                layers.append(Mover(instruction or "", None if added else size, size if added else None))
        omitted = changes.get("omitted")
        cut = 0
        if isinstance(omitted, dict):
            cut = sum(self.size(n, f"{path}.omitted.{k}") or 0 for k, n in sorted(omitted.items()))
        return Changes(
            files=self.movers(changes.get("files"), f"{path}.files", "path"),
            dirs=self.movers(changes.get("dirs"), f"{path}.dirs", "path"),
            packages=self.movers(changes.get("packages"), f"{path}.packages", "name", "ecosystem"),
            go=self.movers(changes.get("go_packages"), f"{path}.go_packages", "package", "binary")
            or self.movers(changes.get("go"), f"{path}.go", "module", "binary"),
            layers=layers,
            omitted=cut,
        )

    def optional(self, read: Callable[[Any, str], _T | None], value: Any, path: str) -> _T | None:
        """A field only ``--against`` compares: one of another shape counts as not measured."""
        try:
            return read(value, path)
        except ReportError:
            return None

    def packages(self, value: Any, path: str) -> dict[str, tuple[str, int]] | None:
        """An image's packages by ``ecosystem:name`` (None: not measured)."""
        if value is None:
            return None
        listed = self.obj(value, path).get("packages")
        found = {}
        for i, item in enumerate(self.items(listed, f"{path}.packages")):
            package = self.obj(item, f"{path}.packages[{i}]")
            name = self.text(package.get("name"), f"{path}.packages[{i}].name")
            ecosystem = self.text(package.get("ecosystem"), f"{path}.packages[{i}].ecosystem", True)
            size = self.size(package.get("size"), f"{path}.packages[{i}].size")
            if package.get("within") is None and name is not None and size is not None:
                found[f"{ecosystem or ''}:{name}"] = (name, size)
        return found

    def go_modules(self, value: Any, path: str) -> dict[str, int] | None:
        """Every Go binary's modules as ``binary\\0module`` -> bytes (None: not measured)."""
        if value is None:
            return None
        found = {}
        for i, item in enumerate(self.items(value, path)):
            binary = self.obj(item, f"{path}[{i}]")
            where = self.text(binary.get("path"), f"{path}[{i}].path")
            for j, module in enumerate(self.items(binary.get("modules"), f"{path}[{i}].modules", True)):
                entry = self.obj(module, f"{path}[{i}].modules[{j}]")
                name = self.text(entry.get("path"), f"{path}[{i}].modules[{j}].path")
                size = self.size(entry.get("size"), f"{path}[{i}].modules[{j}].size")
                found[f"{where}\0{name}"] = size or 0
        return found

    def layers(self, value: Any, path: str) -> list[tuple[str | None, str, int]]:
        found = []
        for i, item in enumerate(self.items(value, path, optional=True)):
            layer = self.obj(item, f"{path}[{i}]")
            found.append(
                (
                    self.text(layer.get("diff_id"), f"{path}[{i}].diff_id", True),
                    self.text(layer.get("created_by"), f"{path}[{i}].created_by", True) or "",
                    self.size(layer.get("size"), f"{path}[{i}].size") or 0,
                )
            )
        return found

    def check(self, value: Any, path: str) -> CheckEntry:
        check = self.obj(value, path)
        outcome = check.get("outcome")
        if outcome not in VERDICTS:
            raise self.fail(f"{path}.outcome", f"expected one of {', '.join(VERDICTS)}")
        compressed = check.get("compressed", False)
        if not isinstance(compressed, bool):
            raise self.fail(f"{path}.compressed", f"expected true or false, found {_kind(compressed)}")
        return CheckEntry(
            test=self.text(check.get("test"), f"{path}.test") or "",
            image=self.text(check.get("image"), f"{path}.image") or "",
            platform=self.text(check.get("platform"), f"{path}.platform", optional=True),
            kind=self.text(check.get("kind"), f"{path}.kind") or "",
            compressed=compressed,
            limit=self.number(check.get("limit"), f"{path}.limit"),
            actual=self.number(check.get("actual"), f"{path}.actual"),
            outcome=str(outcome),
            baseline=self.number(check.get("baseline"), f"{path}.baseline"),
            delta=self.number(check.get("delta"), f"{path}.delta"),
        )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    return {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _diff(old: Mapping[str, int], new: Mapping[str, int], split: str) -> list[Mover]:
    """Entries whose size differs, largest change first; ``split`` separates where from name."""
    found = []
    for key in set(old) | set(new):
        if old.get(key) != new.get(key):
            where, _, name = key.partition(split) if split in key else ("", "", key)
            found.append(Mover(name, old.get(key), new.get(key), where))
    return sorted(found, key=lambda m: (-abs(m.delta), m.where, m.key))


def _known(sizes: Mapping[str, int], complete: bool, other: int | None) -> bool:
    """Whether a package missing from ``sizes``, of size ``other`` on the other side, is known
    to be absent: a cut list (the largest packages only) lacks it for certain only when it is
    larger than the list's smallest."""
    return complete or not sizes or other is None or other > min(sizes.values())


def against(report: Report, other: Report) -> Report:
    """``report`` with each image compared with the same-named image of ``other`` instead of its
    baseline entry: sizes, and movers of packages, Go modules and layers (by diff ID) where both
    reports measured them. An image only ``other`` has becomes a row without a size."""
    theirs = {image.name: image for image in other.images}
    images = []
    for image in report.images:
        old = theirs.pop(image.name, None)
        if old is None:
            images.append(replace(image, compared=False, before=None, compressed_before=None, changes=None))
            continue
        packages: list[Mover] = []
        if image.packages is not None and old.packages is not None:
            old_sizes = {key: size for key, (_, size) in old.packages.items()}
            new_sizes = {key: size for key, (_, size) in image.packages.items()}
            packages = [
                m
                for m in _diff(old_sizes, new_sizes, ":")
                if (m.a is not None or _known(old_sizes, old.packages_complete, m.b))
                and (m.b is not None or _known(new_sizes, image.packages_complete, m.a))
            ]
        go: list[Mover] = []
        if image.go_modules is not None and old.go_modules is not None:
            go = _diff(old.go_modules, image.go_modules, "\0")
        old_layers = {diff_id for diff_id, _, _ in old.layers if diff_id}
        new_layers = {diff_id for diff_id, _, _ in image.layers if diff_id}
        layers = [
            Mover(text, None, size)
            for diff_id, text, size in image.layers
            if diff_id and diff_id not in old_layers
        ] + [
            Mover(text, size, None)
            for diff_id, text, size in old.layers
            if diff_id and diff_id not in new_layers
        ]
        changes = Changes(packages=packages, go=go, layers=sorted(layers, key=lambda m: -abs(m.delta)))
        images.append(
            replace(image, compared=True, before=old.size, compressed_before=old.compressed, changes=changes)
        )
    for old in theirs.values():
        images.append(
            ImageEntry(
                name=old.name,
                image=old.image,
                platform=old.platform,
                size=None,
                compressed=None,
                compared=True,
                before=old.size,
                compressed_before=old.compressed,
                changes=None,
                packages=None,
                go_modules=None,
                layers=[],
            )
        )
    return Report(report.version, images, report.checks, report.engine)
