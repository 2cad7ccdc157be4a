"""Triage demo: the three seed incidents as the crash logs an engineer would have, diagnosed.

The logs under examples/triage/ are reconstructions we wrote from the seed texts (the seed-000
write-up shows its panic only as screenshots; seed 001 describes the symptom; seed 002 quotes the
addresses). Seed 001's layout is examples/triage/seed001-layout.yaml (docs/layout-format.md).
"""

from __future__ import annotations

from pathlib import Path

from hvcheck.demo import EXAMPLES, DemoStep
from hvcheck.findings import Finding, Location

SEED = "001"
ORDER = 90  # position within the seed: problem, then diagnosis detail, then fix
TITLE = "crash triage: from the console log to the violated invariant (all three incidents)"

HERE = EXAMPLES / "triage"
SEED000_LOG = HERE / "seed000-guest-console.log"
SEED001_LOG = HERE / "seed001-hvisor-console.log"
SEED001_LAYOUT = HERE / "seed001-layout.yaml"
SEED002_LOG = HERE / "seed002-qemu-int.log"
# Inputs the x86 and riscv areas bundle for the same incidents (used when present).
SEED000_CPUID = EXAMPLES / "x86" / "guest-cpuid-202e7.txt"
SEED002_ELF = EXAMPLES / "riscv" / "seed_mtvec.elf"


def _have(module: str, name: str) -> bool:
    from hvcheck.triage.context import _optional

    return _optional(module, name) is not None


def seed001_system() -> object:
    """The layout of seed001-layout.yaml, through the layout loader when this build has it,
    else built here with the same numbers (so the demo runs before the loader lands)."""
    if _have("hvcheck.layout.loaders", "load_layout"):
        from hvcheck.layout.loaders import load_layout

        return load_layout(SEED001_LAYOUT)
    from hvcheck.layout.model import (
        Board,
        DeviceTreeFacts,
        Hypervisor,
        HypervisorPart,
        Region,
        RegionKind,
        Span,
        System,
        Zone,
    )

    path = str(SEED001_LAYOUT)

    def at(line: int) -> Location:
        return Location(path, line)

    hv = Hypervisor("hvisor", 0x40400000, 0x41C00000, at(8), at(9), parts=[
        HypervisorPart("image", 0x40400000, 0x40A00000, at(11)),
        HypervisorPart("per-cpu areas", 0x40A00000, 0x40C00000, at(12)),
        HypervisorPart("memory pool", 0x40C00000, 0x41C00000, at(13)),
    ])
    board = Board("qemu-virt", memory=[Span(0x40000000, 0xC0000000, at(18))])
    root = Zone("root-linux", 0, True, at(24))
    root.add_region(Region(RegionKind.RAM, 0x40000000, 1 << 30, at(30), label="main"))
    root.add_region(Region(RegionKind.IO, 0x09000000, 0x1000, at(31), label="uart0"))
    root.devicetree = DeviceTreeFacts(path, memory=[Span(0x40000000, 0x80000000, at(33))],
                                      bootargs="console=ttyAMA0 root=/dev/vda rw")
    return System("seed001-qemu-gicv3", at(5), hv, board, zones=[root])


def run_seed000() -> list[Finding]:
    from hvcheck.triage.context import load_context
    from hvcheck.triage.diagnose import diagnose
    from hvcheck.triage.scan import scan

    cpuid = str(SEED000_CPUID) if _with_cpuid() else None
    return diagnose([scan(str(SEED000_LOG))], load_context(cpuid=cpuid))


def _with_cpuid() -> bool:
    return SEED000_CPUID.exists() and _have("hvcheck.x86.cpuid_model", "cpuid_findings")


def _with_riscv_elf() -> bool:
    return SEED002_ELF.exists() and _have("hvcheck.riscv.check", "check_image")


def run_seed001() -> list[Finding]:
    from hvcheck.triage.context import Context, use_system
    from hvcheck.triage.diagnose import diagnose
    from hvcheck.triage.scan import scan

    ctx = Context()
    use_system(ctx, seed001_system())
    return diagnose([scan(str(SEED001_LOG))], ctx)


def run_seed002() -> list[Finding]:
    from hvcheck.triage.context import load_context
    from hvcheck.triage.diagnose import diagnose
    from hvcheck.triage.scan import scan

    elf = str(SEED002_ELF) if _with_riscv_elf() else None
    return diagnose([scan(str(SEED002_LOG))], load_context(riscv_elf=elf))


def _rel(path: Path) -> str:
    return f"hvcheck/demo/examples/triage/{path.name}"


def steps() -> list[DemoStep]:
    layout_rules = _have("hvcheck.layout.rules", "run_rules")
    x86_rules = _have("hvcheck.x86.xsave", "xcr0_findings")
    return [
        DemoStep(
            command=f"hvcheck triage {_rel(SEED001_LOG)} --layout {_rel(SEED001_LAYOUT)}",
            run=run_seed001,
            expect={"T001", "M001", "M002"} if layout_rules else {"T001"},
            explain="Seed 001: hvisor reports an 'unhandled mmio fault' and panics ('root zone has some error'). "
                    "The fault address lies in hvisor's own memory pool, which the root zone maps as RAM.",
        ),
        DemoStep(
            command=f"hvcheck triage {_rel(SEED000_LOG)}"
                    + (" --cpuid hvcheck/demo/examples/x86/guest-cpuid-202e7.txt" if _with_cpuid() else ""),
            run=run_seed000,
            expect=({"T003", "X001", "X003", "X004"} if _with_cpuid() else {"T003", "X001"}) if x86_rules
            else {"T003"},
            explain="Seed 000: the guest kernel #GPs in fpu__init_cpu_xstate; the Code bytes decode to XSETBV "
                    "and EDX:EAX give XCR0 = 0x202e7 (XTILECFG without XTILEDATA). The guest's CPUID dump "
                    "shows where the value came from: leaf 0xD itself enumerates the invalid set.",
        ),
        DemoStep(
            command=f"hvcheck triage {_rel(SEED002_LOG)}"
                    + (" --riscv-elf hvcheck/demo/examples/riscv/seed_mtvec.elf" if _with_riscv_elf() else ""),
            run=run_seed002,
            expect={"T004", "R002"} if _with_riscv_elf() else {"T004"},
            explain="Seed 002 (with a QEMU that traps on 0x0000): an endless storm of illegal-instruction "
                    "traps at 0x8000007c, the address mtvec was computed to — 4 bytes before mtrap_entry; "
                    "the image shows it is the middle of a nop.",
        ),
    ]
