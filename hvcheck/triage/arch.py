"""Architecture from evidence, never by default.

A record collects votes while it is read (a register name that only one architecture has, a syndrome
register, a header form, a call-trace frame only one port has). At the end it is labelled with the one
architecture the evidence names, or ``unknown`` when there is none or the evidence disagrees: a wrong
label is worse than none, because every later decoding (ESR vs FSR vs scause) follows it.

Names: ``aarch64`` (AArch64 state), ``arm`` (AArch32: ARMv7, or ARMv8 in AArch32 state), ``riscv64``,
``riscv32``, ``loongarch64``, ``x86_64`` (the x86 architecture; the mode a dump was taken in, real,
protected or 64-bit, is a separate fact), ``unknown``.
"""

from __future__ import annotations

UNKNOWN = "unknown"


class ArchVotes:
    def __init__(self) -> None:
        self.votes: dict[str, list[str]] = {}

    def add(self, arch: str, why: str) -> None:
        reasons = self.votes.setdefault(arch, [])
        if why not in reasons and len(reasons) < 8:
            reasons.append(why)

    def __bool__(self) -> bool:
        return bool(self.votes)

    def decide(self) -> tuple[str, list[str]]:
        """(architecture, the evidence for it). Several architectures: the one with at least three times
        the evidence of every other (a stray token is not a contradiction), else unknown."""
        if not self.votes:
            return UNKNOWN, []
        ranked = sorted(self.votes.items(), key=lambda kv: -len(kv[1]))
        best, reasons = ranked[0]
        if len(ranked) > 1 and len(reasons) < 3 * len(ranked[1][1]):
            conflict = "; ".join(f"{a}: {', '.join(r[:3])}" for a, r in ranked[:3])
            return UNKNOWN, [f"conflicting evidence ({conflict})"]
        return best, reasons
