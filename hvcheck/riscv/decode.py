"""32-bit decoder for RV32/RV64 I, M, A, F, D, Zicsr, Zifencei, the privileged instructions and H.

Written from the Unprivileged ISA (RV32I/RV64I base, "M", "A", "F", "D", "Zicsr", "Zifencei"
chapters) and the Privileged ISA (trap-return, WFI, SFENCE.VMA, the H extension's HFENCE and
hypervisor load/store instructions). It decodes what control-flow following and constant
propagation need — operation, registers, immediate, CSR number — and names every instruction
it knows. Encodings outside these extensions (V, B, custom...) decode as ``unknown`` with their
length, never as an error: the static checks report only what the spec lets us be sure of.

:func:`decode_at` picks the 16-bit (:mod:`hvcheck.riscv.rvc`) or 32-bit decoder by the low bits.
"""

from __future__ import annotations

from hvcheck.riscv.rvc import ABI_NAMES, FP_NAMES, RV64GC, Decoded16, Profile, decode16, sext

VALID = "valid"
UNKNOWN = "unknown"

CSR_NAMES = {
    0x001: "fflags", 0x002: "frm", 0x003: "fcsr",
    0x100: "sstatus", 0x104: "sie", 0x105: "stvec", 0x106: "scounteren", 0x140: "sscratch",
    0x141: "sepc", 0x142: "scause", 0x143: "stval", 0x144: "sip", 0x180: "satp",
    0x200: "vsstatus", 0x204: "vsie", 0x205: "vstvec", 0x240: "vsscratch", 0x241: "vsepc",
    0x242: "vscause", 0x243: "vstval", 0x244: "vsip", 0x280: "vsatp",
    0x300: "mstatus", 0x301: "misa", 0x302: "medeleg", 0x303: "mideleg", 0x304: "mie", 0x305: "mtvec",
    0x306: "mcounteren", 0x307: "mtvt", 0x107: "stvt", 0x30A: "menvcfg", 0x310: "mstatush",
    0x340: "mscratch", 0x341: "mepc", 0x342: "mcause", 0x343: "mtval", 0x344: "mip",
    0x600: "hstatus", 0x602: "hedeleg", 0x603: "hideleg", 0x604: "hie", 0x606: "hcounteren",
    0x607: "hgeie", 0x609: "hvictl", 0x643: "htval", 0x644: "hip", 0x645: "hvip", 0x64A: "htinst",
    0x680: "hgatp", 0xC00: "cycle", 0xC01: "time", 0xC02: "instret", 0xF14: "mhartid",
}
TVEC_CSRS = {0x305: "mtvec", 0x105: "stvec", 0x205: "vstvec"}

# Control-flow kinds (used by the image walker).
K_NORMAL, K_JUMP, K_CALL, K_BRANCH, K_IJUMP, K_ICALL, K_RETURN, K_TRAP = range(8)


class Insn:
    """One decoded 32-bit instruction (same attribute names as :class:`rvc.Decoded16`)."""

    __slots__ = ("word", "cls", "name", "op", "rd", "rs1", "rs2", "imm", "csr", "ops", "fp", "reason")
    length = 4

    def __init__(self, word: int, cls: str, name: str, op: str = "", rd: int | None = None,
                 rs1: int | None = None, rs2: int | None = None, imm: int | None = None,
                 csr: int | None = None, ops: str = "", fp: str = "") -> None:
        self.word = word
        self.cls = cls
        self.name = name
        self.op = op
        self.rd = rd
        self.rs1 = rs1
        self.rs2 = rs2
        self.imm = imm
        self.csr = csr
        self.ops = ops
        self.fp = fp  # which operand letters name FP registers
        self.reason = "" if cls == VALID else "not an RV32/64 IMAFDC+Zicsr+Zifencei+priv+H encoding"

    def text(self) -> str:
        if self.cls != VALID:
            return f".4byte 0x{self.word:08x}"
        out = []
        for letter in self.ops:
            names = FP_NAMES if letter in self.fp else ABI_NAMES
            if letter == "d":
                out.append(names[self.rd or 0])
            elif letter == "s":
                out.append(names[self.rs1 or 0])
            elif letter == "t":
                out.append(names[self.rs2 or 0])
            elif letter == "i":
                out.append(str(self.imm))
            elif letter == "x":
                out.append(hex((self.imm or 0) >> 12 & 0xFFFFF))
            elif letter == "m":
                out.append(f"{self.imm}({ABI_NAMES[self.rs1 or 0]})")
            elif letter == "c":
                out.append(CSR_NAMES.get(self.csr or 0, hex(self.csr or 0)))
            elif letter == "u":  # csr immediate (zimm in the rs1 field)
                out.append(str(self.rs1))
        return f"{self.name} {', '.join(out)}".strip()

    def __repr__(self) -> str:
        return f"Insn(0x{self.word:08x}, {self.cls}, {self.text()!r})"


def _unknown(w: int) -> Insn:
    return Insn(w, UNKNOWN, "")


_BRANCH = {0: "beq", 1: "bne", 4: "blt", 5: "bge", 6: "bltu", 7: "bgeu"}
_LOAD = {0: "lb", 1: "lh", 2: "lw", 3: "ld", 4: "lbu", 5: "lhu", 6: "lwu"}
_STORE = {0: "sb", 1: "sh", 2: "sw", 3: "sd"}
_OPIMM = {0: "addi", 2: "slti", 3: "sltiu", 4: "xori", 6: "ori", 7: "andi"}
_OP = {(0, 0): "add", (0x20, 0): "sub", (0, 1): "sll", (0, 2): "slt", (0, 3): "sltu", (0, 4): "xor",
       (0, 5): "srl", (0x20, 5): "sra", (0, 6): "or", (0, 7): "and",
       (1, 0): "mul", (1, 1): "mulh", (1, 2): "mulhsu", (1, 3): "mulhu", (1, 4): "div", (1, 5): "divu",
       (1, 6): "rem", (1, 7): "remu"}
_OP32 = {(0, 0): "addw", (0x20, 0): "subw", (0, 1): "sllw", (0, 5): "srlw", (0x20, 5): "sraw",
         (1, 0): "mulw", (1, 4): "divw", (1, 5): "divuw", (1, 6): "remw", (1, 7): "remuw"}
_AMO = {0b00010: "lr", 0b00011: "sc", 0b00001: "amoswap", 0b00000: "amoadd", 0b00100: "amoxor",
        0b01100: "amoand", 0b01000: "amoor", 0b10000: "amomin", 0b10100: "amomax", 0b11000: "amominu",
        0b11100: "amomaxu"}
_SYSTEM0 = {0x00000073: "ecall", 0x00100073: "ebreak", 0x10200073: "sret", 0x30200073: "mret",
            0x70200073: "mnret", 0x7B200073: "dret", 0x10500073: "wfi", 0x00200073: "uret"}
_FENCES = {0x09: "sfence.vma", 0x11: "hfence.vvma", 0x31: "hfence.gvma", 0x0B: "sinval.vma",
           0x13: "hinval.vvma", 0x33: "hinval.gvma"}
_HLV = {(0x30, 0): "hlv.b", (0x30, 1): "hlv.bu", (0x32, 0): "hlv.h", (0x32, 1): "hlv.hu", (0x32, 3): "hlvx.hu",
        (0x34, 0): "hlv.w", (0x34, 1): "hlv.wu", (0x34, 3): "hlvx.wu", (0x36, 0): "hlv.d"}
_HSV = {0x31: "hsv.b", 0x33: "hsv.h", 0x35: "hsv.w", 0x37: "hsv.d"}
_CSR = {1: "csrrw", 2: "csrrs", 3: "csrrc", 5: "csrrwi", 6: "csrrsi", 7: "csrrci"}
_FP_OP = {0x00: "fadd.s", 0x01: "fadd.d", 0x04: "fsub.s", 0x05: "fsub.d", 0x08: "fmul.s", 0x09: "fmul.d",
          0x0C: "fdiv.s", 0x0D: "fdiv.d", 0x2C: "fsqrt.s", 0x2D: "fsqrt.d", 0x10: "fsgnj.s", 0x11: "fsgnj.d",
          0x14: "fminmax.s", 0x15: "fminmax.d", 0x20: "fcvt.s.d", 0x21: "fcvt.d.s", 0x50: "fcmp.s",
          0x51: "fcmp.d", 0x60: "fcvt.int.s", 0x61: "fcvt.int.d", 0x68: "fcvt.s.int", 0x69: "fcvt.d.int",
          0x70: "fmv.x.w/fclass.s", 0x71: "fmv.x.d/fclass.d", 0x78: "fmv.w.x", 0x79: "fmv.d.x"}


def decode32(w: int, xlen: int = 64) -> Insn:
    """Decode one 32-bit instruction word (bits[1:0] must be 11)."""
    opc = w & 0x7F
    rd = (w >> 7) & 0x1F
    f3 = (w >> 12) & 7
    rs1 = (w >> 15) & 0x1F
    rs2 = (w >> 20) & 0x1F
    f7 = w >> 25
    imm_i = sext(w >> 20, 12)
    rv64 = xlen == 64
    name: str | None
    if opc == 0x37 or opc == 0x17:
        name = "lui" if opc == 0x37 else "auipc"
        return Insn(w, VALID, name, name, rd=rd, imm=sext(w & 0xFFFFF000, 32), ops="dx")
    if opc == 0x6F:
        imm = sext(((w >> 31) & 1) << 20 | ((w >> 12) & 0xFF) << 12 | ((w >> 20) & 1) << 11
                    | ((w >> 21) & 0x3FF) << 1, 21)
        return Insn(w, VALID, "jal", "jal", rd=rd, imm=imm, ops="di")
    if opc == 0x67:
        if f3 != 0:
            return _unknown(w)
        return Insn(w, VALID, "jalr", "jalr", rd=rd, rs1=rs1, imm=imm_i, ops="dm")
    if opc == 0x63:
        name = _BRANCH.get(f3)
        if name is None:
            return _unknown(w)
        imm = sext(((w >> 31) & 1) << 12 | ((w >> 7) & 1) << 11 | ((w >> 25) & 0x3F) << 5
                    | ((w >> 8) & 0xF) << 1, 13)
        return Insn(w, VALID, name, name, rs1=rs1, rs2=rs2, imm=imm, ops="sti")
    if opc == 0x03:
        name = _LOAD.get(f3)
        if name is None or (not rv64 and name in ("ld", "lwu")):
            return _unknown(w)
        return Insn(w, VALID, name, name, rd=rd, rs1=rs1, imm=imm_i, ops="dm")
    if opc == 0x23:
        name = _STORE.get(f3)
        if name is None or (not rv64 and name == "sd"):
            return _unknown(w)
        imm = sext((f7 << 5) | rd, 12)
        return Insn(w, VALID, name, name, rs1=rs1, rs2=rs2, imm=imm, ops="tm")
    if opc == 0x13:
        if f3 in _OPIMM:
            return Insn(w, VALID, _OPIMM[f3], _OPIMM[f3], rd=rd, rs1=rs1, imm=imm_i, ops="dsi")
        shamt = (w >> 20) & (0x3F if rv64 else 0x1F)
        top = w >> (26 if rv64 else 25)
        if f3 == 1 and top == 0:
            return Insn(w, VALID, "slli", "slli", rd=rd, rs1=rs1, imm=shamt, ops="dsi")
        if f3 == 5 and top in (0, 0x10 if rv64 else 0x20):
            name = "srli" if top == 0 else "srai"
            return Insn(w, VALID, name, name, rd=rd, rs1=rs1, imm=shamt, ops="dsi")
        return _unknown(w)
    if opc == 0x1B and rv64:
        if f3 == 0:
            return Insn(w, VALID, "addiw", "addiw", rd=rd, rs1=rs1, imm=imm_i, ops="dsi")
        if f3 == 1 and f7 == 0:
            return Insn(w, VALID, "slliw", "slliw", rd=rd, rs1=rs1, imm=rs2, ops="dsi")
        if f3 == 5 and f7 in (0, 0x20):
            name = "srliw" if f7 == 0 else "sraiw"
            return Insn(w, VALID, name, name, rd=rd, rs1=rs1, imm=rs2, ops="dsi")
        return _unknown(w)
    if opc == 0x33 or (opc == 0x3B and rv64):
        name = (_OP if opc == 0x33 else _OP32).get((f7, f3))
        if name is None:
            return _unknown(w)
        return Insn(w, VALID, name, name, rd=rd, rs1=rs1, rs2=rs2, ops="dst")
    if opc == 0x0F:
        if f3 == 0:
            return Insn(w, VALID, "fence", "fence")
        if f3 == 1:
            return Insn(w, VALID, "fence.i", "fence.i")
        return _unknown(w)
    if opc == 0x73:
        return _system(w, rd, f3, rs1, rs2, f7, rv64)
    if opc == 0x2F and f3 in (2, 3):
        base = _AMO.get(w >> 27)
        if base is None or (f3 == 3 and not rv64):
            return _unknown(w)
        name = f"{base}.{'w' if f3 == 2 else 'd'}"
        return Insn(w, VALID, name, "amo", rd=rd, rs1=rs1, rs2=rs2, imm=0, ops="dts")
    if opc in (0x07, 0x27) and f3 in (2, 3):
        name = ("flw", "fld")[f3 - 2] if opc == 0x07 else ("fsw", "fsd")[f3 - 2]
        if opc == 0x07:
            return Insn(w, VALID, name, name, rd=rd, rs1=rs1, imm=imm_i, ops="dm", fp="d")
        return Insn(w, VALID, name, name, rs1=rs1, rs2=rs2, imm=sext((f7 << 5) | rd, 12), ops="tm", fp="t")
    if opc in (0x43, 0x47, 0x4B, 0x4F) and (f7 & 3) < 2:
        name = {0x43: "fmadd", 0x47: "fmsub", 0x4B: "fnmsub", 0x4F: "fnmadd"}[opc] + (".s", ".d")[f7 & 1]
        return Insn(w, VALID, name, "fp", rd=rd, rs1=rs1, rs2=rs2, ops="dst", fp="dst")
    if opc == 0x53:
        name = _FP_OP.get(f7)
        if name is None:
            return _unknown(w)
        to_int = f7 in (0x50, 0x51, 0x60, 0x61, 0x70, 0x71)
        from_int = f7 in (0x68, 0x69, 0x78, 0x79)
        fp = ("st" if to_int else "dt" if from_int else "dst")
        op = "fp-to-int" if to_int else "fp"
        return Insn(w, VALID, name, op, rd=rd, rs1=rs1, rs2=rs2, ops="dst", fp=fp)
    return _unknown(w)


def _system(w: int, rd: int, f3: int, rs1: int, rs2: int, f7: int, rv64: bool) -> Insn:
    if f3 == 0:
        name = _SYSTEM0.get(w)
        if name is not None:
            return Insn(w, VALID, name, name)
        fence = _FENCES.get(f7)
        if fence is not None and rd == 0:
            return Insn(w, VALID, fence, "fence", rs1=rs1, rs2=rs2, ops="st")
        return _unknown(w)
    if f3 == 4:
        hlv = _HLV.get((f7, rs2))
        if hlv is not None and (rv64 or hlv not in ("hlv.d", "hlv.wu")):
            return Insn(w, VALID, hlv, "hlv", rd=rd, rs1=rs1, imm=0, ops="dm")
        hsv = _HSV.get(f7)
        if hsv is not None and rd == 0 and (rv64 or hsv != "hsv.d"):
            return Insn(w, VALID, hsv, "hsv", rs1=rs1, rs2=rs2, imm=0, ops="tm")
        return _unknown(w)
    name = _CSR[f3]
    csr = w >> 20
    ops = "dcu" if f3 >= 5 else "dcs"
    return Insn(w, VALID, name, name, rd=rd, rs1=rs1, csr=csr, ops=ops)


def insn_length(hw: int) -> int:
    """Instruction length in bytes from its first halfword (Unprivileged ISA §1.5), 0 if reserved."""
    if hw & 3 != 3:
        return 2
    if hw & 0x1C != 0x1C:
        return 4
    if hw & 0x3F == 0x1F:
        return 6
    if hw & 0x7F == 0x3F:
        return 8
    return 0


def decode_at(data: bytes | bytearray | memoryview, offset: int, profile: Profile = RV64GC) -> Decoded16 | Insn | None:
    """Decode the instruction at ``data[offset:]``; None when the bytes run out."""
    if offset + 2 > len(data):
        return None
    hw = data[offset] | data[offset + 1] << 8
    if hw & 3 != 3:
        return decode16(hw, profile)
    if hw & 0x1C == 0x1C:  # 48-bit and longer: outside every extension we decode
        n = insn_length(hw)
        word = int.from_bytes(data[offset:offset + 4], "little") if offset + 4 <= len(data) else hw
        insn = Insn(word, UNKNOWN, "")
        insn.reason = f"{n * 8}-bit instruction" if n else "reserved >=192-bit length encoding"
        return insn
    if offset + 4 > len(data):
        return None
    return decode32(int.from_bytes(data[offset:offset + 4], "little"), profile.xlen)


def pretty(insn: Decoded16 | Insn) -> str:
    """Readable text with the common pseudo-instructions (csrw, li, mv, j, ret, nop)."""
    if isinstance(insn, Insn) and insn.cls == VALID:
        n = insn.name
        if n.startswith("csrr") and insn.csr is not None:
            csr = CSR_NAMES.get(insn.csr, hex(insn.csr))
            imm_form = n.endswith("i")
            src = str(insn.rs1) if imm_form else ABI_NAMES[insn.rs1 or 0]
            if insn.rd == 0 and n in ("csrrw", "csrrwi", "csrrs", "csrrsi", "csrrc", "csrrci"):
                if not (n in ("csrrs", "csrrsi") and insn.rs1 == 0):
                    short = {"csrrw": "csrw", "csrrs": "csrs", "csrrc": "csrc"}[n.rstrip("i")] + ("i" if imm_form else "")
                    return f"{short} {csr}, {src}"
            if n == "csrrs" and insn.rs1 == 0:
                return f"csrr {ABI_NAMES[insn.rd or 0]}, {csr}"
            return f"{n} {ABI_NAMES[insn.rd or 0]}, {csr}, {src}"
        if n == "addi" and insn.rd == 0 and insn.rs1 == 0 and insn.imm == 0:
            return "nop"
        if n == "jal" and insn.rd == 0:
            return f"j {insn.imm:+d}"
        if n == "jalr" and insn.rd == 0 and insn.rs1 == 1 and insn.imm == 0:
            return "ret"
    return insn.text()
