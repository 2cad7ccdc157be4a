"""Spec-exact classifier and decoder for the 16-bit (RVC) encoding space.

Written from the Unprivileged ISA, chapter "C" Standard Extension (U-2019 ch. 16; U-2024
`c-st-ext.adoc`, `zc.adoc`, `zimop.adoc`), not from another disassembler: capstone and
objdump both disagree with the spec in reserved space (DESIGN.md §4,
/work/shared/reference/riscv-rvc-encodings.md).

Every halfword gets one class:

=================  ==========================================================================
``valid``          a defined instruction for the profile
``hint``           an RVC HINT code point (executes as a no-op; must never be flagged)
``reserved``       RES / custom (NSE) code points, and slots that do not exist for this XLEN
``illegal``        0x0000 (defined illegal), or an F/D encoding on a profile without F/D
``not-compressed`` bits[1:0] == 11: the first halfword of a 32-bit (or longer) instruction
=================  ==========================================================================

Extensions that reuse reserved space (Zcb, Zcmop, Zcmp, Zcmt) turn the code points they define
into ``valid`` when the profile has them (read from the ELF's ``Tag_RISCV_arch``); without them
those code points stay ``reserved`` and the reason names the extension that would define them.

Public API: :func:`classify16`, :func:`decode16`, :class:`Profile`, :func:`class_table`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

VALID = "valid"
HINT = "hint"
RESERVED = "reserved"
ILLEGAL = "illegal"
NOT_COMPRESSED = "not-compressed"
CLASSES = (VALID, HINT, RESERVED, ILLEGAL, NOT_COMPRESSED)

ABI_NAMES = (
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
    "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
    "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
    "t3", "t4", "t5", "t6",
)
FP_NAMES = tuple(
    [f"ft{i}" for i in range(8)] + ["fs0", "fs1"] + [f"fa{i}" for i in range(8)]
    + [f"fs{i}" for i in range(2, 12)] + [f"ft{i}" for i in range(8, 12)]
)

Z_EXTENSIONS = frozenset({"zcb", "zcmop", "zcmp", "zcmt"})


@dataclass(frozen=True)
class Profile:
    """The target ISA as far as the 16-bit space cares: XLEN, F/D, and the Zc* extensions."""

    xlen: int = 64
    f: bool = True
    d: bool = True
    zcb: bool = False
    zcmop: bool = False
    zcmp: bool = False
    zcmt: bool = False
    c: bool = True

    def __post_init__(self) -> None:
        if self.xlen not in (32, 64):
            raise ValueError(f"xlen must be 32 or 64, not {self.xlen}")

    @classmethod
    def from_extensions(cls, xlen: int = 64, extensions: frozenset[str] | set[str] = frozenset()) -> Profile:
        """RV{xlen}GC plus the named Z extensions (``zcb``, ``zcmop``, ``zcmp``, ``zcmt``).

        ``no-f``/``no-d`` remove F/D (for profiles such as RV64IMAC)."""
        ext = {e.lower() for e in extensions}
        unknown = ext - Z_EXTENSIONS - {"no-f", "no-d"}
        if unknown:
            raise ValueError(f"unknown extension(s) {sorted(unknown)}; known: {sorted(Z_EXTENSIONS)}")
        has_f = "no-f" not in ext
        has_d = has_f and "no-d" not in ext
        return cls(xlen, has_f, has_d, "zcb" in ext, "zcmop" in ext, "zcmp" in ext, "zcmt" in ext)

    @classmethod
    def from_isa_string(cls, isa: str, xlen: int | None = None) -> Profile:
        """Parse an ISA string such as ``rv64i2p1_m2p0_a2p1_f2p2_d2p2_c2p0_zicsr2p0_zcb1p0``."""
        text = isa.strip().lower()
        m = re.match(r"rv(32|64|128)([a-z0-9]*)", text)
        if not m:
            raise ValueError(f"not a RISC-V ISA string: {isa!r}")
        isa_xlen = int(m.group(1))
        if isa_xlen == 128:
            raise ValueError("RV128 is not supported")
        letters: set[str] = set()
        multi: set[str] = set()
        for part in text[m.start(2):].split("_"):
            if not part:
                continue
            if part[0] in "zsx":  # multi-letter extension, e.g. zicsr2p0
                multi.add(re.sub(r"\d+(p\d+)?$", "", part))
            else:  # single letters with optional versions: "i2p1m2p0" or "imafdc"
                letters |= set(re.sub(r"\d+(p\d+)?", "", part))
        if "g" in letters:
            letters |= set("imafd")
        # Zca/Zcf/Zcd are the pieces of C; an ISA string may name them instead of "c".
        has_c = "c" in letters or "zca" in multi
        has_f = "f" in letters or "d" in letters
        has_d = "d" in letters
        if xlen is not None and xlen != isa_xlen:
            raise ValueError(f"ISA string says RV{isa_xlen} but the ELF class says {xlen}-bit")
        return cls(isa_xlen, has_f, has_d, "zcb" in multi, "zcmop" in multi, "zcmp" in multi,
                   "zcmt" in multi, has_c)

    def name(self) -> str:
        s = f"RV{self.xlen}IMA" + ("F" if self.f else "") + ("D" if self.d else "") + ("C" if self.c else "")
        extra = [z for z in ("zcb", "zcmop", "zcmp", "zcmt") if getattr(self, z)]
        return "_".join([s, *[e.capitalize() for e in extra]])


RV64GC = Profile(64)
RV32GC = Profile(32)


class Decoded16:
    """One decoded halfword. ``op`` is the base-ISA operation it expands to (``c.li`` -> ``addi``
    with rs1=x0), so constant propagation and control flow treat both sizes alike."""

    __slots__ = ("hw", "cls", "name", "op", "rd", "rs1", "rs2", "imm", "reason", "ops", "fp")
    length = 2

    def __init__(self, hw: int, cls: str, name: str, op: str = "", rd: int | None = None,
                 rs1: int | None = None, rs2: int | None = None, imm: int | None = None,
                 reason: str = "", ops: str = "", fp: bool = False) -> None:
        self.hw = hw
        self.cls = cls
        self.name = name
        self.op = op
        self.rd = rd
        self.rs1 = rs1
        self.rs2 = rs2
        self.imm = imm
        self.reason = reason
        self.ops = ops  # operand layout: letters d (rd), s (rs1), t (rs2), i (imm), m (mem)
        self.fp = fp

    def text(self) -> str:
        """Assembly text with ABI register names, e.g. ``c.addi t0, 18``."""
        if self.cls in (RESERVED, ILLEGAL) and not self.ops:
            return f"{self.name}" if self.name else f".2byte 0x{self.hw:04x}"
        reg = FP_NAMES if self.fp else ABI_NAMES
        out: list[str] = []
        for letter in self.ops:
            if letter == "d":
                out.append(reg[self.rd] if self.rd is not None else "?")
            elif letter == "D":  # integer rd even in an FP-flagged insn (never used) / sp-relative
                out.append(ABI_NAMES[self.rd or 0])
            elif letter == "s":
                out.append(ABI_NAMES[self.rs1 or 0])
            elif letter == "t":
                out.append(reg[self.rs2 or 0])
            elif letter == "i":
                out.append(str(self.imm))
            elif letter == "m":
                out.append(f"{self.imm}({ABI_NAMES[self.rs1 or 0]})")
            elif letter == "x":  # hex immediate (lui)
                out.append(hex(self.imm or 0))
        return f"{self.name} {', '.join(out)}".strip()

    def __repr__(self) -> str:
        return f"Decoded16(0x{self.hw:04x}, {self.cls}, {self.text()!r}{', ' + self.reason if self.reason else ''})"


def sext(value: int, bits: int) -> int:
    """The low ``bits`` of ``value`` as a two's-complement signed number (shared by both decoders
    and the value propagation)."""
    sign = 1 << (bits - 1)
    return (value & (sign - 1)) - (value & sign)


def _ci_imm(hw: int) -> int:
    return sext(((hw >> 7) & 0x20) | ((hw >> 2) & 0x1F), 6)


def _cj_imm(hw: int) -> int:
    v = (((hw >> 12) & 1) << 11 | ((hw >> 11) & 1) << 4 | ((hw >> 9) & 3) << 8 | ((hw >> 8) & 1) << 10
         | ((hw >> 7) & 1) << 6 | ((hw >> 6) & 1) << 7 | ((hw >> 3) & 7) << 1 | ((hw >> 2) & 1) << 5)
    return sext(v, 12)


def _cb_imm(hw: int) -> int:
    v = (((hw >> 12) & 1) << 8 | ((hw >> 10) & 3) << 3 | ((hw >> 5) & 3) << 6 | ((hw >> 3) & 3) << 1
         | ((hw >> 2) & 1) << 5)
    return sext(v, 9)


def _rdp(hw: int) -> int:  # rd' / rs2' in bits 4:2
    return 8 + ((hw >> 2) & 7)


def _rs1p(hw: int) -> int:  # rs1' / rd' in bits 9:7
    return 8 + ((hw >> 7) & 7)


def _res(hw: int, reason: str, name: str = "") -> Decoded16:
    return Decoded16(hw, RESERVED, name, reason=reason)


def _absent(hw: int, name: str, ext: str) -> Decoded16:
    return Decoded16(hw, ILLEGAL, name, reason=f"ext-absent:{ext} ({name} needs the {ext.upper()} extension)")


def _mem(hw: int, name: str, op: str, rdrs2: int, rs1: int, imm: int, store: bool, fp: bool = False) -> Decoded16:
    if store:
        return Decoded16(hw, VALID, name, op, rs1=rs1, rs2=rdrs2, imm=imm, ops="tm", fp=fp)
    return Decoded16(hw, VALID, name, op, rd=rdrs2, rs1=rs1, imm=imm, ops="dm", fp=fp)


def _q0(hw: int, p: Profile) -> Decoded16:
    f3 = hw >> 13
    rd = _rdp(hw)
    rs1 = _rs1p(hw)
    uimm_w = ((hw >> 7) & 0x38) | ((hw >> 4) & 4) | ((hw << 1) & 0x40)
    uimm_d = ((hw >> 7) & 0x38) | ((hw << 1) & 0xC0)
    if f3 == 0:
        if hw == 0:
            return Decoded16(hw, ILLEGAL, "c.unimp", reason="all-zero halfword: defined illegal (U-2019 §1.5, §16.5)")
        nzuimm = ((hw >> 7) & 0x30) | ((hw >> 1) & 0x3C0) | ((hw >> 4) & 4) | ((hw >> 2) & 8)
        if nzuimm == 0:
            return _res(hw, "C.ADDI4SPN with nzuimm=0 is reserved (§16.5)", "c.addi4spn")
        return Decoded16(hw, VALID, "c.addi4spn", "addi", rd=rd, rs1=2, imm=nzuimm, ops="dsi")
    if f3 == 1:
        if not p.d:
            return _absent(hw, "c.fld", "d")
        return _mem(hw, "c.fld", "fld", rd, rs1, uimm_d, False, fp=True)
    if f3 == 2:
        return _mem(hw, "c.lw", "lw", rd, rs1, uimm_w, False)
    if f3 == 3:
        if p.xlen == 64:
            return _mem(hw, "c.ld", "ld", rd, rs1, uimm_d, False)
        if not p.f:
            return _absent(hw, "c.flw", "f")
        return _mem(hw, "c.flw", "flw", rd, rs1, uimm_w, False, fp=True)
    if f3 == 4:
        return _zcb_mem(hw, p)
    if f3 == 5:
        if not p.d:
            return _absent(hw, "c.fsd", "d")
        return _mem(hw, "c.fsd", "fsd", rd, rs1, uimm_d, True, fp=True)
    if f3 == 6:
        return _mem(hw, "c.sw", "sw", rd, rs1, uimm_w, True)
    if p.xlen == 64:
        return _mem(hw, "c.sd", "sd", rd, rs1, uimm_d, True)
    if not p.f:
        return _absent(hw, "c.fsw", "f")
    return _mem(hw, "c.fsw", "fsw", rd, rs1, uimm_w, True, fp=True)


def _zcb_mem(hw: int, p: Profile) -> Decoded16:
    """Quadrant 0, funct3=100: reserved in base C; Zcb's byte/halfword loads and stores."""
    funct6 = (hw >> 10) & 0x3F
    rd = _rdp(hw)
    rs1 = _rs1p(hw)
    b6 = (hw >> 6) & 1
    uimm_b = ((hw >> 5) & 1) << 1 | b6
    uimm_h = ((hw >> 5) & 1) << 1
    zcb: Decoded16 | None = None
    if funct6 == 0b100000:
        zcb = _mem(hw, "c.lbu", "lbu", rd, rs1, uimm_b, False)
    elif funct6 == 0b100001:
        zcb = _mem(hw, "c.lh" if b6 else "c.lhu", "lh" if b6 else "lhu", rd, rs1, uimm_h, False)
    elif funct6 == 0b100010:
        zcb = _mem(hw, "c.sb", "sb", rd, rs1, uimm_b, True)
    elif funct6 == 0b100011 and not b6:
        zcb = _mem(hw, "c.sh", "sh", rd, rs1, uimm_h, True)
    if zcb is not None:
        if p.zcb:
            return zcb
        return _res(hw, f"quadrant 0 funct3=100 is reserved in base C (Table 16.5); Zcb would define it as "
                        f"{zcb.name}, but the profile lacks Zcb", zcb.name)
    return _res(hw, "quadrant 0 funct3=100 is reserved (Table 16.5; not defined by Zcb either)")


def _q1(hw: int, p: Profile) -> Decoded16:
    f3 = hw >> 13
    rd = (hw >> 7) & 0x1F
    imm = _ci_imm(hw)
    if f3 == 0:
        if rd == 0:
            if imm == 0:
                return Decoded16(hw, VALID, "c.nop", "addi", rd=0, rs1=0, imm=0)
            return Decoded16(hw, HINT, "c.nop", "addi", rd=0, rs1=0, imm=imm, ops="i",
                             reason="C.NOP with nzimm!=0 is a HINT (Table 16.3)")
        if imm == 0:
            return Decoded16(hw, HINT, "c.addi", "addi", rd=rd, rs1=rd, imm=0, ops="di",
                             reason="C.ADDI with nzimm=0 is a HINT (Table 16.3)")
        return Decoded16(hw, VALID, "c.addi", "addi", rd=rd, rs1=rd, imm=imm, ops="di")
    if f3 == 1:
        if p.xlen == 32:
            return Decoded16(hw, VALID, "c.jal", "jal", rd=1, imm=_cj_imm(hw), ops="i")
        if rd == 0:
            return _res(hw, "C.ADDIW with rd=x0 is reserved (§16.5)", "c.addiw")
        return Decoded16(hw, VALID, "c.addiw", "addiw", rd=rd, rs1=rd, imm=imm, ops="di")
    if f3 == 2:
        if rd == 0:
            return Decoded16(hw, HINT, "c.li", "addi", rd=0, rs1=0, imm=imm, ops="di",
                             reason="C.LI with rd=x0 is a HINT (Table 16.3)")
        return Decoded16(hw, VALID, "c.li", "addi", rd=rd, rs1=0, imm=imm, ops="di")
    if f3 == 3:
        if rd == 2:
            nz = sext(((hw >> 3) & 0x200) | ((hw >> 2) & 0x10) | ((hw << 1) & 0x40) | ((hw << 4) & 0x180)
                       | ((hw << 3) & 0x20), 10)
            if nz == 0:
                return _res(hw, "C.ADDI16SP with nzimm=0 is reserved (§16.5)", "c.addi16sp")
            return Decoded16(hw, VALID, "c.addi16sp", "addi", rd=2, rs1=2, imm=nz, ops="di")
        if imm == 0:
            if rd & 1 and rd <= 15:
                n = rd
                if p.zcmop:
                    return Decoded16(hw, VALID, f"c.mop.{n}", "mop", reason="Zcmop may-be-operation")
                return _res(hw, f"C.LUI with nzimm=0 is reserved (§16.5); Zcmop would define it as c.mop.{n}, "
                                "but the profile lacks Zcmop", f"c.mop.{n}")
            return _res(hw, "C.LUI with nzimm=0 is reserved (§16.5)", "c.lui")
        value = imm << 12
        if rd == 0:
            return Decoded16(hw, HINT, "c.lui", "lui", rd=0, imm=value, ops="dx",
                             reason="C.LUI with rd=x0 is a HINT (Table 16.3)")
        return Decoded16(hw, VALID, "c.lui", "lui", rd=rd, imm=value, ops="dx")
    if f3 == 4:
        return _misc_alu(hw, p)
    if f3 == 5:
        return Decoded16(hw, VALID, "c.j", "jal", rd=0, imm=_cj_imm(hw), ops="i")
    rs1 = _rs1p(hw)
    name, op = ("c.beqz", "beq") if f3 == 6 else ("c.bnez", "bne")
    return Decoded16(hw, VALID, name, op, rs1=rs1, rs2=0, imm=_cb_imm(hw), ops="si")


def _misc_alu(hw: int, p: Profile) -> Decoded16:
    rd = _rs1p(hw)
    f2 = (hw >> 10) & 3
    b12 = (hw >> 12) & 1
    if f2 < 2:
        name, op = ("c.srli", "srli") if f2 == 0 else ("c.srai", "srai")
        shamt = (b12 << 5) | ((hw >> 2) & 0x1F)
        if p.xlen == 32 and b12:
            return _res(hw, f"{name.upper()} with shamt[5]=1 on RV32 is reserved for custom use (§16.5)", name)
        if shamt == 0:
            return Decoded16(hw, HINT, name, op, rd=rd, rs1=rd, imm=0, ops="di",
                             reason=f"{name.upper()} with shamt=0 ({name}64) is a HINT (Table 16.3)")
        return Decoded16(hw, VALID, name, op, rd=rd, rs1=rd, imm=shamt, ops="di")
    if f2 == 2:
        return Decoded16(hw, VALID, "c.andi", "andi", rd=rd, rs1=rd, imm=_ci_imm(hw), ops="di")
    f2b = (hw >> 5) & 3
    rs2 = _rdp(hw)
    if not b12:
        name, op = (("c.sub", "sub"), ("c.xor", "xor"), ("c.or", "or"), ("c.and", "and"))[f2b]
        return Decoded16(hw, VALID, name, op, rd=rd, rs1=rd, rs2=rs2, ops="dt")
    if f2b < 2:
        name, op = ("c.subw", "subw") if f2b == 0 else ("c.addw", "addw")
        if p.xlen == 32:
            return _res(hw, f"{name.upper()} is reserved on RV32 (Table 16.6)", name)
        return Decoded16(hw, VALID, name, op, rd=rd, rs1=rd, rs2=rs2, ops="dt")
    # 100 1 11 rd' 1x rs2' 01: reserved in base C; Zcb's c.mul and unary ops live here.
    zcb: Decoded16 | None = None
    if f2b == 2:
        zcb = Decoded16(hw, VALID, "c.mul", "mul", rd=rd, rs1=rd, rs2=rs2, ops="dt")
    else:
        sub = (hw >> 2) & 7
        unary = {0: "c.zext.b", 1: "c.sext.b", 2: "c.zext.h", 3: "c.sext.h", 4: "c.zext.w", 5: "c.not"}
        unary_name = unary.get(sub)
        if unary_name == "c.zext.w" and p.xlen == 32:
            unary_name = None
        if unary_name is not None:
            zcb = Decoded16(hw, VALID, unary_name, unary_name[2:], rd=rd, rs1=rd, ops="d")
    if zcb is not None:
        if p.zcb:
            return zcb
        return _res(hw, f"MISC-ALU 100 1 11 rd' 1x is reserved in base C (Table 16.6); Zcb would define it "
                        f"as {zcb.name}, but the profile lacks Zcb", zcb.name)
    return _res(hw, "MISC-ALU 100 1 11 rd' 1x is reserved (Table 16.6; not defined by Zcb either)")


def _q2(hw: int, p: Profile) -> Decoded16:
    f3 = hw >> 13
    rd = (hw >> 7) & 0x1F
    rs2 = (hw >> 2) & 0x1F
    b12 = (hw >> 12) & 1
    if f3 == 0:
        shamt = (b12 << 5) | rs2
        if p.xlen == 32 and b12:
            return _res(hw, "C.SLLI with shamt[5]=1 on RV32 is reserved for custom use (§16.5)", "c.slli")
        if rd == 0:
            return Decoded16(hw, HINT, "c.slli", "slli", rd=0, rs1=0, imm=shamt, ops="di",
                             reason="C.SLLI with rd=x0 is a HINT (Table 16.3)")
        if shamt == 0:
            return Decoded16(hw, HINT, "c.slli", "slli", rd=rd, rs1=rd, imm=0, ops="di",
                             reason="C.SLLI with shamt=0 (c.slli64) is a HINT (Table 16.3)")
        return Decoded16(hw, VALID, "c.slli", "slli", rd=rd, rs1=rd, imm=shamt, ops="di")
    uimm_w = (b12 << 5) | ((hw >> 2) & 0x1C) | ((hw << 4) & 0xC0)
    uimm_d = (b12 << 5) | ((hw >> 2) & 0x18) | ((hw << 4) & 0x1C0)
    suimm_w = ((hw >> 7) & 0x3C) | ((hw >> 1) & 0xC0)
    suimm_d = ((hw >> 7) & 0x38) | ((hw >> 1) & 0x1C0)
    if f3 == 1:
        if not p.d:
            return _absent(hw, "c.fldsp", "d")
        return _mem(hw, "c.fldsp", "fld", rd, 2, uimm_d, False, fp=True)
    if f3 == 2:
        if rd == 0:
            return _res(hw, "C.LWSP with rd=x0 is reserved (§16.3)", "c.lwsp")
        return _mem(hw, "c.lwsp", "lw", rd, 2, uimm_w, False)
    if f3 == 3:
        if p.xlen == 64:
            if rd == 0:
                return _res(hw, "C.LDSP with rd=x0 is reserved (§16.3)", "c.ldsp")
            return _mem(hw, "c.ldsp", "ld", rd, 2, uimm_d, False)
        if not p.f:
            return _absent(hw, "c.flwsp", "f")
        return _mem(hw, "c.flwsp", "flw", rd, 2, uimm_w, False, fp=True)
    if f3 == 4:
        if not b12:
            if rs2 == 0:
                if rd == 0:
                    return _res(hw, "C.JR with rs1=x0 is reserved (§16.4)", "c.jr")
                return Decoded16(hw, VALID, "c.jr", "jalr", rd=0, rs1=rd, imm=0, ops="s")
            if rd == 0:
                return Decoded16(hw, HINT, "c.mv", "add", rd=0, rs1=0, rs2=rs2, ops="dt",
                                 reason="C.MV with rd=x0 is a HINT (Table 16.3)")
            return Decoded16(hw, VALID, "c.mv", "add", rd=rd, rs1=0, rs2=rs2, ops="dt")
        if rs2 == 0:
            if rd == 0:
                return Decoded16(hw, VALID, "c.ebreak", "ebreak")
            return Decoded16(hw, VALID, "c.jalr", "jalr", rd=1, rs1=rd, imm=0, ops="s")
        if rd == 0:
            return Decoded16(hw, HINT, "c.add", "add", rd=0, rs1=0, rs2=rs2, ops="dt",
                             reason="C.ADD with rd=x0 is a HINT (Table 16.3; rs2=x2..x5 are Zihintntl c.ntl.*)")
        return Decoded16(hw, VALID, "c.add", "add", rd=rd, rs1=rd, rs2=rs2, ops="dt")
    if f3 == 5:
        if p.zcmp or p.zcmt:
            return _zcmp(hw, p)
        if not p.d:
            return _absent(hw, "c.fsdsp", "d")
        return _mem(hw, "c.fsdsp", "fsd", rs2, 2, suimm_d, True, fp=True)
    if f3 == 6:
        return _mem(hw, "c.swsp", "sw", rs2, 2, suimm_w, True)
    if p.xlen == 64:
        return _mem(hw, "c.sdsp", "sd", rs2, 2, suimm_d, True)
    if not p.f:
        return _absent(hw, "c.fswsp", "f")
    return _mem(hw, "c.fswsp", "fsw", rs2, 2, suimm_w, True, fp=True)


_SREG = (8, 9, 18, 19, 20, 21, 22, 23)  # Zcmp's r1s'/r2s' map onto s0-s7


def _zcmp(hw: int, p: Profile) -> Decoded16:
    """Quadrant 2 funct3=101 (C.FSDSP's slot) under Zcmp/Zcmt (which exclude D's compressed forms)."""
    f5 = (hw >> 8) & 0x1F
    if p.zcmp and (hw >> 12) & 1 and f5 in (0b11000, 0b11010, 0b11100, 0b11110):
        rlist = (hw >> 4) & 0xF
        name = {0b11000: "cm.push", 0b11010: "cm.pop", 0b11100: "cm.popretz", 0b11110: "cm.popret"}[f5]
        if rlist < 4:
            return _res(hw, f"{name} with rlist<4 is reserved (Zcmp)", name)
        op = "ret" if name.startswith("cm.popret") else "stack"
        return Decoded16(hw, VALID, name, op, rd=None, imm=rlist, ops="i")
    if p.zcmp and (hw >> 10) & 0x3F == 0b101011 and (hw >> 5) & 3 in (1, 3):
        r1 = _SREG[(hw >> 7) & 7]
        r2 = _SREG[(hw >> 2) & 7]
        if (hw >> 5) & 3 == 1:
            if r1 == r2:
                return _res(hw, "cm.mvsa01 with r1s'=r2s' is reserved (Zcmp)", "cm.mvsa01")
            return Decoded16(hw, VALID, "cm.mvsa01", "mvsa01", rd=r1, rs2=r2, ops="dt")
        return Decoded16(hw, VALID, "cm.mva01s", "mva01s", rs1=r1, rs2=r2, ops="st")
    if p.zcmt and (hw >> 10) & 0x3F == 0b101000:
        index = (hw >> 2) & 0xFF
        if index < 32:
            return Decoded16(hw, VALID, "cm.jt", "jt", imm=index, ops="i")
        return Decoded16(hw, VALID, "cm.jalt", "jalt", rd=1, imm=index, ops="i")
    return _res(hw, "quadrant 2 funct3=101 is not defined by Zcmp/Zcmt (and C.FSDSP is excluded with them)")


def decode16(hw: int, profile: Profile = RV64GC) -> Decoded16:
    """Decode one halfword. bits[1:0]=11 gives class ``not-compressed``."""
    hw &= 0xFFFF
    quadrant = hw & 3
    if quadrant == 3:
        return Decoded16(hw, NOT_COMPRESSED, "", reason="bits[1:0]=11: first halfword of a 32-bit or longer instruction")
    if not profile.c:
        return Decoded16(hw, ILLEGAL, "", reason="ext-absent:c (the profile has no C extension)")
    if quadrant == 0:
        return _q0(hw, profile)
    if quadrant == 1:
        return _q1(hw, profile)
    return _q2(hw, profile)


def classify16(hw: int, xlen: int = 64, extensions: frozenset[str] = frozenset(),
               profile: Profile | None = None) -> str:
    """Class of one halfword for RV{xlen}GC plus ``extensions`` (``zcb``, ``zcmop``, ``zcmp``,
    ``zcmt``; ``no-f``/``no-d`` remove F/D), or for an explicit ``profile``."""
    prof = profile if profile is not None else Profile.from_extensions(xlen, extensions)
    return CLASSES[class_table(prof)[hw & 0xFFFF]]


def explain16(hw: int, xlen: int = 64, extensions: frozenset[str] = frozenset(),
              profile: Profile | None = None) -> str:
    """One line: class, decoded instruction and, for non-valid classes, the reason with its spec cite."""
    prof = profile if profile is not None else Profile.from_extensions(xlen, extensions)
    d = decode16(hw, prof)
    head = f"0x{hw & 0xFFFF:04x}: {d.cls}"
    if d.name:
        head += f" ({d.text()})"
    return f"{head}: {d.reason}" if d.reason else head


@lru_cache(maxsize=16)
def class_table(profile: Profile = RV64GC) -> bytes:
    """65536 bytes: the class index (into :data:`CLASSES`) of every halfword. Built once per
    profile (about 0.1 s), then every lookup is one byte index — the fast path for scanning."""
    index = {c: i for i, c in enumerate(CLASSES)}
    table = bytearray(65536)
    for hw in range(65536):
        table[hw] = index[decode16(hw, profile).cls]
    return bytes(table)


def counts(profile: Profile = RV64GC) -> dict[str, int]:
    """How many of the 65536 halfwords fall into each class (the DESIGN.md §4 self-check)."""
    table = class_table(profile)
    return {c: table.count(i) for i, c in enumerate(CLASSES)}
