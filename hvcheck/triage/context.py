"""The optional inputs a diagnosis can use, loaded once, each degrading honestly.

Every capability that is missing (no --layout given, or the module that reads it is not in this
build yet) is recorded in ``missing`` with the reason; diagnoses then say "unknown" and name it.
Bad input files are not degraded: they raise InputError (exit 2), as everywhere in hvcheck.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hvcheck.findings import Finding, Location
from hvcheck.triage.hvelf import HvExtent, read_hv_extent


def _optional(module: str, *names: str) -> tuple[Any, ...] | None:
    """Attributes of a module that another area may not have landed yet; None when absent."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    try:
        return tuple(getattr(mod, n) for n in names)
    except AttributeError:
        return None


@dataclass
class HvRange:
    start: int
    end: int
    locations: list[Location]
    how: str                       # "ELF symbols", "layout", "layout (estimated)"
    parts: list[tuple[str, int, int]] = field(default_factory=list)
    end_min: int | None = None     # estimated extents: the end with the smallest assumed image


@dataclass
class Context:
    layout_path: str | None = None
    system: Any = None             # hvcheck.layout.model.System
    owner_index: Any = None
    layout_findings: list[Finding] | None = None
    hv: HvRange | None = None
    cpuid_path: str | None = None
    cpuid_dump: Any = None
    cpuid_findings: list[Finding] | None = None
    riscv_path: str | None = None
    riscv_image: Any = None
    riscv_findings: list[Finding] | None = None
    missing: dict[str, str] = field(default_factory=dict)

    def owners(self, address: int) -> list[Any]:
        return self.owner_index.owners_of(address) if self.owner_index is not None else []


def load_context(layout: str | None = None, elf: str | None = None, cpuid: str | None = None,
                 riscv_elf: str | None = None, headroom: int = 8 << 20, board: str | None = None) -> Context:
    ctx = Context()
    extent: HvExtent | None = read_hv_extent(elf) if elf else None
    if extent is not None:
        ctx.hv = HvRange(extent.start, extent.end, extent.locations(), "ELF symbols skernel/__hv_end")
    _load_layout(ctx, layout, elf, headroom, board)
    _load_cpuid(ctx, cpuid)
    _load_riscv(ctx, riscv_elf)
    return ctx


def _load_layout(ctx: Context, layout: str | None, elf: str | None, headroom: int, board: str | None) -> None:
    if layout is None:
        ctx.missing["layout"] = "no --layout given: addresses cannot be resolved to owners"
        return
    ctx.layout_path = layout
    loader = _optional("hvcheck.layout.loaders", "load_layout")
    if loader is None:
        ctx.missing["layout"] = "this hvcheck build has no layout loader (hvcheck.layout.loaders.load_layout)"
        return
    (load_layout,) = loader
    options: dict[str, Any] = {}
    params = inspect.signature(load_layout).parameters
    if elf is not None and "elf" in params:
        options["elf"] = Path(elf)
    if board is not None and "board" in params:
        options["board"] = board
    system = load_layout(Path(layout), **options)
    use_system(ctx, system, headroom)


def use_system(ctx: Context, system: Any, headroom: int = 8 << 20) -> None:
    """Adopt an already built layout model (the demo builds one in code)."""
    from hvcheck.layout.model import OwnerIndex

    ctx.system = system
    ctx.owner_index = OwnerIndex(system)
    hv = system.hypervisor
    if hv is not None and ctx.hv is None:
        how = "layout (estimated end, M014)" if hv.estimate is not None else "layout"
        ctx.hv = HvRange(hv.start, hv.end, [hv.source, hv.end_source], how,
                         [(p.name, p.start, p.end) for p in hv.parts],
                         hv.estimate.end_min if hv.estimate is not None else None)
    elif hv is not None and ctx.hv is not None:
        ctx.hv.parts = [(p.name, p.start, p.end) for p in hv.parts]
    rules = _optional("hvcheck.layout.rules", "run_rules")
    if rules is None:
        ctx.missing["layout rules"] = "this hvcheck build has no layout rules (hvcheck.layout.rules.run_rules)"
        return
    (run_rules,) = rules
    ctx.layout_findings = list(run_rules(system, headroom=headroom))


def _load_cpuid(ctx: Context, cpuid: str | None) -> None:
    if cpuid is None:
        ctx.missing["cpuid"] = "no --cpuid given: the guest CPUID's XSAVE mask (X003) is not checked"
        return
    ctx.cpuid_path = cpuid
    api = _optional("hvcheck.x86.cpuid_model", "read_cpuid_dump", "cpuid_findings")
    if api is None:
        ctx.missing["cpuid"] = "this hvcheck build has no CPUID reader (hvcheck.x86.cpuid_model)"
        return
    read_cpuid_dump, cpuid_findings = api
    ctx.cpuid_dump = read_cpuid_dump(cpuid)
    ctx.cpuid_findings = list(cpuid_findings(ctx.cpuid_dump))


def _load_riscv(ctx: Context, riscv_elf: str | None) -> None:
    if riscv_elf is None:
        ctx.missing["riscv image"] = "no --riscv-elf given: trap addresses are not resolved against the image"
        return
    ctx.riscv_path = riscv_elf
    api = _optional("hvcheck.riscv.image", "load_image")
    if api is None:
        ctx.missing["riscv image"] = "this hvcheck build has no RISC-V image reader (hvcheck.riscv.image)"
        return
    (load_image,) = api
    ctx.riscv_image = load_image(Path(riscv_elf))
    checker = _optional("hvcheck.riscv.check", "check_image")
    if checker is None:
        ctx.missing["riscv rules"] = "this hvcheck build has no RISC-V image checks (hvcheck.riscv.check)"
        return
    ctx.riscv_findings = list(checker[0](ctx.riscv_image).findings)
