"""Bao hypervisor one-line errors (bao-project/bao-hypervisor src/arch/*/aborts.c, sync_exceptions.c).

- ``BAO ERROR: no emulation handler for abort(0x<IPA> at 0x<guest PC>)``: a guest access to an address that
  is neither mapped in its VM nor emulated (log-formats.md §2) — the same meaning as hvisor's unhandled MMIO;
- ``BAO ERROR: no handler for abort ec = 0x20``: an Arm exception class Bao does not handle (the ``ec`` is an
  ESR_EL2 field: Arm evidence);
- ``BAO ERROR: unknown synchronous exception (3)``: RISC-V (scause) or Arm, the line does not say which.

The VM is not named in these lines, so the architecture and the VM come only from what the line shows.
"""

from __future__ import annotations

import re

from hvcheck.triage.arch import UNKNOWN
from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.reader import Reader, ev
from hvcheck.triage.source import LogLine
from hvcheck.triage.syndrome import EC_NAMES

_ABORT = re.compile(r"BAO ERROR: no emulation handler for abort\((0x[0-9a-fA-F]{1,16}) at (0x[0-9a-fA-F]{1,16})\)")
_EC = re.compile(r"BAO ERROR: no handler for abort ec = (0x[0-9a-fA-F]{1,2})")
_SYNC = re.compile(r"BAO ERROR: unknown synchronous exception \((\d{1,3})\)")
_OTHER = re.compile(r"BAO ERROR: (.+)")


class BaoReader(Reader):
    name = "bao"
    anchors = (b"BAO ERROR",)

    def feed(self, line: LogLine) -> None:
        text = line.text
        m = _ABORT.search(text)
        if m:
            fault = Fault("bao-unhandled-mmio", self.name, UNKNOWN, "Bao: no emulation handler for abort", line.path)
            fault.addresses["fault"] = Address(int(m.group(1), 16), "GPA", "abort IPA/GPA")
            fault.addresses["pc"] = Address(int(m.group(2), 16), "PC", "guest PC")
            self._keep(fault, line, ("abort", m.group(1), m.group(2)))
            return
        m = _EC.search(text)
        if m:
            ec = int(m.group(1), 16)
            fault = Fault("bao-abort", self.name, "aarch64", f"Bao: no handler for abort EC {ec:#x}", line.path,
                          facts={"ec": ec, "ec_name": EC_NAMES.get(ec, f"exception class {ec:#x}"),
                                 "arch_evidence": ["an Arm ESR exception class (ec = ...)"]})
            self._keep(fault, line, ("ec", ec))
            return
        m = _SYNC.search(text)
        if m:
            fault = Fault("bao-exception", self.name, UNKNOWN, f"Bao: unknown synchronous exception {m.group(1)}",
                          line.path, facts={"exception": int(m.group(1))})
            self._keep(fault, line, ("sync", m.group(1)))
            return
        m = _OTHER.search(text)
        if m:
            fault = Fault("bao-error", self.name, UNKNOWN, f"Bao: {m.group(1)}"[:160], line.path,
                          facts={"message": m.group(1)[:200]})
            self._keep(fault, line, ("other", m.group(1)[:80]))

    def _keep(self, fault: Fault, line: LogLine, key: tuple[object, ...]) -> None:
        fault.cite(ev(line))
        self.emit(fault, key=key)
