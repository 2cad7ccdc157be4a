"""Seed 002, the emulator half: QEMU executed the defined-illegal 0x0000 instead of trapping.

Step 1 runs the real harness under the installed qemu-riscv64 (clean on QEMU >= 4.1). When
qemu-riscv64 is not installed the step cannot run: it returns an E001 finding saying so, which the
demo reports as "NOT reproduced" -- a missing emulator is never a silent pass.
Step 2 checks a bundled model of QEMU 2.12-3.1 (examples/riscvconf/make_model.py says how it is
made) and must report R010 for 0x0000.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from hvcheck.demo import EXAMPLES, DemoStep
from hvcheck.findings import Finding, input_error_finding
from hvcheck.riscv import conformance as conf

SEED = "002"
ORDER = 20  # position within the seed: problem, then diagnosis detail, then fix
TITLE = "an emulator that runs the illegal 0x0000 as mv fp, sp (R010)"

MODEL = EXAMPLES / "riscvconf" / "qemu-3.1-model.bin.gz"


def _shown(path: Path) -> str:
    """The path as a user in the current directory would type it (relative when inside it)."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def _checked(load: Callable[[], conf.HarnessRun]) -> tuple[list[Finding], str]:
    """Run a harness loader and compare; keep the summary table for the step's preamble."""
    run = load()
    findings, counts = conf.compare(run)
    return findings, conf.summary_table(run, counts, len(findings))


def steps() -> list[DemoStep]:
    tables: dict[str, str] = {}

    def live() -> list[Finding]:
        if shutil.which("qemu-riscv64") is None:
            tables["live"] = "qemu-riscv64 is not installed (Debian: apt install qemu-user)"
            return [input_error_finding("qemu-riscv64", None, "qemu-riscv64 is not installed",
                                        "R010 emulator conformance (the live half of this demo)")]
        findings, tables["live"] = _checked(lambda: conf.run_user("qemu-riscv64"))
        return findings

    def model() -> list[Finding]:
        findings, tables["model"] = _checked(lambda: conf.load_results(_shown(MODEL)))
        return findings

    return [
        DemoStep(
            command="hvcheck riscv-conformance --qemu-user qemu-riscv64",
            run=live,
            expect=set(),
            explain="All 49152 compressed halfwords, once each, in one qemu-riscv64 process. QEMU >= 4.1 "
                    "traps on exactly the 2409 reserved + illegal ones, so this must be clean.",
            preamble=lambda: tables.get("live", ""),
        ),
        DemoStep(
            command=f"hvcheck riscv-conformance --results {_shown(MODEL)}",
            run=model,
            expect={"R010"},
            explain="The same harness output as QEMU 2.12-3.1 would give (a model: QEMU 7.2's run with "
                    "0x0000 executed as c.addi4spn fp, sp, 0, the bug behind the RISC-V trap-vector incident). The hypervisor's "
                    "mtvec pointed at a 0x0000; real hardware traps, this QEMU clobbered fp instead.",
            preamble=lambda: tables.get("model", ""),
        ),
    ]
