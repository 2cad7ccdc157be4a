"""Seed 001 on an hvisor tree: the same stomping read from board.rs, linker.ld, consts.rs and the
root device tree (a mini hvisor checkout bundled under examples/hvisor, written for hvcheck)."""

from __future__ import annotations

from hvcheck.demo import EXAMPLES, DemoStep
from hvcheck.findings import Finding

SEED = "001"
ORDER = 20  # position within the seed: problem, then diagnosis detail, then fix
TITLE = "hvisor board.rs: BASE_ADDRESS inside ROOT_ZONE_MEMORY_REGIONS RAM, reservation sized for the image only"

STOMP = EXAMPLES / "hvisor" / "platform" / "aarch64" / "rk-stomp"
FIXED = EXAMPLES / "hvisor" / "platform" / "aarch64" / "rk-fixed"


def _check(board: object) -> list[Finding]:
    from pathlib import Path

    from hvcheck.layout.loaders.hvisor import load_hvisor_board
    from hvcheck.layout.rules import run_rules

    return run_rules(load_hvisor_board(Path(str(board))))


def steps() -> list[DemoStep]:
    return [
        DemoStep(
            command="hvcheck layout hvisor/platform/aarch64/rk-stomp",
            run=lambda: _check(STOMP),
            expect={"M001", "M002", "M013", "M014"},
            explain="BASE_ADDRESS 0x60080000 (linker.ld) lies in the root zone's RAM (board.rs); the root device "
                    "tree reserves 4 MiB, but per-CPU areas and the 64 MiB pool follow the image:",
        ),
        DemoStep(
            command="hvcheck layout hvisor/platform/aarch64/rk-fixed",
            run=lambda: _check(FIXED),
            expect={"M014"},
            explain="Fixed: a hole in the root RAM for [BASE, __hv_end) + 8 MiB, left out of the root /memory "
                    "(only the M014 note remains: no ELF given, the extent is estimated):",
        ),
    ]
