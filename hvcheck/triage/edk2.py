"""EDK2 / UEFI firmware exception dumps (UefiCpuPkg CpuExceptionHandlerLib, ArmPkg
DefaultExceptionHandlerLib).

- x86: ``!!!! X64 Exception Type - 0E(#PF - Page-Fault)  CPU Apic ID - 00000000 !!!!`` (or ``IA32``),
  ``ExceptionData - 0000000000000003  I:0 R:0 U:0 W:1 P:1 ...``, ``RIP  - ..., CS  - ..., RFLAGS - ...``,
  register pairs ``RAX  - ...``, ``CR2 - ...``, then ``!!!! Find image based on IP(0x..) <path> !!!!`` or
  ``!!!! Can't find image information. !!!!``;
- AArch64: ``Synchronous Exception at 0x..``, ``X0 0x.. X1 0x..``, ``SP 0x.. ELR 0x.. SPSR 0x..``,
  ``ESR 0x.. FAR 0x..``, ``ESR : EC 0x25  IL 0x1  ISS 0x..``, ``Data abort: Permission fault, third level``.

Firmware runs identity-mapped, so RIP/ELR and CR2/FAR are physical addresses too.
"""

from __future__ import annotations

import re

from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.reader import BlockReader, ev
from hvcheck.triage.source import LogLine
from hvcheck.triage.syndrome import decode_esr

MAX_BLOCK_LINES = 80
REGIONS = [(0xA0000, 0xC0000, "VGA", "legacy VGA window: video memory, not code"),
           (0xFEC00000, 0xFED00000, "IOAPIC", "I/O APIC MMIO"), (0xFEE00000, 0xFEF00000, "LAPIC", "local APIC MMIO")]

_X86_HEAD = re.compile(r"!!!! (X64|IA32) Exception Type - ([0-9A-Fa-f]{2})\(([^)]*)\)\s+CPU Apic ID - ([0-9A-Fa-f]{1,8})")
_DATA = re.compile(r"ExceptionData - ([0-9A-Fa-f]{1,16})")
_PAIR = re.compile(r"\b([A-Z][A-Z0-9]{1,5})\s+-\s+([0-9A-Fa-f]{8,16})\b")
_IMAGE = re.compile(r"!!!! Find image based on IP\((0x[0-9A-Fa-f]+)\) (\S+)")
_NO_IMAGE = re.compile(r"!!!! Can't find image information")
_ARM_HEAD = re.compile(r"(Synchronous|IRQ|FIQ|SError) Exception at (0x[0-9A-Fa-f]{1,16})")
_ARM_ELR = re.compile(r"\bELR (0x[0-9A-Fa-f]{1,16})\s+SPSR (0x[0-9A-Fa-f]{1,16})")
_ARM_ESR = re.compile(r"^ESR (0x[0-9A-Fa-f]{1,16})\s+FAR (0x[0-9A-Fa-f]{1,16})")
_ARM_WHAT = re.compile(r"^(Data abort|Instruction abort|Alignment fault|SError): (.+)")


class Edk2Reader(BlockReader):
    name = "edk2"
    anchors = (b"!!!! ", b"Exception at 0x", b"ELR 0x")

    max_lines = MAX_BLOCK_LINES

    def feed(self, line: LogLine) -> None:
        text = line.text.strip()
        m = _X86_HEAD.search(text)
        if m:
            vector = int(m.group(2), 16)
            f = self._start(line, "edk2-x86-exception", "x86_64", f"UEFI {m.group(1)} exception {m.group(3)}")
            f.facts.update(vector=vector, exception=m.group(3), firmware=m.group(1), apic_id=int(m.group(4), 16))
            f.cpu = int(m.group(4), 16)
            return
        m = _ARM_HEAD.search(text)
        if m:
            f = self._start(line, "edk2-arm-exception", "aarch64", f"UEFI {m.group(1)} exception")
            f.addresses["pc"] = Address(int(m.group(2), 16), "PC", "exception address")
            return
        m = _ARM_ELR.search(text)
        if m and (self._cur is None or self._cur.arch != "aarch64"):
            self._start(line, "edk2-arm-exception", "aarch64", "UEFI AArch64 exception")
        if self._cur is None:
            return
        self._left -= 1
        self._body(line, text)
        if self._cur is not None and self._left <= 0:
            self._close()

    def _start(self, line: LogLine, kind: str, arch: str, summary: str) -> Fault:
        return self._open(line, Fault(kind, self.name, arch, summary, line.path))

    def _body(self, line: LogLine, text: str) -> None:
        f = self._cur
        assert f is not None
        m = _DATA.search(text)
        if m:
            f.facts["error_code"] = int(m.group(1), 16)
            f.cite(ev(line))
            return
        m = _IMAGE.search(text)
        if m:
            f.facts["image"] = m.group(2)
            f.cite(ev(line))
            self._close()
            return
        if _NO_IMAGE.search(text):
            f.facts["image"] = "none: the address is in no loaded image"
            f.cite(ev(line))
            self._close()
            return
        m = _ARM_ELR.search(text)
        if m:
            f.addresses["pc"] = Address(int(m.group(1), 16), "PC", "ELR")
            f.facts["spsr"] = int(m.group(2), 16)
            f.cite(ev(line))
            return
        m = _ARM_ESR.search(text)
        if m:
            esr = int(m.group(1), 16)
            f.registers["esr"] = esr
            f.facts.update(decode_esr(esr))
            f.facts["is_write"] = bool(f.facts.get("wnr"))
            f.addresses["fault"] = Address(int(m.group(2), 16), "HPA", "FAR (identity-mapped firmware address)")
            f.cite(ev(line))
            return
        m = _ARM_WHAT.search(text)
        if m:
            f.facts["firmware_says"] = f"{m.group(1)}: {m.group(2)}"
            f.cite(ev(line))
            self._close()
            return
        pairs = _PAIR.findall(text)
        for name, value in pairs:
            f.registers[name] = int(value, 16)
        if any(n in ("RIP", "EIP", "CR2") for n, _ in pairs):
            f.cite(ev(line))

    def _complete(self, f: Fault) -> None:
        regs = f.registers
        rip = regs.get("RIP", regs.get("EIP"))
        if rip is not None:
            f.addresses["pc"] = Address(rip, "PC", "RIP (identity-mapped firmware address)")
        if f.facts.get("vector") == 14 and "CR2" in regs:
            f.facts["cr2"] = regs["CR2"]
            f.addresses["fault"] = Address(regs["CR2"], "HPA", "CR2 (identity-mapped firmware address)")
        pc = f.addresses.get("pc")
        if pc is not None:
            for lo, hi, short, long in REGIONS:
                if lo <= pc.value < hi:
                    f.facts["region"] = short
                    f.facts["rip_region"] = long
        self.emit(f, key=(f.kind, pc, f.addresses.get("fault")))
