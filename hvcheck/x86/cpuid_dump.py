"""The CPUID dump model: per-CPU leaves with the line each came from (raw dumps), and the
questions every check asks of it (vendor, max leaf, XCR0 mask, provenance).

Readers live in :mod:`hvcheck.x86.cpuid_readers`, the checks X003-X006 in
:mod:`hvcheck.x86.cpuid_rules`; :mod:`hvcheck.x86.cpuid_model` keeps the old names.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from hvcheck.findings import Location

Regs = tuple[int, int, int, int]  # eax, ebx, ecx, edx
REG_NAMES = ("eax", "ebx", "ecx", "edx")


@dataclass
class CpuidDump:
    path: str
    fmt: str
    # cpu number -> {(leaf, subleaf): regs}
    cpus: dict[int, dict[tuple[int, int], Regs]] = field(default_factory=dict)
    # (cpu, leaf, subleaf) -> 1-based line in the file (raw dumps only)
    lines: dict[tuple[int, int, int], int] = field(default_factory=dict)

    @property
    def first_cpu(self) -> int:
        return min(self.cpus)

    def leaves(self, cpu: int | None = None) -> dict[tuple[int, int], Regs]:
        return self.cpus[self.first_cpu if cpu is None else cpu]

    def get(self, leaf: int, sub: int = 0, cpu: int | None = None) -> Regs | None:
        return self.leaves(cpu).get((leaf, sub))

    def reg(self, leaf: int, sub: int, name: str, cpu: int | None = None) -> int:
        """One register, 0 when the leaf is absent or beyond the maximum leaf (as CPUs behave for
        feature words; callers that must distinguish use :meth:`has_leaf`)."""
        regs = self.get(leaf, sub, cpu) if self.has_leaf(leaf, cpu) else None
        return 0 if regs is None else regs[REG_NAMES.index(name)]

    def max_basic(self, cpu: int | None = None) -> int:
        regs = self.get(0, 0, cpu)
        return regs[0] if regs else 0

    def has_leaf(self, leaf: int, cpu: int | None = None) -> bool:
        if leaf < 0x80000000 and leaf > self.max_basic(cpu):
            return False
        return any(k[0] == leaf for k in self.leaves(cpu))

    def xcr0_mask(self, cpu: int | None = None) -> int | None:
        """CPUID.(EAX=0DH,ECX=0):EDX:EAX, or None when the dump has no leaf 0xD."""
        if not self.has_leaf(0xD, cpu):
            return None
        regs = self.get(0xD, 0, cpu)
        return None if regs is None else regs[3] << 32 | regs[0]

    @property
    def xcr0_supported(self) -> int | None:
        """CPUID.(EAX=0DH,ECX=0):EDX:EAX of the first CPU (the attribute name crash triage reads)."""
        return self.xcr0_mask()

    def vendor(self) -> str:
        regs = self.get(0, 0)
        if regs is None:
            return "?"
        raw = struct.pack("<III", regs[1], regs[3], regs[2])
        return raw.decode("ascii", errors="replace").strip("\0")

    def location(self, leaf: int, sub: int = 0, cpu: int | None = None) -> Location:
        c = self.first_cpu if cpu is None else cpu
        line = self.lines.get((c, leaf, sub))
        cpu_note = f"CPU {c}, " if len(self.cpus) > 1 else ""
        return Location(self.path, line, detail=f"{cpu_note}CPUID.({leaf:#x},{sub:#x})")


# --------------------------------------------------------------------------------------------
# Readers
