"""Zones: the root zone from board.rs (ROOT_ZONE_*), the others from zone JSON configs
(hvisor-tool's `configs/*.json`; earlier `images/<arch>/devicetree/*.json`)."""

from __future__ import annotations

from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.findings import Location
from hvcheck.layout.loaders.boardrs import Namespace, RustFile
from hvcheck.layout.loaders.hvisor.board import add_device, device_kind
from hvcheck.layout.loaders.hvisor.build import MakeVars
from hvcheck.layout.loaders.hvisor.devicetrees import (
    builds_e820,
    find_dt,
    read_dt,
    root_dt_path,
    x86_e820_facts,
)
from hvcheck.layout.loaders.hvisor.extent import LOONGARCH_DMW_MASK, int_const
from hvcheck.layout.loaders.hvisor.tree import BoardTree
from hvcheck.layout.loaders.jsonlines import JValue, read_json_lines
from hvcheck.layout.model import Board, Device, ImageKind, LoadImage, Numbered, Region, RegionKind, Zone
from hvcheck.units import U64_LIMIT, int_of

_JSON_KINDS = {"ram": RegionKind.RAM, "io": RegionKind.IO, "virtio": RegionKind.EMULATED,
               "ivc": RegionKind.SHARED, "shared": RegionKind.SHARED, "shm": RegionKind.SHARED,
               "rom": RegionKind.ROM, "reserved": RegionKind.RESERVED}


def kind_of(name: str, value: int | None) -> RegionKind | None:
    """The region kind of a board.rs `mem_type` (a MEM_TYPE_* name, a board-local const, a number)."""
    n = name.rsplit("::", 1)[-1].upper()
    if "RAM_NOT_ALLOC" in n or "RESERVED" in n or "OTHER_ZONES" in n:
        return RegionKind.RESERVED
    if "VIRTIO" in n:
        return RegionKind.EMULATED
    if "ROM" in n:
        return RegionKind.ROM
    if "IVC" in n or "SHARED" in n or "SHM" in n:
        return RegionKind.SHARED
    if n.endswith("_RAM") or n == "RAM":
        return RegionKind.RAM
    if n.endswith("_IO") or n == "IO":
        return RegionKind.IO
    if name.strip().isdigit() or name.strip().lower().startswith("0x"):
        return {0: RegionKind.RAM, 1: RegionKind.IO, 2: RegionKind.EMULATED}.get(value if value is not None else -1)
    return None


# -- the root zone (board.rs) ---------------------------------------------------------------------


def root_zone(tree: BoardTree, ns: Namespace, board_rs: RustFile, root_dts: Path | None,
              make: MakeVars | None) -> Zone:
    name = "root"
    zname = ns.lookup("ROOT_ZONE_NAME")
    if zname is not None:
        value = ns.eval(zname.file, zname.value, "ROOT_ZONE_NAME")
        if isinstance(value, str) and value:
            name = value
    regions_const = ns.lookup("ROOT_ZONE_MEMORY_REGIONS")
    zone = Zone(name, 0, True, Location(board_rs.path, regions_const.line if regions_const else None))
    if regions_const is not None:
        for i, r in enumerate(ns.regions(regions_const)):
            kind = kind_of(r.mem_type_name, r.mem_type)
            if kind is None:
                raise InputError(r.path, f"ROOT_ZONE_MEMORY_REGIONS[{i}]: unknown memory type `{r.mem_type_name}`"
                                         f"{'' if r.mem_type is None else f' (= {r.mem_type})'}", r.field_lines["mem_type"])
            if r.size <= 0:
                raise InputError(r.path, f"ROOT_ZONE_MEMORY_REGIONS[{i}]: size {r.size:#x} is not positive",
                                 r.field_lines["size"])
            via = f" = {r.via_const}" if r.via_const else ""
            zone.add_region(Region(kind, r.physical_start, r.size,
                                   Location(r.path, r.line, detail=f"ROOT_ZONE_MEMORY_REGIONS[{i}]{via}"),
                                   None if r.virtual_start == r.physical_start else r.virtual_start, r.label))
    cpus = int_const(ns, "ROOT_ZONE_CPUS")
    if cpus is not None:
        mask, loc = cpus
        zone.cpus = [Numbered(bit, loc) for bit in range(mask.bit_length()) if mask >> bit & 1]
    for irq_name in ("ROOT_ZONE_IRQS", "ROOT_ZONE_IRQS_BITMAP"):
        c = ns.lookup(irq_name)
        if c is not None:
            seen: set[int] = set()
            for number, line in ns.irqs(c):
                if number not in seen:
                    seen.add(number)
                    zone.irqs.append(Numbered(number, Location(c.file.path, line, detail=irq_name)))
    images = _root_images(tree, ns)
    dt_path = Path(root_dts) if root_dts is not None else root_dt_path(tree, make)
    e820 = builds_e820(tree) if tree.arch == "x86_64" else None
    if dt_path is not None:
        try:
            zone.devicetree = read_dt(dt_path)
        except InputError as exc:
            if root_dts is not None:
                raise   # the user named this file: it is bad input (exit 2), not a file found in the tree
            what = "the root zone's RAM and " if regions_const is None else ""
            tree.problem(exc, f"{what}M002, M003 for zone {name}", f"zone {name} devicetree")
    elif tree.arch == "x86_64" and regions_const is not None and e820 is not None:
        zone.devicetree = x86_e820_facts(ns, board_rs, zone)
    elif tree.arch == "x86_64" and regions_const is not None:
        tree.notes.append(f"zone {name}: this commit builds no e820 map for the root kernel (no "
                          "src/arch/x86_64/boot.rs with set_e820_entries), so what memory the kernel may allocate "
                          "is unknown: M002, M003 do not run for it")
    else:
        tree.notes.append(f"zone {name}: no root device tree found (zone0*.dts/.dtb or platform.mk; give --root-dts); "
                          "the device-tree checks (M002, M003) do not run for it")
    if regions_const is None:
        # Era 1a: the root zone's RAM came from its device tree.
        if zone.devicetree is None or not zone.devicetree.memory:
            if not any(p.subject == f"zone {name} devicetree" for p in tree.problems):
                why = ("its device tree has no /memory" if zone.devicetree is not None else
                       "no root device tree is named by the build (zone0_dtb) or found by name in the checkout"
                       + ("" if images else ", and the board file gives no ROOT_ZONE_DTB_ADDR: it defines no root "
                                            "zone at this commit"))
                tree.problem(InputError(board_rs.path, f"the root zone's RAM is unknown: no ROOT_ZONE_MEMORY_REGIONS "
                                                       f"and {why} (give --root-dts)"),
                             f"every check of zone {name}'s RAM and load addresses", f"zone {name} regions")
            return zone   # its RAM is unknown: its load addresses cannot be checked either
        for m in zone.devicetree.memory:
            zone.add_region(Region(RegionKind.RAM, m.start, m.size,
                                   Location(m.source.path, m.source.line,
                                            detail="root RAM from the device tree (no ROOT_ZONE_MEMORY_REGIONS)")))
    zone.images.extend(images)
    return zone


def _root_images(tree: BoardTree, ns: Namespace) -> list[LoadImage]:
    """The root kernel's and DTB's load addresses. Before ROOT_ZONE_KERNEL_ADDR (2024) the kernel
    was loaded at ROOT_ENTRY. LoongArch gives them as DMW window addresses: physical = low 48 bits."""
    images = []
    kernel = int_const(ns, "ROOT_ZONE_KERNEL_ADDR")
    if kernel is None:
        kernel = int_const(ns, "ROOT_ENTRY")
    if kernel is not None and not (tree.arch == "x86_64" and kernel[0] == 0):
        images.append(LoadImage(ImageKind.KERNEL, *_physical(tree, kernel)))
    dtb = int_const(ns, "ROOT_ZONE_DTB_ADDR")
    if dtb is not None and not (tree.arch == "x86_64" and dtb[0] == 0):
        address, size, loc = _physical(tree, dtb)
        ipa = int_const(ns, "DTB_IPA")
        if ipa is not None:
            # zone_create(0, ROOT_ZONE_DTB_ADDR, DTB_IPA): the blob is mapped into the zone at DTB_IPA
            loc = Location(loc.path, loc.line, detail=f"mapped into the zone at DTB_IPA {ipa[0]:#x} ({ipa[1]}): "
                                                     "need not be in the zone's RAM")
        images.append(LoadImage(ImageKind.DTB, address, size, loc, in_zone_ram=ipa is None))
    return images


def _physical(tree: BoardTree, const: tuple[int, Location]) -> tuple[int, None, Location]:
    value, loc = const
    if tree.arch == "loongarch64" and value >> 48:
        phys = value & LOONGARCH_DMW_MASK
        return phys, None, Location(loc.path, loc.line, detail=f"{value:#x} in a LoongArch DMW window: physical "
                                                              f"{phys:#x} (low 48 bits)")
    return value, None, loc


# -- other zones (JSON) ----------------------------------------------------------------------------


def zone_json_paths(tree: BoardTree) -> list[Path]:
    if tree.board_dir is not None:
        cfg = tree.board_dir / "configs"
        return sorted(cfg.glob("*.json")) if cfg.is_dir() else []
    out = []
    for d in tree.dt_dirs():
        for p in sorted(d.glob("*.json")):
            if tree.name in p.stem or p.stem.startswith("linux"):
                out.append(p)
            else:
                tree.notes.append(f"{p}: not attributed to board {tree.name} (earlier layout shares "
                                  "images/<arch>/devicetree between boards)")
    return out


def zone_configs(tree: BoardTree, board: Board) -> dict[int | None, list[Zone]]:
    """Every zone JSON, grouped by zone_id (same id = alternatives; shortest file name first). An
    unreadable config is an input problem (E001) and its zone is left out; the others are read."""
    groups: dict[int | None, list[Zone]] = {}
    paths = sorted(zone_json_paths(tree), key=lambda p: (len(p.name), p.name))
    for path in paths:
        try:
            doc = read_json_lines(path)
            if not isinstance(doc.value, dict) or "memory_regions" not in doc.value:
                keys = ", ".join(list(doc.value)[:4]) if isinstance(doc.value, dict) else type(doc.value).__name__
                tree.notes.append(f"{path}: not a zone config (no memory_regions; keys: {keys}); skipped")
                continue
            zone = zone_from_json(tree, path, doc, board)
        except InputError as exc:
            tree.problem(exc, f"every check of the zone {path.name} configures", f"zone config {path}")
            continue
        groups.setdefault(zone.zone_id, []).append(zone)
    return groups


def json_number(path: Path, v: JValue | None, what: str) -> int:
    """A zone-JSON number: an integer or a (hex) string, within 64 bits."""
    if v is None:
        raise InputError(str(path), f"{what} missing")
    val = v.value
    if isinstance(val, bool):
        raise InputError(str(path), f"{what}: expected a number, got {val}", v.line)
    if isinstance(val, int):
        if not 0 <= val < U64_LIMIT:
            raise InputError(str(path), f"{what}: {val} does not fit in 64 bits", v.line)
        return val
    if isinstance(val, str):
        try:
            s = val.strip().replace("_", "").lower()
            n = int_of(s[2:], 16) if s.startswith("0x") else int_of(s, 10)
        except ValueError:
            pass
        else:
            if not 0 <= n < U64_LIMIT:
                raise InputError(str(path), f"{what}: {val} does not fit in 64 bits", v.line)
            return n
    raise InputError(str(path), f"{what}: expected a number or hex string, got {val!r}", v.line)


def zone_from_json(tree: BoardTree, path: Path, doc: JValue, board: Board) -> Zone:
    p = str(path)
    zid_v = doc.get("zone_id")
    zone_id = json_number(path, zid_v, "zone_id") if zid_v is not None else None
    name_v = doc.get("name")
    name = name_v.value if name_v is not None and isinstance(name_v.value, str) else path.stem
    zone = Zone(name, zone_id, False, Location(p, doc.line, detail=path.name))
    regions = doc.get("memory_regions")
    if regions is None or not isinstance(regions.value, list):
        raise InputError(p, "memory_regions must be a list", regions.line if regions else doc.line)
    for i, r in enumerate(regions.value):
        if not isinstance(r.value, dict):
            raise InputError(p, f"memory_regions[{i}] must be an object", r.line)
        tv = r.get("type")
        tname = str(tv.value).lower() if tv is not None else ""
        kind = _JSON_KINDS.get(tname)
        if kind is None:
            raise InputError(p, f"memory_regions[{i}]: unknown type {tv.value if tv else None!r} "
                                f"(ram, io, virtio{', ivc, shared' if tname else ''})", (tv or r).line)
        start = json_number(path, r.get("physical_start"), f"memory_regions[{i}].physical_start")
        size = json_number(path, r.get("size"), f"memory_regions[{i}].size")
        vs = r.get("virtual_start")
        vstart = json_number(path, vs, f"memory_regions[{i}].virtual_start") if vs is not None else start
        if size <= 0:
            raise InputError(p, f"memory_regions[{i}]: size {size:#x} is not positive", r.line)
        zone.add_region(Region(kind, start, size, Location(p, r.line, detail=f"memory_regions[{i}]"),
                               None if vstart == start else vstart))
    cpus = doc.get("cpus")
    if cpus is not None and isinstance(cpus.value, list):
        zone.cpus = [Numbered(json_number(path, c, "cpus[]"), Location(p, c.line, detail="cpus")) for c in cpus.value]
    irqs = doc.get("interrupts")
    if irqs is not None and isinstance(irqs.value, list):
        zone.irqs = [Numbered(json_number(path, c, "interrupts[]"), Location(p, c.line, detail="interrupts"))
                     for c in irqs.value]
    for key, kind_ in (("kernel_load_paddr", ImageKind.KERNEL), ("dtb_load_paddr", ImageKind.DTB),
                       ("initrd_load_paddr", ImageKind.INITRD)):
        v = doc.get(key)
        if v is not None:
            addr = json_number(path, v, key)
            if addr:
                zone.images.append(LoadImage(kind_, addr, None, Location(p, v.line, detail=key)))
    arch = doc.get("arch_config")
    if arch is not None and isinstance(arch.value, dict):
        json_devices(path, arch, board, "arch_config")
    pci = doc.get("pci_config")
    if pci is not None:
        items = pci.value if isinstance(pci.value, list) else [pci]
        for i, item in enumerate(items):
            if isinstance(item.value, dict):
                for window, dkind in (("ecam", "pci-ecam"), ("mem32", "pci-mem32"), ("mem64", "pci-mem64"),
                                      ("io", "pci-io")):
                    b, s = item.get(f"{window}_base"), item.get(f"{window}_size")
                    if b is not None and s is not None:
                        base = json_number(path, b, f"pci_config.{window}_base")
                        size = json_number(path, s, f"pci_config.{window}_size")
                        if size > 0:
                            add_device(board, Device(f"pci{i if len(items) > 1 else ''} {window}", dkind,
                                                     base, base + size,
                                                     Location(p, b.line, detail=f"pci_config.{window}_base")))
    dtb_v = doc.get("dtb_filepath")
    dt_path = None
    if dtb_v is not None and isinstance(dtb_v.value, str) and dtb_v.value:
        dt_path = find_dt(tree.dt_dirs(), Path(dtb_v.value).name)
    if dt_path is None:
        dt_path = find_dt(tree.dt_dirs(), path.stem + ".dts")
        if dt_path is not None and dtb_v is not None:
            tree.notes.append(f"zone {name}: dtb_filepath {dtb_v.value!r} ({p}:{dtb_v.line}) not in the checkout; "
                              f"using {dt_path} (same name as the zone config)")
    if dt_path is not None:
        try:
            zone.devicetree = read_dt(dt_path)
        except InputError as exc:
            tree.problem(exc, f"M002, M003 for zone {name}", f"zone {name} devicetree")
    else:
        what = f"dtb_filepath {dtb_v.value!r} ({p}:{dtb_v.line})" if dtb_v is not None else "no dtb_filepath"
        tree.notes.append(f"zone {name}: {what}: no matching .dts/.dtb in the board's image/dts; the device-tree "
                          "checks (M002, M003) do not run for it")
    return zone


def json_devices(path: Path, arch: JValue, board: Board, what: str) -> None:
    """Device windows of a zone JSON's `arch_config` (`<x>_base` + `<x>_size`)."""
    fields = arch.value
    assert isinstance(fields, dict)
    for key, v in fields.items():
        if not key.endswith("_base"):
            continue
        dev = key[: -len("_base")]
        kind = device_kind(dev)
        size_v = fields.get(f"{dev}_size")
        if kind is None or size_v is None:
            continue
        base, size = json_number(path, v, f"{what}.{key}"), json_number(path, size_v, f"{what}.{dev}_size")
        if size > 0 and (base or kind == "gic"):
            add_device(board, Device(dev, kind, base, base + size, Location(str(path), v.line, detail=f"{what}.{key}")))
