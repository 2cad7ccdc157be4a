"""Jailhouse hypervisor console reader (siemens/jailhouse hypervisor/arch/{arm,arm64,x86}, control.c).

A cell fault is a few lines ending with ``Parking CPU <n> (Cell: "<name>")`` (control.c panic_park):

- arm64: ``Unhandled data read at 0x2100000(2)``, ``FATAL: unhandled trap (exception class 0x24)``,
  ``Cell state before exception:``, `` pc: .. lr: .. spsr: .. EL1``, `` sp: .. elr: .. esr: 24 1 1400006``
  (EC, IL, ISS), ``x0: ..`` three per line;
- ARMv7: the same first lines, then ``pc=0x.. cpsr=0x.. hsr=0x..`` and ``r0=0x.. r1=0x..``;
- x86: ``FATAL: Invalid MMIO/RAM read, addr: 0x.. size: 4`` / ``FATAL: Invalid PIO write, port: 3f8 size: 1``,
  then ``RIP: 0x.. RSP: 0x.. FLAGS: ..``.

A fault of the hypervisor itself stops the CPU instead of parking it: ARMv7 ``Unhandled HYP data abort exit
at 0x..`` + ``Physical address: 0x.. HSR: 0x..``, arm64 ``FATAL: Unhandled HYP exception: synchronous abort
from EL2``, x86 ``FATAL: Jailhouse triggered exception #14`` + ``CR2: 0x..``.

Mail archives often show the "Parking" line before the fault it belongs to (one CPU's output reaches the
console first); a Parking line with no record before it is attached to the next fault within a few lines.
"""

from __future__ import annotations

import re

from hvcheck.triage.arch import UNKNOWN, ArchVotes
from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.reader import Reader, ev
from hvcheck.triage.source import LogLine
from hvcheck.triage.syndrome import decode_esr

MAX_RECORD_LINES = 48
PARK_LOOKAHEAD = 8          # lines a Parking line may precede the fault it belongs to
ARM32_MODES = {0x10: "USR", 0x11: "FIQ", 0x12: "IRQ", 0x13: "SVC", 0x17: "ABT", 0x1A: "HYP", 0x1B: "UND", 0x1F: "SYS"}

_DATA = re.compile(r"Unhandled data (read|write) at (0x[0-9a-fA-F]{1,16})\((\d{1,2})\)")
_X86_MMIO = re.compile(r"FATAL: Invalid MMIO/RAM (read|write), addr: (0x[0-9a-fA-F]{1,16}) size: (\d{1,2})")
_X86_PIO = re.compile(r"FATAL: Invalid PIO (read|write), port: (?:0x)?([0-9a-fA-F]{1,4}) size: (\d{1,2})")
_TRAP = re.compile(r"FATAL: (unhandled trap|forbidden access) \(exception class (0x[0-9a-fA-F]{1,2})\)")
_IABT = re.compile(r"FATAL: instruction abort at (0x[0-9a-fA-F]{1,16})")
_PARK = re.compile(r'Parking CPU (\d{1,5}) \(Cell: "([^"]{0,64})"\)')
_A64_PC = re.compile(r"\bpc: ([0-9a-f]{16})\s+lr: ([0-9a-f]{16})\s+spsr: ([0-9a-f]{8})\s+EL(\d)")
_A64_ESR = re.compile(r"\bsp: ([0-9a-f]{16})(?:\s+elr: ([0-9a-f]{16}))?\s+esr: ([0-9a-f]{1,2}) ([01]) ([0-9a-f]{1,7})")
_A64_X = re.compile(r"\bx(\d{1,2}): ([0-9a-f]{16})")
_A32_PC = re.compile(r"\bpc=(0x[0-9a-f]{8}) cpsr=(0x[0-9a-f]{8}) hsr=(0x[0-9a-f]{8})")
_A32_R = re.compile(r"\br(\d{1,2})[=:]\s*(0x[0-9a-f]{8})")
_HYP_A32 = re.compile(r"Unhandled HYP ([\w ]+?) exit at (0x[0-9a-fA-F]{1,8})")
_HYP_A32_ADDR = re.compile(r"Physical address: (0x[0-9a-fA-F]{1,8}) HSR: (0x[0-9a-fA-F]{1,8})")
_HYP_A64 = re.compile(r"FATAL: Unhandled HYP exception: (.+)")
_HYP_X86 = re.compile(r"FATAL: Jailhouse triggered exception #(\d{1,3})")
_X86_RIP = re.compile(r"^RIP: (0x[0-9a-f]{16}) RSP: (0x[0-9a-f]{16}) FLAGS: ([0-9a-f]{1,16})")
_X86_CR2 = re.compile(r"^CR2: (0x[0-9a-f]{16})")
_X86_ERR = re.compile(r"^Error code: ([0-9a-f]{1,16})")
_X86_PCPU = re.compile(r"^Physical CPU ID: (\d{1,5})")
_CODE_LOCATION = re.compile(r"Code location: (0x[0-9a-fA-F]{1,16})")
_BANNER = re.compile(r"Initializing Jailhouse hypervisor (\S+)")


class JailhouseReader(Reader):
    name = "jailhouse"
    anchors = (b"Unhandled data", b"FATAL: ", b"Parking CPU", b"Unhandled HYP", b"Physical address:",
               b"Code location:", b"Initializing Jailhouse")

    def __init__(self) -> None:
        super().__init__()
        self._cur: Fault | None = None
        self._votes = ArchVotes()
        self._left = 0
        self._esr: int | None = None
        self._last: Fault | None = None          # closed record that may still get its Parking line
        self._pending_park: tuple[int, str, LogLine] | None = None
        self._code_location: int | None = None
        self._version: str | None = None

    # -- framing ---------------------------------------------------------------------------------
    def boundary(self) -> None:
        self._close()
        self._last = None
        self._pending_park = None
        self._code_location = None
        self._version = None

    def finish(self) -> None:
        self._close()

    def feed(self, line: LogLine) -> None:
        text = line.text
        if self._banner(text):
            return
        if self._start(line, text):
            return
        m = _PARK.search(text)
        if m:
            self._park(int(m.group(1)), m.group(2), line)
            return
        cur = self._cur
        if cur is None:
            return
        self._left -= 1
        if self._body(cur, line, text):
            cur.cite(ev(line))
        if self._left <= 0:
            self._close()

    def _banner(self, text: str) -> bool:
        m = _BANNER.search(text)
        if m:
            self._version = m.group(1)
            return True
        m = _CODE_LOCATION.search(text)
        if m:
            self._code_location = int(m.group(1), 16)
            return True
        return False

    def _new(self, line: LogLine, kind: str, summary: str) -> Fault:
        self._close()
        fault = Fault(kind, self.name, UNKNOWN, summary, line.path)
        fault.cite(ev(line))
        if self._version:
            fault.facts["jailhouse_version"] = self._version
        self._cur, self._votes, self._left, self._esr = fault, ArchVotes(), MAX_RECORD_LINES, None
        self.active = True
        pending = self._pending_park
        if pending is not None and line.number - pending[2].number <= PARK_LOOKAHEAD:
            self._set_cell(fault, pending[0], pending[1], pending[2])
        self._pending_park = None
        return fault

    def _start(self, line: LogLine, text: str) -> bool:
        m = _DATA.search(text) or _X86_MMIO.search(text)
        if m:
            write = m.group(1) == "write"
            f = self._new(line, "jailhouse-unhandled-mmio", f"Jailhouse: unhandled data {m.group(1)}")
            if m.re is _X86_MMIO:
                self._votes.add("x86_64", "'Invalid MMIO/RAM' (x86 vcpu.c)")
            f.addresses["fault"] = Address(int(m.group(2), 16), "GPA", "address of the unhandled access")
            f.facts.update(is_write=write, size=int(m.group(3)))
            return True
        m = _X86_PIO.search(text)
        if m:
            f = self._new(line, "jailhouse-invalid-pio", f"Jailhouse: invalid port I/O {m.group(1)}")
            self._votes.add("x86_64", "'Invalid PIO' (x86 vcpu.c)")
            f.facts.update(is_write=m.group(1) == "write", port=int(m.group(2), 16), size=int(m.group(3)))
            return True
        m = _TRAP.search(text)
        if m:
            cur = self._cur
            if cur is None or "trap" in cur.facts:
                cur = self._new(line, "jailhouse-trap", f"Jailhouse: {m.group(1)}")
            cur.facts["trap"] = m.group(1)
            cur.facts["trap_ec"] = int(m.group(2), 16)
            cur.cite(ev(line))
            return True
        m = _IABT.search(text)
        if m:
            f = self._new(line, "jailhouse-iabt", "Jailhouse: instruction abort")
            f.addresses["fault"] = Address(int(m.group(1), 16), "GPA", "instruction fetch address")
            return True
        m = _HYP_A32.search(text)
        if m:
            f = self._new(line, "jailhouse-hyp-fault", f"Jailhouse: fault inside the hypervisor (HYP {m.group(1)})")
            self._votes.add("arm", "'Unhandled HYP ... exit' (ARMv7 traps.c)")
            f.facts["hyp_exit"] = m.group(1)
            f.addresses["pc"] = Address(int(m.group(2), 16), "PC", "ELR_hyp (hypervisor PC)")
            return True
        m = _HYP_A64.search(text)
        if m:
            f = self._new(line, "jailhouse-hyp-fault", "Jailhouse: fault inside the hypervisor (EL2)")
            self._votes.add("aarch64", "'Unhandled HYP exception' (arm64 traps.c)")
            f.facts["hyp_exception"] = m.group(1).strip()
            return True
        m = _HYP_X86.search(text)
        if m:
            f = self._new(line, "jailhouse-hyp-fault", f"Jailhouse: exception #{m.group(1)} inside the hypervisor")
            self._votes.add("x86_64", "'Jailhouse triggered exception' (x86 control.c)")
            f.facts["vector"] = int(m.group(1))
            return True
        return False

    def _body(self, f: Fault, line: LogLine, text: str) -> bool:
        m = _A64_PC.search(text)
        if m:
            self._votes.add("aarch64", "pc/lr/spsr EL dump")
            f.addresses["pc"] = Address(int(m.group(1), 16), "PC", "pc (guest, or EL2 for a HYP fault)")
            f.facts.update(spsr=int(m.group(3), 16), exception_level=int(m.group(4)))
            return True
        m = _A64_ESR.search(text)
        if m:
            self._votes.add("aarch64", "'esr: EC IL ISS' dump")
            self._esr = int(m.group(3), 16) << 26 | int(m.group(4)) << 25 | int(m.group(5), 16)
            return True
        xs = _A64_X.findall(text)
        if xs:
            self._votes.add("aarch64", "x0-x29 dump")
            for n, v in xs:
                f.registers[f"x{n}"] = int(v, 16)
            return False
        m = _A32_PC.search(text)
        if m:
            self._votes.add("arm", "'pc= cpsr= hsr=' dump (ARMv7 traps.c)")
            cpsr = int(m.group(2), 16)
            f.addresses["pc"] = Address(int(m.group(1), 16), "PC", "guest pc")
            f.facts.update(cpsr=cpsr, cpu_mode=ARM32_MODES.get(cpsr & 0x1F, f"mode {cpsr & 0x1F:#x}"),
                           isa="Thumb" if cpsr >> 5 & 1 else "ARM")
            self._esr = int(m.group(3), 16)
            f.registers["hsr"] = self._esr
            return True
        m = _HYP_A32_ADDR.search(text)
        if m:
            f.addresses["fault"] = Address(int(m.group(1), 16), "HPA", "HDFAR/HIFAR (hypervisor address)")
            self._esr = int(m.group(2), 16)
            f.registers["hsr"] = self._esr
            return True
        rs = _A32_R.findall(text)
        if rs:
            self._votes.add("arm", "r0-r14 dump")
            for n, v in rs:
                f.registers[f"r{n}"] = int(v, 16)
            return False
        m = _X86_RIP.search(text)
        if m:
            self._votes.add("x86_64", "RIP/RSP/FLAGS dump")
            f.addresses["pc"] = Address(int(m.group(1), 16), "PC", "RIP")
            return True
        m = _X86_CR2.search(text)
        if m:
            f.addresses["fault"] = Address(int(m.group(1), 16), "HPA", "CR2 (hypervisor address)")
            return True
        m = _X86_ERR.search(text) or _X86_PCPU.search(text)
        if m:
            if m.re is _X86_ERR:
                f.facts["error_code"] = int(m.group(1), 16)
            else:
                f.cpu = int(m.group(1))
            return True
        return False

    def _park(self, cpu: int, cell: str, line: LogLine) -> None:
        target = self._cur if self._cur is not None else self._last
        if target is not None and "cell" not in target.facts and line.number - target.first_line <= MAX_RECORD_LINES:
            self._set_cell(target, cpu, cell, line)
            self._close()
            self._last = None
            return
        self._pending_park = (cpu, cell, line)

    @staticmethod
    def _set_cell(fault: Fault, cpu: int, cell: str, line: LogLine) -> None:
        fault.cpu = cpu
        fault.facts["cell"] = cell
        fault.cite(ev(line))

    def _close(self) -> None:
        f, self._cur = self._cur, None
        self.active = False
        if f is None:
            return
        arch, why = self._votes.decide()
        f.arch = arch
        if why:
            f.facts["arch_evidence"] = why
        if self._esr is not None:
            f.registers.setdefault("esr", self._esr)
            f.facts.update(decode_esr(self._esr))
            if "access_size" in f.facts and "size" in f.facts and f.facts["access_size"] != f.facts["size"]:
                f.facts["size_mismatch"] = "the syndrome's access size differs from the printed size"
        if self._code_location is not None:
            f.facts["hv_code_location"] = self._code_location
        what = "write" if f.facts.get("is_write") else "read"
        addr = f.addresses.get("fault")
        if f.kind == "jailhouse-unhandled-mmio" and addr is not None:
            f.summary = f"Jailhouse: unhandled {f.facts.get('size', '?')}-byte {what} at {addr.value:#x}"
        self._last = self.emit(f, key=(f.kind, addr, f.addresses.get("pc"), f.cpu, f.facts.get("cell")))
