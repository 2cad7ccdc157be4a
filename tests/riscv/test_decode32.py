"""The 32-bit decoder against capstone on real code (every reachable 32-bit instruction of
Debian's OpenSBI and glibc), and against hand-checked encodings for the privileged and H forms."""

from __future__ import annotations

import re

import pytest

from hvcheck.riscv.decode import decode32, insn_length, pretty
from hvcheck.riscv.elf import load_image
from hvcheck.riscv.walker import Walker
from tests.riscv.test_real_firmware import require_file

REAL = ["/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf", "/usr/riscv64-linux-gnu/lib/libc.so.6"]

# Names that are one entry in our table but several in capstone's (we decode the operation class).
_COARSE = {"fminmax": ("fmin", "fmax"), "fcmp": ("feq", "flt", "fle"), "fcvt.int": ("fcvt.w", "fcvt.l"),
           "fcvt.s.int": ("fcvt.s.w", "fcvt.s.l"), "fcvt.d.int": ("fcvt.d.w", "fcvt.d.l"),
           "fmv.x.w/fclass.s": ("fmv.x.w", "fclass.s"), "fmv.x.d/fclass.d": ("fmv.x.d", "fclass.d"),
           "fsgnj": ("fsgnj", "fsgnjn", "fsgnjx")}


# capstone 5 has no H extension (hfence.*, hlv/hsv) nor Svinval: it cannot check those.
_NOT_IN_CAPSTONE = ("hfence.", "hinval.", "sinval.", "hlv", "hsv")


def _same_name(ours: str, theirs: str) -> bool:
    theirs = re.sub(r"\.(aq|rl|aqrl)$", "", theirs)
    if ours == theirs:
        return True
    base, _, suffix = ours.rpartition(".")
    for coarse, options in _COARSE.items():
        if ours.startswith(coarse):
            return any(theirs.startswith(o) for o in options)
    return False


@pytest.mark.parametrize("path", REAL, ids=["opensbi", "libc"])
def test_reachable_32bit_instructions_agree_with_capstone(path: str) -> None:
    capstone = pytest.importorskip("capstone")
    img = load_image(require_file(path))
    walker = Walker(img)
    walker.walk()
    md = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
    md.detail = True
    checked = 0
    mismatches = []
    for addr, length in sorted(walker.code.starts.items())[:60000]:
        if length != 4:
            continue
        region = img.region_of(addr)
        word = int.from_bytes(region.data[addr - region.start:addr - region.start + 4], "little")
        ours = decode32(word, 64)
        theirs = list(md.disasm(word.to_bytes(4, "little"), 0x10000))
        if not theirs:
            if ours.cls == "valid" and not ours.name.startswith(_NOT_IN_CAPSTONE):
                mismatches.append((hex(addr), hex(word), pretty(ours), "capstone: invalid"))
            continue
        ins = theirs[0]
        if ours.cls != "valid":
            mismatches.append((hex(addr), hex(word), "ours: unknown", ins.mnemonic, ins.op_str))
            continue
        checked += 1
        if not _same_name(ours.name, ins.insn_name()):
            mismatches.append((hex(addr), hex(word), pretty(ours), ins.insn_name()))
            continue
        imms = [o.imm for o in ins.operands if o.type == capstone.riscv.RISCV_OP_IMM]
        if ours.op in ("jal",) + tuple(n for n in ("beq", "bne", "blt", "bge", "bltu", "bgeu")) and imms:
            if imms[-1] != ours.imm:
                mismatches.append((hex(addr), pretty(ours), "target", imms))
        elif ours.op in ("lui", "auipc") and imms:
            if imms[-1] & 0xFFFFF != (ours.imm >> 12) & 0xFFFFF:
                mismatches.append((hex(addr), pretty(ours), "imm", imms))
        elif ours.op in ("addi", "andi", "ori", "xori", "slli", "srli", "srai", "addiw") and imms:
            if imms[-1] != ours.imm:
                mismatches.append((hex(addr), pretty(ours), "imm", imms))
        mems = [o.mem for o in ins.operands if o.type == capstone.riscv.RISCV_OP_MEM]
        if mems and ours.imm is not None and mems[0].disp != ours.imm:
            mismatches.append((hex(addr), pretty(ours), "disp", mems[0].disp))
    assert mismatches[:8] == [] and not mismatches
    assert checked > 3000


@pytest.mark.parametrize("word,text", [
    (0x30529073, "csrw mtvec, t0"),
    (0x10529073, "csrw stvec, t0"),
    (0x20529073, "csrw vstvec, t0"),
    (0x3052D073, "csrwi mtvec, 5"),
    (0x3050E073, "csrsi mtvec, 1"),
    (0x30200073, "mret"),
    (0x10200073, "sret"),
    (0x10500073, "wfi"),
    (0x12000073, "sfence.vma zero, zero"),
    (0x62000073, "hfence.gvma zero, zero"),
    (0x22000073, "hfence.vvma zero, zero"),
    (0x6C054573, "hlv.d a0, 0(a0)"),
    (0x6E054073 & ~0xF80 | 0, "hsv.d zero, 0(a0)"),
    (0x00000013, "nop"),
    (0x00008067, "ret"),
])
def test_privileged_and_h_encodings(word: int, text: str) -> None:
    assert pretty(decode32(word)) == text


def test_lengths() -> None:
    assert [insn_length(h) for h in (0x0001, 0x0013, 0x001F, 0x003F, 0x007F)] == [2, 4, 6, 8, 0]
