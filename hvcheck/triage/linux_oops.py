"""Linux kernel crash reports of every port in one reader: x86 (#GP, #PF, BUG, invalid opcode), ARM
(32-bit), arm64 (aborts, SError, "Bad mode"), RISC-V (oopses and user-space fault dumps), panics and
WARNs (log-formats.md §3, §5; Linux arch/*/kernel/traps.c, arch/*/mm/fault.c).

A record starts at a header and collects the block that follows (CPU/PID/Comm, Hardware name, pc,
registers, syndrome lines, Code, Call trace). Which architecture it is is decided when the record
closes, from what the block showed (hvcheck.triage.arch): ``RIP:``/``RAX:`` are x86, ``pstate:`` and
``x29:`` arm64, ``psr:``/``r10:``/"ISA ARM" 32-bit ARM, ``epc``/``badaddr``/``status:`` RISC-V. Only
then are the arch-specific decodings applied (XSETBV operands, ESR, FSR, scause). A record never takes
lines across a boundary: a new header, ``---[ end trace``, or a boot/timestamp boundary from the scanner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hvcheck.triage.arch import UNKNOWN, ArchVotes
from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.reader import Reader, ev, to_int
from hvcheck.triage.riscv_causes import cause_name
from hvcheck.triage.source import LogLine
from hvcheck.triage.syndrome import decode_arm32_fsr, decode_esr, fsc_name, is_external_fsc
from hvcheck.triage.x86_insn import MSR_NAMES, decode_at, parse_code

MAX_BLOCK_LINES = 120
PANIC_AFTER_END = 20        # a panic this close after a record's "---[ end trace" is that record's panic
HEX = r"[0-9a-fA-F]"

# -- headers -------------------------------------------------------------------------------------
_X86_GP = re.compile(r"(?:Oops: )?general protection fault(?:, (?:maybe|probably) for (?:non-canonical )?address "
                     r"(0x[0-9a-f]+))?: ([0-9a-f]{4}) \[#(\d+)\]")
# x86 mm/fault.c: "BUG: unable to handle page fault for address: X" (5.2+), "BUG: kernel NULL pointer
# dereference, address: X" (5.2+), "BUG: unable to handle kernel paging request at X" (before)
_X86_PF = re.compile(r"BUG: (?:unable to handle (?:page fault for address:|kernel paging request at"
                     r"|kernel NULL pointer dereference at)|kernel NULL pointer dereference, address:)"
                     r"\s*(?:0x)?([0-9a-f]+)")
_X86_UD = re.compile(r"(?:Oops: )?invalid opcode: ([0-9a-f]{4}) \[(?:#(\d+))?")
_X86_OTHER = re.compile(r"^(?:Oops: )?(double fault|stack segment|divide error|alignment check|int3|general protection)"
                        r":?\s*([0-9a-f]{4}) \[#(\d+)\]")
_OOPS_CODE = re.compile(r"^Oops: ([0-9a-f]{4}) \[#(\d+)\]")
_UNABLE = re.compile(r"Unable to handle kernel (.+?) at virtual address (?:0x)?([0-9a-f]+)")
_INTERNAL = re.compile(r"Internal error: (Oops(?: - [\w ]+)?|[\w ]+): (?:0x)?([0-9a-f]+) \[#(\d+)\](.*)")
_UNHANDLED = re.compile(r"Unhandled fault: (.+?) \((?:0x)?([0-9a-f]+)\) at (?:0x)?([0-9a-f]+)")
_SERROR = re.compile(r"SError Interrupt on CPU(\d+), code (?:0x)?([0-9a-f]+)")
_BAD_MODE = re.compile(r"Bad mode in ([\w ]+?) handler detected on CPU(\d+), code (?:0x)?([0-9a-f]+)(?: -- (.*))?")
_RV_OOPS = re.compile(r"^Oops - ([\w ]+?)(?: \[#(\d+)\])?$|^Oops \[#(\d+)\]")
_KERNEL_BUG = re.compile(r"kernel BUG at (\S+?):?(\d+)!")
_PANIC = re.compile(r"Kernel panic - not syncing:?\s*(.*)")
_USER_GP = re.compile(r"traps: (\S+)\[(\d+)\] general protection fault ip:([0-9a-f]+) sp:([0-9a-f]+) "
                      r"error:([0-9a-f]+)(?: in (\S+))?")
_USER_SIG = re.compile(r"(\S+)\[(\d+)\]: unhandled signal (\d+) code (0x[0-9a-f]+) at (0x[0-9a-f]+)(?: in (\S+))?")
_WARN = re.compile(r"WARNING: CPU: (\d+) PID: (\d+) at (\S+) (\S+)")
_END = re.compile(r"---\[ end (?:trace|Kernel panic)")
# Lines of another program on the same console are never part of a kernel's crash report: lines that are
# often interleaved with it (hypervisor logs, M-mode firmware, QEMU traces) are skipped, another program's
# crash report ends it.
_INTERLEAVED = re.compile(r"^(?:\(XEN\)|sbi_trap_error|\[(?:ERROR|WARN|INFO|DEBUG|TRACE)\s*\d*\]|"
                          r"riscv_cpu_do_interrupt|Taking exception|\.\.\.(?:from|to|with) )")
_FOREIGN_CRASH = re.compile(r"^(?:(?:MON|LDR)\|ERROR|BAO ERROR|\[rustsbi-panic\]|!!!! |KVM internal error|Unhandled data|"
                            r"FATAL: |Parking CPU|Caught cap fault|[A-Z]{2,3}\s*=[0-9a-f]{8})")

# -- body lines ----------------------------------------------------------------------------------
_CPU = re.compile(r"^CPU: (\d+)(?: UID: \d+)? PID: (\d+) Comm: (\S+)(?:\s+(Not tainted|Tainted:[A-Z ]*)\s*(\d\S*))?")
_OLD_PID = re.compile(r"^Pid: (\d+), comm: (\S+)\s+(?:Not tainted|Tainted:[A-Z ]*)\s*(\d\S*)")
_HW = re.compile(r"^Hardware name: (.*)")
_CALL_TRACE = re.compile(r"^(?:Call trace|Call Trace|Backtrace):")
_FRAME = re.compile(r"^\s*(\? )?(?:\[<[0-9a-f]+>\]\s*)?([A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+")
_PF_ACCESS = re.compile(r"#PF: (supervisor|user) (read|write|instruction fetch) access in (kernel|user) mode")
_PF_CODE = re.compile(r"#PF: error_code\(0x([0-9a-f]+)\)(?: - (.*))?")
# x86: "RIP: 0010:func+0x1/0x2", 4.x "RIP: 0010:[<addr>]  [<addr>] func", mangled "RIP: e030:[ [<a>](<a>]) func"
_RIP = re.compile(r"^RIP: ([0-9a-f]{4}):(?:\[?\s*\[<([0-9a-f]+)>\]\S*\s*)?(?:\[<[0-9a-f]+>\]\s*)?(\S+)?")
_IP_OLD = re.compile(r"^IP: \[<([0-9a-f]+)>\] (\S+)")
_X86_CODE = re.compile(r"^Code: (.*)")
_X86_REG = re.compile(r"\b(R[A-Z0-9]{1,2}|E[A-Z]{2}|EFLAGS|ORIG_RAX|CR\d|DR\d|PKRU|FS|GS|knlGS|CS|DS|ES|SS)"
                      r":\s*(?:[0-9a-f]{4}:)?([0-9a-f]+)\b")
_X86_DANGLING = re.compile(r"\b(R[A-Z0-9]{1,2}|CR\d|EFLAGS|ORIG_RAX):\s*$")
# arm / arm64 / riscv: "name : value" register pairs, "pc : func+0x/0x", "pc : [<8015295c>]"
_PAIR = re.compile(r"(?<![\w])([a-z][a-z0-9]{0,7})\s*:\s*(\[<)?(?:0x)?([0-9a-f]{8,16})\b")
_SYM_PC = re.compile(r"^(pc|lr|epc|ra|sepc)\s*:\s*([A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+")
_PC_IS = re.compile(r"^(PC|LR) is at ([A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+")
_PSR = re.compile(r"\bpsr: ([0-9a-f]{8})\b")
_PSTATE = re.compile(r"^pstate: ([0-9a-f]{8})")
_ARM_FLAGS = re.compile(r"^Flags: \S+\s+IRQs \w+\s+FIQs \w+\s+Mode (\w+)\s+ISA (\w+)")
_ESR_LINE = re.compile(r"^\s*ESR = (?:0x)?([0-9a-f]+)")
_KV = re.compile(r"\b(EC|IL|SET|FnV|EA|S1PTW|FSC|ISV|ISS|ISS2|CM|WnR|TnD|TagAccess)\s*=\s*(0x[0-9a-f]+|\d+)")
_PTE = re.compile(r"^\[([0-9a-f]+)\] pgd=.*?\bpte=([0-9a-f]+)")
_ARM32_PGD = re.compile(r"^(?:pgd = [0-9a-f]{8}|\[[0-9a-f]{8}\] \*pgd=)")
_RV_STATUS = re.compile(r"\bs?status:\s*([0-9a-f]+)\s+s?badaddr:\s*([0-9a-f]+)\s+s?cause:\s*([0-9a-f]+)")

_ARM64_X = re.compile(r"x\d{1,2}")
_X86_GPR_PAIR = re.compile(r"\b[RE](?:[A-D]X|[SD]I|[SB]P|IP|\d{1,2}):\s*[0-9a-f]{8,16}\b")
FAMILY = {"aarch64": "arm64", "arm": "arm", "riscv64": "riscv", "riscv32": "riscv", "x86_64": "x86"}
X86_GPRS = frozenset({"RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP", "R08", "R09", "R10", "R11", "R12",
                      "R13", "R14", "R15", "RIP"})
ARM32_REGS = frozenset({"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "fp", "ip"})
RISCV_REGS = frozenset({"ra", "gp", "tp", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "s0", "s1", "s2", "s3", "s4",
                        "s5", "s6", "s7", "s8", "s9", "s10", "s11", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
                        "epc", "sepc"})
ARM64_FRAMES = ("el1h_64_", "el0t_64_", "el1_sync", "el1_error", "el0_sync", "do_mem_abort", "arm64_serror_panic",
                "do_serror", "el1_abort", "el1h_64_sync")
ARM32_MODES = {0x10: "USR", 0x11: "FIQ", 0x12: "IRQ", 0x13: "SVC", 0x16: "MON", 0x17: "ABT", 0x1A: "HYP",
               0x1B: "UND", 0x1F: "SYS"}
PF_BITS = [(0, "P (protection violation, page present)"), (1, "W (write)"), (2, "U (user mode)"),
           (3, "RSVD (reserved bit set in a paging entry)"), (4, "I/D (instruction fetch)"),
           (5, "PK (protection key)"), (15, "SGX")]
XEN_PV_CS = {0xE030: "Xen PV guest kernel (FLAT_KERNEL_CS64)", 0xE033: "Xen PV guest user space (FLAT_USER_CS64)",
             0xE019: "Xen PV guest kernel (32-bit)", 0xE02B: "Xen PV guest user space (32-bit)"}

def decode_pf_error(code: int) -> list[str]:
    bits = [name for bit, name in PF_BITS if code >> bit & 1]
    if not code & 1:
        bits.insert(0, "not-present page")
    return bits


def riscv_csr_access(insn: int) -> str | None:
    """The CSR a 32-bit csrr*/csrw* instruction names (the RISC-V area's decoder), or None."""
    from hvcheck.riscv.decode import CSR_NAMES, decode32

    decoded = decode32(insn & 0xFFFFFFFF)
    if decoded.csr is None:
        return None
    return CSR_NAMES.get(decoded.csr, f"csr {decoded.csr:#x}")


@dataclass
class _Rec:
    fault: Fault
    votes: ArchVotes = field(default_factory=ArchVotes)
    left: int = MAX_BLOCK_LINES
    dangling: str = ""
    code_open: bool = False
    code_text: str = ""
    in_trace: bool = False
    esr_values: list[int] = field(default_factory=list)
    header_value: int | None = None       # "Internal error: Oops: <value>": ESR on arm64, FSR on ARM
    printed: dict[str, int] = field(default_factory=dict)
    pairs: dict[str, int] = field(default_factory=dict)
    panic_of: Fault | None = None          # a panic that may turn out to be this earlier record's


class LinuxOopsReader(Reader):
    name = "linux"
    # Every x86 oops header holds "[#N]"; a user-space #GP line "] general protection"; a user fault dump
    # "]: unhandled signal"; "kernel BUG at" and "Xen BUG at" both hold "BUG at".
    anchors = (b"[#", b"BUG: ", b"BUG at", b"Kernel panic", b"] general protection", b"WARNING: CPU",
               b"Unable to handle", b"Internal error", b"Unhandled fault", b"SError", b"Oops", b"]: unhandled signal",
               b"Bad mode in")

    def __init__(self) -> None:
        super().__init__()
        self._rec: _Rec | None = None
        self._last: Fault | None = None        # the last record of this segment (a later panic may belong to it)
        self._ended: int | None = None           # line where the last record ended (its end marker or last line)
        self._numbered = False                   # an oops with a number was seen in this segment
        self._segment = 0

    # -- framing -------------------------------------------------------------------------------
    def boundary(self) -> None:
        self._close()
        self._last = None
        self._ended = None
        self._numbered = False
        self._segment += 1

    def finish(self) -> None:
        if self._rec is not None:
            self._rec.fault.truncated = self._rec.left > 0 and not (
                self._rec.fault.addresses.get("pc") or self._rec.fault.facts.get("function"))
        self._close()

    def feed(self, line: LogLine) -> None:
        text = line.text.strip()
        if _INTERLEAVED.search(text):
            return
        if self._header(line, text):
            return
        m = _PANIC.search(text)
        if m and not _END.search(text):       # "---[ end Kernel panic - not syncing: ... ]---" ends it
            self._panic(line, m.group(1).strip())
            return
        if self._rec is None:
            m = _WARN.search(text)
            if m:
                fault = Fault("linux-warn", self.name, UNKNOWN, f"WARNING at {m.group(3)} {m.group(4)}", line.path,
                              cpu=int(m.group(1)), facts={"function": m.group(4), "file": m.group(3)})
                fault.cite(ev(line))
                self.emit(fault, key=("warn", m.group(3), self._segment))
            return
        if _FOREIGN_CRASH.search(text) or self._other_arch_registers(self._rec, text):
            self._close()
            return
        self._body(line, text)
        if _END.search(text):
            self._close(line.number)
        elif self._rec is not None:
            self._rec.left -= 1
            if self._rec.left <= 0:
                self._close()

    @staticmethod
    def _other_arch_registers(r: _Rec, text: str) -> bool:
        """A register-dump line that cannot belong to the open record: of another architecture than the one
        its evidence names, or after a panic (panic() prints no registers). The record was cut off and
        another crash's registers follow (a paste of several excerpts)."""
        if ":" not in text or not (r.votes or r.fault.kind == "panic"):
            return False
        names = [n for n, _, _ in _PAIR.findall(text)]
        line_family = ("riscv" if sum(n in RISCV_REGS for n in names) >= 2 else
                       "arm64" if sum(bool(_ARM64_X.fullmatch(n)) for n in names) >= 2 else
                       "arm" if sum(n in ARM32_REGS for n in names) >= 2 else
                       "x86" if len(_X86_GPR_PAIR.findall(text)) >= 2 else None)
        if line_family is None:
            return False
        if r.fault.kind == "panic":
            return True
        families = {FAMILY.get(a, a) for a in r.votes.votes}
        return len(families) == 1 and line_family not in families

    def _start(self, line: LogLine, kind: str, summary: str) -> _Rec:
        self._close()
        fault = Fault(kind, self.name, UNKNOWN, summary[:160], line.path)
        fault.cite(ev(line))
        self._rec = _Rec(fault)
        self.active = True
        return self._rec

    def _header(self, line: LogLine, text: str) -> bool:
        rec = self._rec
        m = _X86_GP.search(text)
        if m:
            r = self._start(line, "gp", text)
            r.votes.add("x86_64", "general protection fault header")
            if m.group(1):
                r.fault.addresses["fault"] = Address(int(m.group(1), 16), "VA", "address the #GP was for")
            r.fault.facts.update(error_code=int(m.group(2), 16), oops_number=int(m.group(3)))
            return True
        m = _X86_PF.search(text)
        if m:
            r = self._start(line, "pf", text)
            r.votes.add("x86_64", "'BUG: unable to handle' header")
            r.fault.addresses["fault"] = Address(int(m.group(1), 16), "VA", "faulting address (CR2)")
            return True
        m = _KERNEL_BUG.search(text)
        if m:
            r = self._start(line, "bug", text)
            r.fault.facts["bug_at"] = f"{m.group(1)}:{m.group(2)}"
            return True
        m = _X86_UD.search(text)
        if m and "Internal error" not in text:
            if rec is not None and rec.fault.kind == "bug" and "oops_number" not in rec.fault.facts:
                rec.fault.kind = "ud"
            else:
                rec = self._start(line, "ud", text)
            rec.votes.add("x86_64", "'invalid opcode' header")
            if m.group(2):
                rec.fault.facts["oops_number"] = int(m.group(2))
            rec.fault.cite(ev(line))
            return True
        m = _X86_OTHER.search(text)
        if m and m.group(1):
            r = self._start(line, m.group(1).replace(" ", "-"), text)
            r.votes.add("x86_64", f"'{m.group(1)}' header")
            r.fault.facts.update(error_code=int(m.group(2), 16), oops_number=int(m.group(3)))
            return True
        m = _OOPS_CODE.search(text)
        if m and rec is not None and "oops_number" not in rec.fault.facts:
            rec.fault.facts.setdefault("error_code", int(m.group(1), 16))
            rec.fault.facts["oops_number"] = int(m.group(2))
            rec.fault.cite(ev(line))
            return True
        m = _UNABLE.search(text)
        if m:
            r = self._start(line, "kernel-fault", text)
            r.fault.facts["reason"] = m.group(1)
            r.fault.addresses["fault"] = Address(int(m.group(2), 16), "VA", "faulting virtual address")
            return True
        m = _INTERNAL.search(text)
        if m:
            if rec is None or "oops_number" in rec.fault.facts or rec.fault.kind not in ("kernel-fault", "bug"):
                rec = self._start(line, "oops", text)
            rec.fault.cite(ev(line))
            rec.fault.facts["oops_number"] = int(m.group(3))
            what, value, tail = m.group(1), int(m.group(2), 16), m.group(4)
            if what != "Oops":
                rec.fault.facts["oops"] = what.removeprefix("Oops - ")
            if re.search(r"\bARM\b|\bThumb2\b", tail):
                rec.votes.add("arm", "'Internal error' header ends in ARM/Thumb2")
            if what == "Oops" and len(m.group(2)) >= 8:
                rec.votes.add("aarch64", "'Internal error: Oops' with an ESR value")
                rec.esr_values.append(value)
            elif what == "Oops":
                rec.header_value = value
            return True
        m = _UNHANDLED.search(text)
        if m:
            r = self._start(line, "unhandled-fault", text)
            r.fault.facts["reason"] = m.group(1)
            r.esr_values.append(int(m.group(2), 16))
            r.votes.add("aarch64", "'Unhandled fault: ... (ESR)' line")
            r.fault.addresses["fault"] = Address(int(m.group(3), 16), "VA", "faulting address")
            return True
        m = _SERROR.search(text)
        if m:
            r = self._start(line, "serror", text)
            r.votes.add("aarch64", "'SError Interrupt on CPU' (arm64 traps.c)")
            r.fault.cpu = int(m.group(1))
            r.fault.facts["serror"] = True
            r.esr_values.append(int(m.group(2), 16))
            return True
        m = _BAD_MODE.search(text)
        if m:
            r = self._start(line, "bad-mode", text)
            r.votes.add("aarch64", "'Bad mode ... detected on CPU, code' (arm64 traps.c)")
            r.fault.cpu = int(m.group(2))
            r.fault.facts["handler"] = m.group(1)
            r.esr_values.append(int(m.group(3), 16))
            return True
        m = _RV_OOPS.search(text)
        if m:
            reason = m.group(1)
            if rec is not None and rec.fault.kind == "kernel-fault" and "oops_number" not in rec.fault.facts:
                rec.fault.cite(ev(line))      # riscv: "Unable to handle ..." then "Oops [#1]"
            else:
                rec = self._start(line, "oops", text)
            number = m.group(2) or m.group(3)
            if number:
                rec.fault.facts["oops_number"] = int(number)
            if reason:
                rec.fault.facts["reason"] = reason
                rec.votes.add("riscv64", "'Oops - <reason>' header (riscv traps.c)")
            return True
        m = _USER_GP.search(text)
        if m:
            r = self._start(line, "user-gp", text)
            r.votes.add("x86_64", "'traps: ... general protection fault ip:'")
            r.fault.facts.update(comm=m.group(1), pid=int(m.group(2)), error_code=int(m.group(5), 16),
                                 object=m.group(6) or "")
            r.fault.addresses["pc"] = Address(int(m.group(3), 16), "PC", "user ip")
            self._close()
            return True
        # `(\S+)\[` backtracks quadratically over a long run of non-spaces: test the literal first.
        m = _USER_SIG.search(text) if "unhandled signal" in text else None
        if m:
            r = self._start(line, "user-fault", text)
            r.fault.facts.update(comm=m.group(1), pid=int(m.group(2)), signal=int(m.group(3)),
                                 si_code=int(m.group(4), 16), object=m.group(6) or "")
            r.fault.addresses["fault"] = Address(int(m.group(5), 16), "VA", "signal address (si_addr)")
            return True
        return False

    def _panic(self, line: LogLine, reason: str) -> None:
        # Linux prints "Kernel panic - not syncing" after an oops (after its "---[ end trace"), and then no
        # stack of its own (panic() skips dump_stack once an oops tainted the kernel). So a panic is read as
        # a report of its own; if it turns out to have no CPU/Comm/stack/registers of its own and follows a
        # record within a few lines, it is that record's panic (decided when it closes).
        self._close()
        previous = self._last if self._ended is not None and line.number - self._ended <= PANIC_AFTER_END else None
        r = self._start(line, "panic", f"Kernel panic - not syncing: {reason}")
        r.panic_of = previous
        r.fault.facts["panic"] = reason
        if "SError" in reason:
            r.fault.facts["serror"] = True

    # -- the block -------------------------------------------------------------------------------
    def _body(self, line: LogLine, text: str) -> None:
        r = self._rec
        assert r is not None
        f = r.fault
        if r.dangling:
            text = r.dangling + " " + text
            r.dangling = ""
        if r.code_open:
            r.code_open = False
            if re.fullmatch(r"\s*(?:[<(]?[0-9a-f]{2}[>)]?\s*)+", text):
                r.code_text += " " + text
                self._x86_code(r)
                f.cite(ev(line))
                return
        m = _CPU.search(text) or _OLD_PID.search(text)
        if m:
            if m.re is _CPU:
                f.cpu = int(m.group(1))
                f.facts.update(pid=int(m.group(2)), comm=m.group(3))
                if m.group(5):
                    f.facts["kernel_release"] = m.group(5)
            else:
                f.facts.update(pid=int(m.group(1)), comm=m.group(2), kernel_release=m.group(3))
            f.cite(ev(line))
            return
        m = _HW.search(text)
        if m:
            f.facts["hardware"] = m.group(1).strip()
            return
        if _CALL_TRACE.search(text):
            r.in_trace = True
            return
        if r.in_trace:
            m = _FRAME.search(text)
            if m:
                frames = f.facts.setdefault("call_trace", [])
                name = m.group(2)
                if any(name.startswith(p) for p in ARM64_FRAMES):
                    r.votes.add("aarch64", f"arm64 exception frame {name}")
                if len(frames) < 16 and not m.group(1):
                    frames.append(name)
                return
        self._x86_line(r, line, text)
        self._arm_line(r, line, text)
        self._riscv_line(r, line, text)

    def _x86_line(self, r: _Rec, line: LogLine, text: str) -> None:
        f = r.fault
        m = _PF_ACCESS.search(text)
        if m:
            r.votes.add("x86_64", "#PF access line")
            f.facts["access"] = f"{m.group(1)} {m.group(2)} in {m.group(3)} mode"
            f.cite(ev(line))
        m = _PF_CODE.search(text)
        if m:
            code = int(m.group(1), 16)
            f.facts["error_code"] = code
            f.facts["error_code_bits"] = decode_pf_error(code)
            f.cite(ev(line))
        m = _RIP.search(text) or _IP_OLD.search(text)
        if m:
            r.votes.add("x86_64", "RIP line")
            if m.re is _RIP:
                cs = int(m.group(1), 16)
                f.facts["cs"] = cs
                f.facts["mode"] = "kernel" if cs in (0x10, 0xE030) else "user" if cs in (0x33, 0xE033) else "?"
                if cs in XEN_PV_CS:
                    f.facts["xen_pv_guest"] = True
                    f.facts["xen_pv"] = XEN_PV_CS[cs]
                symbol, pc = m.group(3), m.group(2)
            else:
                pc, symbol = m.group(1), m.group(2)
            if symbol and not symbol.startswith("0x"):
                f.facts["rip_symbol"] = symbol
                f.facts["function"] = symbol.split("+", 1)[0]
            if pc:
                f.addresses["pc"] = Address(int(pc, 16), "PC", "RIP")
            f.cite(ev(line))
            return
        m = _X86_CODE.search(text)
        if m and "<" in m.group(1):
            r.votes.add("x86_64", "Code: bytes with a <..> marker")
            r.code_text = m.group(1)
            self._x86_code(r)
            r.code_open = True
            f.cite(ev(line))
            return
        regs = _X86_REG.findall(text)
        if regs and not text.startswith("Code"):
            named = [n for n, _ in regs]
            if any(n in X86_GPRS or n in ("EFLAGS", "ORIG_RAX", "CR0", "CR2", "CR3", "CR4") for n in named):
                r.votes.add("x86_64", "x86 register names")
            for name, value in regs:
                v = to_int(value)
                if v is not None:
                    f.registers[name] = v
            if any(n in ("RAX", "RCX", "RDX", "CR0", "CR2", "RSP") for n in named):
                f.cite(ev(line))
        d = _X86_DANGLING.search(text)
        if d:
            r.dangling = text[d.start():]

    def _x86_code(self, r: _Rec) -> None:
        f = r.fault
        code = parse_code(r.code_text)
        if code is None:
            f.facts["code"] = r.code_text.strip()[:200]
            return
        f.facts["code"] = r.code_text.strip()[:400]
        insn = decode_at(code)
        if insn is not None:
            f.facts["instruction"] = insn.mnemonic
            f.facts["instruction_bytes"] = insn.raw.hex(" ") if insn.length else code.data[code.marker or 0:][:8].hex(" ")
            if insn.detail:
                f.facts["instruction_detail"] = insn.detail

    def _arm_line(self, r: _Rec, line: LogLine, text: str) -> None:
        f = r.fault
        m = _ESR_LINE.search(text)
        if m:
            r.esr_values.append(int(m.group(1), 16))
            r.votes.add("aarch64", "'ESR = ' line (arm64 mem_abort_decode)")
            f.cite(ev(line))
            return
        kv = _KV.findall(text)
        if kv:
            for key, value in kv:
                r.printed.setdefault(key, int(value, 16) if value.startswith("0x") else int(value))
            f.cite(ev(line))
            return
        m = _PTE.search(text)
        if m:
            va, pte = int(m.group(1), 16), int(m.group(2), 16)
            f.facts["pte"] = pte
            if pte & 1:      # valid descriptor: output address bits [47:12]
                f.addresses["fault_pa"] = Address((pte & 0x0000FFFFFFFFF000) | (va & 0xFFF), "GPA",
                                                  "physical address from the stage-1 pte")
            f.cite(ev(line))
            return
        if _ARM32_PGD.search(text):
            r.votes.add("arm", "ARM 2-level 'pgd = '/'*pgd=' line")
            return
        m = _PC_IS.search(text)
        if m:
            if m.group(1) == "PC":
                f.facts["function"] = m.group(2)
                f.cite(ev(line))
            return
        m = _PSTATE.search(text)
        if m:
            r.votes.add("aarch64", "pstate line")
            f.facts["pstate"] = int(m.group(1), 16)
        m = _PSR.search(text)
        if m:
            r.votes.add("arm", "'psr:' line (ARM __show_regs)")
            psr = int(m.group(1), 16)
            f.facts["psr"] = psr
            f.facts["cpu_mode"] = ARM32_MODES.get(psr & 0x1F, f"mode {psr & 0x1F:#x}")
            f.facts.setdefault("isa", "Thumb" if psr >> 5 & 1 else "ARM")
        m = _ARM_FLAGS.search(text)
        if m:
            r.votes.add("arm", "'Flags: ... Mode ... ISA' line")
            f.facts["cpu_mode"] = m.group(1).removesuffix("_32")
            f.facts["isa"] = m.group(2)
            return
        m = _SYM_PC.search(text)
        if m and m.group(1) in ("pc", "lr"):
            if m.group(1) == "pc":
                f.facts["function"] = m.group(2)
                f.cite(ev(line))
            return
        pairs = _PAIR.findall(text)
        if not pairs:
            return
        for name, bracket, value in pairs:
            v = int(value, 16)
            r.pairs[name] = v
            if name == "pc" and bracket:
                f.addresses["pc"] = Address(v, "PC", "pc")
                f.cite(ev(line))
            elif name == "pc" and len(value) == 16:
                f.addresses["pc"] = Address(v, "PC", "pc")
                f.cite(ev(line))
            if re.fullmatch(r"x([12]?\d|30)", name):
                r.votes.add("aarch64", "x0-x30 register dump")
                f.registers[name] = v
            elif name in ARM32_REGS and len(value) == 8:
                r.votes.add("arm", "r0-r10/fp/ip register dump")
                f.registers[name] = v

    def _riscv_line(self, r: _Rec, line: LogLine, text: str) -> None:
        f = r.fault
        m = _RV_STATUS.search(text)
        if m:
            r.votes.add("riscv64" if len(m.group(1)) > 8 else "riscv32", "status/badaddr/cause line")
            f.registers.update(status=int(m.group(1), 16), badaddr=int(m.group(2), 16), cause=int(m.group(3), 16))
            f.cite(ev(line))
            return
        m = _SYM_PC.search(text)
        if m and m.group(1) in ("epc", "sepc"):
            f.facts["function"] = m.group(2)
            r.votes.add("riscv64", "epc line")
            f.cite(ev(line))
            return
        pairs = [(n, v) for n, _, v in _PAIR.findall(text) if n in RISCV_REGS]
        if len(pairs) >= 2 or any(n in ("epc", "sepc") for n, _ in pairs):
            width = "riscv64" if all(len(v) == 16 for _, v in pairs) else "riscv32"
            r.votes.add(width, "RISC-V register names (epc/ra/gp/tp/s0/a0)")
            for name, value in pairs:
                v = int(value, 16)
                f.registers[name] = v
                if name in ("epc", "sepc"):
                    f.addresses["pc"] = Address(v, "PC", name)
                    f.cite(ev(line))

    # -- closing: decide the architecture, then decode -------------------------------------------
    def _close(self, line_number: int | None = None) -> None:
        r, self._rec = self._rec, None
        self.active = False
        if r is None:
            return
        f = r.fault
        self._ended = line_number if line_number is not None else f.evidence[-1].line if f.evidence else None
        if r.panic_of is not None and f.cpu is None and not f.registers and "call_trace" not in f.facts:
            r.panic_of.facts.setdefault("panic", f.facts.get("panic"))
            if f.facts.get("serror"):
                r.panic_of.facts["serror"] = True
            for e in f.evidence:
                r.panic_of.cite(e)
            return
        arch, why = r.votes.decide()
        f.arch = arch
        if why:
            f.facts["arch_evidence"] = why
        family = {"x86_64": "x86", "aarch64": "arm64", "arm": "arm", "riscv64": "riscv", "riscv32": "riscv"}.get(arch)
        f.reader = {"x86": "linux-x86", "arm64": "linux-arm", "arm": "linux-arm", "riscv": "linux-riscv"}.get(
            family or "", "linux")
        if arch == "x86_64":
            self._derive_x86(f)
        elif arch == "aarch64":
            self._derive_arm64(r)
        elif arch == "arm":
            self._derive_arm32(r)
        elif arch in ("riscv64", "riscv32"):
            self._derive_riscv(f)
        f.kind = f"{family}-{f.kind}" if family else f"linux-{f.kind}"
        # Oopses are numbered per boot: a second "[#1]" means the kernel was restarted in between.
        if f.facts.get("oops_number") == 1:
            if self._numbered:
                self._segment += 1
            self._numbered = True
        key: tuple[object, ...] = (f.kind, f.facts.get("function"), f.addresses.get("fault"), f.addresses.get("pc"),
                                   self._segment)
        if not f.addresses and "function" not in f.facts:
            # nothing locates it: a panic on another CPU, task or reason is another report, not a repeat
            key += (f.facts.get("panic"), f.cpu, f.facts.get("comm"))
        self._last = self.emit(f, key=key)

    @staticmethod
    def _derive_x86(f: Fault) -> None:
        """Operands of the decoded instruction, from the register dump (SDM Vol. 2)."""
        regs = f.registers
        insn = f.facts.get("instruction")
        lo = {r: regs[r] & 0xFFFFFFFF for r in ("RAX", "RCX", "RDX") if r in regs}
        if insn in ("xsetbv", "wrmsr") and {"RAX", "RDX"} <= lo.keys():
            f.facts["edx_eax"] = lo["RDX"] << 32 | lo["RAX"]
            if insn == "xsetbv":
                f.facts["xcr0"] = f.facts["edx_eax"]
        if insn in ("xsetbv", "xgetbv") and "RCX" in lo:
            f.facts["xcr_index"] = lo["RCX"]
        if insn in ("wrmsr", "rdmsr") and "RCX" in lo:
            f.facts["msr"] = lo["RCX"]
            f.facts["msr_name"] = MSR_NAMES.get(lo["RCX"], "unknown MSR")
        if "CR2" in regs and f.kind == "pf" and "fault" not in f.addresses:
            f.addresses["fault"] = Address(regs["CR2"], "VA", "CR2")
        if "RIP" in regs and "pc" not in f.addresses:
            f.addresses["pc"] = Address(regs["RIP"], "PC", "RIP")

    @staticmethod
    def _derive_arm64(r: _Rec) -> None:
        f = r.fault
        esr = r.esr_values[0] if r.esr_values else None
        if esr is not None:
            f.registers["esr"] = esr
            f.facts.update(decode_esr(esr))
        else:
            for key in ("EC", "FSC", "EA", "WnR", "ISV", "S1PTW"):
                if key in r.printed:
                    f.facts.setdefault(key.lower(), r.printed[key])
            fsc = f.facts.get("fsc")
            if isinstance(fsc, int):
                f.facts.setdefault("fsc_name", fsc_name(fsc))
        if f.facts.get("ec") == 0x2F or f.kind == "serror":
            f.facts["serror"] = True
        pc = r.pairs.get("pc")
        if pc is not None and "pc" not in f.addresses:
            f.addresses["pc"] = Address(pc, "PC", "pc")
        synchronous_abort = f.facts.get("ec") in (0x20, 0x21, 0x24, 0x25)
        fsc = f.facts.get("fsc")
        external = bool(f.facts.get("ea")) or (isinstance(fsc, int) and is_external_fsc(fsc))
        guest = _guest_evidence(f)
        if synchronous_abort and external:
            f.facts["external_abort"] = True
        if f.facts.get("serror") or (synchronous_abort and external):
            # Only a synchronous external abort in a guest is what a partitioning hypervisor injects for an
            # IPA its stage-2 map lacks; an SError is asynchronous and, without a guest, is the hardware's.
            f.facts["injected_by_hypervisor"] = bool(synchronous_abort and external and guest)
            if guest:
                f.facts["guest_evidence"] = guest

    @staticmethod
    def _derive_arm32(r: _Rec) -> None:
        f = r.fault
        if r.header_value is not None:
            f.facts.update(decode_arm32_fsr(r.header_value))
        if "pc" not in f.addresses and "pc" in r.pairs:
            f.addresses["pc"] = Address(r.pairs["pc"], "PC", "pc")

    @staticmethod
    def _derive_riscv(f: Fault) -> None:
        regs = f.registers
        cause = regs.get("cause")
        if cause is not None:
            interrupt, code, name = cause_name(cause)
            f.facts.update(cause=code, cause_name=name, interrupt=interrupt)
            if code == 2 and regs.get("badaddr"):
                f.facts["instruction_bits"] = regs["badaddr"]
                csr = riscv_csr_access(regs["badaddr"])
                if csr:
                    f.facts["csr"] = csr
        elif "badaddr" in regs and "fault" not in f.addresses:
            f.addresses["fault"] = Address(regs["badaddr"], "VA", "badaddr")
        if f.kind == "user-fault" and "pc" not in f.addresses and "epc" in regs:
            f.addresses["pc"] = Address(regs["epc"], "PC", "epc")


def _guest_evidence(f: Fault) -> str | None:
    hw = str(f.facts.get("hardware", ""))
    for needle in ("QEMU KVM Virtual Machine", "linux,dummy-virt", "KVM", "Xen", "virt"):
        if needle in hw:
            return f"Hardware name: {hw}"
    return None
