"""QEMU's "KVM internal error. Suberror: N" / emulation-failure dump reader (log-formats.md §6;
suberror values from include/uapi/linux/kvm.h, extra-data layout from arch/x86/kvm/vmx/vmx.c).
Also the older ``KVM: entry failed, hardware error 0x..`` and old qemu-kvm lower-case dumps."""

from __future__ import annotations

import re

from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.reader import Reader, ev
from hvcheck.triage.source import LogLine
from hvcheck.triage.x86_insn import decode_at, parse_code

MAX_BLOCK_LINES = 60

SUBERRORS = {1: "KVM_INTERNAL_ERROR_EMULATION (KVM's emulator could not emulate the instruction)",
             2: "KVM_INTERNAL_ERROR_SIMUL_EX (exception while delivering an exception)",
             3: "KVM_INTERNAL_ERROR_DELIVERY_EV (VM exit while delivering an event)",
             4: "KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON",
             5: "KVM_INTERNAL_ERROR_NO_EVENT_WINDOW"}
EXIT_REASONS = {0: "EXCEPTION_NMI", 1: "EXTERNAL_INTERRUPT", 2: "TRIPLE_FAULT", 9: "TASK_SWITCH",
                10: "CPUID", 12: "HLT", 18: "VMCALL", 28: "CR_ACCESS", 30: "IO_INSTRUCTION",
                31: "MSR_READ", 32: "MSR_WRITE", 33: "INVALID_STATE", 48: "EPT_VIOLATION",
                49: "EPT_MISCONFIG", 55: "XSETBV"}
EVENT_TYPES = {0: "external interrupt", 2: "NMI", 3: "hardware exception", 4: "software interrupt",
               5: "privileged software exception", 6: "software exception"}

_START = re.compile(r"KVM internal error\.\s*Suberror:\s*(\d+)")
_ENTRY = re.compile(r"KVM: entry failed, hardware error (0x[0-9a-fA-F]+)")
_EXTRA = re.compile(r"extra data\[(\d+)\]:\s*(?:0x)?([0-9a-fA-F]+)")
_REG = re.compile(r"\b(R[A-Z0-9]{1,2}|E[A-Z]{2}|RFL|EFL|CPL|CR\d|DR\d|EFER|II|A20|SMM|HLT)\s*=\s*([0-9a-fA-F]+)\b")
_OLD_REG = re.compile(r"\b(rax|rbx|rcx|rdx|rsi|rdi|rsp|rbp|rip|r\d{1,2}|cr[0234]|efer)\s+([0-9a-f]{8,16})\b")
_CODE = re.compile(r"^Code=(.*)")


class KvmErrorReader(Reader):
    name = "kvm"
    anchors = (b"KVM internal", b"KVM: entry")

    def __init__(self) -> None:
        super().__init__()
        self._cur: Fault | None = None
        self._left = 0

    def feed(self, line: LogLine) -> None:
        text = line.text
        m = _START.search(text) or _ENTRY.search(text)
        if m:
            self._close()
            if m.re is _START:
                sub = int(m.group(1))
                fault = Fault("kvm-internal-error", self.name, "x86_64", f"KVM internal error, suberror {sub}",
                              line.path, facts={"suberror": sub, "suberror_name": SUBERRORS.get(sub, "unknown")})
            else:
                fault = Fault("kvm-entry-failed", self.name, "x86_64", f"KVM entry failed, hardware error {m.group(1)}",
                              line.path, facts={"hardware_error": int(m.group(1), 16)})
            fault.cite(ev(line))
            self._cur = fault
            self._left = MAX_BLOCK_LINES
            self.active = True
            return
        cur = self._cur
        if cur is None:
            return
        self._left -= 1
        if "emulation failure" in text:
            cur.facts["emulation_failure"] = True
            cur.cite(ev(line))
        m = _EXTRA.search(text)
        if m:
            extra = cur.facts.setdefault("extra", [])
            if len(extra) < 16:
                extra.append(int(m.group(2), 16))
            cur.cite(ev(line))
        regs = _REG.findall(text) or [(n.upper(), v) for n, v in _OLD_REG.findall(text)]
        for name, value in regs:
            cur.registers[name] = int(value, 16)
        if any(n in ("RIP", "EIP", "CR0", "RAX", "EFER") for n, _ in regs):
            cur.cite(ev(line))
        m = _CODE.search(text)
        if m:
            code = parse_code(m.group(1))
            cur.facts["code"] = m.group(1).strip()[:400]
            insn = decode_at(code) if code else None
            if insn is not None:
                cur.facts["instruction"] = insn.mnemonic
            cur.cite(ev(line))
            self._close()
            return
        if self._left <= 0:
            self._close()

    def _close(self) -> None:
        cur, self._cur = self._cur, None
        self.active = False
        if cur is None:
            return
        regs = cur.registers
        rip = regs.get("RIP", regs.get("EIP"))
        if rip is not None:
            cur.addresses["pc"] = Address(rip, "GPA" if not regs.get("CR0", 0) & 0x80000000 else "PC", "guest RIP")
            if 0xA0000 <= rip < 0x100000:
                cur.facts["rip_region"] = "legacy VGA/option-ROM/BIOS area (0xa0000-0xfffff): guest executing from non-RAM"
            elif 0xFEE00000 <= rip < 0xFEF00000:
                cur.facts["rip_region"] = "local APIC MMIO page"
        if "CR0" in regs:
            cr0 = regs["CR0"]
            pe, pg = cr0 & 1, cr0 >> 31 & 1
            lma = regs.get("EFER", 0) >> 10 & 1
            cur.facts["cpu_mode"] = ("long mode" if lma and pg else "protected mode, paging" if pe and pg
                                     else "protected mode, no paging" if pe else "real mode")
        extra = cur.facts.get("extra", [])
        if cur.facts.get("suberror") == 3 and len(extra) >= 2:
            info = extra[0]
            if info >> 31 & 1:
                cur.facts["vectoring"] = (f"{EVENT_TYPES.get(info >> 8 & 7, 'event')} vector {info & 0xFF:#x}"
                                          + (" with error code" if info >> 11 & 1 else ""))
            cur.facts["exit_reason"] = f"{extra[1]} ({EXIT_REASONS.get(extra[1] & 0xFFFF, 'unknown')})"
            if extra[1] & 0xFFFF == 49 and len(extra) >= 4:
                cur.addresses["fault"] = Address(extra[3], "GPA", "EPT misconfiguration GPA (extra data[3])")
        self.emit(cur, key=(cur.facts.get("suberror"), rip))

    def finish(self) -> None:
        self._close()
