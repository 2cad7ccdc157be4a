"""A RISC-V ELF image as the hart sees it: code bytes, symbols, the ISA profile, and which
addresses are instruction starts.

``load_image(path)`` reads the ELF (pyelftools, imported lazily), takes the ISA from
``.riscv.attributes`` (``Tag_RISCV_arch``), and ``RiscvImage.walk()`` follows control flow by
recursive descent from the entry point and every function symbol (plus any extra roots, such as
resolved trap vectors). Reachability — not mapping symbols — decides what is code, so a
``.2byte`` that is executed counts (DESIGN.md §4).

``RiscvImage.describe_address(addr)`` answers the crash-triage question for an mepc/mtval: is
it an instruction start, the middle of an instruction, what does the hart decode there, which
symbol is nearest. :meth:`RiscvImage.inspect` returns the same facts as a dataclass.
"""

from __future__ import annotations

import bisect
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from hvcheck.errors import InputError
from hvcheck.inputs import read_capped
from hvcheck.riscv import rvc
from hvcheck.riscv.decode import (
    K_BRANCH,
    K_CALL,
    K_ICALL,
    K_IJUMP,
    K_JUMP,
    K_NORMAL,
    K_RETURN,
    K_TRAP,
    TVEC_CSRS,
    Insn,
    decode_at,
    insn_length,
    pretty,
)
from hvcheck.riscv.rvc import Decoded16, Profile

EM_RISCV = 243
MAX_FILE = 1 << 30  # refuse to read ELF files above 1 GiB (bounded memory)
_RETURNS = frozenset({0x10200073, 0x30200073, 0x70200073, 0x7B200073, 0x00200073})  # sret mret mnret dret uret
R_RISCV_64, R_RISCV_RELATIVE, R_RISCV_32 = 2, 3, 1


@dataclass
class CodeRegion:
    start: int
    data: bytes
    name: str

    @property
    def end(self) -> int:
        return self.start + len(self.data)


@dataclass
class Symbol:
    addr: int
    name: str
    kind: str  # FUNC, NOTYPE, OBJECT, ...
    size: int
    is_global: bool


@dataclass
class AddressInfo:
    """What is at an address, as the hart would fetch it."""

    addr: int
    section: str | None
    in_code: bool
    is_start: bool = False
    reachable: bool = False
    insn_start: int | None = None  # start of the instruction containing addr (linear view)
    insn_length: int | None = None
    insn_text: str | None = None
    halfword: int | None = None  # what the hart reads at addr
    reads_class: str | None = None  # rvc class of that halfword (or "32-bit"/"unknown")
    reads_text: str | None = None
    reads_reason: str = ""
    symbol: str | None = None  # "name+0xoff"
    exact_symbol: str | None = None  # a symbol exactly at addr

    @property
    def mid_instruction(self) -> bool:
        return self.insn_start is not None and self.insn_start != self.addr


@dataclass
class BadEncoding:
    addr: int
    halfword: int
    cls: str
    reason: str
    root: int


@dataclass
class RiscvImage:
    path: str
    xlen: int
    profile: Profile
    isa_string: str | None
    isa_source: str
    entry: int
    elf_type: str
    regions: list[CodeRegion]
    segments: list[tuple[int, bytes, bool]]  # (vaddr, file bytes, writable)
    symbols: list[Symbol]
    relocs: dict[int, int]
    has_symtab: bool
    problems: list[str] = field(default_factory=list)  # unreadable parts (become E001)
    writable_sections: list[tuple[int, int]] | None = None  # [start, end) of SHF_WRITE sections
    # walk results
    starts: dict[int, int] = field(default_factory=dict)
    targets: dict[int, list[int]] = field(default_factory=dict)  # jump/branch target -> sources
    callers: dict[int, list[int]] = field(default_factory=dict)
    tvec_sites: list[int] = field(default_factory=list)
    bad: list[BadEncoding] = field(default_factory=list)
    padding: list[tuple[int, int]] = field(default_factory=list)
    unknown_long: list[int] = field(default_factory=list)
    roots_walked: set[int] = field(default_factory=set)
    indirect_jumps: list[int] = field(default_factory=list)  # jr/jalr x0 with an unknown target
    linear: dict[int, int] = field(default_factory=dict)  # instruction starts found only by sweep()
    linear_tvec_sites: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.symbols.sort(key=lambda s: (s.addr, s.kind != "FUNC", not s.is_global, s.name))
        self._sym_addrs = [s.addr for s in self.symbols]
        self._sym_at: dict[int, Symbol] = {}
        for s in self.symbols:
            self._sym_at.setdefault(s.addr, s)
        self.regions.sort(key=lambda r: r.start)
        self._region_starts = [r.start for r in self.regions]
        self._sorted_starts: list[int] | None = None
        self._decoded: dict[int, Decoded16 | Insn | None] = {}

    # ---------------------------------------------------------------- lookups
    def region_of(self, addr: int) -> CodeRegion | None:
        i = bisect.bisect_right(self._region_starts, addr) - 1
        if i >= 0 and addr < self.regions[i].end:
            return self.regions[i]
        return None

    def symbol_at(self, addr: int) -> Symbol | None:
        return self._sym_at.get(addr)

    def nearest_symbol(self, addr: int) -> str | None:
        """``name+0xoff`` for the closest symbol at or below addr (None when there is none)."""
        i = bisect.bisect_right(self._sym_addrs, addr) - 1
        if i < 0:
            return None
        s = self._sym_at[self._sym_addrs[i]]
        off = addr - s.addr
        return s.name if off == 0 else f"{s.name}+0x{off:x}"

    def next_symbol(self, addr: int, within: int = 256) -> Symbol | None:
        """The first symbol strictly above addr, if it is at most ``within`` bytes away."""
        i = bisect.bisect_right(self._sym_addrs, addr)
        if i < len(self._sym_addrs) and self._sym_addrs[i] - addr <= within:
            return self._sym_at[self._sym_addrs[i]]
        return None

    def where(self, addr: int) -> str:
        sym = self.nearest_symbol(addr)
        return f"0x{addr:x} <{sym}>" if sym else f"0x{addr:x}"

    def read(self, addr: int, size: int) -> tuple[int, bool] | None:
        """Little-endian integer from the loaded image (file bytes only) and whether that memory
        is writable (its initial value may change at run time). Dynamic relocations win."""
        for vaddr, data, writable in self.segments:
            if vaddr <= addr and addr + size <= vaddr + len(data):
                off = addr - vaddr
                if self.writable_sections is not None:  # sections are finer than an RWX segment
                    writable = any(a <= addr < e for a, e in self.writable_sections)
                if addr in self.relocs and size == self.xlen // 8:
                    return self.relocs[addr], writable
                return int.from_bytes(data[off:off + size], "little"), writable
        return None

    def decode(self, addr: int) -> Decoded16 | Insn | None:
        cache = self._decoded
        if addr in cache:
            return cache[addr]
        region = self.region_of(addr)
        insn = None if region is None else decode_at(region.data, addr - region.start, self.profile)
        cache[addr] = insn
        return insn

    def halfword(self, addr: int) -> int | None:
        region = self.region_of(addr)
        if region is None or addr + 2 > region.end:
            return None
        off = addr - region.start
        return region.data[off] | region.data[off + 1] << 8

    # ---------------------------------------------------------------- walking
    def default_roots(self) -> list[int]:
        roots = [self.entry] if self.region_of(self.entry) else []
        roots += [s.addr for s in self.symbols if s.kind == "FUNC" and self.region_of(s.addr)]
        return roots

    def walk(self, roots: Iterable[int] | None = None) -> None:
        """Recursive descent from ``roots`` (default: entry point and function symbols).
        Can be called again with more roots; already decoded instructions are kept."""
        todo = list(self.default_roots() if roots is None else roots)
        kinds = kind_table(self.profile)
        starts = self.starts
        targets = self.targets
        callers = self.callers
        self._sorted_starts = None
        for root in todo:
            if root in self.roots_walked:
                continue
            self.roots_walked.add(root)
            stack = [root]
            while stack:
                pc = stack.pop()
                region = self.region_of(pc)
                if region is None:
                    continue
                data = region.data
                base = region.start
                size = len(data)
                prev_pc = -1
                prev_word = 0
                prev_call = -1  # address right after the last call (for the padding heuristic)
                while pc not in starts:
                    off = pc - base
                    if off < 0 or off + 2 > size:
                        break
                    hw = data[off] | data[off + 1] << 8
                    if hw & 3 != 3:
                        k = kinds[hw]
                        if k == K_NORMAL:
                            starts[pc] = 2
                            pc += 2
                            continue
                        if k == K_TRAP:
                            if hw == 0 and self._is_padding(data, off, base, size, prev_call == pc):
                                self.padding.append((pc, self._zero_run_end(data, off, base, size)))
                                break
                            starts[pc] = 2
                            d = rvc.decode16(hw, self.profile)
                            self.bad.append(BadEncoding(pc, hw, d.cls, d.reason, root))
                            pc += 2  # keep going: a core that does not trap runs on
                            continue
                        starts[pc] = 2
                        if k == K_JUMP:
                            t = pc + rvc._cj_imm(hw)
                            targets.setdefault(t, []).append(pc)
                            stack.append(t)
                            break
                        if k == K_CALL:
                            t = pc + rvc._cj_imm(hw)
                            callers.setdefault(t, []).append(pc)
                            stack.append(t)
                            prev_call = pc + 2
                        elif k == K_ICALL:
                            prev_call = pc + 2
                        elif k == K_BRANCH:
                            t = pc + rvc._cb_imm(hw)
                            targets.setdefault(t, []).append(pc)
                            stack.append(t)
                        elif k == K_IJUMP:
                            if (hw >> 7) & 0x1F != 1:  # c.jr ra is a return, not a dispatch
                                self.indirect_jumps.append(pc)
                            break
                        elif k == K_RETURN:
                            break
                        pc += 2
                        prev_pc = -1
                        continue
                    if hw & 0x1C == 0x1C:  # 48-bit or longer: not decoded, length is known
                        n = insn_length(hw)
                        self.unknown_long.append(pc)
                        if n == 0:
                            break
                        starts[pc] = n
                        pc += n
                        continue
                    if off + 4 > size:
                        break
                    w = hw | data[off + 2] << 16 | data[off + 3] << 24
                    starts[pc] = 4
                    opc = w & 0x7F
                    if opc == 0x6F:  # jal
                        imm = (((w >> 31) & 1) << 20 | ((w >> 12) & 0xFF) << 12 | ((w >> 20) & 1) << 11
                               | ((w >> 21) & 0x3FF) << 1)
                        t = pc + (imm - (1 << 21) if imm & (1 << 20) else imm)
                        stack.append(t)
                        if (w >> 7) & 0x1F == 0:
                            targets.setdefault(t, []).append(pc)
                            break
                        callers.setdefault(t, []).append(pc)
                        prev_call = pc + 4
                    elif opc == 0x67:  # jalr: resolve auipc/lui + jalr (call/tail), else indirect
                        rd = (w >> 7) & 0x1F
                        rs1 = (w >> 15) & 0x1F
                        if prev_pc == pc - 4 and (prev_word >> 7) & 0x1F == rs1 and rs1 != 0 \
                                and prev_word & 0x5F == 0x17:  # auipc (0x17) or lui (0x37)
                            hi = prev_word & 0xFFFFF000
                            hi = hi - (1 << 32) if hi & 0x80000000 else hi
                            lo = w >> 20
                            lo = lo - 4096 if lo & 0x800 else lo
                            t = (prev_pc if prev_word & 0x7F == 0x17 else 0) + hi + lo
                            t &= (1 << self.xlen) - 1
                            stack.append(t)
                            if rd == 0:
                                targets.setdefault(t, []).append(pc)
                            else:
                                callers.setdefault(t, []).append(pc)
                        elif rd == 0 and rs1 != 1:
                            self.indirect_jumps.append(pc)
                        if rd == 0:
                            break
                        prev_call = pc + 4
                    elif opc == 0x63:
                        imm = (((w >> 31) & 1) << 12 | ((w >> 7) & 1) << 11 | ((w >> 25) & 0x3F) << 5
                               | ((w >> 8) & 0xF) << 1)
                        t = pc + (imm - (1 << 13) if imm & (1 << 12) else imm)
                        targets.setdefault(t, []).append(pc)
                        stack.append(t)
                    elif opc == 0x73:
                        f3 = (w >> 12) & 7
                        if f3 == 0:
                            if w in _RETURNS:
                                break
                        elif f3 != 4 and (w >> 20) in TVEC_CSRS:
                            self.tvec_sites.append(pc)
                    prev_pc = pc
                    prev_word = w
                    pc += 4

    def sweep(self) -> None:
        """Linear decode of the code the walk did not reach (stripped images reach only part of
        their code: indirect calls). Finds trap-vector writes there so none is ever dropped;
        these instructions are not "reachable" and never give R005."""
        starts = self.starts
        linear = self.linear
        for region in self.regions:
            data = region.data
            base = region.start
            size = len(data)
            pc = base
            while pc + 2 <= base + size:
                n = starts.get(pc)
                if n:
                    pc += n
                    continue
                off = pc - base
                hw = data[off] | data[off + 1] << 8
                n = insn_length(hw) or 2
                linear[pc] = n
                if n == 4 and hw & 0x7F == 0x73 and off + 4 <= size:
                    w = hw | data[off + 2] << 16 | data[off + 3] << 24
                    if (w >> 12) & 7 not in (0, 4) and (w >> 20) in TVEC_CSRS:
                        self.linear_tvec_sites.append(pc)
                pc += n

    def _zero_run_end(self, data: bytes, off: int, base: int, size: int) -> int:
        end = off
        while end + 2 <= size and data[end] == 0 and data[end + 1] == 0:
            end += 2
        return base + end

    def _is_padding(self, data: bytes, off: int, base: int, size: int, after_call: bool) -> bool:
        """A run of 0x0000 (optionally followed by nops, as GAS's alignment fill emits after a
        call to a noreturn function) that reaches the end of the section or a symbol is padding;
        so is one right after a call that ends on a 4-byte boundary (the callee does not return
        and the next, unnamed, function starts there)."""
        end = self._zero_run_end(data, off, base, size) - base
        if after_call and (base + end) % 4 == 0:
            return True
        while end + 2 <= size:
            if data[end] == 0x01 and data[end + 1] == 0:  # c.nop
                end += 2
            elif data[end:end + 4] == b"\x13\x00\x00\x00":  # nop
                end += 4
            else:
                break
        return end >= size or base + end in self._sym_at

    # ---------------------------------------------------------------- addresses
    def sorted_starts(self) -> list[int]:
        if self._sorted_starts is None:
            self._sorted_starts = sorted(self.starts)
        return self._sorted_starts

    def inspect(self, addr: int) -> AddressInfo:
        """Facts about ``addr``: section, instruction boundary (reachable decode first, then a
        linear sweep from the nearest symbol or known instruction), what the hart reads."""
        if not self.starts:
            self.walk()
        if not self.linear:
            self.sweep()
        region = self.region_of(addr)
        sym = self.nearest_symbol(addr)
        exact = self.symbol_at(addr)
        info = AddressInfo(addr, region.name if region else self._section_name(addr), region is not None,
                           symbol=sym, exact_symbol=exact.name if exact else None)
        if region is None:
            return info
        start, length, reachable = self._containing(addr, region)
        info.insn_start = start
        info.insn_length = length
        info.is_start = start == addr
        info.reachable = reachable
        if start is not None:
            insn = decode_at(region.data, start - region.start, self.profile)
            info.insn_text = pretty(insn) if insn is not None else None
        hw = self.halfword(addr)
        if hw is not None:
            info.halfword = hw
            insn = self.decode(addr)
            if hw & 3 != 3:
                d = rvc.decode16(hw, self.profile)
                info.reads_class = d.cls
                info.reads_text = d.text() if d.name else f".2byte 0x{hw:04x}"
                info.reads_reason = d.reason
            elif insn is not None:
                info.reads_class = "valid" if insn.cls == "valid" else "unknown"
                info.reads_text = pretty(insn)
                info.reads_reason = insn.reason
            else:
                info.reads_class = "truncated"
                info.reads_text = "(the instruction runs past the end of the section)"
        return info

    def _containing(self, addr: int, region: CodeRegion) -> tuple[int | None, int | None, bool]:
        starts = self.starts
        if addr in starts:
            return addr, starts[addr], True
        for back in (2, 4, 6):
            s = addr - back
            if s in starts and starts[s] > back:
                return s, starts[s], True
        linear = self.linear
        if addr in linear:
            return addr, linear[addr], False
        for back in (2, 4, 6):
            s = addr - back
            if s in linear and linear[s] > back:
                return s, linear[s], False
        # linear sweep from the nearest anchor: a reachable instruction start or a symbol
        ss = self.sorted_starts()
        i = bisect.bisect_right(ss, addr) - 1
        anchor = region.start
        if i >= 0 and ss[i] >= region.start:
            anchor = max(anchor, ss[i])
        j = bisect.bisect_right(self._sym_addrs, addr) - 1
        if j >= 0 and self._sym_addrs[j] >= region.start:
            anchor = max(anchor, self._sym_addrs[j])
        anchor = max(anchor, addr - 65536)
        anchor += (anchor - region.start) & 1
        pos = anchor
        data = region.data
        while True:
            off = pos - region.start
            if off + 2 > len(data):
                return None, None, False
            n = starts.get(pos) or insn_length(data[off] | data[off + 1] << 8) or 2
            if pos + n > addr:
                return pos, n, False
            pos += n

    def _section_name(self, addr: int) -> str | None:
        for vaddr, data, _ in self.segments:
            if vaddr <= addr < vaddr + len(data):
                return "(data)"
        return None

    def describe_address(self, addr: int) -> str:
        """One or two sentences for a human: e.g. "0x8000007c is inside the 4-byte nop at
        0x8000007a <_start+0x7a>; the hart reads 0x0000 (c.unimp), an illegal instruction"."""
        info = self.inspect(addr)
        where = f" <{info.symbol}>" if info.symbol else ""
        if not info.in_code:
            what = "data" if info.section else "no loaded section"
            return f"0x{addr:x}{where} is not in any executable section ({what})"
        if info.insn_start is None:
            return f"0x{addr:x}{where} is at the end of section {info.section}; nothing to decode"
        reads = _reads_phrase(info)
        if info.mid_instruction:
            at = self.where(info.insn_start)
            return (f"0x{addr:x} is inside the {info.insn_length}-byte {info.insn_text} at {at}; "
                    f"the hart reads {reads}")
        how = "a reachable instruction start" if info.reachable else "an instruction start (linear decode)"
        return f"0x{addr:x}{where} is {how}: the hart reads {reads}"


def _reads_phrase(info: AddressInfo) -> str:
    hw = info.halfword
    if hw is None:
        return "nothing (end of section)"
    if info.reads_class == "illegal":
        return f"0x{hw:04x} ({info.reads_text}), an illegal instruction"
    if info.reads_class == "reserved":
        return f"0x{hw:04x} ({info.reads_text}), a reserved encoding: {info.reads_reason}"
    if info.reads_class == "hint":
        return f"0x{hw:04x} ({info.reads_text}), a HINT that executes as a no-op"
    if info.reads_class in ("valid",) and hw & 3 != 3:
        return f"0x{hw:04x} and executes {info.reads_text}"
    return f"{info.reads_text}"


@lru_cache(maxsize=8)
def kind_table(profile: Profile) -> bytes:
    """Control-flow kind of every halfword (the walker's fast path), cached on disk."""
    return rvc.cached_table("rvc-kind", profile, _build_kind_table, __file__)


def _build_kind_table(profile: Profile) -> bytes:
    out = bytearray(65536)
    for hw in range(65536):
        if hw & 3 == 3:
            continue
        d = rvc.decode16(hw, profile)
        if d.cls in (rvc.RESERVED, rvc.ILLEGAL):
            out[hw] = K_TRAP
        elif d.op == "jal":
            out[hw] = K_JUMP if d.rd == 0 else K_CALL
        elif d.op in ("beq", "bne"):
            out[hw] = K_BRANCH
        elif d.op in ("jalr", "jt"):
            out[hw] = K_IJUMP if d.rd == 0 or d.op == "jt" else K_ICALL
        elif d.op == "jalt":
            out[hw] = K_ICALL
        elif d.op == "ret":
            out[hw] = K_RETURN
    return bytes(out)


# ---------------------------------------------------------------------------- loading

def load_image(path: str | os.PathLike[str]) -> RiscvImage:
    """Read a RISC-V ELF. Raises InputError for anything that is not a readable RISC-V ELF with
    at least one code section; damaged parts that leave the rest checkable go to ``problems``."""
    p = os.fspath(path)
    blob = read_capped(p, MAX_FILE, "RISC-V ELF files")
    if blob[:4] != b"\x7fELF":
        raise InputError(p, "not an ELF file (no \\x7fELF magic); raw images (.bin) have no symbols, entry "
                            "point or ISA attributes: pass the ELF the build produced (e.g. uboot.elf)")
    if len(blob) < 52:
        raise InputError(p, f"truncated ELF header ({len(blob)} bytes)")
    import io

    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(blob))
        machine = elf.header["e_machine"]
    except (ELFError, struct.error, ValueError, OverflowError, KeyError) as exc:
        raise InputError(p, f"invalid ELF header: {exc}") from None
    if machine != "EM_RISCV" and machine != EM_RISCV:
        raise InputError(p, f"not a RISC-V ELF (e_machine is {machine}); hvcheck riscv checks RISC-V images only")
    xlen = 64 if elf.elfclass == 64 else 32
    if not elf.little_endian:
        raise InputError(p, "big-endian RISC-V ELF is not supported")
    problems: list[str] = []
    regions: list[CodeRegion] = []
    segments: list[tuple[int, bytes, bool]] = []
    isa_string: str | None = None
    has_symtab = False
    symbols: list[Symbol] = []
    relocs: dict[int, int] = {}
    writable: list[tuple[int, int]] = []

    try:
        sections = list(elf.iter_sections())
    except (ELFError, struct.error, ValueError, OverflowError, OSError) as exc:
        problems.append(f"section headers unreadable: {exc}")
        sections = []

    for sec in sections:
        try:
            name = sec.name
            flags = sec["sh_flags"]
            stype = sec["sh_type"]
        except (ELFError, struct.error, ValueError, OverflowError, OSError, UnicodeDecodeError) as exc:
            problems.append(f"a section header is unreadable: {exc}")
            continue
        if flags & 0x2 and stype != "SHT_NULL":  # SHF_ALLOC
            if flags & 0x1:  # SHF_WRITE
                writable.append((sec["sh_addr"], sec["sh_addr"] + sec["sh_size"]))
        if stype == "SHT_NOBITS":
            continue
        off, sz = sec["sh_offset"], sec["sh_size"]
        if stype != "SHT_NULL" and sz and off + sz > len(blob):
            problems.append(f"section {name} is truncated: needs bytes [{off:#x}, {off + sz:#x}) but the "
                            f"file has {len(blob):#x}")
            continue
        if flags & 0x4 and flags & 0x2 and stype == "SHT_PROGBITS" and sz:  # SHF_EXECINSTR | SHF_ALLOC
            regions.append(CodeRegion(sec["sh_addr"], blob[off:off + sz], name))
        if stype == "SHT_RISCV_ATTRIBUTES" or name == ".riscv.attributes":
            isa_string = _arch_attribute(blob[off:off + sz]) or isa_string
        if stype in ("SHT_SYMTAB", "SHT_DYNSYM"):
            if stype == "SHT_SYMTAB":
                has_symtab = True
            try:
                symbols += _symbols(sec)
            except (ELFError, struct.error, ValueError, OverflowError, OSError, UnicodeDecodeError,
                    AttributeError, TypeError, IndexError, KeyError) as exc:
                problems.append(f"symbol table {name} is unreadable: {exc}")
        if stype == "SHT_RELA" and name.startswith(".rela.dyn"):
            try:
                relocs.update(_relative_relocs(sec, elf, xlen))
            except (ELFError, struct.error, ValueError, OverflowError, OSError, AttributeError, TypeError,
                    IndexError, KeyError) as exc:
                problems.append(f"relocations {name} are unreadable: {exc}")

    try:
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD":
                continue
            off, fsz = seg["p_offset"], seg["p_filesz"]
            if off + fsz > len(blob):
                problems.append(f"a PT_LOAD segment at {seg['p_vaddr']:#x} is truncated")
                fsz = max(0, len(blob) - off)
            data = blob[off:off + fsz]
            segments.append((seg["p_vaddr"], data, bool(seg["p_flags"] & 2)))
            if not sections and seg["p_flags"] & 1 and data:  # no section headers: executable segments
                regions.append(CodeRegion(seg["p_vaddr"], data, f"segment@{seg['p_vaddr']:#x}"))
    except (ELFError, struct.error, ValueError, OverflowError, OSError) as exc:
        problems.append(f"program headers unreadable: {exc}")

    if not regions:
        why = "; ".join(problems) if problems else "no executable section or segment"
        raise InputError(p, f"nothing to check: {why}")

    # dedupe symbols (symtab and dynsym often repeat)
    seen: set[tuple[int, str]] = set()
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
        flags = elf.header["e_flags"]
        has_c = bool(flags & 1)
        profile = Profile(xlen, c=has_c)  # the float ABI does not say whether F/D exist: assume them
        source = f"e_flags (no .riscv.attributes): RV{xlen}{'C' if has_c else ''}, F/D assumed"
    return RiscvImage(p, xlen, profile, isa_string, source, elf.header["e_entry"], elf.header["e_type"],
                      regions, segments, uniq, relocs, has_symtab, problems,
                      writable_sections=writable if sections else None)


def _symbols(sec) -> list[Symbol]:  # noqa: ANN001 - pyelftools section
    out = []
    for sym in sec.iter_symbols():
        name = sym.name
        if not name or name.startswith("$") or name.startswith(".L"):
            continue  # mapping symbols ($x, $d) and assembler locals are not names of code
        shndx = sym["st_shndx"]
        if shndx == "SHN_UNDEF" or shndx == "SHN_ABS" and sym["st_info"]["type"] != "STT_FUNC":
            continue
        stt = sym["st_info"]["type"]
        kind = stt.replace("STT_", "") if isinstance(stt, str) else f"TYPE{stt}"  # unknown types are ints
        if kind in ("SECTION", "FILE", "TLS"):
            continue
        out.append(Symbol(sym["st_value"], name, kind, sym["st_size"], sym["st_info"]["bind"] != "STB_LOCAL"))
    return out


def _relative_relocs(sec, elf, xlen: int) -> dict[int, int]:  # noqa: ANN001
    out: dict[int, int] = {}
    symtab = None
    for i, rel in enumerate(sec.iter_relocations()):
        if i > 2_000_000:
            break
        t = rel["r_info_type"]
        if t == R_RISCV_RELATIVE:
            out[rel["r_offset"]] = rel["r_addend"] & ((1 << xlen) - 1)
        elif t in (R_RISCV_64, R_RISCV_32) and rel["r_info_sym"]:
            if symtab is None:
                symtab = elf.get_section(sec["sh_link"])
            sym = symtab.get_symbol(rel["r_info_sym"])
            if sym["st_shndx"] != "SHN_UNDEF":
                out[rel["r_offset"]] = (sym["st_value"] + rel["r_addend"]) & ((1 << xlen) - 1)
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
