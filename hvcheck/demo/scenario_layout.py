"""Seed 001: hvisor's own memory inside the root zone's RAM (layout rules M001/M002/M013)."""

from __future__ import annotations

from hvcheck.demo import EXAMPLES, DemoStep
from hvcheck.findings import Finding

SEED = "001"
ORDER = 10  # position within the seed: problem, then diagnosis detail, then fix
TITLE = "hvisor's [skernel, __hv_end) handed to the root Linux as RAM"

STOMP = EXAMPLES / "layout" / "seed001-stomp.yaml"
FIXED = EXAMPLES / "layout" / "seed001-fixed.yaml"


def _check(path: object) -> list[Finding]:
    from pathlib import Path

    from hvcheck.layout.loaders import load_layout
    from hvcheck.layout.rules import run_rules

    return run_rules(load_layout(Path(str(path))))


def steps() -> list[DemoStep]:
    return [
        DemoStep(
            command=f"hvcheck layout {STOMP.name}",
            run=lambda: _check(STOMP),
            expect={"M001", "M002", "M013"},
            explain="The root zone's RAM region covers hvisor, and the root device tree reserves nothing:",
        ),
        DemoStep(
            command=f"hvcheck layout {FIXED.name}",
            run=lambda: _check(FIXED),
            expect=set(),
            explain="Fixed: a hole with 8 MiB headroom in the root RAM, reserved no-map in its device tree:",
        ),
    ]
