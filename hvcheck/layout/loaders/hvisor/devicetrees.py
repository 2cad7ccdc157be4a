"""Which device tree each zone's kernel boots with, and the memory facts it gives that kernel.

Root zone: `--root-dts`, else the `zone0_dtb` of platform.mk, else `zone0*.dts|dtb` (earlier
layout: matched by name under images/<arch>/devicetree). Other zones: the JSON's
`dtb_filepath`, else the DTS named like the JSON. x86 has no device tree: the e820 map hvisor
builds from ROOT_ZONE_MEMORY_REGIONS plays its role.
"""

from __future__ import annotations

import re
from pathlib import Path

from hvcheck.findings import Location
from hvcheck.layout.loaders.boardrs import Namespace, ParsedStruct, RustFile
from hvcheck.layout.loaders.devicetree import read_devicetree
from hvcheck.layout.loaders.hvisor.build import MakeVars
from hvcheck.layout.loaders.hvisor.tree import BoardTree, read_small_text
from hvcheck.layout.model import DeviceTreeFacts, RegionKind, Span, Zone


def read_dt(path: Path) -> DeviceTreeFacts:
    return read_devicetree(path)


def find_dt(dirs: list[Path], basename: str) -> Path | None:
    """`<stem>.dts`, `<stem>.dtb` or the name itself in the first of ``dirs`` that has one."""
    stem = Path(basename).stem
    for d in dirs:
        for cand in (d / f"{stem}.dts", d / f"{stem}.dtb", d / basename):
            try:
                if cand.is_file():
                    return cand
            except (OSError, ValueError):
                continue  # a name from the JSON the OS rejects (too long) is not a file
    return None


def root_dt_path(tree: BoardTree, make: MakeVars | None) -> Path | None:
    """The device tree the build boots the root zone with: `zone0_dtb` as `make ARCH=.. BOARD=..`
    evaluates it (the DTS beside the named DTB, or the DTB), else the same file name in the
    board's device-tree directories; without one, by name. A note says which file decided."""
    dirs = tree.dt_dirs()
    var = make.get("zone0_dtb") if make is not None else None
    if var is not None and var.value.strip() and tree.repo is not None:
        named = Path(var.value.split()[0])
        why = f"the build's {make.explain('zone0_dtb') if make else 'zone0_dtb'}"
        for cand in (tree.repo / named.with_suffix(".dts"), tree.repo / named):
            if cand.is_file():
                tree.notes.append(f"root device tree: {cand} ({why})")
                return cand
        found = find_dt(dirs, named.name)
        if found is not None:
            tree.notes.append(f"root device tree: {found} ({named} is not in the checkout; same name in the "
                              f"board's device-tree directory; {why})")
            return found
        tree.notes.append(f"the build names {named} as the root device tree ({why}) but neither it nor a .dts "
                          "of that name is in the checkout; looking for one by name")
    if tree.board_dir is not None:
        text = read_small_text(tree.board_dir / "platform.mk") or ""
        m = re.search(r"^\s*zone0_dtb\s*:?=\s*(\S+)", text, re.M)
        if m and make is None:
            found = find_dt(dirs, Path(m.group(1)).name)
            if found is not None:
                return found
        for d in dirs:
            for pattern in ("zone0.dts", "zone0.dtb", "zone0*.dts", "zone0*.dtb", "*zone0*.dts"):
                hits = sorted(d.glob(pattern))
                if hits:
                    if make is not None:
                        tree.notes.append(f"root device tree: {hits[0]} (matched by name: {pattern}; the build "
                                          "names no zone0_dtb that is in the checkout)")
                    return hits[0]
        return None
    for d in dirs:
        for pattern in (f"{tree.name}-{tree.arch}.dts", f"{tree.name}*.dts", "linux1.dts"):
            hits = sorted(d.glob(pattern))
            if hits:
                tree.notes.append(f"root device tree: {hits[0]} (matched by name in the earlier layout)")
                return hits[0]
        only = sorted(d.glob("*.dts"))
        if len(only) == 1:
            tree.notes.append(f"root device tree: {only[0]} (the only .dts for {tree.arch} in the earlier layout)")
            return only[0]
    return None


def builds_e820(tree: BoardTree) -> str | None:
    """Where hvisor builds the x86 root kernel's e820 map (src/arch/x86_64/boot.rs), or None when
    this commit does not (before Feb 2025 the kernel's memory map came from elsewhere)."""
    if tree.repo is None:
        return "src/arch/x86_64/boot.rs (repository root not found: assumed)"
    boot = tree.repo / "src/arch/x86_64/boot.rs"
    text = read_small_text(boot)
    if text is None or "e820" not in text:
        return None
    return f"{boot}:{text[:text.find('e820')].count(chr(10)) + 1}"


def x86_e820_facts(ns: Namespace, board_rs: RustFile, zone: Zone) -> DeviceTreeFacts:
    """x86 has no device tree: hvisor gives the root kernel an e820 map built from
    ROOT_ZONE_MEMORY_REGIONS (src/arch/x86_64/boot.rs, set_e820_entries): MEM_TYPE_RAM regions are
    E820_RAM at their guest address, except the regions named by rsdp/acpi/uefi_memory_region_id
    (ACPI / reserved). That map is what the kernel allocates from, so it plays the device tree's role."""
    skip: set[int] = set()
    arch_cfg = ns.lookup("ROOT_ARCH_ZONE_CONFIG")
    if arch_cfg is not None:
        value = ns.eval(arch_cfg.file, arch_cfg.value, "ROOT_ARCH_ZONE_CONFIG")
        if isinstance(value, ParsedStruct):
            for key in ("rsdp_memory_region_id", "acpi_memory_region_id", "uefi_memory_region_id"):
                region_id = value.fields.get(key)
                if isinstance(region_id, int):
                    skip.add(region_id)
    facts = DeviceTreeFacts(f"{board_rs.path} (the e820 map hvisor builds from ROOT_ZONE_MEMORY_REGIONS)")
    for i, r in enumerate(zone.regions):
        if r.kind is RegionKind.RAM and i not in skip:
            facts.memory.append(Span(r.gstart, r.gend, Location(r.source.path, r.source.line,
                                                                detail=f"e820 RAM entry from {r.source.detail} "
                                                                       "(src/arch/x86_64/boot.rs set_e820_entries)")))
    return facts
