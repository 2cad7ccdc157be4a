"""RISC-V trap cause names (Privileged ISA, mcause/scause table) and mstatus fields."""

from __future__ import annotations

EXCEPTIONS = {
    0: "instruction address misaligned", 1: "instruction access fault", 2: "illegal instruction",
    3: "breakpoint", 4: "load address misaligned", 5: "load access fault", 6: "store/AMO address misaligned",
    7: "store/AMO access fault", 8: "environment call from U-mode", 9: "environment call from S-mode",
    10: "environment call from VS-mode", 11: "environment call from M-mode", 12: "instruction page fault",
    13: "load page fault", 15: "store/AMO page fault", 18: "software check", 19: "hardware error",
    20: "instruction guest-page fault", 21: "load guest-page fault", 22: "virtual instruction",
    23: "store/AMO guest-page fault",
}
INTERRUPTS = {1: "supervisor software interrupt", 2: "virtual supervisor software interrupt",
              3: "machine software interrupt", 5: "supervisor timer interrupt",
              6: "virtual supervisor timer interrupt", 7: "machine timer interrupt",
              9: "supervisor external interrupt", 10: "virtual supervisor external interrupt",
              11: "machine external interrupt", 12: "supervisor guest external interrupt",
              13: "counter overflow interrupt"}
ILLEGAL_INSTRUCTION = 2
GUEST_PAGE_FAULTS = (20, 21, 23)
MODES = {0: "U", 1: "S", 2: "reserved", 3: "M"}


def cause_name(mcause: int, xlen: int = 64) -> tuple[bool, int, str]:
    """(interrupt?, code, name) of an mcause/scause value."""
    interrupt = bool(mcause >> (xlen - 1) & 1)
    code = mcause & ((1 << (xlen - 1)) - 1)
    if interrupt:
        return True, code, INTERRUPTS.get(code, f"interrupt {code}")
    if 24 <= code <= 31 or 48 <= code <= 63:
        return False, code, f"custom exception {code}"
    return False, code, EXCEPTIONS.get(code, f"reserved exception {code}")


def decode_mstatus(value: int) -> dict[str, object]:
    """MPP (12:11): the mode the trap came from; MPRV (17); MPV (39) and GVA (38) on RV64 with H."""
    return {"mpp": MODES[value >> 11 & 3], "mprv": value >> 17 & 1, "mpv": value >> 39 & 1, "gva": value >> 38 & 1}
