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


def root_dt_path(tree: BoardTree) -> Path | None:
    dirs = tree.dt_dirs()
    if tree.board_dir is not None:
        text = read_small_text(tree.board_dir / "platform.mk") or ""
        m = re.search(r"^\s*zone0_dtb\s*:?=\s*(\S+)", text, re.M)
        if m:
            found = find_dt(dirs, Path(m.group(1)).name)
            if found is not None:
                return found
        for d in dirs:
            for pattern in ("zone0.dts", "zone0.dtb", "zone0*.dts", "zone0*.dtb", "*zone0*.dts"):
                hits = sorted(d.glob(pattern))
                if hits:
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
