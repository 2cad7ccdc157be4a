"""QEMU ``-d int,guest_errors,unimp`` trace reader: millions of trap lines collapsed into counted
patterns.

* RISC-V: ``riscv_cpu_do_interrupt: hart:N, async:A, cause:C, epc:0x.., tval:0x.., desc=name``
* x86: ``check_exception old: 0x.. new 0x..`` and ``   N: v=0d e=0000 i=0 cpl=0 IP=0010:... pc=...``
* Arm: ``Taking exception 4 [Data Abort] on CPU 0`` followed by ``...with ESR 0x../0x..``,
  ``...with FAR 0x..``, ``...with ELR 0x..``
* guest_errors / unimp: ``Invalid read at addr 0x.., size N, region '...', reason: rejected``,
  ``<device>: unimplemented device write (size N, offset 0x..)``

Synchronous traps are keyed by (cause, pc, tval); interrupts by cause only (their pc is wherever
the hart happened to be). A key repeated back-to-back is a *storm*: a handler that re-traps on
its own first instruction looks exactly like that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hvcheck.triage.facts import Address, Evidence, Fault
from hvcheck.triage.reader import Reader, ev
from hvcheck.triage.riscv_causes import EXCEPTIONS, INTERRUPTS
from hvcheck.triage.source import LogLine

MAX_PATTERNS = 4096
STORM_RUN = 32           # identical synchronous traps back-to-back that make a storm
REPORTED = 12            # patterns turned into faults at most (the most frequent first)

# Every digit run is bounded (64-bit values): a 10,000-digit junk number is no match, not an int() crash.
_RV = re.compile(rb"riscv_cpu_do_interrupt: hart:\s*(\d{1,20}),\s*async:\s*(\d),\s*cause:\s*(?:0x)?([0-9a-fA-F]{1,16}),"
                 rb"\s*epc:\s*(?:0x)?([0-9a-fA-F]{1,16})(?:,\s*tval:\s*(?:0x)?([0-9a-fA-F]{1,16}))?(?:,\s*desc=(\w+))?")
_X86 = re.compile(r"^\s*(\d{1,20}): v=([0-9a-f]{2}) e=([0-9a-f]{4}) i=(\d) cpl=(\d) IP=([0-9a-f]{4}):([0-9a-f]{1,16})"
                  r" pc=([0-9a-f]{1,16})(?: SP=\S+)?(?: CR2=([0-9a-f]{1,16}))?")
_ARM = re.compile(r"Taking exception (\d{1,20}) \[([^\]]+)\](?: on CPU (\d{1,20}))?")
_ARM_WITH = re.compile(r"^\.\.\.with (ESR|FAR|ELR) (0x[0-9a-fA-F]{1,16})(?:/(0x[0-9a-fA-F]{1,16}))?")
_ARM_FROM = re.compile(r"^\.\.\.from EL(\d) to EL(\d)")
_INVALID = re.compile(r"Invalid (read|write) at addr (0x[0-9A-Fa-f]{1,16}), size (\d{1,20})")
_UNIMP = re.compile(r"(\S+): unimplemented device (read|write)\s*\(size (\d{1,20}), (?:offset|addr) (0x[0-9a-fA-F]{1,16})")

X86_VECTORS = {0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM", 8: "#DF",
               10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF", 17: "#AC", 18: "#MC",
               19: "#XM", 20: "#VE", 21: "#CP"}
# Exceptions that are a fault in their own right, not the normal life of a guest (page faults,
# ecalls and timer interrupts are; a storm of them still is reported).
NOTABLE_RV = {0, 1, 2, 4, 5, 6, 7, 19, 20, 21, 22, 23}
NOTABLE_X86 = {6, 8, 12, 13, 17, 18}
NOTABLE_ARM = {"Undefined Instruction", "SError", "Prefetch Abort"}


@dataclass
class Pattern:
    arch: str
    kind: str                 # "exception", "interrupt", "guest-error"
    cause: int | str
    name: str
    pc: int | None
    tval: int | None
    first: Evidence
    count: int = 0
    last_line: int = 0
    max_run: int = 0
    cpus: set[int] = field(default_factory=set)


class QemuTraceReader(Reader):
    name = "qemu-trace"
    interruptible = False
    anchors = (b"_cpu_do_interrupt", b"IP=", b"Taking exception", b"Invalid read", b"Invalid write", b"(size ")

    def __init__(self) -> None:
        super().__init__()
        self.patterns: dict[tuple[object, ...], Pattern] = {}
        self.records = 0
        self.overflow = 0
        self._run_key: tuple[object, ...] | None = None
        self._run = 0
        self._arm: dict[str, object] | None = None
        self._last_arch = "unknown"

    # Fast path for the one format that reaches millions of lines: no decode, no cleaning, and
    # the pattern key made of the raw matched bytes (numbers are parsed once per new pattern).
    def feed_raw(self, raw: bytes, path: str, number: int) -> bool:
        m = _RV.search(raw)
        if not m:
            return False
        hart, is_async, cause, epc, tval, desc = m.groups()
        key: tuple[object, ...] = ("rv", "irq", cause) if is_async == b"1" else ("rv", "exc", cause, epc, tval)
        pat = self.patterns.get(key)
        if pat is None:
            if len(self.patterns) >= MAX_PATTERNS:
                self.overflow += 1
                self.records += 1
                return True
            code = int(cause, 16)
            synchronous = is_async != b"1"
            name = desc.decode("ascii", "replace") if desc else (EXCEPTIONS if synchronous else INTERRUPTS).get(
                code, f"cause {code}")
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            pat = Pattern("riscv64", "exception" if synchronous else "interrupt", code, name,
                          int(epc, 16) if synchronous else None,
                          int(tval, 16) if synchronous and tval else None, Evidence(path, number, text))
            self.patterns[key] = pat
        self._count(pat, key, number, int(hart), synchronous=is_async != b"1")
        return True

    def _count(self, pat: Pattern, key: tuple[object, ...], number: int, cpu: int | None, synchronous: bool) -> None:
        self.records += 1
        if pat.kind != "guest-error" and pat.arch != "unknown":
            self._last_arch = pat.arch      # the trace's CPU, for the guest-error lines that follow
        pat.count += 1
        pat.last_line = number
        if cpu is not None and len(pat.cpus) < 64:
            pat.cpus.add(cpu)
        if synchronous:
            if key == self._run_key:
                self._run += 1
            else:
                self._run_key, self._run = key, 1
            if self._run > pat.max_run:
                pat.max_run = self._run

    def _pattern(self, key: tuple[object, ...], line: LogLine, **kw: object) -> Pattern | None:
        pat = self.patterns.get(key)
        if pat is None:
            if len(self.patterns) >= MAX_PATTERNS:
                self.overflow += 1
                return None
            pat = Pattern(first=ev(line), **kw)  # type: ignore[arg-type]
            self.patterns[key] = pat
        return pat

    def feed(self, line: LogLine) -> None:
        text = line.text
        m = _X86.search(text)
        if m:
            vec, pc = int(m.group(2), 16), int(m.group(8), 16)
            cr2 = int(m.group(9), 16) if m.group(9) else None
            is_irq = vec >= 32 or m.group(4) == "1"
            key: tuple[object, ...] = ("x86", "irq", vec) if is_irq else ("x86", "exc", vec, pc, cr2)
            name = X86_VECTORS.get(vec, f"vector {vec:#x}")
            if vec in (8, 10, 11, 12, 13, 14, 17):
                name += f" error code {m.group(3)}"
            pat = self._pattern(key, line, arch="x86_64", kind="interrupt" if is_irq else "exception", cause=vec,
                                name=name, pc=None if is_irq else pc, tval=cr2)
            if pat is not None:
                self._count(pat, key, line.number, int(m.group(1)), synchronous=not is_irq)
            return
        m = _ARM.search(text)
        if m:
            self._arm_close()
            self._arm = {"n": int(m.group(1)), "name": m.group(2), "cpu": int(m.group(3)) if m.group(3) else None,
                         "line": line}
            self.active = True
            return
        if self._arm is not None:
            w = _ARM_WITH.search(text)
            if w:
                self._arm[w.group(1)] = int(w.group(3) or w.group(2), 16)
                return
            if _ARM_FROM.search(text) or text.startswith("...to EL"):
                return
            self._arm_close()
        m = _INVALID.search(text)
        if m:
            addr = int(m.group(2), 16)
            key = ("err", m.group(1), addr)
            pat = self._pattern(key, line, arch=self._last_arch, kind="guest-error", cause=f"invalid {m.group(1)}",
                                name=f"invalid {m.group(1)} (no device or RAM at the address)", pc=None, tval=addr)
            if pat is not None:
                self._count(pat, key, line.number, None, synchronous=False)
            return
        # `(\S+):` backtracks quadratically over a long run of non-spaces: test the literal first.
        m = _UNIMP.search(text) if ": unimplemented device" in text else None
        if m:
            off = int(m.group(4), 16)
            key = ("unimp", m.group(1), m.group(2), off)
            pat = self._pattern(key, line, arch=self._last_arch, kind="guest-error", cause=f"unimplemented {m.group(2)}",
                                name=f"{m.group(1)}: unimplemented device {m.group(2)}", pc=None, tval=off)
            if pat is not None:
                self._count(pat, key, line.number, None, synchronous=False)

    def _arm_close(self) -> None:
        rec, self._arm = self._arm, None
        self.active = False
        if rec is None:
            return
        line = rec["line"]
        assert isinstance(line, LogLine)
        name = str(rec["name"])
        is_irq = name in ("IRQ", "FIQ", "Virtual IRQ", "Virtual FIQ")
        elr = rec.get("ELR")
        key = ("arm", "irq", name) if is_irq else ("arm", "exc", name, elr, rec.get("ESR"))
        # "Taking exception" is QEMU's Arm wording for AArch32 and AArch64 alike: a 64-bit ELR/FAR proves
        # AArch64, anything else leaves the width unknown.
        wide = any(isinstance(v, int) and v >> 32 for v in (rec.get("ELR"), rec.get("FAR")))
        pat = self._pattern(key, line, arch="aarch64" if wide else "unknown", kind="interrupt" if is_irq else "exception",
                            cause=name, name=name, pc=None if is_irq else elr, tval=rec.get("FAR"))
        if pat is not None:
            if "ESR" in rec:
                pat.name = f"{name} (ESR {rec['ESR']:#x})"
            cpu = rec.get("cpu")
            self._count(pat, key, line.number, cpu if isinstance(cpu, int) else None, synchronous=not is_irq)

    def finish(self) -> None:
        self._arm_close()
        # A guest error line names no architecture: it takes the CPU of the trace lines before it, or, when
        # it came first, of the whole trace if that has only one.
        arches = {p.arch for p in self.patterns.values() if p.kind != "guest-error"}
        trace_arch = next(iter(arches)) if len(arches) == 1 else "unknown"
        for p in self.patterns.values():
            if p.kind == "guest-error" and p.arch == "unknown":
                p.arch = trace_arch
        ranked = sorted(self.patterns.values(), key=lambda p: -p.count)
        reported = 0
        for pat in ranked:
            storm = pat.kind == "exception" and pat.max_run >= STORM_RUN
            notable = pat.kind == "guest-error" or (pat.kind == "exception" and (
                (pat.arch == "riscv64" and pat.cause in NOTABLE_RV) or (pat.arch == "x86_64" and pat.cause in NOTABLE_X86)
                or (pat.arch == "aarch64" and any(n in pat.name for n in NOTABLE_ARM))))
            if not (storm or notable) or reported >= REPORTED:
                continue
            reported += 1
            self.faults.append(self._fault(pat, storm))

    def _fault(self, pat: Pattern, storm: bool) -> Fault:
        what = "trap storm" if storm else "trap" if pat.kind == "exception" else "guest error"
        where = f" at pc {pat.pc:#x}" if pat.pc is not None else ""
        fault = Fault("qemu-trap-storm" if storm else f"qemu-{pat.kind}", self.name, pat.arch,
                      f"QEMU {what}: {pat.name}{where} x{pat.count}", pat.first.path, count=pat.count)
        if pat.arch == "x86_64" and isinstance(pat.cause, int):
            fault.facts["vector"] = pat.cause
        if pat.tval is not None:
            fault.facts["tval"] = pat.tval
        fault.facts.update(cause=pat.cause, cause_name=pat.name, occurrences=pat.count,
                           longest_back_to_back_run=pat.max_run, first_line=pat.first.line,
                           last_line=pat.last_line, cpus=sorted(pat.cpus))
        if pat.pc is not None:
            fault.addresses["pc"] = Address(pat.pc, "PC", "trapping pc (epc/ELR/IP)")
        if pat.tval is not None:
            if pat.arch == "riscv64" and pat.cause == 2:
                fault.facts["instruction_bits"] = pat.tval
            elif pat.kind == "guest-error":
                fault.addresses["fault"] = Address(pat.tval, "GPA", "accessed address/offset")
            else:
                fault.addresses["fault"] = Address(pat.tval, "VA", "tval/FAR/CR2")
        fault.cite(pat.first)
        if pat.last_line != pat.first.line:
            fault.facts["evidence_note"] = f"identical records through line {pat.last_line}"
        return fault

    def top_patterns(self, n: int = 8) -> list[Pattern]:
        return sorted(self.patterns.values(), key=lambda p: -p.count)[:n]

