"""OpenSBI ``sbi_trap_error`` dump reader (log-formats.md §4; lib/sbi/sbi_trap.c).

One dump is a run of ``sbi_trap_error: hart<N>: [trap<D>: ]...`` lines that starts with the
failure message (``illegal instruction handler failed (error -2)``) and continues with
``key=0x...`` register pairs. CHERI builds append ``[V:...]`` metadata after each value; it is
ignored.
"""

from __future__ import annotations

import re

from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.reader import Reader, ev
from hvcheck.triage.riscv_causes import GUEST_PAGE_FAULTS, cause_name, decode_mstatus
from hvcheck.triage.source import LogLine

_LINE = re.compile(r"sbi_trap_error:\s*hart(\d+):\s*(?:trap(\d+):\s*)?(.*)")
_PAIR = re.compile(r"\b([a-z][a-z0-9]*)\s*=\s*(?:0x)?([0-9a-fA-F]{1,16})\b")
_MSG = re.compile(r"^(.*?)\s*\(error (-?\d+)\)\s*$")
SBI_ERRORS = {-1: "SBI_ERR_FAILED", -2: "SBI_ERR_NOT_SUPPORTED", -3: "SBI_ERR_INVALID_PARAM",
              -4: "SBI_ERR_DENIED", -5: "SBI_ERR_INVALID_ADDRESS", -6: "SBI_ERR_ALREADY_AVAILABLE",
              -7: "SBI_ERR_ALREADY_STARTED", -8: "SBI_ERR_ALREADY_STOPPED"}


class OpenSbiReader(Reader):
    name = "opensbi"
    interruptible = False
    anchors = (b"_trap_error",)

    def __init__(self) -> None:
        super().__init__()
        self._open: dict[int, Fault] = {}

    def feed(self, line: LogLine) -> None:
        m = _LINE.search(line.text)
        if not m:
            return
        hart, depth, rest = int(m.group(1)), m.group(2), m.group(3).strip()
        pairs = _PAIR.findall(rest)
        if not pairs or "(error" in rest:
            self._close(hart)
            fault = Fault("opensbi-trap-error", self.name, "riscv64", f"OpenSBI: {rest}"[:160], line.path, cpu=hart)
            mm = _MSG.match(rest)
            fault.facts["message"] = mm.group(1) if mm else rest
            if mm:
                code = int(mm.group(2))
                fault.facts["error"] = code
                fault.facts["error_name"] = SBI_ERRORS.get(code, "OpenSBI-private error code")
            if depth is not None:
                fault.facts["trap_depth"] = int(depth)
            fault.cite(ev(line))
            self._open[hart] = fault
            return
        existing = self._open.get(hart)
        if existing is not None and (("mcause" in existing.registers and any(k == "mcause" for k, _ in pairs))
                                     or existing.facts.get("trap_depth", depth and int(depth)) != (depth and int(depth))):
            # a second mcause, or another nesting depth, for this hart: a new dump whose first line is missing
            self._close(hart)
            existing = None
        if existing is not None:
            fault = existing
        else:   # dump whose first line was lost (truncated log)
            fault = Fault("opensbi-trap-error", self.name, "riscv64", "OpenSBI trap dump (message line missing)",
                          line.path, cpu=hart, truncated=True)
            self._open[hart] = fault
        if depth is not None:
            fault.facts.setdefault("trap_depth", int(depth))
        for key, value in pairs:
            fault.registers.setdefault(key, int(value, 16))
        if any(k in ("mcause", "mepc", "mtval", "mtval2", "mtinst", "mstatus") for k, _ in pairs):
            fault.cite(ev(line))

    def _close(self, hart: int) -> None:
        fault = self._open.pop(hart, None)
        if fault is None:
            return
        regs = fault.registers
        if "mcause" in regs:
            interrupt, code, name = cause_name(regs["mcause"])
            fault.facts.update(interrupt=interrupt, cause=code, cause_name=name)
            fault.summary = f"OpenSBI trap error: {name} ({fault.facts.get('message', '')})"
        if "mstatus" in regs:
            fault.facts.update(decode_mstatus(regs["mstatus"]))
        if "mepc" in regs:
            fault.addresses["pc"] = Address(regs["mepc"], "PC", "mepc")
        if "mtval" in regs:
            fault.facts["tval"] = regs["mtval"]
        cause = fault.facts.get("cause")
        if "mtval" in regs and cause is not None and cause != 2:
            fault.addresses["fault"] = Address(regs["mtval"], "VA", "mtval (faulting address)")
        if cause == 2 and "mtval" in regs:
            fault.facts["instruction_bits"] = regs["mtval"]
        if cause in GUEST_PAGE_FAULTS and regs.get("mtval2"):
            gpa = (regs["mtval2"] << 2) | (regs.get("mtval", 0) & 3)
            fault.addresses["fault_gpa"] = Address(gpa, "GPA", "mtval2 << 2 | mtval & 3")
        key = (fault.cpu, fault.facts.get("cause"), regs.get("mepc"), regs.get("mtval"))
        self.emit(fault, key=key)

    def finish(self) -> None:
        for hart in list(self._open):
            self._close(hart)
