"""What each database reader hands the attribution: the packages a database lists, in its own
order, each with the paths it claims."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Listed:
    """A package as its database lists it. ``paths`` are absolute (not yet canonical) paths it
    claims; ``directory`` (a Node package) claims everything below it except nested
    ``node_modules`` packages. With ``site`` (a Python distribution installed by an OS package,
    whose metadata lists no files), ``paths`` are its metadata files, and when an OS package owns
    them the distribution is shown within it, as large as that package's files in ``site``."""

    ecosystem: str
    name: str
    version: str = ""
    arch: str = ""
    claimed_size: int | None = None
    paths: list[str] = field(default_factory=list)
    directory: str | None = None
    site: str | None = None  # a Python distribution without a file list: the directory it is in


@dataclass
class Database:
    """One database read: ``where`` names it (``var/lib/dpkg/status``), ``packages`` in its order."""

    ecosystem: str
    where: str
    packages: list[Listed] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        count = len(self.packages)
        return f"{self.ecosystem}: {self.where} ({count} package{'' if count == 1 else 's'})"


def paragraphs(text: str) -> list[dict[str, str]]:
    """RFC 822-style paragraphs (dpkg's ``status``, a ``status.d`` file): ``Field: value`` lines,
    continuation lines (starting with a space) appended, paragraphs split by blank lines. Lines
    that are neither are skipped."""
    found: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                found.append(current)
                current, last = {}, ""
            continue
        if line[0] in " \t":
            if last:
                current[last] += "\n" + line[1:]
            continue
        name, colon, value = line.partition(":")
        if colon:
            last = name.strip()
            current[last] = value.strip()
    if current:
        found.append(current)
    return found


def kib(value: str | None) -> int | None:
    """dpkg's ``Installed-Size`` (KiB) in bytes, or None."""
    try:
        return int(value or "") * 1024
    except ValueError:
        return None
