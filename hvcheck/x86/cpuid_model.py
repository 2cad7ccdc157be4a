"""CPUID dumps: compatibility names for the model (:mod:`hvcheck.x86.cpuid_dump`), the readers
(:mod:`hvcheck.x86.cpuid_readers`) and the checks X003-X006 (:mod:`hvcheck.x86.cpuid_rules`).
Other areas may keep importing ``CpuidDump``, ``read_cpuid_dump``, ``read_self_cpuid`` and
``cpuid_findings`` from here."""

from __future__ import annotations

from hvcheck.x86.cpuid_dump import REG_NAMES, CpuidDump, Regs
from hvcheck.x86.cpuid_readers import MAX_CPUS, MAX_DUMP_BYTES, read_cpuid_dump, read_self_cpuid
from hvcheck.x86.cpuid_rules import cpuid_findings

__all__ = ["MAX_CPUS", "MAX_DUMP_BYTES", "REG_NAMES", "CpuidDump", "Regs", "cpuid_findings", "read_cpuid_dump",
           "read_self_cpuid"]
