"""The hypervisor's extent `[skernel, __hv_end)`: exact from a linked ELF, otherwise estimated as
BASE_ADDRESS + image (assumed bounds) + HV_EXTENDED_SIZE, with the estimate recorded for M014.

`HV_EXTENDED_SIZE = MAX_CPU_NUM * PER_CPU_SIZE + HV_MEM_POOL_SIZE` (src/consts.rs). Linker bases
that are virtual addresses are translated to physical ones, and the translation is stated in the
location (LoongArch DMW windows, x86 high half).
"""

from __future__ import annotations

import re
from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.findings import Location
from hvcheck.layout.loaders.boardrs import Namespace
from hvcheck.layout.loaders.hvisor.linker import LinkerScript, linker_script_path, read_linker_script
from hvcheck.layout.loaders.hvisor.tree import BoardTree, read_small_text
from hvcheck.layout.model import Estimate, Hypervisor, HypervisorPart
from hvcheck.units import U64_LIMIT, human_size

DEFAULT_IMAGE_SIZE = (2 << 20, 8 << 20)
X86_PHYS_VIRT_OFFSET = 0xFFFF_FF80_0000_0000   # src/arch/x86_64/entry.rs (used when not found)
LOONGARCH_DMW_MASK = (1 << 48) - 1             # DMW window: physical = low 48 bits


def int_const(ns: Namespace, name: str) -> tuple[int, Location] | None:
    """A const of the board's namespace evaluated to an integer, with where it is defined."""
    c = ns.lookup(name)
    if c is None:
        return None
    return ns.eval_int(c.file, c.value, f"const {name}"), c.loc()


def to_physical(tree: BoardTree, vaddr: int) -> tuple[int, str | None]:
    """The physical address of a linked address, and how it was translated (None: identity)."""
    if tree.arch == "loongarch64" and vaddr >> 48:
        return vaddr & LOONGARCH_DMW_MASK, f"virtual {vaddr:#x} in a LoongArch DMW window: physical = low 48 bits"
    if tree.arch == "x86_64" and vaddr >= 1 << 63:
        offset, where = X86_PHYS_VIRT_OFFSET, "hvisor's X86_PHYS_VIRT_OFFSET"
        if tree.repo is not None:
            entry = tree.repo / "src/arch/x86_64/entry.rs"
            text = read_small_text(entry)
            m = re.search(r"X86_PHYS_VIRT_OFFSET\s*:\s*\w+\s*=\s*(0x[0-9a-fA-F_]+)", text or "")
            if text is not None and m:
                offset = int(m.group(1).replace("_", ""), 16)
                where = f"X86_PHYS_VIRT_OFFSET at {entry}:{text[: m.start()].count(chr(10)) + 1}"
        return vaddr - offset, f"x86 high-half virtual {vaddr:#x}: physical = virtual - {offset:#x} ({where})"
    if vaddr >> 48:
        raise InputError(None, f"hypervisor base {vaddr:#x} is a virtual address and the {tree.arch} "
                               "virtual-to-physical offset is unknown")
    return vaddr, None


def hypervisor_extent(tree: BoardTree, ns: Namespace, elf: Path | None, image_size: tuple[int, int]) -> Hypervisor:
    ld = read_linker_script(linker_script_path(tree))
    base, base_note = to_physical(tree, ld.base)
    base_loc = Location(ld.path, ld.base_line, detail=base_note)
    end_line_loc = Location(ld.path, ld.hv_end_line) if ld.hv_end_line else Location(ld.path, ld.base_line)

    def need(name: str) -> tuple[int, Location]:
        got = int_const(ns, name)
        if got is None:
            for f in ns.files:
                skipped = f.cfg_skipped.get(name)
                if skipped:
                    conds = "; ".join(f"line {ln}: cfg({c})" for ln, c in skipped)
                    raise InputError(f.path, f"no definition of {name} applies to target_arch = \"{tree.arch}\" with "
                                             f"features {sorted(tree.features) or 'none'} ({conds}); it is needed for "
                                             "the hypervisor's extent", skipped[0][0])
            where = tree.repo / "src/consts.rs" if tree.repo else "src/consts.rs (repository root not found)"
            raise InputError(str(where), f"constant {name} not found; it is needed for the hypervisor's extent")
        return got

    cpus, cpus_loc = need("MAX_CPU_NUM")
    per_cpu, per_cpu_loc = need("PER_CPU_SIZE")
    pool, pool_loc = need("HV_MEM_POOL_SIZE")
    percpu_total = cpus * per_cpu
    ext = int_const(ns, "HV_EXTENDED_SIZE")
    extended = ext[0] if ext is not None else percpu_total + pool
    ext_loc = ext[1] if ext is not None else pool_loc
    if elf is not None:
        return _from_elf(tree, ld, base, elf, (cpus, cpus_loc), per_cpu, (pool, pool_loc))

    lo, hi = image_size
    for value, what, loc in ((per_cpu, "PER_CPU_SIZE", per_cpu_loc), (pool, "HV_MEM_POOL_SIZE", pool_loc),
                             (extended, "HV_EXTENDED_SIZE", ext_loc)):
        if not 0 <= value < U64_LIMIT:
            raise InputError(loc.path, f"{what} evaluates to {value:#x}, not a size", loc.line)
    end_min, end_max = base + lo + extended, base + hi + extended
    if end_max >= U64_LIMIT:
        raise InputError(ext_loc.path, f"estimated __hv_end {end_max:#x} is beyond the 64-bit address space",
                         ext_loc.line)
    formula = (f"BASE_ADDRESS {ld.base:#x}{' (physical ' + hex(base) + ')' if base != ld.base else ''} + image "
               f"[{human_size(lo)}, {human_size(hi)}] + HV_EXTENDED_SIZE {human_size(extended)} "
               f"(MAX_CPU_NUM {cpus} x PER_CPU_SIZE {human_size(per_cpu)} + HV_MEM_POOL_SIZE {human_size(pool)})")
    assumption = (f"no ELF given: image size assumed between {human_size(lo)} and {human_size(hi)} "
                  "(--image-size MIN:MAX; give --elf for the exact __hv_end)")
    end_loc = Location(ext_loc.path, ext_loc.line, detail=f"estimated: {formula}")
    hv = Hypervisor("hvisor", base, end_max, base_loc, end_loc,
                    estimate=Estimate(formula, end_min, end_max, assumption))
    core_end = base + hi
    hv.parts = [
        HypervisorPart("image", base, core_end,
                       Location(ld.path, ld.base_line, detail=f"estimated: image up to {human_size(hi)}")),
        HypervisorPart("per-CPU areas", core_end, core_end + percpu_total,
                       Location(per_cpu_loc.path, per_cpu_loc.line,
                                detail=f"estimated: {cpus} CPUs (MAX_CPU_NUM at {cpus_loc}) x "
                                       f"PER_CPU_SIZE {human_size(per_cpu)}")),
        HypervisorPart("memory pool", core_end + percpu_total, end_max,
                       Location(pool_loc.path, pool_loc.line,
                                detail=f"estimated: HV_MEM_POOL_SIZE {human_size(pool)}; __hv_end at {end_line_loc}")),
    ]
    if ld.cpu_num is not None and ld.cpu_num < cpus:
        tree.notes.append(f"{ld.path}: CPU_NUM = {ld.cpu_num} sizes the .percpu section for fewer CPUs than "
                          f"MAX_CPU_NUM = {cpus}")
    return hv


def _from_elf(tree: BoardTree, ld: LinkerScript, base: int, elf: Path, cpus: tuple[int, Location], per_cpu: int,
              pool: tuple[int, Location]) -> Hypervisor:
    """The exact extent from the linked ELF's symbols; its parts split by the per-CPU size."""
    from hvcheck.layout.loaders.elf import read_hv_extent

    extent = read_hv_extent(Path(elf))
    start, snote = to_physical(tree, extent.start.value)
    end, _ = to_physical(tree, extent.end.value)
    start_loc = Location(str(elf), None, symbol=extent.start.name, detail=snote)
    end_loc = Location(str(elf), None, symbol=extent.end.name)
    if end <= start:
        raise InputError(str(elf), f"__hv_end {end:#x} is not above skernel {start:#x}")
    hv = Hypervisor("hvisor", start, end, start_loc, end_loc)
    if start != base:
        tree.notes.append(f"ELF {elf}: skernel {start:#x} differs from BASE_ADDRESS {base:#x} at "
                          f"{ld.path}:{ld.base_line} (ELF built from another linker script?)")
    if extent.core_end is None:
        hv.parts = [HypervisorPart("whole image (no __core_end symbol)", start, end, start_loc)]
        return hv
    (ncpus, cpus_loc), (pool_size, pool_loc) = cpus, pool
    core_end, _ = to_physical(tree, extent.core_end.value)
    core_loc = Location(str(elf), None, symbol=extent.core_end.name)
    hv.parts = [HypervisorPart("image", start, core_end, start_loc)]
    pool_start = min(core_end + ncpus * per_cpu, end)
    hv.parts.append(HypervisorPart("per-CPU areas", core_end, pool_start,
                                   Location(cpus_loc.path, cpus_loc.line, detail=(
                                       f"{ncpus} CPUs (MAX_CPU_NUM) x PER_CPU_SIZE {human_size(per_cpu)} "
                                       f"from {core_loc.symbol}"))))
    hv.parts.append(HypervisorPart("memory pool", pool_start, end,
                                   Location(pool_loc.path, pool_loc.line,
                                            detail=f"HV_MEM_POOL_SIZE {human_size(pool_size)} up to __hv_end")))
    return hv
