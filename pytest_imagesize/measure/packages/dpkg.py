"""Debian packages: dpkg's ``var/lib/dpkg/status`` with its ``info/<pkg>[:<arch>].list`` file lists,
and distroless's ``var/lib/dpkg/status.d/<pkg>`` files with their ``<pkg>.md5sums`` lists."""

from __future__ import annotations

from collections.abc import Callable

from .database import Database, Listed, kib, paragraphs

#: a ``.list`` or ``.md5sums`` file of a package: its path -> its text, or a problem (str) when it
#: cannot be read, or None when there is none
Lookup = Callable[[str], "tuple[str | None, str | None]"]

NOT_INSTALLED = ("not-installed", "config-files")


def read_status(text: str, lists: Lookup) -> Database:
    """dpkg's status database: every installed package, in the file's order, with the paths its
    ``.list`` file names (``lists`` finds the file's text by path)."""
    db = Database("deb", "var/lib/dpkg/status")
    fields = paragraphs(text)
    if text.strip() and not any("Package" in p for p in fields):
        db.warnings.append("deb: var/lib/dpkg/status is damaged (no package paragraph): not read")
        return db
    missing: list[str] = []
    broken: list[str] = []
    for paragraph in fields:
        name = paragraph.get("Package")
        if not name:
            continue
        state = paragraph.get("Status", "install ok installed").split()
        if state and state[-1] in NOT_INSTALLED:
            continue
        arch = paragraph.get("Architecture", "")
        package = Listed(
            "deb", name, paragraph.get("Version", ""), arch, kib(paragraph.get("Installed-Size"))
        )
        candidates = [f"{name}:{arch}", name] if arch and arch != "all" else [name]
        for candidate in candidates:
            listing, problem = lists(f"/var/lib/dpkg/info/{candidate}.list")
            if problem is not None:
                broken.append(f"{candidate}.list ({problem})")
                break
            if listing is not None:
                package.paths = [line for line in listing.split("\n") if line.startswith("/")]
                break
        else:
            missing.append(name)
        db.packages.append(package)
    if broken:
        db.warnings.append(
            f"deb: {len(broken)} file list{'s' if len(broken) > 1 else ''} in var/lib/dpkg/info not read: "
            f"{', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''}"
        )
    if missing and len(missing) < len(db.packages):
        db.warnings.append(
            f"deb: {len(missing)} installed package{'s have' if len(missing) > 1 else ' has'} no file list "
            f"in var/lib/dpkg/info ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): "
            "their files count as unowned"
        )
    elif missing:
        db.warnings.append(
            "deb: var/lib/dpkg/info has no file lists (removed to save space?): the packages own no files"
        )
    return db


def read_status_d(entries: dict[str, str], md5sums: dict[str, str]) -> Database:
    """distroless's database: one status file per package in ``status.d`` (name -> text), its
    files in ``status.d/<name>.md5sums`` (``<md5>  <path relative to />`` lines)."""
    db = Database("deb", "var/lib/dpkg/status.d")
    damaged: list[str] = []
    for base in sorted(entries):
        fields = paragraphs(entries[base])
        paragraph = next((p for p in fields if p.get("Package")), None)
        if paragraph is None:
            damaged.append(base)
            continue
        name = paragraph["Package"]
        arch = paragraph.get("Architecture", "")
        package = Listed(
            "deb", name, paragraph.get("Version", ""), arch, kib(paragraph.get("Installed-Size"))
        )
        listing = md5sums.get(base)
        if listing is None:
            listing = md5sums.get(name) or md5sums.get(f"{name}:{arch}")
        if listing is not None:
            for line in listing.split("\n"):
                _, sep, path = line.partition("  ")
                if sep and path:
                    package.paths.append("/" + path.lstrip("/"))
        db.packages.append(package)
    if damaged:
        db.warnings.append(
            f"deb: {len(damaged)} file{'s' if len(damaged) > 1 else ''} in var/lib/dpkg/status.d name no "
            f"package (damaged?): {', '.join(damaged[:3])}{', ...' if len(damaged) > 3 else ''}"
        )
    return db
