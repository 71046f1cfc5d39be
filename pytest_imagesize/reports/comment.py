"""The pull-request comment (pure): a Markdown body that a workflow finds again by its hidden
marker and updates, one comment per pull request (``pytest-imagesize comment``).

Failing checks come first, then one table row per image and platform, then a collapsed block of
movers for each image that grew. The body fits GitHub's comment limit (``MAX_CHARS``, counted in
UTF-16 code units, which is never less than GitHub's count): movers are cut first, then table
rows; failing checks go last, only when they alone do not fit. Each cut leaves a note.

Every name from the report (images, platforms, tests, paths, packages, modules) is untrusted: it
is shown only inside a code span (``code``) whose fence is longer than any backtick run in it, so
nothing in it becomes markup, a link, a mention, an issue reference or an HTML comment; control
and bidi characters are escaped visibly (``text.shown``), ``|`` is escaped in table cells and a
long name is cut with an ellipsis."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..sizes import format_size
from ..text import shown
from .comment_input import Changes, CheckEntry, ImageEntry, Mover, Report

MAX_CHARS = 65_536
MAX_NAME = 160  # characters of a name shown; longer ones are cut with an ellipsis
MOVERS_PER_KIND = 5
MARKER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
DEFAULT_ID = "default"
_VERDICT = {"failed": "❌ failed", "warned": "⚠️ warned", "passed": "✅ passed"}
_BACKTICKS = re.compile("`+")


def marker(name: str) -> str:
    """The hidden line a workflow searches for; ``name`` must match ``MARKER_NAME``."""
    if not MARKER_NAME.fullmatch(name):
        raise ValueError(f"comment id {name!r}: letters, digits, '.', '_' and '-' only")
    return f"<!-- pytest-imagesize:{name} -->"


def length(text: str) -> int:
    """``text``'s length in UTF-16 code units (what a browser's and GitHub's limits count at most)."""
    return len(text.encode("utf-16-le")) // 2


def code(name: str, *, table: bool = False) -> str:
    """``name`` as an inert Markdown code span (see the module's docstring)."""
    text = shown(name)
    if len(text) > MAX_NAME:
        text = text[: MAX_NAME - 1] + "…"
    if not text:
        return "(empty)"
    if table:
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if text[0] in "` " or text[-1] in "` ":
        text = f" {text} "
    return f"{fence}{text}{fence}"


def signed(n: int) -> str:
    if n == 0:
        return "±0"
    return ("+" if n > 0 else "-") + format_size(abs(n))


def _percent(delta: int, before: int) -> str:
    return f" ({delta / before * 100:+.1f} %)" if before and delta else ""


@dataclass
class _Piece:
    """A unit the body is cut by: its lines, and its length with the newlines joining them."""

    lines: list[str]

    @property
    def size(self) -> int:
        return sum(length(line) + 1 for line in self.lines)


def _check_line(check: CheckEntry) -> str:
    from ..checks import KINDS, Outcome  # each kind's wording; loads only when a check failed

    record = KINDS.get(check.kind)
    what = code(check.kind)
    detail = ""
    if record is not None:
        what = record.title(check.compressed)
        outcome = Outcome(
            test=check.test,
            image=check.image,
            kind=check.kind,
            compressed=check.compressed,
            limit=check.limit,
            actual=check.actual,
            outcome="failed",
            message="",
            baseline=None if check.baseline is None else int(check.baseline),
            delta=None if check.delta is None else int(check.delta),
        )
        parts = []
        if check.actual is not None and record.unit != "none":
            parts.append(record.amount_text(check.actual))
        if check.delta is not None and record.unit == "percent":
            parts.append(f"{signed(int(check.delta))} since the baseline")
        if check.limit is not None:
            parts.append(f"limit {record.limit_text(outcome).removeprefix(record.label + ' ')}")
            if outcome.headroom is not None and outcome.headroom < 0:
                parts.append(outcome.headroom_text)
        detail = ": " + ", ".join(parts) if parts else ""
    platform = f" ({code(check.platform)})" if check.platform and check.platform not in check.image else ""
    return f"- ❌ {code(check.image)}{platform} {what}{detail} — {code(check.test)}"


def _verdicts(checks: Sequence[CheckEntry]) -> dict[str, str]:
    """Each image's worst verdict."""
    rank = {"passed": 0, "warned": 1, "failed": 2}
    worst: dict[str, str] = {}
    for check in checks:
        if rank[check.outcome] > rank.get(worst.get(check.image, ""), -1):
            worst[check.image] = check.outcome
    return worst


def _change(image: ImageEntry) -> str:
    if not image.compared:
        return "new"
    if image.size is None:
        return "removed" if image.before is not None else "-"
    if image.before is None:
        return "-"
    delta = image.size - image.before
    return signed(delta) + _percent(delta, image.before)


def _compressed(image: ImageEntry) -> str:
    text = format_size(image.compressed)
    if image.compressed is not None and image.compressed_before is not None:
        delta = image.compressed - image.compressed_before
        if delta:
            text += f" ({signed(delta)})"
    return text


def _row(image: ImageEntry, verdict: str | None) -> str:
    cells = [
        code(image.image, table=True),
        code(image.platform, table=True) if image.platform else "-",
        format_size(image.size),
        _change(image),
        _compressed(image),
        _VERDICT.get(verdict or "", "-"),
    ]
    return "| " + " | ".join(cells) + " |"


def _mover_line(what: str, mover: Mover, where: str = "") -> str:
    if mover.a is None:
        state = "new"
    elif mover.b is None:
        state = "removed"
    else:
        state = f"{format_size(mover.a)} → {format_size(mover.b)}"
    place = f" in {code(mover.where)}" if mover.where and where else ""
    return f"- {signed(mover.delta)} {what} {code(mover.key)}{place} ({state})"


def _movers(image: ImageEntry, changes: Changes) -> list[str]:
    title = code(image.image) + (f" {code(image.platform)}" if image.platform else "")
    lines = [f"**{title}** {_change(image)}", ""]
    grown_dirs = [m for m in changes.dirs if m.delta > 0]
    for what, movers, where in (
        ("layer", changes.layers, ""),
        ("file", changes.files, ""),
        ("directory", grown_dirs, ""),
        ("package", changes.packages, "ecosystem"),
        ("Go", changes.go, "binary"),
    ):
        lines += [_mover_line(what, m, where) for m in movers[:MOVERS_PER_KIND]]
    if changes.omitted:
        lines.append(f"- and {changes.omitted} smaller movers (in the JSON report's changes)")
    return [*lines, ""]


def _grown(report: Report) -> list[ImageEntry]:
    grown = [
        image
        for image in report.images
        if image.changes is not None
        and not image.changes.empty
        and image.size is not None
        and image.before is not None
        and image.size > image.before
    ]
    return sorted(grown, key=lambda i: -((i.size or 0) - (i.before or 0)))


def render(
    report: Report, name: str = DEFAULT_ID, *, against: str | None = None, limit: int = MAX_CHARS
) -> str:
    """The comment body for ``report`` (``against``: the other report's label, when compared with
    one instead of the baseline), at most ``limit`` UTF-16 code units long."""
    verdicts = _verdicts(report.checks)
    failing = [c for c in report.checks if c.outcome == "failed"]
    warned = sum(1 for c in report.checks if c.outcome == "warned")
    title = "### Image sizes" + (f" ({name})" if name != DEFAULT_ID else "")
    if failing:
        status = f"❌ **{len(failing)} of {len(report.checks)} size checks failed**"
    elif report.checks:
        status = f"✅ **every size check passed** ({len(report.checks)})"
    else:
        status = "No size checks ran."
    if warned:
        status += f" · ⚠️ {warned} warned"
    head = _Piece([marker(name), title, "", status, ""])
    checks = [_Piece([_check_line(c)]) for c in failing]
    rank = {"failed": 0, "warned": 1}
    ordered = sorted(report.images, key=lambda i: rank.get(verdicts.get(i.name, ""), 2))
    rows = [_Piece([_row(image, verdicts.get(image.name))]) for image in ordered]
    grown = _grown(report)
    movers = [_Piece(_movers(image, image.changes)) for image in grown if image.changes is not None]
    compared = f"the report {code(against)}" if against else "the baseline file"
    footer = [f"<sub>Changes against {compared}. MB = 1,000,000 bytes; compressed = pull size."]
    if report.engine:
        footer[0] += f" Measured by {code(report.engine)}."
    footer[0] += "</sub>"
    tail = _Piece(["", *footer])
    checks_head = _Piece(["**Failing checks**", ""])
    table_head = _Piece(
        ["| image | platform | size | change | compressed | verdict |", "|---|---|---:|---:|---:|---|"]
    )
    details_head = _Piece(["", f"<details><summary>What grew: movers of {len(grown)} image(s)</summary>", ""])
    details_tail = _Piece(["</details>"])
    reserve = 600  # the notes on what was cut
    budget = limit - head.size - tail.size - reserve

    def take(pieces: list[_Piece], overhead: int) -> tuple[list[_Piece], int]:
        nonlocal budget
        if not pieces or budget < overhead:
            return [], len(pieces)
        budget -= overhead
        kept = []
        for piece in pieces:
            if piece.size > budget:
                break
            budget -= piece.size
            kept.append(piece)
        return kept, len(pieces) - len(kept)

    kept_checks, cut_checks = take(checks, checks_head.size + 1)
    kept_rows, cut_rows = take(rows, table_head.size)
    kept_movers, cut_movers = take(movers, details_head.size + details_tail.size)
    notes = []
    limit_words = f"GitHub's comment limit ({limit:,} characters)"
    if cut_movers:
        notes.append(
            f"> Movers of {cut_movers} of {len(movers)} grown image(s) left out to fit {limit_words}; "
            "the JSON report has them."
        )
    if cut_rows:
        notes.append(f"> {cut_rows} of {len(rows)} table row(s) left out to fit {limit_words}.")
    if cut_checks:
        notes.append(f"> {cut_checks} of {len(checks)} failing check(s) left out to fit {limit_words}.")
    lines = list(head.lines)
    if kept_checks:
        lines += checks_head.lines + [line for p in kept_checks for line in p.lines] + [""]
    if kept_rows:
        lines += table_head.lines + [line for p in kept_rows for line in p.lines]
    if kept_movers:
        lines += details_head.lines + [line for p in kept_movers for line in p.lines] + details_tail.lines
    for note in notes:
        lines += ["", note]
    lines += tail.lines
    return "\n".join(lines) + "\n"
