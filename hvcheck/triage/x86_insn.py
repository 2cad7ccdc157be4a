"""Decode the faulting instruction from an oops `Code:` line or a QEMU `Code=` line.

Only the instructions whose faults have invariant-level meaning for a hypervisor are decoded
(log-formats.md §3; Intel SDM Vol. 2): XSETBV, XGETBV, WRMSR, RDMSR, the XSAVE/XRSTOR family,
CPUID, moves to/from control registers, VMCALL/VMMCALL, UD2, HLT, INT3. Anything else is
"unknown" with its bytes; we never guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PREFIXES = {0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65}
_TOKEN = re.compile(r"^[<(]?([0-9a-fA-F]{2})[>)]?$")

MSR_NAMES = {
    0x10: "IA32_TIME_STAMP_COUNTER", 0x1B: "IA32_APIC_BASE", 0x3A: "IA32_FEATURE_CONTROL",
    0x48: "IA32_SPEC_CTRL", 0x49: "IA32_PRED_CMD", 0x10A: "IA32_ARCH_CAPABILITIES",
    0x1C4: "IA32_XFD", 0x1C5: "IA32_XFD_ERR", 0x1D9: "IA32_DEBUGCTL", 0x277: "IA32_PAT",
    0x6E0: "IA32_TSC_DEADLINE", 0xDA0: "IA32_XSS", 0xC0000080: "IA32_EFER", 0xC0000081: "IA32_STAR",
    0xC0000082: "IA32_LSTAR", 0xC0000100: "IA32_FS_BASE", 0xC0000101: "IA32_GS_BASE",
    0xC0000102: "IA32_KERNEL_GS_BASE", 0xC0000103: "IA32_TSC_AUX",
}


@dataclass(frozen=True)
class CodeBytes:
    data: bytes
    marker: int | None       # index of the byte marked <xx> (the first byte of the faulting insn)


@dataclass(frozen=True)
class Insn:
    mnemonic: str            # lower case, "unknown" when not in our table
    length: int
    raw: bytes
    detail: str = ""


def parse_code(text: str) -> CodeBytes | None:
    """'89 c7 <0f> 01 d1 ...' -> bytes and the marker index; None when nothing parses."""
    out = bytearray()
    marker = None
    for tok in text.split():
        m = _TOKEN.match(tok)
        if not m:
            if out:
                break       # trailing text after the bytes
            continue
        if tok.startswith(("<", "(")) and marker is None:
            marker = len(out)
        out.append(int(m.group(1), 16))
    return CodeBytes(bytes(out), marker) if out else None


def decode_at(code: CodeBytes) -> Insn | None:
    if code.marker is None or code.marker >= len(code.data):
        return None
    return decode(code.data[code.marker:])


def decode(b: bytes) -> Insn:
    i = 0
    while i < len(b) and b[i] in _PREFIXES:
        i += 1
    rex_w = False
    if i < len(b) and 0x40 <= b[i] <= 0x4F:
        rex_w = bool(b[i] & 8)
        i += 1
    op = b[i:]
    start = i

    def insn(name: str, n: int, detail: str = "") -> Insn:
        return Insn(name, start + n, bytes(b[: start + n]), detail)

    if not op:
        return Insn("unknown", len(b), bytes(b), "truncated")
    if op[0] == 0xCC:
        return insn("int3", 1)
    if op[0] == 0xF4:
        return insn("hlt", 1)
    one = {0xA4: "movsb", 0xA5: "movs", 0xAA: "stosb", 0xAB: "stos"}
    if op[0] in one:
        rep = "rep " if any(p in (0xF2, 0xF3) for p in b[:start]) else ""
        return insn(rep + one[op[0]], 1, "string instruction: memory at RSI/RDI")
    if op[0] in (0x88, 0x89, 0x8A, 0x8B) and len(op) >= 2 and op[1] >> 6 != 3:
        return insn("mov", 2 + _modrm_extra(op[1:]), "memory operand")
    if op[0] != 0x0F or len(op) < 2:
        return Insn("unknown", 0, bytes(b[:8]))
    o2 = op[1]
    if o2 == 0x01 and len(op) >= 3:
        third = {0xD0: "xgetbv", 0xD1: "xsetbv", 0xC1: "vmcall", 0xD9: "vmmcall", 0xC2: "vmlaunch",
                 0xC3: "vmresume", 0xCA: "clac", 0xCB: "stac", 0xF9: "rdtscp", 0xEE: "rdpkru", 0xEF: "wrpkru"}
        if op[2] in third:
            return insn(third[op[2]], 3)
    if o2 == 0x30:
        return insn("wrmsr", 2)
    if o2 == 0x32:
        return insn("rdmsr", 2)
    if o2 == 0x31:
        return insn("rdtsc", 2)
    if o2 == 0xA2:
        return insn("cpuid", 2)
    if o2 == 0xAA:
        return insn("rsm", 2, "resume from SMM: #UD outside System Management Mode")
    if o2 == 0x0B:
        return insn("ud2", 2)
    if o2 in (0x20, 0x22) and len(op) >= 3:
        cr = (op[2] >> 3) & 7
        return insn("mov", 3, f"{'to' if o2 == 0x22 else 'from'} cr{cr}")
    if o2 in (0xAE, 0xC7) and len(op) >= 3:
        modrm = op[2]
        mod, reg = modrm >> 6, (modrm >> 3) & 7
        if mod != 3:
            suffix = "64" if rex_w else ""
            table = ({4: "xsave", 5: "xrstor", 6: "xsaveopt"} if o2 == 0xAE
                     else {3: "xrstors", 4: "xsavec", 5: "xsaves"})
            if reg in table:
                return insn(table[reg] + suffix, 3 + _modrm_extra(op[2:]), "memory operand")
    return Insn("unknown", 0, bytes(b[:8]))


def _modrm_extra(m: bytes) -> int:
    """Bytes after ModRM (SIB + displacement) for a 64-bit memory operand."""
    modrm = m[0]
    mod, rm = modrm >> 6, modrm & 7
    extra = 0
    if rm == 4:
        extra += 1
        if mod == 0 and len(m) > 1 and (m[1] & 7) == 5:
            extra += 4
    if mod == 1:
        extra += 1
    elif mod == 2 or (mod == 0 and rm == 5):
        extra += 4
    return extra
