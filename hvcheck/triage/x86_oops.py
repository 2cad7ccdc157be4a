"""Linux x86 oops / #GP / page fault / panic reader (log-formats.md §3).

A record starts at a header line (the wording changed across kernel versions: ``general
protection fault: 0000 [#1]`` (<= 5.4), ``general protection fault, maybe for address ...``,
``..., probably for non-canonical address ...``, ``Oops: general protection fault`` (>= 6.9),
``BUG: unable to handle page fault for address``, ``BUG: unable to handle kernel paging request
at`` (<= 4.x), ``Oops: 0003 [#1]``, ``invalid opcode:``) and collects the block that follows:
CPU/PID/Comm, Hardware name, RIP, Code bytes, registers, Call Trace. Registers wrapped by mail
archives (``RCX: \\n0000...``) are re-joined.
"""

from __future__ import annotations

import re

from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.reader import Reader, ev, to_int
from hvcheck.triage.source import LogLine
from hvcheck.triage.x86_insn import MSR_NAMES, decode_at, parse_code

MAX_BLOCK_LINES = 120

_HEADERS: list[tuple[str, re.Pattern[str]]] = [
    ("x86-gp", re.compile(r"(?:Oops: )?general protection fault(?:, (?:maybe|probably) for "
                          r"(?:non-canonical )?address (0x[0-9a-f]+))?: ([0-9a-f]{4}) \[#(\d+)\]")),
    ("x86-pf", re.compile(r"BUG: unable to handle (?:page fault for address:|kernel paging request at"
                          r"|kernel NULL pointer dereference at)\s*(?:0x)?([0-9a-f]+)")),
    ("x86-ud", re.compile(r"(?:Oops: )?invalid opcode: ([0-9a-f]{4}) \[#(\d+)\]")),
    ("x86-oops", re.compile(r"^(?:Oops: )?(double fault|stack segment|divide error|alignment check"
                            r"|int3|general protection)?:?\s*([0-9a-f]{4}) \[#(\d+)\]")),
]
_OOPS_CODE = re.compile(r"Oops: ([0-9a-f]{4}) \[#(\d+)\]")
_PF_ACCESS = re.compile(r"#PF: (supervisor|user) (read|write|instruction fetch) access in (kernel|user) mode")
_PF_CODE = re.compile(r"#PF: error_code\(0x([0-9a-f]+)\)(?: - (.*))?")
_CPU = re.compile(r"^CPU: (\d+)(?: UID: \d+)? PID: (\d+) Comm: (\S+)(?:\s+(Not tainted|Tainted:[A-Z ]*)\s*(\d\S*))?")
_HW = re.compile(r"^Hardware name: (.*)")
_RIP = re.compile(r"^RIP: ([0-9a-f]{4}):(?:\[<([0-9a-f]+)>\]\s*)?(?:\[<[0-9a-f]+>\]\s*)?(\S+)?")
_CODE = re.compile(r"^Code: (.*)")
_REG = re.compile(r"\b(R[A-Z0-9]{1,2}|E[A-Z]{2}|EFLAGS|ORIG_RAX|CR\d|DR\d|PKRU|FS|GS|knlGS|CS|DS|ES|SS)"
                  r":\s*(?:[0-9a-f]{4}:)?([0-9a-f]+)\b")
_DANGLING = re.compile(r"\b(R[A-Z0-9]{1,2}|CR\d|EFLAGS|ORIG_RAX):\s*$")
_END = re.compile(r"---\[ end (?:trace|Kernel panic)")
_TRACE_FRAME = re.compile(r"^\s*(\? )?([A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+")
_PANIC = re.compile(r"Kernel panic - not syncing:?\s*(.*)")
_USER_GP = re.compile(r"traps: (\S+)\[(\d+)\] general protection fault ip:([0-9a-f]+) sp:([0-9a-f]+) "
                      r"error:([0-9a-f]+)(?: in (\S+))?")
_WARN = re.compile(r"WARNING: CPU: (\d+) PID: (\d+) at (\S+) (\S+)")

PF_BITS = [(0, "P (protection violation, page present)"), (1, "W (write)"), (2, "U (user mode)"),
           (3, "RSVD (reserved bit set in a paging entry)"), (4, "I/D (instruction fetch)"),
           (5, "PK (protection key)"), (15, "SGX")]


def decode_pf_error(code: int) -> list[str]:
    bits = [name for bit, name in PF_BITS if code >> bit & 1]
    if not code & 1:
        bits.insert(0, "not-present page")
    return bits


class X86OopsReader(Reader):
    name = "linux-x86"
    # Every oops header carries "[#N]" or "BUG: "; user-space #GP lines "] general protection".
    anchors = (b"[#", b"BUG: ", b"Kernel panic", b"] general protection", b"WARNING: CPU")

    def __init__(self) -> None:
        super().__init__()
        self._cur: Fault | None = None
        self._left = 0
        self._dangling = ""
        self._code_open = False
        self._code_text = ""
        self._in_trace = False
        self.panics: list[Fault] = []

    def feed(self, line: LogLine) -> None:
        text = line.text
        if self._start(line, text):
            return
        m = _PANIC.search(text)
        if m:
            self._panic(line, m.group(1).strip())
            return
        m = _USER_GP.search(text)
        if m:
            fault = Fault("x86-user-gp", self.name, "x86_64", f"user-space #GP in {m.group(1)}", line.path,
                          facts={"comm": m.group(1), "pid": int(m.group(2)), "error_code": int(m.group(5), 16),
                                 "object": m.group(6) or ""})
            fault.addresses["pc"] = Address(int(m.group(3), 16), "PC", "user ip")
            fault.cite(ev(line))
            self.emit(fault, key=("ugp", m.group(1), m.group(3)))
            return
        m = _WARN.search(text)
        if m and self._cur is None:
            fault = Fault("linux-warn", self.name, "unknown", f"WARNING at {m.group(3)} {m.group(4)}", line.path,
                          cpu=int(m.group(1)), facts={"function": m.group(4), "file": m.group(3)})
            fault.cite(ev(line))
            self.emit(fault, key=("warn", m.group(3)))
            return
        if self._cur is not None:
            self._body(line, text)

    def _start(self, line: LogLine, text: str) -> bool:
        for kind, rx in _HEADERS:
            m = rx.search(text)
            if not m:
                continue
            if kind == "x86-oops" and "[#" not in text:
                continue
            if kind == "x86-oops" and self._cur is not None and "oops_number" not in self._cur.facts:
                break           # "Oops: 0002 [#1]" after "BUG: unable to handle ...": same record
            if "Internal error" in text or text.startswith("Oops - "):
                return False      # arm64 / riscv wording, other readers
            self._close()
            fault = Fault(kind, self.name, "x86_64", text.strip()[:160], line.path)
            if kind == "x86-gp":
                if m.group(1):
                    fault.addresses["fault"] = Address(int(m.group(1), 16), "VA", "address the #GP was for")
                fault.facts["error_code"] = int(m.group(2), 16)
                fault.facts["oops_number"] = int(m.group(3))
            elif kind == "x86-pf":
                fault.addresses["fault"] = Address(int(m.group(1), 16), "VA", "faulting address (CR2)")
            elif kind == "x86-ud":
                fault.facts["oops_number"] = int(m.group(2))
            else:
                fault.facts["error_code"] = int(m.group(2), 16)
                fault.facts["oops_number"] = int(m.group(3))
                if m.group(1):
                    fault.kind = "x86-" + m.group(1).replace(" ", "-")
            fault.cite(ev(line))
            self._cur = fault
            self._left = MAX_BLOCK_LINES
            self.active = True
            return True
        m = _OOPS_CODE.search(text)
        if m and self._cur is not None and "Internal error" not in text:
            self._cur.facts.setdefault("error_code", int(m.group(1), 16))
            self._cur.facts.setdefault("oops_number", int(m.group(2)))
            self._cur.cite(ev(line))
            return True
        return False

    def _body(self, line: LogLine, text: str) -> None:
        cur = self._cur
        assert cur is not None
        self._left -= 1
        if self._dangling:
            text = self._dangling + " " + text.strip()
            self._dangling = ""
        if self._code_open:
            self._code_open = False
            if re.fullmatch(r"\s*(?:[<(]?[0-9a-f]{2}[>)]?\s*)+", text):
                self._code_text += " " + text
                self._code(cur)
                cur.cite(ev(line))
                return
        m = _PF_ACCESS.search(text)
        if m:
            cur.facts["access"] = f"{m.group(1)} {m.group(2)} in {m.group(3)} mode"
            cur.cite(ev(line))
        m = _PF_CODE.search(text)
        if m:
            code = int(m.group(1), 16)
            cur.facts["error_code"] = code
            cur.facts["error_code_bits"] = decode_pf_error(code)
            cur.cite(ev(line))
        m = _CPU.search(text)
        if m:
            cur.cpu = int(m.group(1))
            cur.facts.update(pid=int(m.group(2)), comm=m.group(3))
            if m.group(5):
                cur.facts["kernel_release"] = m.group(5)
            cur.cite(ev(line))
        m = _HW.search(text)
        if m:
            cur.facts["hardware"] = m.group(1).strip()
        m = _RIP.search(text)
        if m:
            cur.facts["cs"] = int(m.group(1), 16)
            cur.facts["mode"] = "kernel" if m.group(1) == "0010" else "user" if m.group(1) == "0033" else "?"
            if m.group(3):
                cur.facts["rip_symbol"] = m.group(3)
                cur.facts["function"] = m.group(3).split("+", 1)[0]
            if m.group(2):
                cur.addresses["pc"] = Address(int(m.group(2), 16), "PC", "RIP")
            cur.cite(ev(line))
            return
        m = _CODE.search(text)
        if m:
            self._code_text = m.group(1)
            self._code(cur)
            self._code_open = True
            cur.cite(ev(line))
            return
        regs = _REG.findall(text)
        if regs and not text.lstrip().startswith("Code"):
            for name, value in regs:
                v = to_int(value)
                if v is not None:
                    cur.registers[name] = v
            if any(n in ("RAX", "RCX", "RDX", "CR0", "CR2", "RSP") for n, _ in regs):
                cur.cite(ev(line))
            d = _DANGLING.search(text)
            if d:
                self._dangling = text[d.start():]
            return
        d = _DANGLING.search(text)
        if d:
            self._dangling = text[d.start():]
            return
        if "Call Trace:" in text:
            self._in_trace = True
            return
        m = _TRACE_FRAME.search(text)
        if m and self._in_trace:
            frames = cur.facts.setdefault("call_trace", [])
            if len(frames) < 16 and not m.group(1):
                frames.append(m.group(2))
        if _END.search(text) or self._left <= 0:
            if _END.search(text):
                cur.cite(ev(line))
            self._close()

    def _code(self, cur: Fault) -> None:
        code = parse_code(self._code_text)
        if code is None:
            cur.facts["code"] = self._code_text.strip()[:200]
            return
        cur.facts["code"] = self._code_text.strip()[:400]
        insn = decode_at(code)
        if insn is not None:
            cur.facts["instruction"] = insn.mnemonic
            cur.facts["instruction_bytes"] = insn.raw.hex(" ") if insn.length else code.data[code.marker:][:8].hex(" ")
            if insn.detail:
                cur.facts["instruction_detail"] = insn.detail

    def _panic(self, line: LogLine, reason: str) -> None:
        target = self._cur or (self.faults[-1] if self.faults else None)
        if target is not None and line.number - target.first_line < 400:
            target.facts.setdefault("panic", reason)
            target.cite(ev(line))
            self._close()
            return
        fault = Fault("linux-panic", self.name, "unknown", f"Kernel panic - not syncing: {reason}"[:160], line.path,
                      facts={"panic": reason})
        fault.cite(ev(line))
        self.panics.append(fault)
        self.emit(fault, key=("panic", reason))

    def _close(self) -> None:
        cur, self._cur = self._cur, None
        self.active = False
        self._dangling = ""
        self._code_open = False
        self._in_trace = False
        if cur is None:
            return
        self._derive(cur)
        key = (cur.kind, cur.facts.get("rip_symbol"), cur.addresses.get("fault"))
        self.emit(cur, key=key)

    def finish(self) -> None:
        if self._cur is not None:
            self._cur.truncated = self._left > 0 and "rip_symbol" not in self._cur.facts
            self._close()

    @staticmethod
    def _derive(cur: Fault) -> None:
        """Operands of the decoded instruction, from the register dump (SDM Vol. 2)."""
        regs = cur.registers
        insn = cur.facts.get("instruction")
        lo = {r: regs[r] & 0xFFFFFFFF for r in ("RAX", "RCX", "RDX") if r in regs}
        if insn in ("xsetbv", "wrmsr") and {"RAX", "RDX"} <= lo.keys():
            cur.facts["edx_eax"] = lo["RDX"] << 32 | lo["RAX"]
        if insn in ("xsetbv", "xgetbv") and "RCX" in lo:
            cur.facts["xcr_index"] = lo["RCX"]
        if insn in ("wrmsr", "rdmsr") and "RCX" in lo:
            cur.facts["msr"] = lo["RCX"]
            cur.facts["msr_name"] = MSR_NAMES.get(lo["RCX"], "unknown MSR")
        if "CR2" in regs and cur.kind == "x86-pf" and "fault" not in cur.addresses:
            cur.addresses["fault"] = Address(regs["CR2"], "VA", "CR2")
        for name in ("RIP",):
            if name in regs and "pc" not in cur.addresses:
                cur.addresses["pc"] = Address(regs[name], "PC", name)
