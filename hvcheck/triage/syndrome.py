"""Arm exception syndromes, decoded the same way wherever they appear.

- ``decode_esr``: the AArch64 ESR_ELx / AArch32 HSR layout (Arm ARM D17.2.37 "ESR_ELx", G8.2.64 "HSR"):
  EC [31:26], IL [25], ISS [24:0], and ISS per class: data/instruction aborts (ISV, SAS, SSE, SRT, SF, AR,
  FnV, EA, CM, S1PTW, WnR, DFSC/IFSC), SError (IDS, IESB, AET, EA, DFSC), HVC/SVC/SMC immediates, trapped
  MSR/MRS (op0..op2, CRn, CRm, Rt, direction), BRK comments.
- ``decode_arm32_fsr``: the AArch32 DFSR/IFSR the ARM (32-bit) Linux kernel prints as "Oops: 805", short
  descriptor (FS[4] at bit 10, WnR bit 11, ExT bit 12) or LPAE (bit 9 set, FS in [5:0]); names from
  Linux arch/arm/mm/fsr-2level.c / fsr-3level.c.

Every decoder takes the raw value and returns a flat dict of named fields, so a reader can merge it
into a fault's facts whatever spelling the log used ("ESR = 0x96000045", "code 0xbe000011",
Jailhouse "esr: 24 1 1400005", "hsr=0x93840007", seL4 "status 0x92000007").
"""

from __future__ import annotations

EC_NAMES = {
    0x00: "unknown reason", 0x01: "trapped WFI/WFE", 0x03: "trapped MCR/MRC (cp15)", 0x04: "trapped MCRR/MRRC (cp15)",
    0x05: "trapped MCR/MRC (cp14)", 0x06: "trapped LDC/STC", 0x07: "SIMD/FP access trap", 0x08: "trapped VMRS",
    0x09: "PAC trap", 0x0A: "LD64B/ST64B", 0x0C: "trapped MRRC (cp14)", 0x0D: "branch target exception",
    0x0E: "illegal execution state", 0x11: "SVC (AArch32)", 0x12: "HVC (AArch32)", 0x13: "SMC (AArch32)",
    0x15: "SVC (AArch64)", 0x16: "HVC (AArch64)", 0x17: "SMC (AArch64)", 0x18: "trapped MSR/MRS/system instruction",
    0x19: "SVE access trap", 0x1A: "ERET trap", 0x1C: "pointer authentication failure", 0x1D: "SME access trap",
    0x20: "instruction abort from a lower exception level", 0x21: "instruction abort at the current exception level",
    0x22: "PC alignment fault", 0x24: "data abort from a lower exception level",
    0x25: "data abort at the current exception level", 0x26: "SP alignment fault", 0x27: "memory operation exception",
    0x28: "trapped FP exception (AArch32)", 0x2C: "trapped FP exception (AArch64)", 0x2D: "GCS exception",
    0x2F: "SError", 0x30: "breakpoint from a lower exception level", 0x31: "breakpoint at the current exception level",
    0x32: "software step from a lower exception level", 0x33: "software step at the current exception level",
    0x34: "watchpoint from a lower exception level", 0x35: "watchpoint at the current exception level",
    0x38: "BKPT (AArch32)", 0x3A: "vector catch (AArch32)", 0x3C: "BRK (AArch64)",
}
ABORTS = (0x20, 0x21, 0x24, 0x25)
LOWER_EL = (0x20, 0x24, 0x30, 0x32, 0x34)
AET_NAMES = {0: "UC (uncontainable)", 1: "UEU (unrecoverable)", 2: "UEO (restartable)", 3: "UER (recoverable)",
             6: "CE (corrected)"}
AET_SHORT = {0: "UC", 1: "UEU", 2: "UEO", 3: "UER", 6: "CE"}


def fsc_name(fsc: int) -> str:
    """Name of a DFSC/IFSC (long-descriptor fault status code)."""
    level = fsc & 3
    if fsc <= 0x03:
        return f"level {level} address size fault"
    if 0x04 <= fsc <= 0x07:
        return f"level {level} translation fault"
    if 0x08 <= fsc <= 0x0B:
        return f"level {level} access flag fault"
    if 0x0C <= fsc <= 0x0F:
        return f"level {level} permission fault"
    if 0x14 <= fsc <= 0x17:
        return f"synchronous external abort on a level {level} table walk"
    if 0x1C <= fsc <= 0x1F:
        return f"parity/ECC error on a level {level} table walk"
    return {0x10: "synchronous external abort", 0x11: "asynchronous SError interrupt / tag check fault",
            0x12: "synchronous external abort (level -2 walk)", 0x13: "synchronous external abort (level -1 walk)",
            0x18: "synchronous parity/ECC error", 0x19: "asynchronous SError interrupt (parity/ECC)",
            0x21: "alignment fault", 0x22: "granule protection fault", 0x29: "level -1 address size fault",
            0x2B: "level -1 translation fault", 0x30: "TLB conflict abort",
            0x31: "unsupported atomic hardware update", 0x34: "implementation defined (lockdown)",
            0x35: "implementation defined (unsupported exclusive or atomic access)"}.get(fsc, f"fault status {fsc:#x}")


def is_external_fsc(fsc: int) -> bool:
    return fsc == 0x10 or 0x12 <= fsc <= 0x17 or fsc in (0x18, 0x1C, 0x1D, 0x1E, 0x1F)


def decode_esr(esr: int) -> dict[str, object]:
    """Every field of an ESR_ELx/HSR value (integers stay integers; names end in ``_name``)."""
    esr &= (1 << 64) - 1
    ec = (esr >> 26) & 0x3F
    iss = esr & 0x1FFFFFF
    out: dict[str, object] = {"ec": ec, "ec_name": EC_NAMES.get(ec, f"exception class {ec:#x}"),
                              "il": 32 if esr >> 25 & 1 else 16, "iss": iss}
    if esr >> 32:
        out["iss2"] = (esr >> 32) & 0xFFFFFF
    if ec in ABORTS:
        fsc = iss & 0x3F
        out.update(fsc=fsc, fsc_name=fsc_name(fsc), ea=iss >> 9 & 1, s1ptw=iss >> 7 & 1, fnv=iss >> 10 & 1,
                   lower_el=ec in LOWER_EL)
        if ec in (0x24, 0x25):
            isv = iss >> 24 & 1
            out.update(isv=isv, wnr=iss >> 6 & 1, cm=iss >> 8 & 1, dfsc=fsc)
            if isv:
                out.update(access_size=1 << (iss >> 22 & 3), sse=iss >> 21 & 1, srt=iss >> 16 & 0x1F,
                           sf=iss >> 15 & 1, ar=iss >> 14 & 1)
        else:
            out["ifsc"] = fsc
    elif ec == 0x2F:
        ids = iss >> 24 & 1
        out["ids"] = ids
        if not ids:
            dfsc = iss & 0x3F
            out.update(dfsc=dfsc, iesb=iss >> 13 & 1, ea=iss >> 9 & 1)
            if dfsc == 0x11:   # AET is defined only for this DFSC (RAS)
                aet = iss >> 10 & 7
                out.update(aet=AET_SHORT.get(aet, f"reserved {aet}"), aet_name=AET_NAMES.get(aet, f"reserved {aet}"))
            out["dfsc_name"] = "uncategorized SError" if dfsc == 0 else fsc_name(dfsc)
    elif ec in (0x11, 0x12, 0x13, 0x15, 0x16, 0x17):
        out["imm16"] = iss & 0xFFFF
    elif ec == 0x18:
        out.update(op0=iss >> 20 & 3, op2=iss >> 17 & 7, op1=iss >> 14 & 7, crn=iss >> 10 & 0xF,
                   rt=iss >> 5 & 0x1F, crm=iss >> 1 & 0xF, direction="read (MRS)" if iss & 1 else "write (MSR)")
    elif ec == 0x3C:
        out["comment"] = iss & 0xFFFF
    return out


def describe_esr(esr: int) -> str:
    """One line: class, and for aborts the fault status, access and direction."""
    d = decode_esr(esr)
    parts = [str(d["ec_name"])]
    if "fsc_name" in d:
        parts.append(str(d["fsc_name"]))
    if d.get("isv"):
        parts.append(f"{'write' if d.get('wnr') else 'read'} of {d['access_size']} byte(s) via register {d['srt']}")
    elif d.get("ec") in (0x24, 0x25):
        parts.append(("write" if d.get("wnr") else "read") + " (no instruction syndrome: ISV=0)")
    if d.get("ec") == 0x2F:
        parts.append("implementation defined syndrome" if d.get("ids") else str(d.get("dfsc_name", "")))
        if "aet_name" in d:
            parts.append(f"error type {d['aet_name']}")
    if d.get("ea"):
        parts.append("external abort (EA=1)")
    return "; ".join(p for p in parts if p)


# Linux arch/arm/mm/fsr-2level.c (short-descriptor DFSR/IFSR, FS = bit 10 : bits 3..0).
ARM32_FS_NAMES = {
    0: "unknown 0", 1: "alignment exception", 2: "terminal exception", 3: "alignment exception",
    4: "I-cache maintenance fault", 5: "section translation fault", 6: "unknown 6", 7: "page translation fault",
    8: "external abort on non-linefetch", 9: "section domain fault", 10: "unknown 10", 11: "page domain fault",
    12: "external abort on translation", 13: "section permission fault", 14: "external abort on translation",
    15: "page permission fault", 22: "imprecise external abort", 24: "dcache parity error",
    25: "icache parity error",
}


def decode_arm32_fsr(fsr: int) -> dict[str, object]:
    """AArch32 DFSR/IFSR as printed by ARM (32-bit) Linux ("Internal error: Oops: 805")."""
    out: dict[str, object] = {"fsr": fsr, "is_write": bool(fsr >> 11 & 1), "ext": fsr >> 12 & 1}
    if fsr >> 9 & 1:                 # LPAE (long-descriptor) format
        fs = fsr & 0x3F
        out.update(fsr_format="long-descriptor (LPAE)", fs=fs, fsr_status=fsc_name(fs))
    else:
        fs = (fsr >> 6 & 0x10) | (fsr & 0xF)
        out.update(fsr_format="short-descriptor", fs=fs, domain=fsr >> 4 & 0xF,
                   fsr_status=ARM32_FS_NAMES.get(fs, f"unknown {fs}"))
    return out
