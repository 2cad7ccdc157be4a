"""seL4 and Microkit fault reports.

- seL4 kernel (src/api/faults.c, debug printing of unhandled faults): ``Caught cap fault in send phase at
  address 0`` / ``while trying to handle:`` / ``vm fault on data at address 0x.. with status 0x..`` /
  ``in thread 0x.. "name" at address 0x..``. The status is the architecture's fault status: an ESR on
  AArch64 (EC in bits 31:26), a DFSR/IFSR on AArch32, the #PF error code on x86, scause on RISC-V; only an
  ESR carries its own evidence of the architecture, so only then is it decoded.
- Microkit monitor: ``MON|ERROR: received message ...``, ``MON|ERROR: faulting PD: <name>``, ``pc : 0x..``,
  ``MON|ERROR: VMFault: ip=0x.. fault_addr=0x.. fsr=0x.. (data fault)``, ``MON|ERROR:    ec: 0x.. ...``.
- Microkit loader: ``LDR|ERROR: loader trapped exception: Synchronous (...)``, ``esr_el1: 0x..``, ``far: 0x..``.
"""

from __future__ import annotations

import re

from hvcheck.triage.arch import UNKNOWN
from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.reader import BlockReader, ev
from hvcheck.triage.source import LogLine
from hvcheck.triage.syndrome import ABORTS, decode_esr

MAX_BLOCK_LINES = 40
_CAP = re.compile(r"Caught cap fault in (\w+) phase at address (0x[0-9a-fA-F]{1,16}|0)")
_VM = re.compile(r"vm fault on (data|code) at address (0x[0-9a-fA-F]{1,16}|0) with status (0x[0-9a-fA-F]{1,16}|0)")
_THREAD = re.compile(r'in thread (0x[0-9a-fA-F]{1,16}) "([^"]{0,64})" at address (0x[0-9a-fA-F]{1,16}|0)')
_MON = re.compile(r"MON\|ERROR: received message (0x[0-9a-fA-F]{1,16})")
_PD = re.compile(r"MON\|ERROR: faulting PD: (\S+)")
_VMFAULT = re.compile(r"VMFault: ip=(0x[0-9a-fA-F]{1,16})\s+fault_addr=(0x[0-9a-fA-F]{1,16})\s+fsr=(0x[0-9a-fA-F]{1,16})"
                      r"(?:\s+\((\w+) fault\))?")
_MON_EC = re.compile(r"MON\|ERROR:\s+ec: (0x[0-9a-fA-F]{1,8})")
_PC = re.compile(r"^pc\s*:\s*(0x[0-9a-fA-F]{1,16})")
_LDR = re.compile(r"LDR\|ERROR: loader trapped (?:kernel )?exception: (.+)")
_LDR_ESR = re.compile(r"^esr_el[123]: (0x[0-9a-fA-F]{1,16})")
_LDR_FAR = re.compile(r"^far: (0x[0-9a-fA-F]{1,16})")
_LDR_ELR = re.compile(r"^elr(?:_el[123])?: (0x[0-9a-fA-F]{1,16})")


def _int(text: str) -> int:
    return int(text, 16) if text.startswith("0x") else int(text)


class Sel4Reader(BlockReader):
    name = "sel4"
    anchors = (b"Caught cap fault", b"MON|ERROR", b"LDR|ERROR")

    max_lines = MAX_BLOCK_LINES

    def feed(self, line: LogLine) -> None:
        text = line.text.strip()
        m = _CAP.search(text)
        if m:
            new = self._start(line, "sel4-fault", "seL4: fault with no handler (cap fault in send phase)")
            new.facts["cap_fault_phase"] = m.group(1)
            return
        m = _MON.search(text)
        if m:
            new = self._start(line, "microkit-fault", "Microkit monitor: a protection domain faulted")
            new.facts["message"] = _int(m.group(1))
            return
        m = _LDR.search(text)
        if m:
            new = self._start(line, "microkit-loader-fault", f"Microkit loader exception: {m.group(1)}"[:160])
            new.facts["exception"] = m.group(1)
            return
        m = _VM.search(text)
        if m and (self._cur is None or "status" in self._cur.facts):
            self._start(line, "sel4-fault", "seL4: vm fault")
        f = self._cur
        if f is None:
            return
        self._left -= 1
        if m:
            f.addresses["fault"] = Address(_int(m.group(2)), "VA", f"vm fault on {m.group(1)}")
            f.facts.update(fault_kind=m.group(1), status=_int(m.group(3)))
            f.cite(ev(line))
        elif self._body(f, text):
            f.cite(ev(line))
        if self._cur is not None and self._left <= 0:
            self._close()

    def _body(self, f: Fault, text: str) -> bool:
        m = _THREAD.search(text)
        if m:
            f.facts["thread"] = m.group(2)
            f.addresses["pc"] = Address(_int(m.group(3)), "PC", "thread's faulting instruction")
            return True
        m = _PD.search(text)
        if m:
            f.facts["pd"] = m.group(1)
            return True
        m = _VMFAULT.search(text)
        if m:
            f.addresses["pc"] = Address(int(m.group(1), 16), "PC", "ip")
            f.addresses["fault"] = Address(int(m.group(2), 16), "VA", "fault_addr")
            f.facts["fsr"] = int(m.group(3), 16)
            if m.group(4):
                f.facts["fault_kind"] = m.group(4)
            return True
        m = _MON_EC.search(text)
        if m:
            f.facts["monitor_ec"] = int(m.group(1), 16)
            return True
        m = _LDR_ESR.search(text)
        if m:
            f.facts["esr"] = int(m.group(1), 16)
            return True
        m = _LDR_FAR.search(text)
        if m:
            f.addresses["fault"] = Address(int(m.group(1), 16), "VA", "FAR")
            return True
        m = _LDR_ELR.search(text)
        if m:
            f.addresses["pc"] = Address(int(m.group(1), 16), "PC", "ELR")
            return True
        m = _PC.search(text)
        if m and "pc" not in f.addresses:
            f.addresses["pc"] = Address(int(m.group(1), 16), "PC", "pc")
            return True
        return False

    def _start(self, line: LogLine, kind: str, summary: str) -> Fault:
        return self._open(line, Fault(kind, self.name, UNKNOWN, summary, line.path))

    def _complete(self, f: Fault) -> None:
        # Which value is an Arm syndrome: the loader's esr_el1, the monitor's fsr (it printed the EC), or a
        # kernel status whose EC field names an abort (the other architectures' statuses are small numbers).
        syndrome = f.facts.get("esr")
        evidence = "esr_el1 printed by the loader"
        if syndrome is None and isinstance(f.facts.get("fsr"), int) and "monitor_ec" in f.facts:
            syndrome, evidence = f.facts["fsr"], "the monitor decodes fsr as an ESR (ec:)"
        status = f.facts.get("status")
        if syndrome is None and isinstance(status, int) and status >> 26 in ABORTS and status >> 25 & 1:
            syndrome, evidence = status, "status has the ESR shape (abort EC in bits 31:26, IL=1)"
        if isinstance(syndrome, int):
            f.arch = "aarch64"
            f.facts["arch_evidence"] = [evidence]
            f.facts.update(decode_esr(syndrome))
            if "wnr" in f.facts:
                f.facts["is_write"] = bool(f.facts["wnr"])
        self.emit(f, key=(f.kind, f.addresses.get("fault"), f.addresses.get("pc"), f.facts.get("thread")))
