"""Go build info (the ``.go.buildinfo`` blob): Go version, modules, build settings.

Layout (Go 1.18+, flag bit 2 set): a 32-byte header starting with ``\\xff Go buildinf:``, pointer size,
flags, then the version and the module info as varint-length-prefixed strings. The module info is
wrapped in 16-byte sentinels and holds tab-separated lines ``path``, ``mod``, ``dep``, ``=>`` and
``build key=value`` (values quoted with Go's strconv.Quote when needed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

MAGIC = b"\xff Go buildinf:"


class BuildInfoError(ValueError):
    """The build info blob is there but cannot be read."""


@dataclass
class BuildInfo:
    go_version: str = ""
    path: str = ""
    main_module: str = ""
    main_version: str = ""
    deps: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)


def find_blob(data: bytes | bytearray, start: int = 0, end: int | None = None) -> int:
    """Offset of the build-info header (16-byte aligned, as the linker places it), or -1."""
    end = len(data) if end is None else end
    pos = data.find(MAGIC, start, end)
    while pos >= 0:
        if pos % 16 == 0 or start == pos:
            return pos
        pos = data.find(MAGIC, pos + 1, end)
    return -1


def _uvarint(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise BuildInfoError("truncated varint in build info")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


_GO_ESCAPES = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)")
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unquote(q: str) -> str:
    """Undo Go's strconv.Quote (or a backquoted raw string)."""
    if len(q) >= 2 and q[0] == q[-1] == "`":
        return q[1:-1]
    if not (len(q) >= 2 and q[0] == q[-1] == '"'):
        raise BuildInfoError(f"bad quoted string {q[:40]!r}")
    try:
        return str(json.loads(q))
    except ValueError:
        pass

    def sub(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] in "xuU":
            return chr(int(e[1:], 16))
        if e[0].isdigit():
            return chr(int(e, 8))
        return _SIMPLE.get(e, e)

    return _GO_ESCAPES.sub(sub, q[1:-1])


def _quoted_prefix(s: str) -> str:
    """The leading Go-quoted string of ``s`` (like strconv.QuotedPrefix), or ''."""
    if not s or s[0] not in '"`':
        return ""
    q = s[0]
    i = 1
    while i < len(s):
        c = s[i]
        if c == "\\" and q == '"':
            i += 2
            continue
        if c == q:
            return s[: i + 1]
        i += 1
    return ""


def parse_modinfo(text: str, info: BuildInfo) -> None:
    last_dep: str | None = None
    for line in text.split("\n"):
        if not line:
            continue
        kind, _, rest = line.partition("\t")
        parts = rest.split("\t")
        if kind == "path":
            info.path = rest
        elif kind == "mod":
            info.main_module = parts[0]
            info.main_version = parts[1] if len(parts) > 1 else ""
            last_dep = None
        elif kind == "dep":
            last_dep = parts[0]
            info.deps[last_dep] = (parts[1] if len(parts) > 1 else "", None)
        elif kind == "=>":
            target = parts[0]
            if len(parts) > 1 and parts[1] and parts[1] != "(devel)":
                target = f"{target} {parts[1]}"
            if last_dep is not None:
                info.deps[last_dep] = (info.deps[last_dep][0], target)
        elif kind == "build":
            quoted = _quoted_prefix(rest)
            if quoted:
                key = _unquote(quoted)
                raw = rest[len(quoted) :]
                if not raw.startswith("="):
                    raise BuildInfoError(f"build line without '=': {line[:60]!r}")
                raw = raw[1:]
            else:
                key, sep, raw = rest.partition("=")
                if not sep:
                    raise BuildInfoError(f"build line without '=': {line[:60]!r}")
            qv = _quoted_prefix(raw)
            info.settings[key] = _unquote(qv) if qv else raw


def parse_blob(data: bytes | bytearray, pos: int) -> BuildInfo:
    """Read the build info whose header starts at ``data[pos]``."""
    header = data[pos : pos + 32]
    if len(header) < 32 or not header.startswith(MAGIC):
        raise BuildInfoError("truncated build info header")
    flags = header[15]
    if not flags & 2:
        raise BuildInfoError("build info in the pre-Go 1.18 pointer layout is not read")
    ver_len, p = _uvarint(data, pos + 32)
    version = data[p : p + ver_len]
    p += ver_len
    mod_len, p = _uvarint(data, p)
    modinfo = data[p : p + mod_len]
    if len(version) != ver_len or len(modinfo) != mod_len or ver_len > 1 << 16 or mod_len > 1 << 24:
        raise BuildInfoError("truncated build info strings")
    info = BuildInfo(go_version=version.decode("utf-8", "replace"))
    if not info.go_version.startswith("go") and not info.go_version.startswith("devel"):
        raise BuildInfoError(f"build info has no Go version (read {info.go_version[:30]!r})")
    # The module info is wrapped in 16-byte sentinels.
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":
        modinfo = modinfo[16:-16]
    elif modinfo:
        raise BuildInfoError("module info has no sentinels")
    parse_modinfo(modinfo.decode("utf-8", "replace"), info)
    return info
