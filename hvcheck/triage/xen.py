"""Xen hypervisor crash reader (xen/arch/x86/traps.c show_execution_state, xen/drivers/char/console.c
panic(), xen/arch/arm/traps.c show_registers). Every line carries the ``(XEN)`` prefix, optionally with a
``[   12.449137]`` timestamp after it.

- ``----[ Xen-4.17.2  x86_64  debug=n  Not tainted ]----`` opens a register dump (the architecture is
  named in it), then ``CPU:``, ``RIP:    e008:[<ffff82d04023a355>] credit2.c#csched2_free_domdata+0x65/0xd0``
  (ARM: ``PC:``), ``RFLAGS: ... CONTEXT: hypervisor (d0v0)``, register pairs ``rax: ...``, ``cr2: ...``;
- ``Xen call trace:`` and its ``[<addr>] R|S function+off/size`` frames;
- ``Panic on CPU 0:`` followed by the reason: ``Xen BUG at file:line``, ``FATAL PAGE FAULT``, ``FATAL TRAP:
  vector = ..``, ``Assertion '...' failed at file:line``, ``[error_code=0000]``, ``Faulting linear address:``.

On x86-64 Xen's own text lives at 0xffff82d0_4xxxxxxx (0xffff82d0_8 before 4.15): a RIP outside it while
CONTEXT is "hypervisor" is code Xen called into — typically EFI runtime services firmware.
"""

from __future__ import annotations

import re

from hvcheck.triage.arch import UNKNOWN, ArchVotes
from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.reader import Reader, ev
from hvcheck.triage.source import LogLine
from hvcheck.triage.syndrome import decode_esr

MAX_BLOCK_LINES = 150
XEN_X86_TEXT = (0xFFFF82D000000000, 0xFFFF82E000000000)

_PREFIX = re.compile(r"^\(XEN\)\s?(?:\[\s*\d{1,10}\.\d{1,9}\]\s?)?")
_HEADER = re.compile(r"----\[ Xen-(\S+)\s+(x86_64|x86_32|arm64|arm32|riscv64|ppc64)\s+debug=(\w)")
_CPU = re.compile(r"^CPU:\s+(\d{1,5})")
_RIP = re.compile(r"^(RIP|PC):\s+(?:([0-9a-f]{4}):)?\[?<?([0-9a-f]{8,16})>?\]?\s*(\S+)?")
_CONTEXT = re.compile(r"CONTEXT: (\w+)(?: \((d\d+v\d+|IDLE)\))?")
_PAIR = re.compile(r"\b(r[a-z0-9]{1,2}|cr[0-4]|fsb|gsb|gss|[xX]\d{1,2}|LR|SP|CPSR|ESR_EL2|HPFAR_EL2|FAR_EL2)"
                   r":\s+([0-9a-fA-F]{8,16})\b")
_TRACE = re.compile(r"^Xen call trace:")
_FRAME = re.compile(r"^\[<([0-9a-f]{8,16})>\] (?:[RS] )?([\w.#]+)\+0x[0-9a-f]+/0x[0-9a-f]+")
_PANIC = re.compile(r"^Panic on CPU (\d{1,5}):")
_REASON = re.compile(r"^(Xen BUG at \S+|FATAL PAGE FAULT|FATAL TRAP: .+|Assertion '.*' failed at \S+|"
                     r"(?:CPU\d{1,5}: )?Unexpected Trap: .+|"
                     r"Xen call trace|DOUBLE FAULT.*|.*\bfailed\b.*)$")
_ERROR_CODE = re.compile(r"\[error_code=([0-9a-f]{4})\]")
_LINEAR = re.compile(r"Faulting linear address: ([0-9a-f]{8,16})")
_END = re.compile(r"^(?:\*{20,}|Reboot in five seconds|Manual reset required)")


class XenReader(Reader):
    name = "xen"
    family = "Xen"
    anchors = (b"XEN)",)

    def __init__(self) -> None:
        super().__init__()
        self._cur: Fault | None = None
        self._votes = ArchVotes()
        self._left = 0
        self._in_trace = False
        self._want_reason = False
        self._stamped: bool | None = None

    def boundary(self) -> None:
        self._close()

    def finish(self) -> None:
        self._close()

    def feed(self, line: LogLine) -> None:
        m = _PREFIX.match(line.text)
        if not m:
            return
        text = line.text[m.end():].strip()
        self.lines_seen += 1
        stamped = "[" in m.group(0)
        if self._cur is not None and self._stamped is not None and stamped != self._stamped:
            self._close()       # timestamps switched on or off: another capture, not this dump's lines
        self._stamped = stamped
        h = _HEADER.search(text)
        if h:
            self._start(line, f"Xen {h.group(1)} crash ({h.group(2)})")
            arch = {"x86_64": "x86_64", "arm64": "aarch64", "arm32": "arm", "riscv64": "riscv64"}.get(h.group(2))
            if arch:
                self._votes.add(arch, f"Xen header names {h.group(2)}")
            assert self._cur is not None
            self._cur.facts.update(xen_version=h.group(1), debug=h.group(3) == "y")
            return
        p = _PANIC.search(text)
        if p:
            if self._cur is None:
                self._start(line, "Xen panic")
            assert self._cur is not None
            self._cur.cpu = int(p.group(1)) if self._cur.cpu is None else self._cur.cpu
            self._cur.cite(ev(line))
            self._want_reason = True
            return
        if self._cur is None:
            if _TRACE.search(text):
                self._start(line, "Xen call trace")
                self._in_trace = True
            return
        self._left -= 1
        self._body(line, text)
        if self._cur is not None and (self._left <= 0 or ("panic" in self._cur.facts and _END.search(text)
                                                          and not self._want_reason)):
            self._close()

    def _start(self, line: LogLine, summary: str) -> None:
        self._close()
        fault = Fault("xen-crash", self.name, UNKNOWN, summary, line.path)
        fault.cite(ev(line))
        self._cur, self._votes, self._left = fault, ArchVotes(), MAX_BLOCK_LINES
        self._in_trace = self._want_reason = False
        self.active = True

    def _body(self, line: LogLine, text: str) -> None:
        f = self._cur
        assert f is not None
        if self._want_reason and text and not text.startswith("*"):
            m = _REASON.search(text)
            if m:
                f.facts["panic"] = text
                f.summary = f"Xen panic: {text}"[:160]
                f.cite(ev(line))
                if "drivers/passthrough/amd" in text or "arch/x86/" in text:
                    self._votes.add("x86_64", "x86-only source path in the panic")
                self._want_reason = False
                e = _ERROR_CODE.search(text)
                if e:
                    f.facts["error_code"] = int(e.group(1), 16)
                return
        m = _ERROR_CODE.search(text)
        if m:
            f.facts["error_code"] = int(m.group(1), 16)
        m = _LINEAR.search(text)
        if m:
            f.addresses["fault"] = Address(int(m.group(1), 16), "VA", "faulting linear address (Xen)")
            f.cite(ev(line))
            return
        m = _CPU.search(text)
        if m:
            f.cpu = int(m.group(1))
            return
        m = _RIP.search(text)
        if m:
            pc = int(m.group(3), 16)
            f.addresses["pc"] = Address(pc, "PC", "Xen RIP/PC")
            if m.group(1) == "RIP":
                self._votes.add("x86_64", "RIP line")
            if m.group(4) and not re.fullmatch(r"[0-9a-f]+", m.group(4)):
                f.facts["function"] = m.group(4).split("+", 1)[0]
            f.cite(ev(line))
            return
        m = _CONTEXT.search(text)
        if m:
            f.facts["context"] = m.group(1)
            if m.group(2):
                f.facts["vcpu"] = m.group(2)
        pairs = _PAIR.findall(text)
        for name, value in pairs:
            v = int(value, 16)
            f.registers[name.lower()] = v
            if name in ("rax", "rbx", "rcx", "cr2", "cr3"):
                self._votes.add("x86_64", "x86 register names")
            if name == "cr2":
                f.facts["cr2"] = v
                f.cite(ev(line))
        if pairs:
            return
        if _TRACE.search(text):
            self._in_trace = True
            return
        m = _FRAME.search(text)
        if m and self._in_trace:
            frames = f.facts.setdefault("call_trace", [])
            if len(frames) < 16:
                frames.append(m.group(2))
            if XEN_X86_TEXT[0] <= int(m.group(1), 16) < XEN_X86_TEXT[1]:
                self._votes.add("x86_64", "frames in Xen's x86-64 text range (0xffff82d0...)")
            f.facts.setdefault("function", m.group(2))

    def _close(self) -> None:
        f, self._cur = self._cur, None
        self.active = False
        if f is None:
            return
        arch, why = self._votes.decide()
        f.arch = arch
        if why:
            f.facts["arch_evidence"] = why
        esr = f.registers.get("esr_el2")
        if esr is not None:
            # Arm: the syndrome of the trap Xen took itself (show_registers prints ESR_EL2 and FAR_EL2)
            f.facts.update({k: v for k, v in decode_esr(esr).items() if k not in f.facts})
            if "far_el2" in f.registers:
                f.addresses["fault"] = Address(f.registers["far_el2"], "VA", "FAR_EL2 (Xen's own fault)")
        pc = f.addresses.get("pc")
        if pc is not None and arch == "x86_64":
            inside = XEN_X86_TEXT[0] <= pc.value < XEN_X86_TEXT[1]
            f.facts["outside_xen_text"] = not inside
            if not inside and f.facts.get("context") == "hypervisor":
                f.facts["pc_owner"] = ("not Xen's own text: code Xen called into (EFI runtime services or other "
                                       "firmware)")
        self.emit(f, key=(f.facts.get("panic"), pc, f.facts.get("cr2")))
