"""The hypervisor's extent `[skernel, __hv_end)`: exact from a linked ELF, otherwise estimated as
BASE_ADDRESS + image (assumed bounds) + HV_EXTENDED_SIZE, with the estimate recorded for M014.

`HV_EXTENDED_SIZE = MAX_CPU_NUM * PER_CPU_SIZE + HV_MEM_POOL_SIZE` (src/consts.rs). Linker bases
that are virtual addresses are translated to physical ones, and the translation is stated in the
location (LoongArch DMW windows, x86 high half).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.findings import Location
from hvcheck.inputs import read_capped
from hvcheck.layout.loaders.boardrs import Namespace, cfg_evaluator
from hvcheck.layout.loaders.hvisor.linker import LinkerScript, linker_script_path, read_linker_script
from hvcheck.layout.loaders.hvisor.tree import BoardTree, read_small_text
from hvcheck.layout.model import Estimate, Hypervisor, HypervisorPart
from hvcheck.units import U64_LIMIT, human_size

DEFAULT_IMAGE_SIZE = (2 << 20, 8 << 20)
MAX_SOURCE_BYTES = 4 << 20   # src/main.rs, src/consts.rs read as text for the CPU-count model
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


@dataclass
class CpuCount:
    """How many per-CPU areas the hypervisor reserves, as the commit's code decides it."""

    checked: int                  # the count the checks use
    least: int                    # the fewest it can be (CPUs the zones and the root DT need)
    source: str                   # file:line and reasoning
    runtime: bool                 # sized by the CPUs found at boot (not a constant)
    label: str = "MAX_CPU_NUM"    # what the count is called in the formula


def cpu_count(tree: BoardTree, ns: Namespace, max_cpus: int, max_loc: Location, *, cpus_option: int | None,
              used_cpus: int, dt_cpus: int | None, smp: tuple[int, str] | None) -> CpuCount:
    """The per-CPU area count of this commit: MAX_CPU_NUM when src/consts.rs sizes the areas by it
    (BOARD_NCPUS since mid-2025); the CPUs counted in the host device tree at boot when it uses the
    runtime NCPU (aarch64, April-June 2025: `"cpu@"` nodes, capped at MAX_CPU_NUM, a default when
    none is found). The boot-time count is taken from the build (`-smp N` of a QEMU board), else
    the root device tree's CPU nodes, else MAX_CPU_NUM; `--cpus N` replaces it."""
    static = CpuCount(max_cpus, max_cpus, f"MAX_CPU_NUM at {max_loc}", False)
    if tree.repo is None:
        return static
    consts = _source(tree.repo / "src/consts.rs")
    body = re.search(r"fn\s+mem_pool_start\s*\(\s*\)[^{]*\{([^}]*)\}", consts or "")
    if body is None or not re.search(r"\bNCPU\b", body.group(1)):
        if cpus_option is not None:
            tree.notes.append(f"--cpus {cpus_option} does not change the extent: this commit reserves per-CPU areas "
                              f"for MAX_CPU_NUM = {max_cpus} CPUs ({max_loc}), not for the CPUs found at boot")
        return static
    where = f"src/consts.rs:{(consts or '')[: body.start()].count(chr(10)) + 1} (mem_pool_start uses NCPU)"
    main = _source(tree.repo / "src/main.rs") or ""
    detect = main.find('"cpu@"')
    detected = False
    fallback = (max_cpus, f"MAX_CPU_NUM at {max_loc}")
    if detect >= 0:
        cfg = _enclosing_cfg(main, detect)
        detected = cfg is None or cfg_evaluator(set(tree.features), tree.arch)(cfg)
        after = re.search(r"\bncpu\s*=\s*([A-Z_][A-Z0-9_]*)\s*;", main[detect:])
        if after is not None and after.group(1) != "MAX_CPU_NUM":
            got = int_const(ns, after.group(1))
            if got is not None:
                fallback = (got[0], f"{after.group(1)} at {got[1]}")
        where += f"; counted at boot from the host device tree's cpu@ nodes, src/main.rs:" \
                 f"{main[:detect].count(chr(10)) + 1}" + (f" when cfg({cfg})" if cfg else "")
    if not detected:
        n = min(fallback[0], max_cpus)
        label = "MAX_CPU_NUM" if fallback[1].startswith("MAX_CPU_NUM") else f"NCPU = {fallback[1].split()[0]}"
        return CpuCount(n, n, f"{where}; not counted for this target: {fallback[1]}", False, label)
    least = max(1, min(used_cpus, max_cpus))
    if cpus_option is not None:
        n = min(cpus_option, max_cpus)
        capped = f" (capped at MAX_CPU_NUM {max_cpus})" if cpus_option > max_cpus else ""
        return CpuCount(n, n, f"{where}; --cpus {cpus_option}{capped}", True)
    if smp is not None:
        n, how = smp[0], f"QEMU -smp {smp[0]} at {smp[1]}"
    elif dt_cpus:
        n, how = dt_cpus, f"{dt_cpus} CPU nodes in the root device tree"
    else:
        n, how = max_cpus, "no CPU count found in the build or the root device tree"
    n = max(least, min(n, max_cpus))
    return CpuCount(n, min(least, n), f"{where}; assumed {n} ({how}; at least {least} used by the zones; "
                                      f"up to MAX_CPU_NUM {max_cpus}; give --cpus N)", True)


def _enclosing_cfg(text: str, pos: int) -> str | None:
    """The `#[cfg(...)]` on the block around ``pos`` (the nearest cfg attribute before it whose
    block has not closed yet), or None."""
    for m in reversed(list(re.finditer(r"#\s*\[\s*cfg\s*\(", text[:pos]))):
        depth, i = 1, m.end()
        while i < pos and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        cond = text[m.end():i - 1]
        block = text.find("{", i)
        if block < 0 or block > pos:
            continue
        nest = 0
        for ch in text[block:pos]:
            nest += {"{": 1, "}": -1}.get(ch, 0)
        if nest > 0:
            return " ".join(cond.split())
    return None


def _source(path: Path) -> str | None:
    try:
        return read_capped(path, MAX_SOURCE_BYTES, "hvisor sources").decode("utf-8", "replace")
    except InputError:
        return None


def hypervisor_extent(tree: BoardTree, ns: Namespace, elf: Path | None, image_size: tuple[int, int],
                      cpu_model: CpuCount | None = None) -> Hypervisor:
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

    max_cpus, cpus_loc = need("MAX_CPU_NUM")
    per_cpu, per_cpu_loc = need("PER_CPU_SIZE")
    pool, pool_loc = need("HV_MEM_POOL_SIZE")
    count = cpu_model if cpu_model is not None else CpuCount(max_cpus, max_cpus, f"MAX_CPU_NUM at {cpus_loc}", False)
    cpus = count.checked
    percpu_total = cpus * per_cpu
    ext = int_const(ns, "HV_EXTENDED_SIZE")
    extended = ext[0] if ext is not None and not count.runtime else percpu_total + pool
    ext_loc = ext[1] if ext is not None and not count.runtime else pool_loc
    if elf is not None:
        return _from_elf(tree, ld, base, elf, (cpus, cpus_loc), per_cpu, (pool, pool_loc))

    lo, hi = image_size
    for value, what, loc in ((per_cpu, "PER_CPU_SIZE", per_cpu_loc), (pool, "HV_MEM_POOL_SIZE", pool_loc),
                             (extended, "HV_EXTENDED_SIZE", ext_loc)):
        if not 0 <= value < U64_LIMIT:
            raise InputError(loc.path, f"{what} evaluates to {value:#x}, not a size", loc.line)
    least_extended = extended - (count.checked - count.least) * per_cpu
    end_min, end_max = base + lo + least_extended, base + hi + extended
    if end_max >= U64_LIMIT:
        raise InputError(ext_loc.path, f"estimated __hv_end {end_max:#x} is beyond the 64-bit address space",
                         ext_loc.line)
    base_text = f"BASE_ADDRESS {ld.base:#x}{' (physical ' + hex(base) + ')' if base != ld.base else ''}"
    if count.runtime:
        formula = (f"{base_text} + image [{human_size(lo)}, {human_size(hi)}] + NCPU "
                   f"{count.least if count.least != cpus else ''}{'..' if count.least != cpus else ''}{cpus} x "
                   f"PER_CPU_SIZE {human_size(per_cpu)} + HV_MEM_POOL_SIZE {human_size(pool)} (NCPU: the CPUs "
                   "hvisor finds at boot)")
    else:
        formula = (f"{base_text} + image [{human_size(lo)}, {human_size(hi)}] + HV_EXTENDED_SIZE "
                   f"{human_size(extended)} ({count.label} {cpus} x PER_CPU_SIZE {human_size(per_cpu)} + "
                   f"HV_MEM_POOL_SIZE {human_size(pool)})")
    assumption = (f"no ELF given: image size assumed between {human_size(lo)} and {human_size(hi)} "
                  "(--image-size MIN:MAX; give --elf for the exact __hv_end)")
    if count.runtime:
        assumption += f"; per-CPU areas: {count.source}"
    end_loc = Location(ext_loc.path, ext_loc.line, detail=f"estimated: {formula}")
    fixed = base + extended - (percpu_total if count.runtime else 0)
    hv = Hypervisor("hvisor", base, end_max, base_loc, end_loc,
                    estimate=Estimate(formula, end_min, end_max, assumption, image_size=(lo, hi),
                                      cpus=(count.least, cpus) if count.runtime else None, per_cpu_size=per_cpu,
                                      fixed=fixed, cpus_source=count.source if count.runtime else ""))
    core_end = base + hi
    hv.parts = [
        HypervisorPart("image", base, core_end,
                       Location(ld.path, ld.base_line, detail=f"estimated: image up to {human_size(hi)}")),
        HypervisorPart("per-CPU areas", core_end, core_end + percpu_total,
                       Location(per_cpu_loc.path, per_cpu_loc.line,
                                detail=f"estimated: {cpus} CPUs ({count.source}) x PER_CPU_SIZE {human_size(per_cpu)}"
                                if count.runtime else f"estimated: {cpus} CPUs (MAX_CPU_NUM at {cpus_loc}) x "
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
