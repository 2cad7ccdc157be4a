"""Reader: a RISC-V ELF file -> :class:`hvcheck.riscv.model.RiscvImage`.

A small bounded ELF reader of its own (``struct`` over the file bytes): it needs only the
headers, the executable sections, PT_LOAD segments, the symbol tables, ``.rela.dyn`` and
``.riscv.attributes``, and reading 50,000 symbols or 350,000 relocations this way takes
milliseconds, where a general ELF library costs more than the whole check of a firmware image.
Every offset and count is checked against the file before use: a damaged table becomes a
``problems`` entry (reported as E001) and the rest is still checked; an unusable header is an
``InputError``.
"""

from __future__ import annotations

import os
import struct

from hvcheck.errors import InputError
from hvcheck.inputs import read_capped
from hvcheck.riscv.model import CodeRegion, Relocations, RiscvImage, Segment, Symbol
from hvcheck.riscv.rvc import Profile

EM_RISCV = 243
MAX_FILE = 1 << 30  # refuse to read ELF files above 1 GiB (bounded memory)
MAX_RELOCS = 2_000_000  # dynamic relocations read per section
R_RISCV_32, R_RISCV_64, R_RISCV_RELATIVE = 1, 2, 3
SHT_PROGBITS, SHT_SYMTAB, SHT_RELA, SHT_NOBITS, SHT_DYNSYM = 1, 2, 4, 8, 11
SHT_RISCV_ATTRIBUTES = 0x70000003
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
SHN_UNDEF, SHN_LORESERVE, SHN_ABS = 0, 0xFF00, 0xFFF1
PT_LOAD = 1
STT_NAMES = {0: "NOTYPE", 1: "OBJECT", 2: "FUNC", 3: "SECTION", 4: "FILE", 5: "COMMON", 6: "TLS"}
ET_NAMES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
MACHINES = {3: "x86", 62: "x86-64", 40: "ARM", 183: "AArch64", 8: "MIPS", 21: "PowerPC64", 258: "LoongArch"}


class _Layout:
    """Field layouts of one ELF class (32 or 64 bit, little-endian)."""

    def __init__(self, bits: int) -> None:
        if bits == 64:
            self.ehdr = struct.Struct("<HHIQQQIHHHHHH")  # after e_ident
            self.shdr = struct.Struct("<IIQQQQIIQQ")
            self.phdr = struct.Struct("<IIQQQQQQ")
            self.sym = struct.Struct("<IBBHQQ")
            self.rela = struct.Struct("<QQq")
        else:
            self.ehdr = struct.Struct("<HHIIIIIHHHHHH")
            self.shdr = struct.Struct("<IIIIIIIIII")
            self.phdr = struct.Struct("<IIIIIIII")
            self.sym = struct.Struct("<IIIBBH")
            self.rela = struct.Struct("<IIi")
        self.bits = bits


class _Section:
    __slots__ = ("name", "type", "flags", "addr", "offset", "size", "link", "entsize")

    def __init__(self, name: str, stype: int, flags: int, addr: int, offset: int, size: int, link: int,
                 entsize: int) -> None:
        self.name, self.type, self.flags, self.addr = name, stype, flags, addr
        self.offset, self.size, self.link, self.entsize = offset, size, link, entsize


def _cstring(blob: bytes, start: int, end: int) -> str:
    if not 0 <= start < end:
        return ""
    stop = blob.find(b"\0", start, end)
    return blob[start:stop if stop >= 0 else end].decode("utf-8", "replace")


def load_image(path: str | os.PathLike[str]) -> RiscvImage:
    """Read a RISC-V ELF. Raises InputError for anything that is not a readable RISC-V ELF with
    at least one code section; damaged parts that leave the rest checkable go to ``problems``."""
    p = os.fspath(path)
    blob = read_capped(p, MAX_FILE, "ELF file")
    if blob[:4] != b"\x7fELF":
        raise InputError(p, "not an ELF file (no \\x7fELF magic); raw images (.bin) have no symbols, entry "
                            "point or ISA attributes: pass the ELF the build produced (e.g. uboot.elf)")
    if len(blob) < 52:
        raise InputError(p, f"truncated ELF header ({len(blob)} bytes)")
    ei_class, ei_data = blob[4], blob[5]
    if ei_class not in (1, 2):
        raise InputError(p, f"invalid ELF header: EI_CLASS is {ei_class} (neither 32- nor 64-bit)")
    if ei_data != 1:
        raise InputError(p, "big-endian RISC-V ELF is not supported" if ei_data == 2
                         else f"invalid ELF header: EI_DATA is {ei_data}")
    lay = _Layout(64 if ei_class == 2 else 32)
    if len(blob) < 16 + lay.ehdr.size:
        raise InputError(p, f"truncated ELF header ({len(blob)} bytes)")
    (e_type, e_machine, _ver, e_entry, e_phoff, e_shoff, e_flags, _ehsize, e_phentsize, e_phnum,
     e_shentsize, e_shnum, e_shstrndx) = lay.ehdr.unpack_from(blob, 16)
    if e_machine != EM_RISCV:
        name = MACHINES.get(e_machine, "")
        raise InputError(p, f"not a RISC-V ELF (e_machine is {e_machine}{f' ({name})' if name else ''}); "
                            "hvcheck riscv checks RISC-V images only")
    xlen = lay.bits
    problems: list[str] = []
    sections = _sections(blob, lay, e_shoff, e_shentsize, e_shnum, e_shstrndx, problems)
    regions: list[CodeRegion] = []
    symbols: list[Symbol] = []
    rela: list[_Section] = []
    writable: list[tuple[int, int]] = []
    isa_string: str | None = None
    has_symtab = False
    for sec in sections:
        if sec.flags & SHF_ALLOC and sec.type != 0 and sec.flags & SHF_WRITE and sec.name != ".got":
            # .got is writable only for the dynamic loader: each slot holds a link-time address
            # (its dynamic relocation, when there is one, is applied by RiscvImage.read)
            writable.append((sec.addr, sec.addr + sec.size))
        if sec.type == SHT_NOBITS:
            continue
        if sec.type != 0 and sec.size and sec.offset + sec.size > len(blob):
            problems.append(f"section {sec.name} is truncated: needs bytes [{sec.offset:#x}, "
                            f"{sec.offset + sec.size:#x}) but the file has {len(blob):#x}")
            continue
        if sec.flags & SHF_EXECINSTR and sec.flags & SHF_ALLOC and sec.type == SHT_PROGBITS and sec.size:
            regions.append(CodeRegion(sec.addr, blob[sec.offset:sec.offset + sec.size], sec.name))
        if sec.type == SHT_RISCV_ATTRIBUTES or sec.name == ".riscv.attributes":
            isa_string = _arch_attribute(blob[sec.offset:sec.offset + sec.size]) or isa_string
        if sec.type == SHT_SYMTAB:
            has_symtab = True
            symbols += _symbols(blob, lay, sec, sections, problems)
    if not has_symtab:  # .symtab holds every .dynsym name: the dynamic table only for stripped files
        for sec in sections:
            if sec.type == SHT_DYNSYM and sec.offset + sec.size <= len(blob):
                symbols += _symbols(blob, lay, sec, sections, problems)
    for sec in sections:
        if sec.type == SHT_RELA and sec.name.startswith(".rela.dyn") and sec.offset + sec.size <= len(blob):
            count = _table(blob, sec, lay.rela.size, "relocations", problems)  # checked now, read on use
            if count is not None:
                rela.append(sec)
                if len(count) > MAX_RELOCS:
                    problems.append(f"relocations {sec.name}: only the first {MAX_RELOCS} of {len(count)} are read")
    segments = _segments(blob, lay, e_phoff, e_phentsize, e_phnum, problems)
    if not sections:
        for seg in segments:  # no section headers: the executable segments are the code
            if seg.executable and seg.data:
                regions.append(CodeRegion(seg.vaddr, bytes(seg.data), f"segment@{seg.vaddr:#x}"))
    if not regions:
        why = "; ".join(problems) if problems else "no executable section or segment"
        raise InputError(p, f"nothing to check: {why}")
    seen: set[tuple[int, str]] = set()  # .symtab and .dynsym often repeat each other
    uniq = []
    for s in symbols:
        if (s.addr, s.name) not in seen:
            seen.add((s.addr, s.name))
            uniq.append(s)
    if isa_string:
        try:
            profile = Profile.from_isa_string(isa_string, xlen)
            source = f"Tag_RISCV_arch \"{isa_string}\""
        except ValueError as exc:
            problems.append(f".riscv.attributes: {exc}")
            profile, source = Profile(xlen), f"default RV{xlen}GC (unusable Tag_RISCV_arch {isa_string!r})"
    else:
        has_c = bool(e_flags & 1)
        profile = Profile(xlen, c=has_c)  # the float ABI does not say whether F/D exist: assume them
        source = f"e_flags (no .riscv.attributes): RV{xlen}{'C' if has_c else ''}, F/D assumed"
    def read_relocs() -> dict[int, int]:  # on first use (a literal load); problems found then are lost
        out: dict[int, int] = {}
        for sec in rela:
            out.update(_relative_relocs(blob, lay, sec, sections, []))
        return out

    return RiscvImage(p, xlen, profile, isa_string, source, e_entry, ET_NAMES.get(e_type, f"ET_{e_type:#x}"),
                      regions, segments, uniq, Relocations(read_relocs if rela else {}), has_symtab, problems,
                      writable_sections=writable if sections else None)


def _sections(blob: bytes, lay: _Layout, shoff: int, entsize: int, num: int, strndx: int,
              problems: list[str]) -> list[_Section]:
    if shoff == 0:
        return []
    if entsize < lay.shdr.size:
        problems.append(f"section headers unreadable: e_shentsize {entsize} is below {lay.shdr.size}")
        return []
    if num == 0 and shoff + lay.shdr.size <= len(blob):  # extended numbering: count in section 0
        num = lay.shdr.unpack_from(blob, shoff)[5]
    if shoff + num * entsize > len(blob) or num > len(blob) // entsize:
        problems.append(f"section headers unreadable: {num} entries at {shoff:#x} run past the end of the file")
        return []
    raw = []
    for i in range(num):
        f = lay.shdr.unpack_from(blob, shoff + i * entsize)
        # (name, type, flags, addr, offset, size, link, info, addralign, entsize)
        raw.append(f)
    names_at, names_end = 0, 0
    if 0 <= strndx < num:
        st = raw[strndx]
        if st[4] + st[5] <= len(blob):
            names_at, names_end = st[4], st[4] + st[5]
        else:
            problems.append("section name table is truncated: sections are unnamed")
    out = []
    for f in raw:
        name = _cstring(blob, names_at + f[0], names_end) if names_end else ""
        out.append(_Section(name, f[1], f[2], f[3], f[4], f[5], f[6], f[9]))
    return out


def _segments(blob: bytes, lay: _Layout, phoff: int, entsize: int, num: int,
              problems: list[str]) -> list[Segment]:
    out: list[Segment] = []
    if phoff == 0 or num == 0:
        return out
    if entsize < lay.phdr.size or phoff + num * entsize > len(blob):
        problems.append(f"program headers unreadable: {num} entries of {entsize} bytes at {phoff:#x}")
        return out
    view = memoryview(blob)
    for i in range(num):
        f = lay.phdr.unpack_from(blob, phoff + i * entsize)
        if lay.bits == 64:
            ptype, pflags, off, vaddr, _pa, filesz = f[0], f[1], f[2], f[3], f[4], f[5]
        else:
            ptype, off, vaddr, _pa, filesz, pflags = f[0], f[1], f[2], f[3], f[4], f[6]
        if ptype != PT_LOAD:
            continue
        if off + filesz > len(blob):
            problems.append(f"a PT_LOAD segment at {vaddr:#x} is truncated")
            filesz = max(0, len(blob) - off)
        out.append(Segment(vaddr, view[off:off + filesz], bool(pflags & 2), bool(pflags & 1)))
    return out


def _table(blob: bytes, sec: _Section, entry: int, what: str, problems: list[str]) -> range | None:
    """Entry offsets of a table section, or None (recorded as a problem) when it is unusable."""
    if sec.entsize and sec.entsize < entry:
        problems.append(f"{what} {sec.name}: entry size {sec.entsize} is below {entry}")
        return None
    step = sec.entsize or entry
    return range(sec.offset, sec.offset + sec.size - entry + 1, step)


def _symbols(blob: bytes, lay: _Layout, sec: _Section, sections: list[_Section],
             problems: list[str]) -> list[Symbol]:
    offsets = _table(blob, sec, lay.sym.size, "symbol table", problems)
    if offsets is None:
        return []
    strtab = sections[sec.link] if 0 <= sec.link < len(sections) else None
    if strtab is None or strtab.offset + strtab.size > len(blob):
        problems.append(f"symbol table {sec.name}: its string table is missing or truncated")
        return []
    strings = blob[strtab.offset:strtab.offset + strtab.size]
    find = strings.find
    is64 = lay.bits == 64
    out = []
    if offsets.step == lay.sym.size:  # the usual packed table: one C-level unpack of all entries
        entries = lay.sym.iter_unpack(blob[offsets.start:offsets.start + len(offsets) * offsets.step])
    else:
        entries = (lay.sym.unpack_from(blob, off) for off in offsets)
    kinds = STT_NAMES
    for e in entries:
        if is64:
            st_name, info, _other, shndx, value, size = e
        else:
            st_name, value, size, info, _other, shndx = e
        if st_name == 0 or shndx == SHN_UNDEF:
            continue
        stt = info & 0xF
        if stt in (3, 4, 6) or (shndx == SHN_ABS and stt != 2):
            continue  # sections, files, TLS offsets and absolute constants are not code names
        end = find(b"\0", st_name)
        name = strings[st_name:end if end >= 0 else len(strings)].decode("utf-8", "replace")
        if not name or name[0] == "$" or name.startswith(".L"):
            continue  # mapping symbols ($x, $d) and assembler locals are not names of code
        out.append(Symbol(value, name, kinds.get(stt) or f"TYPE{stt}", size, info >> 4 != 0))
    return out


def _relative_relocs(blob: bytes, lay: _Layout, sec: _Section, sections: list[_Section],
                     problems: list[str]) -> dict[int, int]:
    offsets = _table(blob, sec, lay.rela.size, "relocations", problems)
    out: dict[int, int] = {}
    if offsets is None:
        return out
    offsets = offsets[:MAX_RELOCS]
    mask = (1 << lay.bits) - 1
    shift, type_mask = (32, 0xFFFFFFFF) if lay.bits == 64 else (8, 0xFF)
    symtab = sections[sec.link] if 0 <= sec.link < len(sections) else None
    unpack = lay.rela.unpack_from
    sym_unpack = lay.sym.unpack_from
    for off in offsets:
        r_offset, r_info, addend = unpack(blob, off)
        rtype = r_info & type_mask
        if rtype == R_RISCV_RELATIVE:
            out[r_offset] = addend & mask
        elif rtype in (R_RISCV_64, R_RISCV_32) and r_info >> shift and symtab is not None:
            sym_off = symtab.offset + (r_info >> shift) * (symtab.entsize or lay.sym.size)
            if sym_off + lay.sym.size > min(len(blob), symtab.offset + symtab.size):
                continue
            if lay.bits == 64:
                _n, _i, _o, shndx, value, _s = sym_unpack(blob, sym_off)
            else:
                _n, value, _s, _i, _o, shndx = sym_unpack(blob, sym_off)
            if shndx != SHN_UNDEF:
                out[r_offset] = (value + addend) & mask
    return out


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data):
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos
        if shift > 63:
            break
    raise ValueError("bad ULEB128")


def _arch_attribute(data: bytes) -> str | None:
    """Tag_RISCV_arch (5) from a .riscv.attributes section (the ELF "A" attribute format)."""
    try:
        if not data or data[0] != 0x41:  # 'A'
            return None
        pos = 1
        while pos + 4 <= len(data):
            sub_len = int.from_bytes(data[pos:pos + 4], "little")
            sub_end = min(pos + sub_len, len(data))
            name_end = data.index(b"\0", pos + 4)
            vendor = data[pos + 4:name_end]
            q = name_end + 1
            if vendor == b"riscv":
                while q < sub_end:
                    tag, q = _uleb(data, q)
                    size = int.from_bytes(data[q:q + 4], "little")
                    end = min(q - 1 + size, sub_end) if size else sub_end
                    q += 4
                    if tag == 1:  # Tag_File: tag/value pairs follow
                        while q < end:
                            t, q = _uleb(data, q)
                            if t == 5 or (t >= 32 and t % 2 == 1):
                                z = data.index(b"\0", q)
                                if t == 5:
                                    return data[q:z].decode("ascii", "replace")
                                q = z + 1
                            else:
                                _, q = _uleb(data, q)
                    else:
                        q = end
            if sub_len == 0:
                break
            pos += sub_len
    except (ValueError, IndexError):
        return None
    return None
