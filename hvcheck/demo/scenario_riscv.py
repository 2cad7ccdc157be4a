"""Seed 002, the image half: `auipc t0,0; c.addi t0,18; csrw mtvec,t0` points mtvec 4 bytes
short of mtrap_entry, into the upper half of a padding nop that reads 0x0000 (R002); the `la`
fix is clean."""

from __future__ import annotations

from hvcheck.demo import EXAMPLES, DemoStep
from hvcheck.findings import Finding

SEED = "002"
ORDER = 10  # position within the seed: problem, then diagnosis detail, then fix
TITLE = "mtvec set 4 bytes short of its handler, into the middle of a nop (R002)"

DIR = EXAMPLES / "riscv"


def _run(name: str, keep: dict[str, str]) -> list[Finding]:
    from hvcheck.riscv.check import check_path, summary_text

    report = check_path(str(DIR / name))
    keep[name] = summary_text(report)
    return report.findings


def steps() -> list[DemoStep]:
    pre: dict[str, str] = {}
    return [
        DemoStep(
            command="hvcheck riscv seed_mtvec.elf",
            run=lambda: _run("seed_mtvec.elf", pre),
            expect={"R002"},
            explain="The incident's M-mode stub (our own .S with the exact layout): the hand-computed "
                    "vector lands inside a 4-byte nop, where the hart reads the illegal 0x0000 and "
                    "traps to itself forever (QEMU <= 3.1 ran it as `mv fp, sp` instead: see the "
                    "conformance scenario).",
            preamble=lambda: pre.get("seed_mtvec.elf", ""),
        ),
        DemoStep(
            command="hvcheck riscv fixed_mtvec_la.elf",
            run=lambda: _run("fixed_mtvec_la.elf", pre),
            expect=set(),
            explain="The fix: `la t0, mtrap_entry` lets the assembler and linker compute the address.",
            preamble=lambda: pre.get("fixed_mtvec_la.elf", ""),
        ),
    ]
