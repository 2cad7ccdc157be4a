"""The whole rule catalogue: every module that declares rules, imported on demand.

Rules are declared beside their code (``hvcheck.findings.rule`` / ``declare_rule``), so the
registry holds only what has been imported. Commands that list or document every rule
(`hvcheck rules`, SARIF of a whole run, the docs test) call :func:`load_catalogue`. A rule added
to one of these modules needs no change here; a new *area* adds its module to the list.
"""

from __future__ import annotations

import importlib

from hvcheck.findings import REGISTRY, Rule

# Each of these is cheap to import (no tree-sitter, pyelftools or rich at module level).
RULE_MODULES: tuple[str, ...] = (
    "hvcheck.findings",
    "hvcheck.suppress",
    "hvcheck.layout.rules",
    "hvcheck.x86.xsave",
    "hvcheck.x86.cpuid_model",
    "hvcheck.x86.ioctl_trace",
    "hvcheck.kvm.checks",
    "hvcheck.riscv.tvec",
    "hvcheck.riscv.check",
    "hvcheck.riscv.conformance",
    "hvcheck.backport.rules",
    "hvcheck.triage.diagnose",
    "hvcheck.triage.ownership",
)

AREA_ORDER = ("input", "layout", "x86", "riscv", "backport", "triage")


def load_catalogue() -> dict[str, Rule]:
    """Every declared rule, ordered by area and ID."""
    for name in RULE_MODULES:
        importlib.import_module(name)
    order = {area: i for i, area in enumerate(AREA_ORDER)}
    return dict(sorted(REGISTRY.items(), key=lambda kv: (order.get(kv[1].area, len(order)), kv[0])))


def rule_range(area: str) -> str:
    """The IDs of an area as help text: "M001-M014", or "X001-X006, X010" when not contiguous."""
    ids = sorted(r.id for r in load_catalogue().values() if r.area == area)
    return _ranges(ids)


def _ranges(ids: list[str]) -> str:
    groups: list[list[str]] = []
    for rid in ids:
        if groups and groups[-1][-1][0] == rid[0] and int(groups[-1][-1][1:]) + 1 == int(rid[1:]):
            groups[-1].append(rid)
        else:
            groups.append([rid])
    return ", ".join(g[0] if len(g) == 1 else f"{g[0]}-{g[-1]}" for g in groups)
