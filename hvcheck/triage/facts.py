"""What the log readers extract: faults with their facts and the log lines they came from.

Readers never decide root causes; they record what the log says (addresses with the address
space they belong to, registers, decoded syndromes) and where it says it. The diagnoses in
:mod:`hvcheck.triage.diagnose` turn faults into findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hvcheck.findings import Location

MAX_EVIDENCE = 24   # lines quoted per fault; a storm of identical lines is counted, not kept
QUOTABLE_LINES = 20000


@dataclass(frozen=True)
class Evidence:
    path: str
    line: int
    text: str

    def quote(self) -> str:
        text = self.text.strip()
        return text if len(text) <= 200 else text[:197] + "..."

    def location(self) -> Location:
        # The text reporter quotes path:line itself when it can read the file (plain files, first
        # 4 MiB); the line's text is carried here only where it cannot (stdin, gzip, far lines).
        quotable = self.path != "<stdin>" and not self.path.endswith(".gz") and self.line < QUOTABLE_LINES
        return Location(self.path, self.line, detail=None if quotable else self.quote())


@dataclass(frozen=True)
class Address:
    """An address and the space it lives in: 'GPA' (guest physical / IPA), 'HPA', 'VA'
    (guest or kernel virtual), 'PC' (an instruction address, virtual unless said), 'offset'."""

    value: int
    space: str
    what: str

    def __str__(self) -> str:
        return f"{self.what} {self.value:#x} ({self.space})"


@dataclass
class Fault:
    """One recognised fault record (or one collapsed pattern of identical trace records)."""

    kind: str                     # e.g. "hvisor-unhandled-mmio", "x86-gp", "qemu-trap-storm"
    reader: str                   # which reader produced it
    arch: str                     # aarch64 / riscv64 / loongarch64 / x86_64 / unknown
    summary: str                  # one line, from the log's own words
    path: str
    cpu: int | None = None
    zone_id: int | None = None
    addresses: dict[str, Address] = field(default_factory=dict)
    registers: dict[str, int] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    count: int = 1                # identical records folded into this one
    truncated: bool = False       # the record ended before it was complete

    def cite(self, ev: Evidence) -> None:
        if len(self.evidence) < MAX_EVIDENCE:
            self.evidence.append(ev)

    def locations(self) -> list[Location]:
        return [ev.location() for ev in self.evidence]

    @property
    def first_line(self) -> int:
        return self.evidence[0].line if self.evidence else 0


@dataclass
class ScanStats:
    """Per-log counts that make an empty answer honest ("no hvisor lines at all")."""

    path: str
    lines: int = 0
    hvisor_records: int = 0
    guest_kernel_lines: int = 0
    trace_records: int = 0
    readers_seen: set[str] = field(default_factory=set)
    boundaries: list[tuple[int, str]] = field(default_factory=list)   # (line, why) where a new boot/crash starts
    formats_seen: dict[str, int] = field(default_factory=dict)        # banners / lines by format, for "unknown"
