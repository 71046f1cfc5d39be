"""How a name from an image (a file path, a layer's instruction, a module path) is shown as text:
control characters, bidi controls and line/paragraph separators are escaped visibly, so that a
hostile name cannot recolour a terminal, split a line, or read backwards. The one rule for the
terminal, Markdown, HTML (before HTML escaping) and messages; JSON keeps the exact name."""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0 and C1 controls, DEL
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    "\u2028\u2029"  # line and paragraph separators
    "\ud800-\udfff]"  # lone surrogates (undecodable bytes of a name)
)
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(name: str) -> str:
    """``name`` with every character that could change how the text around it reads escaped
    (``\\n``, ``\\x1b``, ``\\u202e``); other text, also non-Latin, as it is."""
    return _UNSAFE.sub(_escape, name)
