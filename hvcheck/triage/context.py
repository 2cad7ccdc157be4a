"""The optional inputs a diagnosis can use, loaded once, each degrading honestly.

Every input that is not given (no --layout, no --cpuid, ...) is recorded in ``missing`` with the
reason; diagnoses then say "unknown" and name it. Bad input files are not degraded: they raise
InputError (exit 2), as everywhere in hvcheck.

The other areas are imported directly: the layout area reads layouts and the hypervisor's ELF
extent (so T001 and M001 always agree on the hypervisor's range), the x86 area reads CPUID dumps,
the RISC-V area reads images. Their heavy dependencies are imported only when the input is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hvcheck.findings import Finding, Location
from hvcheck.layout.model import OwnerIndex, System

if TYPE_CHECKING:
    from hvcheck.layout.model import Owner
    from hvcheck.riscv.image import RiscvImage
    from hvcheck.x86.cpuid_model import CpuidDump

VIRTUAL_FLOOR = 1 << 48    # a hypervisor linked above this is at a virtual address (DMW window, high half)


@dataclass
class HvRange:
    start: int
    end: int
    locations: list[Location]
    how: str                       # "ELF symbols", "layout", "layout (estimated)"
    parts: list[tuple[str, int, int]] = field(default_factory=list)
    end_min: int | None = None     # estimated extents: the end with the smallest assumed image
    name: str = "the hypervisor"   # as the layout names it ("hvisor", "jailhouse")


@dataclass
class Context:
    layout_path: str | None = None
    system: System | None = None
    owner_index: OwnerIndex | None = None
    layout_findings: list[Finding] | None = None
    hv: HvRange | None = None
    cpuid_path: str | None = None
    cpuid_dump: CpuidDump | None = None
    cpuid_findings: list[Finding] | None = None
    riscv_path: str | None = None
    riscv_image: RiscvImage | None = None
    riscv_findings: list[Finding] | None = None
    missing: dict[str, str] = field(default_factory=dict)

    def owners(self, address: int) -> list[Owner]:
        return self.owner_index.owners_of(address) if self.owner_index is not None else []


def load_context(layout: str | None = None, elf: str | None = None, cpuid: str | None = None,
                 riscv_elf: str | None = None, headroom: int = 8 << 20, board: str | None = None) -> Context:
    ctx = Context()
    if layout is not None:
        _load_layout(ctx, layout, elf, headroom, board)
    else:
        ctx.missing["layout"] = "no --layout given: addresses cannot be resolved to owners"
        if elf is not None:
            _load_elf_alone(ctx, elf)
    _load_cpuid(ctx, cpuid)
    _load_riscv(ctx, riscv_elf)
    return ctx


def _load_elf_alone(ctx: Context, elf: str) -> None:
    """The hypervisor's extent from its ELF with the layout area's reader. An image linked at a virtual
    address is not translated here: only its layout knows how (the same translation M001 uses)."""
    from hvcheck.layout.loaders.elf import read_hv_extent

    extent = read_hv_extent(Path(elf))
    start, end = extent.start.value, extent.end.value
    if start >= VIRTUAL_FLOOR or end > VIRTUAL_FLOOR:
        ctx.missing["hypervisor range"] = (
            f"{elf} links the hypervisor at virtual {start:#x}: give --layout (the board) so it is translated "
            "to physical addresses the way the layout rules do")
        return
    ctx.hv = HvRange(start, end, [extent.start.loc, extent.end.loc],
                     f"ELF symbols {extent.start.name}/{extent.end.name}", name="hvisor")
    if extent.core_end is not None:
        ctx.hv.parts = [("image", start, extent.core_end.value), ("per-CPU areas and memory pool",
                                                                  extent.core_end.value, end)]


def _load_layout(ctx: Context, layout: str, elf: str | None, headroom: int, board: str | None) -> None:
    from hvcheck.layout.loaders import load_layout

    ctx.layout_path = layout
    system = load_layout(Path(layout), elf=Path(elf) if elf is not None else None, board=board)
    use_system(ctx, system, headroom)
    if elf is not None and ctx.hv is not None:
        ctx.hv.how = "ELF symbols, through the layout's loader"


def use_system(ctx: Context, system: System, headroom: int = 8 << 20) -> None:
    """Adopt an already built layout model (the demo builds one in code)."""
    from hvcheck.layout.rules import run_rules

    ctx.system = system
    ctx.owner_index = OwnerIndex(system)
    hv = system.hypervisor
    if hv is not None:
        how = "layout (estimated end, M014)" if hv.estimate is not None else "layout"
        ctx.hv = HvRange(hv.start, hv.end, [hv.source, hv.end_source], how,
                         [(p.name, p.start, p.end) for p in hv.parts],
                         hv.estimate.end_min if hv.estimate is not None else None, hv.name or "the hypervisor")
    ctx.layout_findings = list(run_rules(system, headroom=headroom))


def _load_cpuid(ctx: Context, cpuid: str | None) -> None:
    if cpuid is None:
        ctx.missing["cpuid"] = "no --cpuid given: the guest CPUID's XSAVE mask (X003) is not checked"
        return
    from hvcheck.x86.cpuid_model import cpuid_findings, read_cpuid_dump

    ctx.cpuid_path = cpuid
    ctx.cpuid_dump = read_cpuid_dump(cpuid)
    ctx.cpuid_findings = list(cpuid_findings(ctx.cpuid_dump))


def _load_riscv(ctx: Context, riscv_elf: str | None) -> None:
    if riscv_elf is None:
        ctx.missing["riscv image"] = "no --riscv-elf given: trap addresses are not resolved against the image"
        return
    from hvcheck.riscv.check import check_image
    from hvcheck.riscv.image import load_image

    ctx.riscv_path = riscv_elf
    ctx.riscv_image = load_image(Path(riscv_elf))
    ctx.riscv_findings = list(check_image(ctx.riscv_image).findings)
