"""RustSBI panics (rustsbi/rustsbi platform crates, 0.1-0.2: ``[rustsbi-panic] hart 0 panicked at
'invalid instruction, mepc: 0000000080003eba, instruction: 0000000030200073', src/main.rs:458:17``).

The panic line carries the hart, the message with mepc and the instruction word when RustSBI could not
emulate an instruction, and the source location. The banner lines before it (``[rustsbi] misa:
RV64ACDFIMSU``, ``[rustsbi] Kernel entry: 0x80200000``) tell the width and where the kernel was expected.
"""

from __future__ import annotations

import re

from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.reader import Reader, ev
from hvcheck.triage.source import LogLine

_PANIC = re.compile(r"\[rustsbi-panic\] hart (\d{1,5}) panicked at (?:'(.*)', (\S+)|(\S+?):?\s+(.*))$")
_MEPC = re.compile(r"mepc: (?:0x)?([0-9a-fA-F]{8,16})")
_INSN = re.compile(r"instruction: (?:0x)?([0-9a-fA-F]{8,16})")
_MISA = re.compile(r"\[rustsbi\] misa: RV(32|64)")
_ENTRY = re.compile(r"\[rustsbi\] Kernel entry: (0x[0-9a-fA-F]{1,16})")


class RustSbiReader(Reader):
    name = "rustsbi"
    anchors = (b"-panic] hart", b"RustSBI", b"Kernel entry:", b"] misa:")

    def __init__(self) -> None:
        super().__init__()
        self._xlen: str | None = None
        self._entry: int | None = None

    def boundary(self) -> None:
        self._xlen = None
        self._entry = None

    def feed(self, line: LogLine) -> None:
        text = line.text.strip()
        m = _MISA.search(text)
        if m:
            self._xlen = m.group(1)
            return
        m = _ENTRY.search(text)
        if m:
            self._entry = int(m.group(1), 16)
            return
        m = _PANIC.search(text)
        if not m:
            return
        message = m.group(2) if m.group(2) is not None else m.group(5)
        location = m.group(3) or m.group(4)
        fault = Fault("rustsbi-panic", self.name, "unknown", f"RustSBI panic: {message}"[:160], line.path,
                      cpu=int(m.group(1)), facts={"panic_message": message, "panic_location": location})
        pc = _MEPC.search(message)
        insn = _INSN.search(message)
        evidence = []
        if self._xlen:
            evidence.append(f"misa RV{self._xlen}")
        if pc:
            fault.addresses["pc"] = Address(int(pc.group(1), 16), "PC", "mepc")
            if len(pc.group(1)) == 16:
                evidence.append("16-digit mepc")
        fault.arch = ("riscv64" if self._xlen == "64" or (self._xlen is None and pc and len(pc.group(1)) == 16)
                      else "riscv32" if self._xlen == "32" else "unknown")
        if evidence and fault.arch != "unknown":
            fault.facts["arch_evidence"] = evidence
        if insn:
            from hvcheck.riscv.decode import decode32, pretty

            word = int(insn.group(1), 16)
            fault.facts["instruction_bits"] = word
            decoded = decode32(word & 0xFFFFFFFF)
            fault.facts["instruction"] = decoded.name if decoded.cls == "valid" else "not a valid instruction"
            fault.facts["instruction_text"] = pretty(decoded)
            fault.facts["cause"] = 2
            fault.facts["cause_name"] = "illegal instruction (RustSBI could not emulate it)"
        if self._entry is not None:
            fault.facts["kernel_entry"] = self._entry
            if pc and int(pc.group(1), 16) == self._entry:
                fault.facts["at_kernel_entry"] = True
                fault.facts["interpretation"] = ("the trap is at the kernel entry RustSBI jumped to: nothing (or not "
                                                 "the kernel) is loaded at that address")
        fault.cite(ev(line))
        self.emit(fault, key=(fault.cpu, message))
