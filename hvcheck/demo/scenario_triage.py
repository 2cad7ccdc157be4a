"""Triage demo: the three seed incidents as the crash logs an engineer would have, diagnosed.

The logs under examples/triage/ are reconstructions we wrote from the seed texts (the seed-000
write-up shows its panic only as screenshots; seed 001 describes the symptom; seed 002 quotes the
addresses). Seed 001's layout is examples/triage/seed001-layout.yaml (docs/layout-format.md).
"""

from __future__ import annotations

from pathlib import Path

from hvcheck.demo import EXAMPLES, DemoStep
from hvcheck.findings import Finding
from hvcheck.layout.model import System

SEED = "001"
ORDER = 90  # position within the seed: problem, then diagnosis detail, then fix
TITLE = "crash triage: from the console log to the violated invariant (all three incidents)"

HERE = EXAMPLES / "triage"
SEED000_LOG = HERE / "seed000-guest-console.log"
SEED001_LOG = HERE / "seed001-hvisor-console.log"
SEED001_LAYOUT = HERE / "seed001-layout.yaml"
SEED002_LOG = HERE / "seed002-qemu-int.log"
# Inputs the x86 and riscv areas bundle for the same incidents.
SEED000_CPUID = EXAMPLES / "x86" / "guest-cpuid-202e7.txt"
SEED002_ELF = EXAMPLES / "riscv" / "seed_mtvec.elf"


def seed001_system() -> System:
    """The layout of seed001-layout.yaml (docs/layout-format.md), through the layout loader."""
    from hvcheck.layout.loaders import load_layout

    return load_layout(SEED001_LAYOUT)


def run_seed000() -> list[Finding]:
    from hvcheck.triage.context import load_context
    from hvcheck.triage.diagnose import diagnose
    from hvcheck.triage.scan import scan

    return diagnose([scan(str(SEED000_LOG))], load_context(cpuid=str(SEED000_CPUID)))


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

    return diagnose([scan(str(SEED002_LOG))], load_context(riscv_elf=str(SEED002_ELF)))


def _rel(path: Path) -> str:
    return f"hvcheck/demo/examples/triage/{path.name}"


def steps() -> list[DemoStep]:
    return [
        DemoStep(
            command=f"hvcheck triage {_rel(SEED001_LOG)} --layout {_rel(SEED001_LAYOUT)}",
            run=run_seed001,
            expect={"T001", "M001", "M002"},
            explain="Seed 001: hvisor reports an 'unhandled mmio fault' and panics ('root zone has some error'). "
                    "The fault address lies in hvisor's own memory pool, which the root zone maps as RAM.",
        ),
        DemoStep(
            command=f"hvcheck triage {_rel(SEED000_LOG)} --cpuid hvcheck/demo/examples/x86/guest-cpuid-202e7.txt",
            run=run_seed000,
            expect={"T003", "X001", "X003", "X004"},
            explain="Seed 000: the guest kernel #GPs in fpu__init_cpu_xstate; the Code bytes decode to XSETBV "
                    "and EDX:EAX give XCR0 = 0x202e7 (XTILECFG without XTILEDATA). The guest's CPUID dump "
                    "shows where the value came from: leaf 0xD itself enumerates the invalid set.",
        ),
        DemoStep(
            command=f"hvcheck triage {_rel(SEED002_LOG)} --riscv-elf hvcheck/demo/examples/riscv/seed_mtvec.elf",
            run=run_seed002,
            expect={"T004", "R002"},
            explain="Seed 002 (with a QEMU that traps on 0x0000): an endless storm of illegal-instruction "
                    "traps at 0x8000007c, the address mtvec was computed to — 4 bytes before mtrap_entry; "
                    "the image shows it is the middle of a nop.",
        ),
    ]
