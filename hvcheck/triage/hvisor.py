"""hvisor console reader (aarch64, riscv64, loongarch64), plus the equivalent one-line
messages of Jailhouse and Bao.

Record framing and messages: /work/shared/reference/log-formats.md §1 (hvisor src/logging.rs,
src/panic.rs, src/memory/mmio.rs, src/arch/*/trap.rs). Pretty-printed structs (`MMIOAccess {`,
`PanicInfo {`) span lines and are joined until the brackets balance; guest lines interleaved in
between are skipped, and a record still open after ``MAX_RECORD_LINES`` is closed as truncated.
"""

from __future__ import annotations

import re

from hvcheck.triage.facts import Address, Evidence, Fault
from hvcheck.triage.reader import Reader, ev, to_dec, to_int
from hvcheck.triage.riscv_causes import cause_name
from hvcheck.triage.source import LogLine

MAX_RECORD_LINES = 48

_RECORD = re.compile(r"^\[(ERROR|WARN|INFO|DEBUG|TRACE)\s*(\d+)?\s*\]\s*\(([\w:]+):(\d+)\)\s?(.*)$")
# 2023 builds (src/logging.rs before 2024-04): "[WARN  14] hvisor::memory::mmio:74] Cell 0 unhandled ..."
_RECORD_2023 = re.compile(r"^\[(ERROR|WARN|INFO|DEBUG|TRACE)\s*(\d+)\]\s*(hvisor(?:::\w+)*):(\d+)\]\s?(.*)$")
# print_timestamp builds: the dmesg-style "[ssss.uuuuuu] " was already stripped by clean().
_RECORD_TS = re.compile(r"^(ERROR|WARN|INFO|DEBUG|TRACE)\s+CPU\s?(\d+)\s+hvisor:\s+\(([\w:]+):(\d+)\)\s?(.*)$")

_UNHANDLED = re.compile(r"(?:Zone|Cell)\s+(\d+)\s+unhandled mmio fault")
_FIELD = {name: re.compile(rf"\b{name}:\s*([0-9a-fA-Fx_]+|true|false)") for name in
          ("address", "size", "is_write", "value")}
_HANDLE_ERR = re.compile(r"mmio_handle_access:\s*(.*)")
_HANDLER_RET = re.compile(r"mmio handler returned error:\s*(.*)")
_ZONE_ERR = re.compile(r"zone\s+(\d+)\s+has some error")
_PANIC = re.compile(r"panic occurred:\s*(.*)")
_PANIC_MSG = re.compile(r"message:\s*(?:Some\(\s*)?(.*?)\s*,?\s*\)?\s*,\s*location:")
_PANIC_LOC = re.compile(r'file:\s*"([^"]*)",\s*line:\s*(\d+)(?:,\s*col:\s*(\d+))?')
_IN_HV_MEM = re.compile(r"within hvisor'?s? physical memory", re.IGNORECASE)
_HEXNUM = re.compile(r"0x[0-9a-fA-F][0-9a-fA-F_]*")  # "0x_" is not a number (found by fuzzing)
_EL2_ABORT = re.compile(r"EL2 Exception:\s*(Data Abort|Instruction Abort),\s*ELR_EL2:\s*(0x[0-9a-fA-F]+)"
                        r"(?:,\s*ESR_EL2:\s*(0x[0-9a-fA-F]+))?,\s*FAR_EL2:\s*(0x[0-9a-fA-F]+)")
_EL2_OTHER = re.compile(r"Unhandled EL2 Exception:\s*EC=(0x[0-9a-fA-F]+)")
_IABT = re.compile(r"Failed to fetch instruction \(op=(\d)\) at (0x[0-9a-fA-F]+),\s*ELR_EL2=(0x[0-9a-fA-F]+)")
# 2023 builds (src/arch/aarch64/exception.rs handle_iabt): the IPA from HPFAR_EL2 and FAR_EL2, no ELR_EL2.
_IABT_2023 = re.compile(r"error ins access (\d) at (0x[0-9a-fA-F]+)!")
_UNSUPPORTED_EC = re.compile(r"Unsupported Exception EC:\s*(0x[0-9a-fA-F]+)")
_RV_SYNC = re.compile(r"CPU\s*(\d+)\s+sync exception,\s*sepc:\s*(0x[0-9a-fA-F]+)")
_RV_CAUSE = re.compile(r"Trap [Cc]ause(?: code)?:\s*(.*)")
_UNMAPPED = re.compile(r"CPU\s*(\d+)\s+unmap+ed mem+ory at (0x[0-9a-fA-F]+)")
_RV_HTVAL = re.compile(r"htval:\s*(0x[0-9a-fA-F]+)(?:,\s*htinst:\s*(0x[0-9a-fA-F]+))?")
_RV_STVAL = re.compile(r"\bstval:\s*(0x[0-9a-fA-F]+)")
_RV_INSN = re.compile(r"trap instruction:\s*(.*)")
_RV_UNHANDLED_TRAP = re.compile(r"unhandled trap (0x[0-9a-fA-F]+),\s*sepc:\s*(0x[0-9a-fA-F]+)")
_LA_EXC = re.compile(r"unhandled exception:\s*([A-Z]+)(?:\(([^)]*)\))?:\s*(.*)")
_LA_FIELD = re.compile(r"(ecode|esubcode|era|is|badi|badv)=(0x[0-9a-fA-F]+)")
# A record that mentions none of these cannot start or continue a fault (checked before the
# message regexes, which are many).
_INTERESTING = re.compile(r"[{(]\s*$|fault|rror|panic|xception|rap|htval|stval|within|mmio|MMIO|nhandled|ailed|"
                          r"nsupported|has some")
_KEY_LINE = re.compile(r"\baddress:|\bis_write:|\bfile:|\bline:\s*\d|error|panic|fault|0x[0-9a-fA-F]{5,}")
_ARCH_PATH = re.compile(r"\b(?:src/arch/|::)(aarch64|riscv64|loongarch64|x86_64)(?:/|::)")

# Panic messages whose class is known (log-formats.md §1.2).
PANIC_CLASSES: list[tuple[str, str]] = [
    ("root zone has some error", "the root zone hit an MMIO error; see the preceding WARN/ERROR lines"),
    ("mmio pci bar", "the guest touched a PCI BAR window that is trapped, not mapped"),
    ("not align to 2M", "board memory list invariant (alignment)"),
    ("not sorted", "board memory list invariant (order)"),
    ("Unsupported memory type", "zone config mem_type invalid"),
    ("is null", "interrupt-controller config invariant"),
    ("not equal to gicc_size", "interrupt-controller config invariant"),
    ("Unhandled sync exception", "riscv64 trap path: an exception from the guest hvisor does not handle"),
    ("exception from HS mode", "riscv64: an exception inside hvisor itself (hvisor bug or corrupted memory)"),
    ("trap instruction is not", "riscv64 MMIO decoder: the faulting instruction is not a load/store"),
    ("No support for htinst", "riscv64 MMIO decoder: htinst pseudo-instruction"),
    ("unhandled exception:", "loongarch64 trap path"),
    ("unhandled instruction", "loongarch64 trap path"),
    # riscv64 today, aarch64 in 2023 builds (exception.rs handle_dabt): the arch is the panic location's
    ("mmio_handle_access", "MMIO fault that has no handler (no region claims the address)"),
    ("unmaped memmory", "riscv64 (AIA) guest page fault that no region claims"),
]


def _depth(text: str) -> int:
    depth = 0
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            if ch in "{(":
                depth += 1
            elif ch in "})":
                depth -= 1
    return depth


class _Open:
    """A record being joined across lines."""

    def __init__(self, line: LogLine, level: str, cpu: int | None, target: str, message: str) -> None:
        self.lines = [line]
        self.level, self.cpu, self.target = level, cpu, target
        self.parts = [message]
        self.depth = _depth(message)
        self.skipped = 0

    @property
    def text(self) -> str:
        return " ".join(p.strip() for p in self.parts)


class HvisorReader(Reader):
    name = "hvisor"
    # Every hvisor record names its target "hvisor:..." (colour codes may sit before it); the rest
    # are println! lines and the
    # one-line messages of Jailhouse and Bao.
    interruptible = False
    anchors = (b"hvisor:", b"EL2 Exception", b"Unhandled EL2", b"Unsupported Exception", b"Failed to fetch",
               b"Trap Cause", b"] hvisor")

    def __init__(self) -> None:
        super().__init__()
        self.records = 0
        self._open: _Open | None = None
        self._last_mmio: dict[int | None, Fault] = {}
        self._rv_trap: Fault | None = None
        self._in_hv_mem: tuple[Fault, int] | None = None   # (fault, lines left to scan for addresses)
        self._segment_start = 0            # index in self.faults of this boot's first fault

    # -- framing -------------------------------------------------------------------------------
    def feed(self, line: LogLine) -> None:
        text = line.text
        m = _RECORD.match(text) or _RECORD_TS.match(text) or _RECORD_2023.match(text)
        if self._in_hv_mem is not None and not (m and "within hvisor" in text.lower()):
            self._more_hv_mem(line)
        if m:
            self.records += 1
            level, cpu, target, message = m.group(1), to_dec(m.group(2)), m.group(3), m.group(5)
            if self._in_hv_mem is None and not _INTERESTING.search(message) and (
                    self._open is None or cpu != self._open.cpu):
                return      # the bulk of a console: INFO/DEBUG chatter, counted and skipped
            rec = _Open(line, level, cpu, target, message)
            if rec.depth > 0:
                if self._open is not None:
                    self._close(truncated=True)
                self._open = rec
                self.active = True
            elif self._open is not None and cpu != self._open.cpu:
                self._handle(rec)       # another CPU's one-line record inside an open struct: keep it open
            else:
                if self._open is not None:
                    self._close(truncated=True)
                self._handle(rec)
            return
        if self._open is not None:
            stripped = text.lstrip()
            if text[:1].isspace() or stripped[:1] in "})" and stripped:
                self._open.parts.append(text)
                self._open.lines.append(line)
                self._open.depth += _depth(text)
                if self._open.depth <= 0:
                    self._close(truncated=False)
                return
            self._open.skipped += 1
            if self._open.skipped + len(self._open.lines) > MAX_RECORD_LINES:
                self._close(truncated=True)
            # an interleaved line may still be a bare hvisor message; fall through
        self._bare(line, text)

    def finish(self) -> None:
        if self._open is not None:
            self._close(truncated=True)
        self.active = False

    def boundary(self) -> None:
        """A new boot: records, the MMIO fault a panic would join, and the architecture start afresh."""
        self.finish()
        self._last_mmio = {}
        self._rv_trap = None
        self._in_hv_mem = None
        self._segment_start = len(self.faults)

    def _close(self, truncated: bool) -> None:
        rec, self._open = self._open, None
        self.active = self._in_hv_mem is not None
        if rec is not None:
            self._handle(rec, truncated)

    @staticmethod
    def _arch_of(*paths: object) -> str:
        """The architecture a record's own target module or panic location names, else unknown."""
        for path in paths:
            m = _ARCH_PATH.search(str(path)) if path else None
            if m:
                return m.group(1)
        return "unknown"

    # -- messages ------------------------------------------------------------------------------
    def _handle(self, rec: _Open, truncated: bool = False) -> None:
        text = rec.text
        # Of a pretty-printed struct, cite the header and the lines that carry the facts.
        evidence = [ev(rec.lines[0])] + [ev(x) for x in rec.lines[1:] if _KEY_LINE.search(x.text)]
        m = _UNHANDLED.search(text)
        if m:
            fault = Fault("hvisor-unhandled-mmio", self.name, self._arch_of(rec.target), "unhandled MMIO fault",
                          rec.lines[0].path, cpu=rec.cpu, zone_id=int(m.group(1)), truncated=truncated)
            values = {k: rx.search(text) for k, rx in _FIELD.items()}
            addr = to_int(values["address"].group(1)) if values["address"] else None
            if addr is not None:
                fault.addresses["fault"] = Address(addr, "GPA", "stage-2 fault address (MMIOAccess.address)")
            for k in ("size", "value"):
                found = values[k]
                if found:
                    v = to_int(found.group(1))
                    if v is not None:
                        fault.facts[k] = v
            if values["is_write"]:
                fault.facts["is_write"] = values["is_write"].group(1) == "true"
            fault.summary = (f"zone {fault.zone_id} unhandled MMIO "
                             f"{'write' if fault.facts.get('is_write') else 'read'}"
                             + (f" at {addr:#x}" if addr is not None else " (address missing: truncated record)"))
            for e in evidence:
                fault.cite(e)
            key = ("mmio", fault.zone_id, addr, fault.facts.get("is_write"))
            fault = self.emit(fault, key)
            self._last_mmio[rec.cpu] = fault
            return
        arch = self._arch_of(rec.target)
        m = _HANDLE_ERR.search(text)
        if m and "panic occurred" not in text:
            self._attach(rec.cpu, "mmio_handle_access_error", m.group(1).strip(), evidence, arch)
            return
        m = _HANDLER_RET.search(text)
        if m:
            self._attach(rec.cpu, "mmio_handler_error", m.group(1).strip(), evidence, arch,
                         note="the handler received an offset into its region, not a GPA")
            return
        m = _ZONE_ERR.search(text)
        if m and "panic occurred" not in text:
            self._attach(rec.cpu, "zone_error", f"zone {m.group(1)} has some error", evidence, arch)
            return
        m = _PANIC.search(text)
        if m:
            self._panic(rec, text, evidence, truncated)
            return
        self._bare_text(rec.lines[-1], text, evidence, rec.cpu, arch)

    def _attach(self, cpu: int | None, key: str, value: str, evidence: list[Evidence], arch: str,
                note: str = "") -> None:
        """A line that continues an earlier fault of the same CPU (the trap handler's error, zone_error): the
        architecture its target module names is the fault's too."""
        fault = self._last_mmio.get(cpu) or (self._last_mmio.get(None) if cpu is not None else None)
        if fault is None:
            fault = self.emit(Fault("hvisor-error", self.name, arch, value, evidence[0].path, cpu=cpu),
                              key=("err", value))
        if fault.arch == "unknown":
            fault.arch = arch
        fault.facts.setdefault(key, value)
        if note:
            fault.facts.setdefault(f"{key}_note", note)
        for e in evidence:
            fault.cite(e)

    def _panic(self, rec: _Open, text: str, evidence: list[Evidence], truncated: bool) -> None:
        # The message pattern backtracks polynomially over long text without "location:".
        msg_m = _PANIC_MSG.search(text) if "location:" in text else None
        message = msg_m.group(1).strip().strip('"') if msg_m else text.split("panic occurred:", 1)[-1].strip()
        loc = _PANIC_LOC.search(text)
        klass = next((why for needle, why in PANIC_CLASSES if needle in message), None)
        facts: dict[str, object] = {"panic_message": message}
        if loc:
            facts["panic_location"] = f"{loc.group(1)}:{loc.group(2)}"
        arch = self._arch_of(rec.target, facts.get("panic_location"))
        if klass:
            facts["panic_class"] = klass
        linked = self._last_mmio.get(rec.cpu) or self._last_mmio.get(None)
        if linked is not None and ("root zone has some error" in message or "mmio_handle_access" in message):
            linked.facts.update(facts)
            linked.facts["panicked"] = True
            if linked.arch == "unknown":
                linked.arch = arch
            for e in evidence:
                linked.cite(e)
            return
        fault = Fault("hvisor-panic", self.name, arch, f"hvisor panic: {message[:120]}", rec.lines[0].path,
                      cpu=rec.cpu, facts=facts, truncated=truncated)
        self._panic_addresses(fault, message)
        if self._rv_trap is not None and "Unhandled sync exception" in message:
            self._rv_trap.facts.update(facts)
            if self._rv_trap.arch == "unknown":
                self._rv_trap.arch = arch
            for e in evidence:
                self._rv_trap.cite(e)
            return
        for e in evidence:
            fault.cite(e)
        self.emit(fault, key=("panic", message))

    def _panic_addresses(self, fault: Fault, message: str) -> None:
        m = _UNMAPPED.search(message)
        if m:   # riscv64 AIA builds: guest page fault that no MMIO region claims
            fault.kind = "hvisor-unhandled-mmio"
            fault.cpu = int(m.group(1)) if fault.cpu is None else fault.cpu
            fault.addresses["fault"] = Address(int(m.group(2), 16), "GPA", "guest page fault address (htval << 2 | "
                                                                             "stval & 3)")
            fault.summary = f"riscv64 guest page fault at {m.group(2)} that no region claims"
            return
        if "mmio pci bar" in message:
            m = _HEXNUM.search(message)
            if m:
                fault.addresses["fault"] = Address(int(m.group(0).replace("_", ""), 16), "GPA", "PCI BAR access")
        la = _LA_EXC.search(message)
        if la:
            self._loongarch(fault, la)

    def _loongarch(self, fault: Fault, m: re.Match[str]) -> None:
        fault.arch = "loongarch64"
        fault.kind = "hvisor-loongarch-exception"
        fault.facts["exception"] = m.group(1)
        if m.group(2):
            fault.facts["exception_name"] = m.group(2)
        fields = {k: int(v, 16) for k, v in _LA_FIELD.findall(m.group(3))}
        fault.registers.update(fields)
        if "badv" in fields and m.group(1) in ("PIL", "PIS", "PNR", "PME", "PPI", "ADEM", "ALE"):
            fault.addresses["fault"] = Address(fields["badv"], "GPA", "badv (address hvisor tried to emulate as MMIO)")
        if "era" in fields:
            fault.addresses["pc"] = Address(fields["era"], "PC", "era (guest PC)")
        fault.summary = f"loongarch64 unhandled exception {m.group(1)}"

    # -- lines without a record header (println!, or other hypervisors) -------------------------
    def _bare(self, line: LogLine, text: str) -> None:
        self._bare_text(line, text, [ev(line)])

    def _bare_text(self, line: LogLine, text: str, evidence: list[Evidence], cpu: int | None = None,
                   arch: str = "unknown") -> None:
        if _IN_HV_MEM.search(text):
            fault = Fault("hvisor-fault-in-hv-memory", self.name, arch,
                          "hvisor's own diagnostic: fault address within hvisor's physical memory", line.path)
            for e in evidence:
                fault.cite(e)
            self._collect_hv_mem(fault, text)
            fault.cpu = cpu
            fault = self.emit(fault)
            self._last_mmio[cpu] = fault      # a following "root zone has some error" panic belongs to it
            self._in_hv_mem = (fault, 6)
            self.active = True
            return
        m = _EL2_ABORT.search(text)
        if m:
            fault = Fault("hvisor-el2-abort", self.name, "aarch64", f"exception inside hvisor (EL2 {m.group(1)})",
                          line.path, cpu=cpu)
            fault.addresses["pc"] = Address(int(m.group(2), 16), "PC", "ELR_EL2 (hvisor PC)")
            fault.addresses["fault"] = Address(int(m.group(4), 16), "HPA",
                                               "FAR_EL2 (hvisor virtual address; hvisor maps itself 1:1)")
            if m.group(3):
                fault.registers["ESR_EL2"] = int(m.group(3), 16)
            self._cite_all(fault, evidence)
            self.emit(fault, key=("el2", m.group(2), m.group(4)))
            return
        m = _EL2_OTHER.search(text) or _UNSUPPORTED_EC.search(text)
        if m:
            fault = Fault("hvisor-unhandled-ec", self.name, "aarch64", f"hvisor: unhandled exception class {m.group(1)}",
                          line.path, cpu=cpu, facts={"ec": int(m.group(1), 16)})
            self._cite_all(fault, evidence)
            self.emit(fault, key=("ec", m.group(1)))
            return
        m = _IABT.search(text) or _IABT_2023.search(text)
        if m:
            fault = Fault("hvisor-iabt", self.name, "aarch64", "guest instruction fetch from an unmapped IPA", line.path,
                          cpu=cpu)
            fault.addresses["fault"] = Address(int(m.group(2), 16), "GPA", "instruction fetch IPA")
            if m.re is _IABT:
                fault.addresses["pc"] = Address(int(m.group(3), 16), "PC", "ELR_EL2 (guest PC)")
            self._cite_all(fault, evidence)
            self.emit(fault, key=("iabt", m.group(2)))
            return
        if self._riscv(line, text, evidence):
            return
        m = _LA_EXC.search(text)
        if m:
            fault = Fault("hvisor-loongarch-exception", self.name, "loongarch64", "", line.path)
            self._loongarch(fault, m)
            self._cite_all(fault, evidence)
            self.emit(fault, key=("la", text))
            return

    @staticmethod
    def _cite_all(fault: Fault, evidence: list[Evidence]) -> None:
        for e in evidence:
            fault.cite(e)

    def _riscv(self, line: LogLine, text: str, evidence: list[Evidence]) -> bool:
        m = _RV_SYNC.search(text)
        if m:
            fault = Fault("hvisor-riscv-sync-exception", self.name, "riscv64", "guest sync exception hvisor did not handle",
                          line.path, cpu=int(m.group(1)))
            fault.addresses["pc"] = Address(int(m.group(2), 16), "PC", "sepc (guest PC)")
            self._cite_all(fault, evidence)
            self._rv_trap = self.emit(fault)
            return True
        m = _RV_UNHANDLED_TRAP.search(text)
        if m:
            fault = Fault("hvisor-riscv-unhandled-interrupt", self.name, "riscv64",
                          f"unhandled trap {m.group(1)}", line.path, facts={"scause": int(m.group(1), 16)})
            fault.addresses["pc"] = Address(int(m.group(2), 16), "PC", "sepc")
            self._cite_all(fault, evidence)
            self.emit(fault, key=("rvtrap", m.group(1)))
            return True
        trap = self._rv_trap
        if trap is None:
            m = _RV_CAUSE.search(text)
            if not m:
                return False
            # "Trap Cause" without the "sync exception" line before it (lost or HS-mode trap)
            trap = self._rv_trap = self.emit(Fault("hvisor-riscv-sync-exception", self.name, "riscv64",
                                                   "trap reported by hvisor", line.path))
        m = _RV_CAUSE.search(text)
        if m:
            cause = m.group(1).strip()
            if cause.isdigit():     # older builds print "Trap cause code: N"
                cause = cause_name(int(cause))[2].capitalize()
            trap.facts["cause"] = cause
            trap.summary = f"guest trap hvisor did not handle: {trap.facts['cause']}"
            self._cite_all(trap, evidence)
            return True
        m = _RV_HTVAL.search(text)
        if m:
            htval = int(m.group(1), 16)
            trap.registers["htval"] = htval
            if m.group(2):
                trap.registers["htinst"] = int(m.group(2), 16)
            self._riscv_gpa(trap)
            self._cite_all(trap, evidence)
            stval = _RV_STVAL.search(text)
            if stval:
                trap.registers["stval"] = int(stval.group(1), 16)
                self._riscv_gpa(trap)
            return True
        m = _RV_STVAL.search(text)
        if m:
            trap.registers["stval"] = int(m.group(1), 16)
            self._riscv_gpa(trap)
            self._cite_all(trap, evidence)
            return True
        m = _RV_INSN.search(text)
        if m:
            trap.facts["trap_instruction"] = m.group(1).strip()
            self._cite_all(trap, evidence)
            return True
        return False

    @staticmethod
    def _riscv_gpa(trap: Fault) -> None:
        """GPA of a guest-page fault = htval << 2 | stval & 3 (hvisor guest_page_fault_handler)."""
        htval = trap.registers.get("htval")
        if not htval:
            return
        stval = trap.registers.get("stval")
        if stval is None:
            trap.addresses["fault"] = Address(htval << 2, "GPA", "htval << 2 (low 2 bits from stval not printed)")
        else:
            trap.addresses["fault"] = Address((htval << 2) | (stval & 3), "GPA", "htval << 2 | stval & 3")

    # -- the loosely specified "FAULT ADDRESS is within hvisor's physical memory range" -----------
    def _collect_hv_mem(self, fault: Fault, text: str) -> None:
        for raw in _HEXNUM.findall(text):
            value = int(raw.replace("_", ""), 16)
            hexes = fault.facts.setdefault("hex_values", [])
            if len(hexes) < 8:
                hexes.append(value)
        hexes = fault.facts.get("hex_values", [])
        if not hexes:
            return
        # The wording and order are unverified (log-formats.md §1.3): take the value that lies
        # inside a [start, end) pair formed by two neighbouring other values, else the first.
        fault_addr, hv_range = hexes[0], None
        for i, x in enumerate(hexes):
            others = hexes[:i] + hexes[i + 1:]
            pair = next(((a, b) for a, b in zip(others, others[1:], strict=False) if a <= x < b), None)
            if pair:
                fault_addr, hv_range = x, pair
                break
        fault.addresses["fault"] = Address(fault_addr, "GPA", "fault address (hvisor's own diagnostic)")
        if hv_range:
            fault.facts["hv_range_reported"] = hv_range

    def _more_hv_mem(self, line: LogLine) -> None:
        assert self._in_hv_mem is not None
        fault, left = self._in_hv_mem
        own = _RECORD.match(line.text) or _RECORD_TS.match(line.text) or _RECORD_2023.match(line.text)
        continued = not own and line.text[:1].isspace()     # an indented continuation of the message
        if not continued and (not own or to_dec(own.group(2)) != fault.cpu) or "panic occurred" in line.text:
            left = 0        # another program's or another CPU's line, or the panic: the diagnostic has ended
        elif _HEXNUM.search(line.text):
            self._collect_hv_mem(fault, line.text)
            fault.cite(ev(line))
        left -= 1
        self._in_hv_mem = (fault, left) if left > 0 else None
        if self._in_hv_mem is None and self._open is None:
            self.active = False
