"""Findings, severities, locations and the rule registry.

A :class:`Finding` is what every check produces and every reporter consumes. The registry maps
stable rule IDs (DESIGN.md §3; add, never renumber) to a title, a default severity and the area
that owns the rule. The long explanation of each rule lives in ``docs/rules/<ID>.md``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class Severity(enum.IntEnum):
    NOTE = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (error, warning or note)") from None


@dataclass(frozen=True)
class Location:
    """Where a value or a finding came from: a file and line, an ELF symbol, or an estimate.

    ``path`` is None only for values that have no file at all (e.g. a command-line argument or
    an estimate); ``detail`` then says what it is ("estimated: BASE + 8 MiB image + ...").
    """

    path: str | None = None
    line: int | None = None
    symbol: str | None = None
    detail: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.path is not None:
            parts.append(f"{self.path}:{self.line}" if self.line is not None else self.path)
        if self.symbol is not None:
            parts.append(f"symbol {self.symbol}")
        if self.detail is not None:
            parts.append(self.detail)
        return ", ".join(parts) if parts else "<unknown>"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "line": self.line}
        if self.symbol is not None:
            out["symbol"] = self.symbol
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    area: str

    def doc_path(self) -> Path:
        return RULE_DOCS_DIR / f"{self.id}.md"

    def doc(self) -> str:
        path = self.doc_path()
        try:
            return path.read_text(encoding="utf-8")
        except OSError:
            return f"# {self.id}: {self.title}\n\n(no documentation page at {path})\n"


# docs/rules/ sits next to the package in the source tree (editable installs and checkouts).
RULE_DOCS_DIR = Path(__file__).resolve().parent.parent / "docs" / "rules"

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE

_CATALOGUE: list[tuple[str, str, Severity, str]] = [
    ("E001", "an input needed by a check could not be read or parsed", E, "input"),
    # Memory and resource layout.
    ("M001", "hypervisor memory overlaps RAM mapped into a zone", E, "layout"),
    ("M002", "a zone's kernel may allocate hypervisor memory (not reserved in its device tree)", E, "layout"),
    ("M003", "memory the zone device tree gives the kernel is not mapped at stage 2", E, "layout"),
    ("M004", "private RAM of two zones overlaps", E, "layout"),
    ("M005", "regions of one zone overlap physically or in guest-physical space", E, "layout"),
    ("M006", "a RAM region overlaps a device window", E, "layout"),
    ("M007", "an emulated region overlaps a passthrough I/O region of the same zone", E, "layout"),
    ("M008", "a load address (kernel/DTB/initrd) is outside the zone's RAM or inside another owner", E, "layout"),
    ("M009", "region or hypervisor base not aligned to the page granule", E, "layout"),
    ("M010", "a CPU in two zones, or a CPU the board does not have", E, "layout"),
    ("M011", "an interrupt assigned to two zones", W, "layout"),
    ("M012", "region outside the board's physical memory list", W, "layout"),
    ("M013", "too little headroom between the hypervisor's end and the next owner", W, "layout"),
    ("M014", "hypervisor extent estimated (no ELF given)", N, "layout"),
    # x86 virtual CPU.
    ("X001", "XCR0 value violates an architectural rule", E, "x86"),
    ("X002", "XCR0 sets a bit not enumerated in CPUID leaf 0xD", E, "x86"),
    ("X003", "CPUID leaf 0xD's XCR0 mask is itself invalid (the guest kernel will #GP on XSETBV)", E, "x86"),
    ("X004", "CPUID feature flags disagree with XSAVE components", W, "x86"),
    ("X005", "guest CPUID advertises a feature or XSAVE component the host does not", W, "x86"),
    ("X010", "a KVM ioctl reached a file-descriptor class that does not implement it", E, "x86"),
    # RISC-V images and emulators.
    ("R001", "trap-vector CSR written with a reserved MODE (>= 2)", E, "riscv"),
    ("R002", "trap-vector BASE does not land on an instruction start", E, "riscv"),
    ("R003", "trap-vector BASE lands on an instruction that is not a symbol or function entry", W, "riscv"),
    ("R004", "vectored trap table misaligned or not made of 4-byte jumps", E, "riscv"),
    ("R005", "a reserved or illegal encoding is reachable in executable code", E, "riscv"),
    ("R010", "emulator conformance: trap behaviour differs from the spec", E, "riscv"),
    # Backport fidelity.
    ("P001", "a hunk landed in a different function than upstream", E, "backport"),
    ("P002", "a hunk landed in a different switch/dispatcher context than upstream", E, "backport"),
    ("P003", "an upstream hunk is missing from the backport", W, "backport"),
    ("P004", "the backport changes lines upstream does not", W, "backport"),
    ("P005", "a hunk's content differs from upstream", W, "backport"),
    # Crash triage.
    ("T001", "a fault address lies in the hypervisor's memory", E, "triage"),
    ("T002", "a fault address lies in zone RAM that is not mapped at stage 2", E, "triage"),
    ("T003", "#GP on XSETBV: the XCR0 value breaks an architectural rule", E, "triage"),
    ("T004", "illegal-instruction trap at a trap vector, mid-instruction or on a reserved encoding", E, "triage"),
    ("T005", "recognised fault: extracted facts and address owners", N, "triage"),
    # Added after the first catalogue (append only).
    ("X006", "CPUs in one CPUID dump disagree on feature or XSAVE leaves", W, "x86"),
]

REGISTRY: dict[str, Rule] = {rid: Rule(rid, title, sev, area) for rid, title, sev, area in _CATALOGUE}


def rule(rule_id: str) -> Rule:
    try:
        return REGISTRY[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule id {rule_id!r}") from None


@dataclass
class Finding:
    """One violated invariant (or one input problem), with its evidence.

    ``data`` holds rule-specific facts; integers in it are rendered as 0x-hex strings in JSON.
    """

    rule: str
    message: str
    locations: list[Location] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    fix: str | None = None
    severity: Severity | None = None

    def __post_init__(self) -> None:
        registered = rule(self.rule)  # an unknown ID is a programming error, fail loudly
        if self.severity is None:
            self.severity = registered.severity

    @property
    def sev(self) -> Severity:
        assert self.severity is not None
        return self.severity


def input_error_finding(path: str | None, line: int | None, what: str, checks: str) -> Finding:
    """E001: in runs over many inputs, one unreadable input becomes a finding, not an abort."""
    return Finding(
        "E001",
        f"{what}; not checked: {checks}",
        locations=[Location(path, line)],
        data={"what": what, "checks_not_run": checks},
    )


def worst(findings: list[Finding]) -> Severity | None:
    return max((f.sev for f in findings), default=None)


def summary(findings: list[Finding]) -> dict[str, int]:
    counts = {s.label: 0 for s in (Severity.ERROR, Severity.WARNING, Severity.NOTE)}
    for f in findings:
        counts[f.sev.label] += 1
    return counts
