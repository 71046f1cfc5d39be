"""Read a Go ELF executable: build info, flags and where every byte of the file goes."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from elftools.elf.elffile import ELFFile

from . import buildinfo as bi
from . import pcheader as ph
from . import pclntab as pt
from .elfcut import has_go_note, truncation
from .model import GoBinary, GoModule, GoPackage, looks_like_elf
from .names import STD, ModuleMatcher

# Errors that malformed input can raise from struct/bytes handling; anything else is a bug of ours.
_BAD_INPUT = (struct.error, IndexError, ValueError, KeyError, OverflowError, UnicodeError, MemoryError)

_DYNAMIC = (".interp", ".dynamic", ".dynsym", ".dynstr", ".got", ".plt", ".hash", ".gnu.", ".rela", ".rel.")
_NAMED = {
    ".rodata": "rodata",
    ".data.rel.ro": "rodata (relocated)",
    ".noptrdata": "noptrdata",
    ".data": "data",
    ".typelink": "typelink",
    ".itablink": "itablink",
    ".go.buildinfo": "buildinfo",
    ".go.fipsinfo": "buildinfo",
    ".shstrtab": "elf headers",
    ".symtab": "symtab",
    ".strtab": "symtab",
    ".gosymtab": "symtab",
    ".text": "text",
    ".gopclntab": "gopclntab",
}


@dataclass
class _Section:
    name: str
    addr: int
    offset: int
    size: int
    nobits: bool


def _bucket(name: str) -> str:
    if name.startswith(".data.rel.ro.") and name[len(".data.rel.ro") :] in _NAMED:
        name = name[len(".data.rel.ro") :]
    if name in _NAMED:
        return _NAMED[name]
    if name.startswith((".debug", ".zdebug")):
        return "dwarf"
    if name.startswith(_DYNAMIC) or name in (".init_array", ".fini_array", ".init", ".fini", ".plt.got"):
        return "dynamic linking"
    if name.startswith(".note"):
        return "notes"
    return f"section {name}" if name else "section (unnamed)"


def _is_debug(name: str) -> bool:
    return name in (".symtab", ".strtab") or name.startswith((".debug", ".zdebug"))


def _upx(data: bytes | bytearray) -> bool:
    """UPX writes its ``UPX!`` marker right after the program headers of a packed ELF file."""
    return b"UPX!" in data[:4096]


class _BufferFile:
    """A read-only file over a bytes-like object, without copying it (``io.BytesIO`` copies a
    bytearray): what pyelftools needs to read the headers."""

    def __init__(self, data: bytes | bytearray) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def seek(self, pos: int, whence: int = 0) -> int:
        base = (0, self._pos, len(self._view))[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n is None or n < 0 else self._pos + n
        out = bytes(self._view[self._pos : end])
        self._pos += len(out)
        return out


def analyse_go_binary(path: str, data: bytes | bytearray) -> GoBinary | None:
    """What the Go executable ``data`` (the file at ``path`` in the image) is and where its bytes go.

    None when ``data`` is not an ELF file carrying Go build info or Go's build-ID note. A binary
    that is only partly readable comes back with ``problem`` set to one line (and ``partial`` when
    its package figures are incomplete); bad input never raises.
    """
    if not looks_like_elf(data):
        return None
    size = len(data)
    cut = truncation(data)
    if cut is not None:
        return _truncated(path, data, cut)
    try:
        elf = ELFFile(_BufferFile(data))  # type: ignore[arg-type]
        sections = [
            _Section(
                s.name,
                s["sh_addr"],
                s["sh_offset"],
                s["sh_size"],
                s["sh_type"] in ("SHT_NOBITS", "SHT_NULL"),
            )
            for s in elf.iter_sections()
        ]
        interp = any(seg["p_type"] == "PT_INTERP" for seg in elf.iter_segments())
        little = elf.little_endian
        machine = str(elf["e_machine"])
        hdr = elf.header
        heads = [
            (0, hdr["e_ehsize"]),
            (hdr["e_phoff"], hdr["e_phnum"] * hdr["e_phentsize"]),
            (hdr["e_shoff"], hdr["e_shnum"] * hdr["e_shentsize"]),
        ]
    except Exception as exc:  # pyelftools on untrusted bytes raises many kinds of errors
        pos = bi.find_blob(data)
        if pos < 0 and not _upx(data):
            if not has_go_note(data):
                return None
            out = GoBinary(path=path, size=size, unattributed=size, partial=True)
            out.problem = f"ELF headers unreadable ({type(exc).__name__}) and no Go build info found"
            return out
        out = GoBinary(path=path, size=size, unattributed=size)
        if _upx(data):
            out.packed = True
            out.problem = "packed with UPX: not analysed (unpack with `upx -d` to see inside)"
            out.other = {"packed": size}
            out.unattributed = 0
            return out
        out.problem = f"ELF headers unreadable ({type(exc).__name__}); only the build info was read"
        _fill_buildinfo(out, data, pos)
        return out

    by_name = {s.name: s for s in sections}
    out = GoBinary(path=path, size=size, static=not interp)
    if _upx(data) and ".gopclntab" not in by_name:
        out.packed = True
        out.problem = "packed with UPX: not analysed (unpack with `upx -d` to see inside)"
        out.other = {"packed": size}
        pos = bi.find_blob(data)
        if pos >= 0:
            _fill_buildinfo(out, data, pos)
        return out
    bsec = by_name.get(".go.buildinfo")
    pos = -1
    if bsec is not None and not bsec.nobits:
        pos = bi.find_blob(data, bsec.offset, min(size, bsec.offset + bsec.size))
    if pos < 0:
        pos = bi.find_blob(data)
    problems: list[str] = []
    if pos < 0:
        if not has_go_note(data):
            return None
        problems.append("no Go build info found (a Go build-ID note is there)")
    if pos >= 0:
        _fill_buildinfo(out, data, pos, problems)
    past_end = max((s.offset + s.size - size for s in sections if not s.nobits), default=0)
    if past_end > 0:
        problems.append(f"file truncated: its sections extend {past_end} bytes past its end")
    out.debug_bytes = sum(s.size for s in sections if _is_debug(s.name) and not s.nobits)
    out.stripped = not any(_is_debug(s.name) for s in sections)

    pkg_bytes: dict[str, float] = {}
    code_bytes: dict[str, int] = {}
    other: dict[str, int] = {}

    def add_other(key: str, n: int) -> None:
        if n > 0:
            other[key] = other.get(key, 0) + n

    # --- the function table and the code ------------------------------------------------------------
    endian = "<" if little else ">"
    split: dict[str, tuple[dict[str, float], dict[str, int], int]] = {}
    # ".data.rel.ro.gopclntab" in position-independent builds
    psec = next((s for s in sections if s.name.endswith(".gopclntab") and not s.nobits), None)
    if psec is None:
        psec = _find_pclntab(data, sections, endian)
    if psec is None:
        problems.append("no function table (.gopclntab) found; sizes by section only")
        out.partial = True
    else:
        try:
            _split_tables(data, sections, psec, endian, machine, out, split)
        except ph.TableError as exc:
            problems.append(str(exc))
            split.clear()  # nothing of a table that did not hold together is used
        except _BAD_INPUT as exc:
            problems.append(
                f"function table unreadable ({type(exc).__name__}: {str(exc)[:80]}); sizes by section only"
            )
            split.clear()
        out.partial = out.partial or not split

    # --- every byte of the file, section by section -------------------------------------------------
    regions: list[tuple[int, int, str]] = []
    for s in sections:
        if s.nobits or s.size <= 0:
            continue
        regions.append((s.offset, min(size, s.offset + s.size), s.name))
    for off, n in heads:
        if n > 0 and off < size:
            regions.append((off, min(size, off + n), "<elf headers>"))
    regions.sort()
    cursor = 0
    for start, end, name in regions:
        start = max(start, cursor)
        if end <= start:
            continue
        if start > cursor:
            gap = start - cursor
            if data.count(b"\0", cursor, start) == gap:
                add_other("padding", gap)
            else:
                out.unattributed += gap
        n = end - start
        if name == "<elf headers>":
            add_other("elf headers", n)
        elif name in split and n == split[name][2]:
            pkgs, others, _ = split[name]
            for k, v in pkgs.items():
                pkg_bytes[k] = pkg_bytes.get(k, 0.0) + v
            for k, iv in others.items():
                add_other(k, iv)
        else:
            add_other(_bucket(name), n)
        cursor = end
    if cursor < size:
        tail = size - cursor
        if data.count(b"\0", cursor, size) == tail:
            add_other("padding", tail)
        else:
            out.unattributed += tail

    if ".text" in split:
        code_bytes = {k: int(v) for k, v in split["<code>"][0].items()}
    _finish(out, pkg_bytes, code_bytes, other)
    if out.unattributed:  # the linker pads between sections with zeros
        problems.append(f"{out.unattributed:,} bytes outside any section are not padding")
    if problems:
        out.problem = "; ".join(dict.fromkeys(problems))
    return out


def _truncated(path: str, data: bytes | bytearray, cut: str) -> GoBinary | None:
    """A Go executable cut short: listed with its build info when that survived, not measured."""
    pos = bi.find_blob(data)
    if pos < 0 and not has_go_note(data):
        return None  # a truncated ELF file that is not Go: not ours to list
    out = GoBinary(path=path, size=len(data), unattributed=len(data), partial=True)
    problems = [f"truncated ELF ({cut})"]
    if pos >= 0:
        _fill_buildinfo(out, data, pos, problems)
    else:
        problems.append("its Go build info is cut off")
    out.problem = "; ".join(problems) + "; not measured"
    return out


def _fill_buildinfo(
    out: GoBinary, data: bytes | bytearray, pos: int, problems: list[str] | None = None
) -> None:
    try:
        info = bi.parse_blob(data, pos)
    except _BAD_INPUT as exc:
        msg = (
            str(exc)
            if isinstance(exc, bi.BuildInfoError)
            else f"build info unreadable ({type(exc).__name__})"
        )
        if problems is None:
            out.problem = out.problem or msg
        else:
            problems.append(msg)
        return
    out.go_version = info.go_version
    out.main_module = info.main_module or info.path
    out.settings = info.settings
    out.is_test = out.is_test or info.path.endswith(".test")
    out.modules = {p: GoModule(v, r, 0) for p, (v, r) in info.deps.items()}
    if info.main_module:
        out.modules[info.main_module] = GoModule(info.main_version or "(devel)", None, 0)
    out.modules[STD] = GoModule(info.go_version, None, 0)


def _find_pclntab(data: bytes | bytearray, sections: list[_Section], endian: str) -> _Section | None:
    """A function table not in a section of its own (e.g. external linking into .data.rel.ro)."""
    for magic in (ph.MAGIC_120, ph.MAGIC_118):
        needle = struct.pack(endian + "IBB", magic, 0, 0)
        for s in sections:
            if s.nobits or not s.name.startswith((".data.rel.ro", ".rodata")):
                continue
            end = min(len(data), s.offset + s.size)
            pos = data.find(needle, s.offset, end)
            while pos >= 0:
                if (pos - s.offset) % 8 == 0 and data[pos + 6 : pos + 7] in (b"\x01", b"\x02", b"\x04"):
                    return _Section(".gopclntab", s.addr + pos - s.offset, pos, end - pos, False)
                pos = data.find(needle, pos + 1, end)
    return None


def _split_tables(
    data: bytes | bytearray,
    sections: list[_Section],
    psec: _Section,
    endian: str,
    machine: str,
    out: GoBinary,
    split: dict[str, tuple[dict[str, float], dict[str, int], int]],
) -> None:
    """Fill ``split`` with the per-package / per-bucket split of .gopclntab, .text and .rodata."""
    size = len(data)
    base = psec.offset
    psize = min(psec.size, size - base)
    h = ph.read_header(data, base, psize, endian, out.go_version)
    tsec = next((s for s in sections if s.name == ".text" and not s.nobits), None)
    text_start = h.text_start or (tsec.addr if tsec else 0)
    text_tuple = None
    if tsec is not None and tsec.offset + tsec.size <= size:
        text_tuple = (tsec.addr, tsec.offset, tsec.size)
        if not tsec.addr <= text_start < tsec.addr + tsec.size:
            raise ph.TableError(f"function table: its text start 0x{text_start:x} is outside .text")
    mapped = sorted((s.addr, s.offset, s.size) for s in sections if not s.nobits and s.addr)
    # moduledata (for funcdata and type data) lives in .noptrdata (or .data.rel.ro when relocated)
    md: dict[str, int] | None = None
    for s in sections:
        if s.nobits or s.name not in (".noptrdata", ".data", ".data.rel.ro", ".go.module"):
            continue
        mpos = pt.locate_moduledata(
            data, (s.offset, min(s.size, size - s.offset)), psec.addr, h.funcname, endian, h.ptr_size
        )
        if mpos >= 0:
            md = pt.read_moduledata(data, mpos, endian, h.ptr_size, h.magic == ph.MAGIC_120)
            break
    gofunc = None
    if md is not None:
        g = pt.addr_to_offset(mapped, md["gofunc"])
        gofunc = g if g >= 0 else None
    if md is None:
        raise ph.TableError("module data (runtime.firstmoduledata) not found; sizes by section only")
    align = 32 if machine in ("EM_X86_64", "EM_386") else 16  # cmd/link's funcAlign
    ts = pt.read_tables(data, base, psize, endian, h, text_start, text_tuple, gofunc, align)
    lo, hi = ts.pc_range
    if ts.nfunc and (md["minpc"] != text_start + lo or md["maxpc"] != text_start + hi):
        raise ph.TableError(
            "function table: its functions span "
            f"0x{text_start + lo:x}-0x{text_start + hi:x}, the module data says "
            f"0x{md['minpc']:x}-0x{md['maxpc']:x}"
        )
    out.is_test = out.is_test or ts.is_test
    names = ts.pkg_names
    split[psec.name] = (
        {names[i]: v for i, v in enumerate(ts.table) if v},
        dict(ts.table_other),
        psize,
    )
    if tsec is not None and text_tuple is not None:
        split[".text"] = (
            {names[i]: float(v) for i, v in enumerate(ts.code) if v},
            {"padding": ts.text_padding, "text:other": ts.text_other},
            tsec.size,
        )
        split["<code>"] = ({names[i]: float(v) for i, v in enumerate(ts.code) if v}, {}, 0)
    # .rodata: funcdata per package, findfunctab and type data as named buckets, the rest "rodata"
    # the section holding go:func.* (.rodata; .data.rel.ro in position-independent builds)
    rsec = None
    if gofunc is not None:
        rsec = next((s for s in sections if not s.nobits and s.offset <= gofunc < s.offset + s.size), None)
    if rsec is None or gofunc is None:
        raise ph.TableError("module data: go:func.* (funcdata) lies in no section")
    if rsec.offset + rsec.size > size:
        return
    r0, r1 = rsec.offset, rsec.offset + rsec.size
    rodata_other: dict[str, int] = {}
    rodata_pkgs: dict[str, float] = {}
    claimed = 0
    f0, f1 = ts.funcdata_span
    if ts.funcdata_claimed:
        if not r0 <= f0 <= f1 < r1:
            raise ph.TableError(f"function table: funcdata offsets point outside {rsec.name}")
        rodata_pkgs = {names[i]: v for i, v in enumerate(ts.funcdata) if v}
        claimed += ts.funcdata_claimed
    ff = pt.addr_to_offset(mapped, md["findfunctab"])
    if md["maxpc"] > md["minpc"]:
        span = md["maxpc"] - md["minpc"]  # cmd/link: a uint32 per 4 KiB bucket, a byte per 256 B
        nff = (span + 4095) // 4096 * 4 + (span + 255) // 256
        if not (ff >= 0 and r0 <= ff and ff + nff <= r1 and not (ff < f1 and f0 < ff + nff)):
            raise ph.TableError(
                f"module data: findfunctab (0x{md['findfunctab']:x}) is not inside {rsec.name}"
            )
        rodata_other["findfunctab"] = nff
        claimed += nff
    if claimed > rsec.size:
        raise ph.TableError(f"function table: funcdata and findfunctab claim more than {rsec.name} has")
    rodata_other[_bucket(rsec.name)] = rsec.size - claimed
    split[".rodata"] = (rodata_pkgs, rodata_other, rsec.size)


def _finish(out: GoBinary, pkg_bytes: dict[str, float], code: dict[str, int], other: dict[str, int]) -> None:
    """Round the package shares to whole bytes so that packages + other + unattributed == size."""
    exact_total = round(sum(pkg_bytes.values()))
    floors = {k: int(v) for k, v in pkg_bytes.items()}
    short = exact_total - sum(floors.values())
    for k in sorted(pkg_bytes, key=lambda k: pkg_bytes[k] - floors[k], reverse=True)[: max(0, short)]:
        floors[k] += 1
    out.packages = {k: GoPackage(v, code.get(k, 0)) for k, v in floors.items() if v > 0}
    for k, c in code.items():
        if k not in out.packages and c:
            out.packages[k] = GoPackage(c, c)
    out.other = {k: v for k, v in other.items() if v > 0}
    rest = out.size - sum(p.size for p in out.packages.values()) - sum(out.other.values())
    if rest < 0:  # rounding of shares: take it back from the biggest named bucket
        big = max(out.other, key=lambda k: out.other[k], default=None)
        if big is not None and out.other[big] >= -rest:
            out.other[big] += rest
            rest = 0
    out.unattributed = max(0, rest)
    # modules: packages grouped by the longest module-path prefix
    matcher = ModuleMatcher(out.main_module, [m for m in out.modules if m != STD])
    for pkg, gp in out.packages.items():
        mod = matcher.module_of(pkg)
        if mod not in out.modules:
            out.modules[mod] = GoModule(out.go_version if mod == STD else "", None, 0)
        out.modules[mod].size += gp.size
