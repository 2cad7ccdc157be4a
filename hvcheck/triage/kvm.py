"""QEMU's "KVM internal error. Suberror: N" / emulation-failure dump reader (log-formats.md §6).

Suberror values: include/uapi/linux/kvm.h. The ``extra data[]`` layouts are those of
arch/x86/kvm/vmx/vmx.c and x86.c:

- 1 EMULATION (5.16+, ``prepare_emulation_failure_exit``): [0] flags (bit 0: instruction bytes follow in
  [1..2]), then exit reason, exit qualification, info2, interruption info, error code.
- 2 SIMUL_EX: [0] IDT-vectoring info, [1] VM-exit interruption info, [2] error code, [3] CPU.
- 3 DELIVERY_EV: [0] IDT-vectoring info, [1] exit reason, [2] exit qualification, [3] GPA when the exit
  was an EPT misconfiguration, then the CPU of the last VM entry.
- 4 UNEXPECTED_EXIT_REASON: [0] exit reason, [1] CPU.

The CPU mode comes from CR0.PE/PG, EFER.LMA, EFLAGS.VM and the CS descriptor (QEMU prints CS64 only for
a 64-bit code segment in long mode); the instruction pointer the CPU fetched from is the linear address
CS.base + EIP (64-bit mode ignores the base). QEMU prints the same dump again when asked, and a vCPU
that keeps failing prints its header several times: headers before a register dump belong to one record.
"""

from __future__ import annotations

import re

from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.reader import Reader, ev
from hvcheck.triage.source import LogLine
from hvcheck.triage.x86_insn import decode_at, parse_code

MAX_BLOCK_LINES = 60
HEADER_BURST = 6       # lines after the previous header within which a repeated header is the same failure

SUBERRORS = {1: "KVM_INTERNAL_ERROR_EMULATION (KVM's emulator could not emulate the instruction)",
             2: "KVM_INTERNAL_ERROR_SIMUL_EX (exception while delivering an exception)",
             3: "KVM_INTERNAL_ERROR_DELIVERY_EV (VM exit while delivering an event)",
             4: "KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON",
             5: "KVM_INTERNAL_ERROR_NO_EVENT_WINDOW"}
# SDM Vol. 3 Appendix C (basic exit reasons).
EXIT_REASONS = {0: "EXCEPTION_NMI", 1: "EXTERNAL_INTERRUPT", 2: "TRIPLE_FAULT", 3: "INIT_SIGNAL", 4: "SIPI",
                7: "INTERRUPT_WINDOW", 8: "NMI_WINDOW", 9: "TASK_SWITCH", 10: "CPUID", 12: "HLT", 13: "INVD",
                14: "INVLPG", 15: "RDPMC", 16: "RDTSC", 18: "VMCALL", 28: "CR_ACCESS", 29: "DR_ACCESS",
                30: "IO_INSTRUCTION", 31: "MSR_READ", 32: "MSR_WRITE", 33: "INVALID_STATE", 34: "MSR_LOAD_FAIL",
                36: "MWAIT", 39: "MONITOR", 40: "PAUSE", 41: "MCE_DURING_VMENTRY", 43: "TPR_BELOW_THRESHOLD",
                44: "APIC_ACCESS", 45: "EOI_INDUCED", 46: "GDTR_IDTR", 47: "LDTR_TR", 48: "EPT_VIOLATION",
                49: "EPT_MISCONFIG", 50: "INVEPT", 51: "RDTSCP", 52: "PREEMPTION_TIMER", 53: "INVVPID",
                54: "WBINVD", 55: "XSETBV", 56: "APIC_WRITE", 57: "RDRAND", 58: "INVPCID", 62: "PML_FULL",
                63: "XSAVES", 64: "XRSTORS", 74: "BUS_LOCK", 75: "NOTIFY"}
EVENT_TYPES = {0: "external interrupt", 2: "NMI", 3: "hardware exception", 4: "software interrupt",
               5: "privileged software exception", 6: "software exception", 7: "other event"}
VECTORS = {0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM", 8: "#DF", 10: "#TS",
           11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF", 17: "#AC", 18: "#MC", 19: "#XM", 20: "#VE",
           21: "#CP"}
# Guest-physical ranges of a PC whose meaning a dump cannot show by itself.
REGIONS = [(0xA0000, 0xC0000, "VGA", "legacy VGA window (MMIO, not RAM): KVM can neither run nor emulate code there"),
           (0xC0000, 0x100000, "BIOS", "option ROM / BIOS area (read-only shadow)"),
           (0xFEC00000, 0xFED00000, "IOAPIC", "I/O APIC MMIO page"),
           (0xFEE00000, 0xFEF00000, "LAPIC", "local APIC MMIO page"),
           (0xFFC00000, 0x100000000, "FLASH", "firmware flash window below 4 GiB")]

_START = re.compile(r"KVM internal error\.\s*Suberror:\s*(\d{1,6})")
_ENTRY = re.compile(r"KVM: entry failed, hardware error (0x[0-9a-fA-F]{1,16})")
_EXTRA = re.compile(r"extra data\[(\d{1,3})\]:\s*(?:0x)?([0-9a-fA-F]{1,16})")
_REG = re.compile(r"\b(R[A-Z0-9]{1,2}|E[A-Z]{2}|RFL|EFL|CPL|CR\d|DR\d|EFER|II|A20|SMM|HLT)\s*=\s*([0-9a-fA-F]{1,16})\b")
_SEG = re.compile(r"^(ES|CS|SS|DS|FS|GS|LDT|TR)\s*=\s*([0-9a-f]{4}) ([0-9a-f]{8,16}) ([0-9a-f]{8}) ([0-9a-f]{8})"
                  r"(?:.*?\b(CS16|CS32|CS64|DS16|DS)\b)?")
_OLD_SEG = re.compile(r"^(cs|ss|ds|es|fs|gs|tr|ldt) ([0-9a-f]{4}) \(([0-9a-f]{8,16})/([0-9a-f]{8})"
                      r"(?:.*?\bdb (\d))?(?:.*?\bl (\d))?")
_OLD_REG = re.compile(r"\b(rax|rbx|rcx|rdx|rsi|rdi|rsp|rbp|rip|r\d{1,2}|rflags|cr[02348]|efer)\s+([0-9a-f]{1,16})\b")
_OLD_DANGLING = re.compile(r"\b(rax|rbx|rcx|rdx|rsi|rdi|rsp|rbp|rip|r\d{1,2}|rflags|cr[02348]|efer)\s*$")
_CODE = re.compile(r"^Code=(.*)")
_OTHER_TRACE = re.compile(r"^\s*\d{1,20}: v=[0-9a-f]{2} e=|check_exception|riscv_cpu_do_interrupt|Taking exception")


def describe_event(info: int) -> str | None:
    """IDT-vectoring / VM-exit interruption information (SDM 25.9.2/25.9.3) in words."""
    if not info >> 31 & 1:
        return None
    kind, vector = info >> 8 & 7, info & 0xFF
    text = f"{EVENT_TYPES.get(kind, 'event')} vector {vector:#x}"
    if kind == 3 and vector in VECTORS:
        text += f" ({VECTORS[vector]})"
    if info >> 11 & 1:
        text += " with error code"
    return text


def decode_ept_violation(qual: int) -> dict[str, object]:
    """EPT-violation exit qualification (SDM Table 28-7)."""
    access = "instruction fetch" if qual & 4 else "write" if qual & 2 else "read" if qual & 1 else "none"
    perms = "".join(c for b, c in ((3, "r"), (4, "w"), (5, "x")) if qual >> b & 1)
    out: dict[str, object] = {"ept_access": access, "ept_present": bool(perms),
                              "ept_permissions": perms or "none (no EPT mapping for the address)",
                              "ept_linear_valid": bool(qual >> 7 & 1)}
    if qual >> 7 & 1:
        out["ept_walk"] = "access to the translated address" if qual >> 8 & 1 else "guest paging-structure walk"
    return out


class KvmErrorReader(Reader):
    name = "kvm"
    anchors = (b"KVM internal", b"KVM: entry")

    def __init__(self) -> None:
        super().__init__()
        self._cur: Fault | None = None
        self._left = 0
        self._dangling = ""
        self._segs: dict[str, tuple[int, int, int, str | None]] = {}
        self._header_line = 0
        self._foreign = False       # a line that is no part of a dump came since the last header

    def boundary(self) -> None:
        self._close()

    def finish(self) -> None:
        self._close()

    def feed(self, line: LogLine) -> None:
        text = line.text
        m = _START.search(text) or _ENTRY.search(text)
        if m:
            if self._merge_header(m, line):
                return
            self._close()
            if m.re is _START:
                sub = int(m.group(1))
                fault = Fault("kvm-internal-error", self.name, "x86_64", f"KVM internal error, suberror {sub}",
                              line.path, facts={"suberror": sub, "suberror_name": SUBERRORS.get(sub, "unknown")})
            else:
                fault = Fault("kvm-entry-failed", self.name, "x86_64", f"KVM entry failed, hardware error {m.group(1)}",
                              line.path, facts={"hardware_error": int(m.group(1), 16)})
            fault.cite(ev(line))
            self._cur, self._left, self._segs = fault, MAX_BLOCK_LINES, {}
            self._header_line, self._foreign = line.number, False
            self.active = True
            return
        cur = self._cur
        if cur is None:
            return
        if _OTHER_TRACE.search(text):
            self._close()       # a QEMU -d int trace prints the same register dump: not this record's
            return
        self._left -= 1
        if not self._body(cur, line, text) and text.strip():
            self._foreign = True
        if self._cur is not None and self._left <= 0:
            self._close()

    def _merge_header(self, m: re.Match[str], line: LogLine) -> bool:
        """A header repeated before the dump is complete (a vCPU failing again, several vCPUs printing at
        once, or QEMU printing twice): the same failure, counted, not a new record. Repeats come in a burst:
        before the register dump, or within a few lines of the first header."""
        cur = self._cur
        if cur is None or m.re is not _START or cur.facts.get("suberror") != int(m.group(1)):
            return False
        if self._foreign or (cur.registers and line.number - self._header_line > HEADER_BURST):
            return False
        self._header_line = line.number
        cur.count += 1
        cur.cite(ev(line))
        self._left = MAX_BLOCK_LINES
        return True

    def _body(self, cur: Fault, line: LogLine, text: str) -> bool:
        """Read one line of the dump; False when the line is no part of it."""
        if "emulation failure" in text:
            cur.facts["emulation_failure"] = True
            cur.cite(ev(line))
            return True
        m = _EXTRA.search(text)
        if m:
            extra: list[int] = cur.facts.setdefault("extra", [])
            if int(m.group(1)) == len(extra) and len(extra) < 16:
                extra.append(int(m.group(2), 16))
            cur.cite(ev(line))
            return True
        m = _SEG.search(text)
        if m:
            self._segs[m.group(1)] = (int(m.group(2), 16), int(m.group(3), 16), int(m.group(5), 16), m.group(6))
            if m.group(1) == "CS":
                cur.cite(ev(line))
            return True
        m = _OLD_SEG.search(text)
        if m:
            flags = (int(m.group(5) or 0) << 22) | (int(m.group(6) or 0) << 21)
            self._segs[m.group(1).upper()] = (int(m.group(2), 16), int(m.group(3), 16), flags,
                                              "CS64" if m.group(6) == "1" else None)
            if m.group(1) == "cs":
                cur.cite(ev(line))
            return True
        if self._dangling:
            text = self._dangling + " " + text.strip()
            self._dangling = ""
        regs = _REG.findall(text)
        old = [] if regs else _OLD_REG.findall(text)
        for name, value in regs or [(n.upper(), v) for n, v in old]:
            cur.registers[{"RFLAGS": "RFL"}.get(name, name)] = int(value, 16)
        if old:
            d = _OLD_DANGLING.search(text)
            if d:
                self._dangling = text[d.start():]
        if any(n.upper() in ("RIP", "EIP", "CR0", "RAX", "EAX", "EFER") for n, _ in regs or old):
            cur.cite(ev(line))
        if old and any(n == "efer" for n, _ in old):
            self._close()       # the last line of an old qemu-kvm dump (it prints no Code=)
            return True
        m = _CODE.search(text)
        if m:
            code = parse_code(m.group(1))
            cur.facts["code"] = m.group(1).strip()[:400]
            insn = decode_at(code) if code else None
            if insn is not None:
                cur.facts["instruction"] = insn.mnemonic
            cur.cite(ev(line))
            self._close()
            return True
        return bool(regs or old or self._dangling)

    def _close(self) -> None:
        cur, self._cur = self._cur, None
        self.active = False
        self._dangling = ""
        if cur is None:
            return
        self._mode(cur)
        self._extra(cur)
        key = (cur.facts.get("suberror"), cur.facts.get("linear_pc"), cur.registers.get("RIP", cur.registers.get("EIP")))
        self.emit(cur, key=key)

    def _mode(self, cur: Fault) -> None:
        regs = cur.registers
        rip = regs.get("RIP", regs.get("EIP"))
        cs = self._segs.get("CS")
        cr0, efer, rfl = regs.get("CR0"), regs.get("EFER"), regs.get("RFL", regs.get("EFL"))
        lma = efer is not None and bool(efer >> 10 & 1)
        cs_l = cs is not None and (cs[3] == "CS64" or bool(cs[2] >> 21 & 1))
        mode, basis = None, ""
        if cs is not None and cs[3] == "CS64" or (lma and cs_l):
            mode, basis = "64-bit", "CS is a 64-bit code segment in long mode (CS64 / EFER.LMA with CS.L)"
        elif lma and cs is not None:
            mode, basis = "compatibility", "EFER.LMA=1 with a 32/16-bit code segment"
        elif cr0 is not None:
            if not cr0 & 1:
                mode, basis = "real", "CR0.PE=0"
            elif rfl is not None and rfl >> 17 & 1:
                mode, basis = "virtual-8086", "CR0.PE=1 and EFLAGS.VM=1"
            else:
                mode, basis = "protected", "CR0.PE=1" + (", paging on (CR0.PG=1)" if cr0 >> 31 & 1 else ", no paging")
        elif cs is not None and cs[3] in ("CS32", "CS16"):
            mode, basis = "protected", f"{cs[3]} code segment (CR0 not in the dump)"
        if mode is not None:
            cur.facts["cpu_mode"] = mode
            cur.facts["cpu_mode_basis"] = basis
            if cr0 is not None:
                cur.facts["paging"] = bool(cr0 >> 31 & 1)
        if cs is not None:
            cur.facts["cs_selector"], cur.facts["cs_base"] = cs[0], cs[1]
        if rip is None:
            return
        cur.addresses["pc"] = Address(rip, "PC", "guest RIP/EIP")
        if mode == "64-bit":
            linear = rip
        elif cs is not None:
            linear = (cs[1] + rip) & 0xFFFFFFFF
        else:
            cur.facts["linear_pc_unknown"] = "CS base not in the dump: the fetch address cannot be computed"
            return
        cur.facts["linear_pc"] = linear
        physical = mode in ("real", "virtual-8086") or (mode == "protected" and cr0 is not None and not cr0 >> 31 & 1)
        space = "GPA" if physical else "VA"
        what = "CS.base + EIP (linear = guest physical, no paging)" if physical else "linear instruction address"
        cur.addresses["fetch"] = Address(linear, space, what)
        for lo, hi, short, long in REGIONS:
            if lo <= linear < hi:
                cur.facts["region"] = short
                cur.facts["rip_region"] = long if physical else long + " (if the guest maps it 1:1, as firmware does)"

    @staticmethod
    def _extra(cur: Fault) -> None:
        extra: list[int] = cur.facts.get("extra", [])
        sub = cur.facts.get("suberror")
        if not extra:
            return
        info: list[int] = []
        if sub == 1 and extra[0] in (0, 1) and len(extra) >= 6:
            start = 3 if extra[0] & 1 else 1
            info = extra[start:start + 5]
            cur.facts["emulation_flags"] = extra[0]
        elif sub == 2:
            for key, idx in (("vectoring", 0), ("exit_interrupt", 1)):
                if len(extra) > idx:
                    text = describe_event(extra[idx])
                    if text:
                        cur.facts[key] = text
            return
        elif sub == 3:
            text = describe_event(extra[0])
            if text:
                cur.facts["vectoring"] = text
            info = extra[1:3]
        elif sub == 4:
            info = extra[:1]
        if not info:
            return
        reason = info[0] & 0xFFFF
        cur.facts["exit_reason"] = reason
        cur.facts["exit_reason_name"] = EXIT_REASONS.get(reason, "unknown")
        if len(info) > 1:
            cur.facts["exit_qualification"] = info[1]
            if reason == 48:
                cur.facts.update(decode_ept_violation(info[1]))
        if sub == 1 and len(info) > 3 and info[3] >> 31 & 1:
            cur.facts["exit_interrupt"] = describe_event(info[3])
        if sub == 3 and reason == 49 and len(extra) > 3:
            cur.facts["gpa"] = extra[3]
            cur.addresses["fault"] = Address(extra[3], "GPA", "EPT misconfiguration GPA (extra data[3])")
