"""Build neutral layout documents in code, write them, load them, run the rules."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hvcheck.findings import Finding
from hvcheck.layout.loaders import load_layout
from hvcheck.layout.rules import run_rules

BASE: dict[str, Any] = {
    "hvcheck-layout": 1,
    "name": "test",
    "hypervisor": {"name": "hv", "start": "0x40400000", "end": "0x41000000"},
    "board": {
        "cpus": 4,
        "memory": [{"start": "0x40000000", "size": "0x80000000"}],
        "devices": [{"name": "gicd", "kind": "interrupt-controller", "start": "0x08000000", "size": "0x10000"}],
    },
    "zones": [
        {"name": "root", "root": True, "cpus": [0, 1], "irqs": [32],
         "regions": [{"kind": "ram", "start": "0x50000000", "size": "0x10000000"}],
         "devicetree": {"memory": [{"start": "0x50000000", "size": "0x10000000"}]}},
        {"name": "z1", "cpus": [2, 3], "irqs": [33],
         "regions": [{"kind": "ram", "start": "0x80000000", "size": "0x10000000"}]},
    ],
}


def layout(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc.update(changes)
    return doc


def check(tmp_path: Path, doc: dict[str, Any], *, headroom: int = 8 << 20) -> list[Finding]:
    path = tmp_path / "layout.json"
    path.write_text(json.dumps(doc, indent=1))
    return run_rules(load_layout(path), headroom=headroom)


def rules_of(findings: list[Finding]) -> list[str]:
    return sorted(f.rule for f in findings)
