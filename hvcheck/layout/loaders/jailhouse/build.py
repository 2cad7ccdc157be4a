"""A Jailhouse configuration set (one system config and the cell configs that go with it) as the
neutral layout model, with Jailhouse's semantics (hypervisor/control.c, arm-common/irqchip.c,
x86/ioapic.c, ivshmem.c, driver/cell.c at e57d1eff):

- Creating a non-root cell takes its CPUs, its interrupt pins and its memory regions away from
  the root cell, except regions flagged COMM_REGION or ROOTSHARED (control.c cell_create,
  unmap_from_root_cell; irqchip_cell_init; ioapic_cell_init). The root zone in the model is the
  root with every cell created; what it lost is kept in ``Zone.taken`` (LOADABLE regions are lent
  back to the root for loading: cell_set_loadable remaps them from the root's *configuration*).
  Memory the root itself uses as shared memory (its ivshmem regions, ROOTSHARED-flagged regions)
  is not taken silently: it stays, so a cell region that takes it is reported (M017).
- COMM_REGION regions are placeholders (phys_start 0; the hypervisor allocates the page): they
  exist only in guest-physical space.
- An ivshmem device (PCI type 3) owns regions shmem_regions_start .. +2+shmem_peers (state
  table, R/W section, one output section per peer): shared by design.
- Sub-page regions (virt_start or size not page-aligned) are trapped and forwarded by the
  hypervisor (mmio_subpage_register), not mapped.
- Overlapping regions of one cell are not refused: paging_create overwrites, the later one wins.
- Cells sharing a CPU cannot exist at the same time (cell_create: -EBUSY); without a scenario
  they are alternatives, cells with disjoint CPU sets run together.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from hvcheck.findings import Location
from hvcheck.layout.intervals import union
from hvcheck.layout.loaders.jailhouse import cellfile as cf
from hvcheck.layout.loaders.jailhouse.provenance import Provenance
from hvcheck.layout.model import (
    Board,
    Device,
    Hypervisor,
    HypervisorPart,
    InputProblem,
    Numbered,
    Refusal,
    Region,
    RegionKind,
    SharedMemoryEndpoint,
    Span,
    System,
    Zone,
)
from hvcheck.units import hex_range

HYPERVISOR = "Jailhouse"
GIC_V2_SIZES = {"GICD": 0x1000, "GICC": 0x2000, "GICH": 0x2000, "GICV": 0x2000}
GICD_V3_SIZE = 0x10000
GICR_FRAME = 0x20000            # per CPU (0x40000 on GICv4, which only the hardware tells)
XAPIC_BASE = 0xFEE00000
IOAPIC_SIZE = 0x1000
IVSHMEM_MAX_PEERS = 12          # hypervisor/ivshmem.c
ARM_IRQ_BITMAP_PINS = 1024      # arm-common/include/asm/cell.h: u32 irq_bitmap[1024/32]
NUM_TEMPORARY_PAGES = 16        # the hypervisor maps a cell config through at most 16 pages
IOAPIC_MAX_CHIPS = 0x1000 // 40  # PAGE_SIZE / sizeof(struct cell_ioapic) on x86-64
MAX_CLIQUE_CELLS = 16           # cells per set for which every group that runs together is enumerated


@dataclass
class ConfigFile:
    """One parsed config and where its entries came from."""

    path: str
    stem: str
    prov: Provenance
    system: cf.SystemConfig | None = None

    @property
    def desc(self) -> cf.CellDesc:
        return self.prov.desc


@dataclass
class Scenario:
    """Which cells run together: explicit groups (names or file stems), or None to derive it."""

    groups: list[tuple[list[str], Location]] = field(default_factory=list)


def _ctl(line: str) -> str:
    return f"hypervisor/control.c {line}"


@dataclass
class _Cell:
    cfg: ConfigFile
    zone: Zone
    excluded: bool = False      # refused as a whole (architecture/revision): checked on its own only
    cpus: set[int] = field(default_factory=set)


def build_system(system: ConfigFile, cells: Sequence[ConfigFile], *, unread: Sequence[InputProblem] = (),
                 scenario: Scenario | None = None, name: str | None = None) -> System:
    sysconf = system.system
    assert sysconf is not None
    notes: list[str] = []
    root_desc = sysconf.root
    arch = sysconf.arch_name
    if sysconf.arch_guessed:
        notes.append(f"{system.path}: revision {sysconf.revision} configs carry no architecture; read as "
                     f"{'x86' if arch == 'x86' else 'ARM (arm or arm64)'} from the platform fields")
    for cfg in [system, *cells]:
        if cfg.desc.trailing:
            notes.append(f"{cfg.path}: {cfg.desc.trailing} bytes after the arrays the header counts were ignored "
                         "(the C struct declares more entries than the num_* fields count)")
    hv = _hypervisor(system)
    root = _zone(system, root=True, arch=arch)
    board = _board(system, root)
    out = System(name=name or system.stem, source=Location(system.path), hypervisor=hv, board=board,
                 notes=notes, region_overlap="last-wins", input_problems=list(unread))
    if hv is None:
        root.refusals.append(Refusal("hypervisor_memory is empty", "the driver refuses to enable Jailhouse",
                                     system.prov.field("hypervisor_memory", 12)))
    out.zones.append(root)
    built: list[_Cell] = []
    for cfg, zone_name in zip(cells, _zone_names(root.name, cells), strict=True):
        zone = _zone(cfg, root=False, arch=arch, system=sysconf, name=zone_name)
        cell = _Cell(cfg, zone, cpus=set(cfg.desc.cpus))
        cell.excluded = _whole_cell_refusals(cell, system, sysconf)
        built.append(cell)
        out.zones.append(zone)
    root_cpus = set(root_desc.cpus)
    for cell in built:
        _cpu_refusals(cell, root_cpus, arch, system)
    _coexistence(out, root, built, scenario, notes, root_cpus)
    active = [c for c in built if not c.excluded]
    _take_from_root(root, system, [c.cfg for c in active], sysconf)
    taken_cpus = set().union(*(c.cpus for c in active)) if active else set()
    root.cpus = [n for n in root.cpus if n.number not in taken_cpus]
    _take_irqs(root, [c.zone for c in active])
    _subpage_note(out)
    return out


def _zone_names(root: str, cells: Sequence[ConfigFile]) -> list[str]:
    """Each cell's name; a name used twice (or the root's) is told apart by the file name."""
    names = [c.desc.name or c.stem for c in cells]
    counts = {n: names.count(n) + (n == root) for n in names}
    out = []
    for cfg, name in zip(cells, names, strict=True):
        if counts[name] > 1 and cfg.stem != name:
            name = f"{name} ({cfg.stem})"
        while name in out or name == root:
            name = f"{name} ({cfg.path})"
        out.append(name)
    return out


# ---------------------------------------------------------------- hypervisor and board


def _hypervisor(system: ConfigFile) -> Hypervisor | None:
    sysconf = system.system
    assert sysconf is not None
    mem = sysconf.hypervisor
    if mem.size == 0:
        return None
    src = system.prov.field("hypervisor_memory", 12)
    start, end = mem.phys_start, mem.phys_start + mem.size
    return Hypervisor(HYPERVISOR, start, end, src, src,
                      parts=[HypervisorPart("hypervisor_memory (image, per-CPU data, config, pool)", start, end, src)],
                      base_alignment=cf.PAGE_SIZE, base_alignment_source=src, fixed_reservation=True)


def _board(system: ConfigFile, root: Zone) -> Board:
    sysconf = system.system
    assert sysconf is not None
    prov = system.prov
    devices: list[Device] = []

    def dev(name: str, kind: str, start: int, size: int, src: Location) -> None:
        if start and size:
            devices.append(Device(name, kind, start, start + size, src, hypervisor_owned=True))

    gic = sysconf.gic
    if gic is not None:
        if gic.version == 2:
            for reg, base in (("GICD", gic.gicd), ("GICC", gic.gicc), ("GICH", gic.gich), ("GICV", gic.gicv)):
                dev(f"GIC {reg}", "interrupt-controller", base, GIC_V2_SIZES[reg],
                    prov.field(f"{reg.lower()}_base", gic.offset))
        else:
            dev("GIC distributor (GICD)", "interrupt-controller", gic.gicd, GICD_V3_SIZE,
                prov.field("gicd_base", gic.offset))
            cpus = sysconf.root.cpus
            if gic.gicr and cpus:
                frames = max(cpus) + 1
                dev(f"GIC redistributors (GICR, {frames} x {GICR_FRAME:#x})", "interrupt-controller", gic.gicr,
                    frames * GICR_FRAME, prov.field("gicr_base", gic.offset))
    if sysconf.architecture == 0:
        dev("xAPIC", "interrupt-controller", XAPIC_BASE, 0x1000, Location(None, detail="architectural xAPIC page"))
        for chip in sysconf.root.irqchips:
            dev(f"IOAPIC {chip.address:#x}", "interrupt-controller", chip.address, IOAPIC_SIZE, prov.irqchip(chip.index))
    for unit in sysconf.iommus:
        src = prov.field(f"iommu_units[{unit.index}]", unit.offset)
        dev(f"{unit.name} (iommu_units[{unit.index}])", "iommu", unit.base, unit.size, src)
        if unit.type == 4:
            dev(f"{unit.name} TLB (iommu_units[{unit.index}])", "iommu", unit.tlb_base, unit.tlb_size, src)
    if sysconf.pci_mmconfig_base:
        size = (sysconf.pci_mmconfig_end_bus + 1) << 20
        what = "virtual PCI config window (emulated)" if sysconf.pci_is_virtual else "PCI MMCONFIG (intercepted)"
        dev(what, "pci-ecam", sysconf.pci_mmconfig_base, size, prov.field("pci_mmconfig_base", sysconf.pci_offset))
    con = sysconf.debug_console
    if con.is_mmio and con.type not in (cf.CON_TYPE_NONE, cf.CON_TYPE_EFIFB):
        dev("debug console", "console", con.address, con.size or 0x1000, prov.field("debug_console", con.offset))
    # The system's memory is what the root cell is configured with (before any cell takes a part). Its
    # MMIO is not listed: root configs leave out devices the root kernel does not use.
    memory = [_span(r.start, r.start + r.size, r.source) for r in root.regions if r.kind.is_memory]
    return Board(sysconf.root.name or system.stem, memory=memory, devices=devices, granule=cf.PAGE_SIZE)


def _span(start: int, end: int, source: Location) -> Span:
    """Span(start, end, source) without the frozen dataclass's __init__ (10^5 banks for a large root)."""
    span = object.__new__(Span)
    object.__setattr__(span, "__dict__", {"start": start, "end": end, "source": source})
    return span


# ---------------------------------------------------------------- zones


_K_RAM, _K_IO, _K_ROM = RegionKind.RAM, RegionKind.IO, RegionKind.ROM
_K_SHARED, _K_EMULATED = RegionKind.SHARED, RegionKind.EMULATED
_X86_RAM_FLAGS = cf.MEM_EXECUTE | cf.MEM_DMA | cf.MEM_LOADABLE


def _kind(r: cf.MemRegion, arch: int | None, shared: bool) -> RegionKind:
    """What a region is to the model. The IO flag is ARM-only: on x86, MMIO (BARs, firmware tables)
    is given without it, and only RAM carries EXECUTE, DMA or LOADABLE."""
    flags = r.flags
    if flags & cf.MEM_COMM_REGION:
        return _K_EMULATED
    if flags & cf.MEM_IO:
        return _K_IO
    if arch == 0 and not flags & _X86_RAM_FLAGS and not shared:
        return _K_IO if flags & cf.MEM_WRITE else _K_ROM
    if shared:
        return _K_SHARED
    if not flags & cf.MEM_WRITE:
        return _K_ROM
    return _K_RAM


def _ivshmem_roles(cfg: ConfigFile) -> dict[int, str]:
    """Region index -> its role in an ivshmem device's group."""
    roles: dict[int, str] = {}
    for dev in cfg.desc.pci_devices:
        if dev.type != cf.PCI_TYPE_IVSHMEM:
            continue
        start, peers = dev.shmem_regions_start, dev.shmem_peers
        names = ["state table", "read/write section"] + [f"output section of peer {p}" for p in range(peers)]
        for k, role in enumerate(names):
            roles.setdefault(start + k, f"ivshmem {dev.bdf_text()} {role}")
    return roles


def _zone(cfg: ConfigFile, *, root: bool, arch: str, system: cf.SystemConfig | None = None,
          name: str | None = None) -> Zone:
    desc = cfg.desc
    prov = cfg.prov
    arch_id = cfg.system.architecture if cfg.system is not None else (system.architecture if system else None)
    zone = Zone(name or desc.name or cfg.stem, None, root, prov.cell())
    roles = _ivshmem_roles(cfg)
    sources = prov.regions()
    labels = prov.region_labels()
    regions = zone.regions
    zname = zone.name
    ram_like = cf.MEM_EXECUTE | cf.MEM_DMA | cf.MEM_LOADABLE
    page = cf.PAGE_SIZE - 1
    loadable, writable = cf.MEM_LOADABLE, cf.MEM_WRITE
    new, set_fields = object.__new__, object.__setattr__
    rootshared = cf.MEM_ROOTSHARED
    kinds: dict[tuple[int, bool], RegionKind] = {}
    # The loop runs once per region (10^5 in a large set): flags are tested inline.
    for r in desc.regions:
        index, _, phys, virt, size, flags = r
        if size == 0:
            continue  # an empty `{ 0 }` slot (JAILHOUSE_SHMEM_NET_REGIONS has one): the hypervisor skips it
        role = roles.get(index) if roles else None
        shared = role is not None or bool(flags & rootshared)
        kind = kinds.get((flags, shared))   # a config uses a handful of flag combinations
        if kind is None:
            kind = kinds[flags, shared] = _kind(r, arch_id, shared)
        label = labels[index] if labels else None
        if role is not None:
            label = f"{label}: {role}" if label and role not in label else (label or role)
        if kind is _K_EMULATED:
            if not label or "communication region" not in label:
                label = f"{label} (communication region)" if label else "communication region"
            regions.append(Region(kind, virt, size, sources[index], None, label, zname))
            continue
        trapped = bool((virt & page or size & page) and not flags & ram_like)
        # Region(...) field by field, without the frozen dataclass's __init__ (four times slower:
        # one object.__setattr__ per field), 10^5 times in a large set.
        region = new(Region)
        set_fields(region, "__dict__", {
            "kind": kind, "start": phys, "size": size, "source": sources[index],
            "guest_start": virt if virt != phys else None, "label": label, "owner": zname,
            "loadable": bool(flags & loadable) and not root, "trapped": trapped, "writable": bool(flags & writable)})
        regions.append(region)
    cpu_src = prov.field("cpus", desc.cpu_set_offset)
    zone.cpus = [Numbered(c, cpu_src) for c in desc.cpus]
    zone.irqs = _irqs(cfg, zone, arch_id, system or cfg.system)
    _ivshmem_refusals(cfg, zone)
    zone.shared_memory = _endpoints(cfg, zone)
    _size_refusal(cfg, zone, root)
    return zone


def _irqs(cfg: ConfigFile, zone: Zone, arch: int | None, system: cf.SystemConfig | None) -> list[Numbered]:
    desc = cfg.desc
    out: list[Numbered] = []
    if arch == 0:
        if len(desc.irqchips) > IOAPIC_MAX_CHIPS:
            zone.refusals.append(Refusal(f"{len(desc.irqchips)} irqchips (at most {IOAPIC_MAX_CHIPS} IOAPICs)",
                                         "cell creation fails with -ERANGE (hypervisor/arch/x86/ioapic.c)",
                                         cfg.prov.irqchip(0)))
        for chip in desc.irqchips:
            src = cfg.prov.irqchip(chip.index)
            if chip.pin_base != 0:
                zone.refusals.append(Refusal(
                    f"IOAPIC irqchip at {chip.address:#x} has pin_base {chip.pin_base}",
                    "x86 requires 0: cell creation fails with -EINVAL (hypervisor/arch/x86/ioapic.c)", src))
                continue
            out.extend(Numbered(p, src, f"IOAPIC {chip.address:#x}") for p in chip.pins())
        return out
    gicd = system.gic.gicd if system is not None and system.gic is not None else None
    for chip in desc.irqchips:
        src = cfg.prov.irqchip(chip.index)
        if chip.address == 0 and not any(chip.pin_bitmap) and chip.pin_base == 0:
            continue  # an empty slot counted by num_irqchips
        if gicd is not None and chip.address != gicd:
            if any(chip.pin_bitmap):
                zone.refusals.append(Refusal(
                    f"irqchip at {chip.address:#x} is not the GIC distributor ({gicd:#x}), so its pins "
                    f"{_pin_ranges(chip.pins())} are never given to the cell",
                    "irqchip_cell_init (hypervisor/arch/arm-common/irqchip.c) skips irqchips at other addresses",
                    src, ignored=True))
            continue
        if chip.pin_base % 32 or chip.pin_base + 128 > ARM_IRQ_BITMAP_PINS:
            zone.refusals.append(Refusal(
                f"irqchip pin_base {chip.pin_base} is not a multiple of 32 at most {ARM_IRQ_BITMAP_PINS - 128}",
                "cell creation fails with -EINVAL (irqchip_cell_init, hypervisor/arch/arm-common/irqchip.c)", src))
            continue
        # SGIs and PPIs (0-31) are always the cell's own: irqchip_cell_init overwrites that word.
        out.extend(Numbered(p, src) for p in chip.pins() if p >= 32)
    return out


def _pin_ranges(pins: list[int]) -> str:
    if not pins:
        return "(none)"
    runs: list[list[int]] = []
    for p in sorted(pins):
        if runs and runs[-1][1] + 1 == p:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs[:6])
    return text + (", ..." if len(runs) > 6 else "")


def _ivshmem_refusals(cfg: ConfigFile, zone: Zone) -> None:
    n = len(cfg.desc.regions)
    for dev in cfg.desc.pci_devices:
        if dev.type != cf.PCI_TYPE_IVSHMEM:
            continue
        src = cfg.prov.pci(dev.index)
        if dev.shmem_regions_start + 2 + dev.shmem_peers > n:
            zone.refusals.append(Refusal(
                f"ivshmem {dev.bdf_text()} needs memory regions {dev.shmem_regions_start}.."
                f"{dev.shmem_regions_start + 1 + dev.shmem_peers} (state table, R/W, {dev.shmem_peers} output "
                f"sections) but the cell has {n}", "ivshmem_init fails with -EINVAL (hypervisor/ivshmem.c)", src))
        if dev.shmem_dev_id >= IVSHMEM_MAX_PEERS:
            zone.refusals.append(Refusal(
                f"ivshmem {dev.bdf_text()} has peer id {dev.shmem_dev_id}",
                f"ivshmem_init refuses ids from {IVSHMEM_MAX_PEERS} on with -EINVAL (hypervisor/ivshmem.c)", src))


PROTOCOLS = {0: "", 1: "virtual ethernet (ivshmem-net)"}


def _protocol(value: int) -> tuple[str, str]:
    """(what this end speaks, what the other ends must speak): a virtio back-end (0xc000 | device
    type) talks to the front-end of the same type (0x8000 | type), cell-config.h."""
    if value in PROTOCOLS:
        return PROTOCOLS[value], ""
    if value >= 0xC000:
        return f"virtio back-end {value & 0x3fff}", f"virtio front-end {value & 0x3fff}"
    if value >= 0x8000:
        return f"virtio front-end {value & 0x3fff}", f"virtio back-end {value & 0x3fff}"
    return f"custom {value:#x}", ""


def _endpoints(cfg: ConfigFile, zone: Zone) -> list[SharedMemoryEndpoint]:
    """The cell's ivshmem devices as link ends. Jailhouse connects the ends of a link by the
    device's BDF alone (ivshmem_init matches link->bdf; the PCI domain is not compared)."""
    out = []
    regions = cfg.desc.regions
    for dev in cfg.desc.pci_devices:
        if dev.type != cf.PCI_TYPE_IVSHMEM:
            continue
        sections = []
        for k in range(2 + dev.shmem_peers):
            i = dev.shmem_regions_start + k
            if i >= len(regions):
                break
            r = regions[i]
            sections.append(Region(RegionKind.SHARED, r.phys_start, r.size, cfg.prov.region(i),
                                   r.virt_start if r.virt_start != r.phys_start else None,
                                   writable=r.has(cf.MEM_WRITE), owner=zone.name))
        bdf = dev.bdf_text()[5:]
        speaks, expects = _protocol(dev.shmem_protocol)
        out.append(SharedMemoryEndpoint(f"ivshmem {bdf}", dev.shmem_dev_id, dev.shmem_peers, tuple(sections),
                                        cfg.prov.pci(dev.index), speaks, expects))
    return out


def _size_refusal(cfg: ConfigFile, zone: Zone, root: bool) -> None:
    desc = cfg.desc
    size = desc.end - desc.offset
    if not root and size > NUM_TEMPORARY_PAGES * cf.PAGE_SIZE:
        zone.refusals.append(Refusal(
            f"the cell config is {size} bytes", f"cell_create maps at most {NUM_TEMPORARY_PAGES} pages of it and "
            "fails with -E2BIG (" + _ctl("cell_create") + ")", cfg.prov.cell()))
    if cfg.system is not None:
        hv = cfg.system.hypervisor
        if hv.size and size >= hv.size:
            zone.refusals.append(Refusal(
                f"the system config is {size} bytes, not smaller than hypervisor_memory ({hv.size:#x})",
                "the driver refuses to enable Jailhouse (the config is copied into hypervisor_memory, driver/main.c)",
                cfg.prov.field("hypervisor_memory", 12)))


def _whole_cell_refusals(cell: _Cell, system: ConfigFile, sysconf: cf.SystemConfig) -> bool:
    """Refusals that stop the cell from ever existing. Returns True when the cell is excluded from
    the checks between cells (it was built for another system)."""
    desc = cell.cfg.desc
    src = cell.cfg.prov.field("architecture", desc.offset + 5)
    if desc.revision != sysconf.revision:
        cell.zone.refusals.append(Refusal(
            f"config revision {desc.revision}, the system config's is {sysconf.revision}",
            "the driver refuses it ('Configuration revision mismatch', -EINVAL, driver/cell.c); it was not checked "
            "against the other cells", src))
        return True
    if desc.architecture is not None and sysconf.architecture is not None and not sysconf.arch_guessed \
            and desc.architecture != sysconf.architecture:
        cell.zone.refusals.append(Refusal(
            f"built for {desc.arch_name}, but the system is {sysconf.arch_name}",
            "the driver refuses it ('Configuration architecture mismatch', driver/cell.c) but returns 0, so `jailhouse "
            "cell create` reports success while no cell exists; it was not checked against the other cells", src))
        return True
    return False


def _cpu_refusals(cell: _Cell, root_cpus: set[int], arch: str, system: ConfigFile) -> None:
    desc = cell.cfg.desc
    src = cell.cfg.prov.field("cpus", desc.cpu_set_offset)
    if not desc.cpus:
        cell.zone.refusals.append(Refusal("the cell has no CPU", "it can never run", src))
    missing = sorted(set(desc.cpus) - root_cpus)
    if missing:
        cell.zone.refusals.append(Refusal(
            f"uses CPU {_pin_ranges(missing)}, which the root cell does not have (root CPUs "
            f"{_pin_ranges(sorted(root_cpus))})",
            "cell creation fails with -EBUSY (the root's CPU set must be a superset: driver/cell.c, " +
            _ctl("cell_create") + ")", src))
    if arch == "x86" and 0 in desc.cpus:
        cell.zone.refusals.append(Refusal(
            "uses CPU 0", "on x86 Linux cannot give CPU 0 away: the driver refuses with -EINVAL ('Cannot assign CPU 0 "
            "to other cells', driver/cell.c)", src))


# ---------------------------------------------------------------- which cells run together


def _coexistence(system: System, root: Zone, cells: list[_Cell], scenario: Scenario | None, notes: list[str],
                 root_cpus: set[int]) -> None:
    for c in cells:
        if c.excluded:
            system.never_together.add(frozenset((root.name, c.zone.name)))
            for o in cells:
                if o is not c:
                    system.never_together.add(frozenset((c.zone.name, o.zone.name)))
    active = [c for c in cells if not c.excluded]
    if scenario is not None and scenario.groups:
        groups = [_resolve_group(names, src, active) for names, src in scenario.groups]
        together = {frozenset((a.zone.name, b.zone.name)) for g in groups for a, b in itertools.combinations(g, 2)}
        for a, b in itertools.combinations(active, 2):
            pair = frozenset((a.zone.name, b.zone.name))
            if pair not in together:
                system.never_together.add(pair)
        for g, (_, src) in zip(groups, scenario.groups, strict=True):
            for a, b in itertools.combinations(g, 2):
                shared = sorted(a.cpus & b.cpus)
                if shared:
                    b.zone.refusals.append(Refusal(
                        f"runs together with {a.zone.name} ({src}) but both use CPU {_pin_ranges(shared)}",
                        "the second cell_create fails with -EBUSY (the CPU already left the root, "
                        + _ctl("cell_create") + ")", b.cfg.prov.field("cpus", b.cfg.desc.cpu_set_offset)))
            _root_keeps_a_cpu(g, root_cpus)
        notes.append("cells run together as the scenario says: " + "; ".join(
            " + ".join(c.zone.name for c in g) or "(none)" for g in groups) + "; other pairs are alternatives")
        return
    alternatives = []
    for a, b in itertools.combinations(active, 2):
        why = _cannot_coexist(a, b)
        if why:
            system.never_together.add(frozenset((a.zone.name, b.zone.name)))
            alternatives.append(f"{a.zone.name} / {b.zone.name} ({why})")
    if alternatives:
        notes.append("no scenario given: cells the hypervisor cannot create together (they share a CPU, a cell name "
                     "or an ivshmem peer slot) are treated as alternatives, never checked against each other: "
                     + "; ".join(alternatives) + ". Give --together A,B (or --scenario FILE) to check cells as "
                     "running together")
    if len(active) > 1 and len(alternatives) < len(active) * (len(active) - 1) // 2:
        notes.append("cells with disjoint CPU sets are checked as running together")
    if len(active) <= MAX_CLIQUE_CELLS:
        for group in _maximal_groups(active, system):
            _root_keeps_a_cpu(group, root_cpus)
    else:
        notes.append(f"more than {MAX_CLIQUE_CELLS} cells: whether cells running together leave the root a CPU "
                     "was not checked")


def _cannot_coexist(a: _Cell, b: _Cell) -> str:
    """Why the hypervisor refuses to create both cells ('' when it does not): a CPU in both
    (cell_create -EBUSY), the same name (-EEXIST), the same ivshmem link slot (ivshmem_init -EBUSY)."""
    if a.cpus & b.cpus:
        return f"share CPU {_pin_ranges(sorted(a.cpus & b.cpus))}"
    if a.cfg.desc.name and a.cfg.desc.name == b.cfg.desc.name:
        return "same cell name"
    slots = {(e.link, e.peer) for e in a.zone.shared_memory} & {(e.link, e.peer) for e in b.zone.shared_memory}
    if slots:
        link, peer = sorted(slots)[0]
        return f"both peer {peer} of {link}"
    return ""


def _resolve_group(names: list[str], src: Location, cells: list[_Cell]) -> list[_Cell]:
    from hvcheck.errors import InputError

    out = []
    for name in names:
        hit = [c for c in cells if name in (c.cfg.desc.name, c.cfg.stem, c.zone.name)]
        if not hit:
            known = ", ".join(sorted({c.cfg.stem for c in cells})) or "none"
            raise InputError(src.path, f"--together names {name!r}, which is not a cell of this set (cells: {known})",
                             src.line)
        out.append(hit[0])
    return out


def _maximal_groups(cells: list[_Cell], system: System) -> list[list[_Cell]]:
    """Every maximal set of cells that can exist together (Bron-Kerbosch; few cells per set)."""
    ok = {id(a): {id(b) for b in cells if b is not a and system.can_run_together(a.zone.name, b.zone.name)}
          for a in cells}
    by_id = {id(c): c for c in cells}
    found: list[list[_Cell]] = []

    def expand(r: set[int], p: set[int], x: set[int]) -> None:
        if not p and not x:
            found.append([by_id[i] for i in r])
            return
        for v in list(p):
            expand(r | {v}, p & ok[v], x & ok[v])
            p = p - {v}
            x = x | {v}

    expand(set(), set(by_id), set())
    return found


def _root_keeps_a_cpu(group: list[_Cell], root_cpus: set[int]) -> None:
    if len(group) < 1 or not root_cpus:
        return
    used = set().union(*(c.cpus for c in group))
    if root_cpus <= used:
        last = group[-1]
        names = ", ".join(c.zone.name for c in group)
        last.zone.refusals.append(Refusal(
            f"with {names} created the root cell keeps no CPU (root CPUs {_pin_ranges(sorted(root_cpus))})",
            "the last of them cannot be created: the CPU issuing the request cannot be given away (Linux cannot "
            "offline its last CPU; " + _ctl("cell_create") + " -EBUSY)", last.cfg.prov.field(
                "cpus", last.cfg.desc.cpu_set_offset)))


# ---------------------------------------------------------------- what the root loses


def _take_from_root(root: Zone, system: ConfigFile, cells: list[ConfigFile], sysconf: cf.SystemConfig) -> None:
    """Remove from the root zone what creating the cells unmaps from it (control.c cell_create:
    every region except COMM_REGION and ROOTSHARED ones; a sub-page region only unregisters the
    root's own sub-page handler there, a page mapping of the root stays)."""
    holes: list[tuple[int, int]] = []
    sub_holes: list[tuple[int, int]] = []
    kept_by_root = cf.MEM_COMM_REGION | cf.MEM_ROOTSHARED
    page = cf.PAGE_SIZE - 1
    for cfg in cells:
        for _, _, phys, virt, size, flags in cfg.desc.regions:
            if size == 0 or flags & kept_by_root:
                continue
            # MemRegion.is_subpage, inline (10^5 cell regions in a large set)
            (sub_holes if virt & page or size & page else holes).append((phys, phys + size))
    holes_u = union(holes)
    sub_u = union(sub_holes)
    if not holes_u and not sub_u:
        return
    kept: list[Region] = []
    trapped_holes = union(holes_u + sub_u) if sub_u else holes_u
    ends, trapped_ends = [e for _, e in holes_u], [e for _, e in trapped_holes]
    for r in root.regions:
        if r.kind in (RegionKind.EMULATED, RegionKind.SHARED):
            kept.append(r)
            continue
        hs, he = (trapped_holes, trapped_ends) if r.trapped else (holes_u, ends)
        i = bisect_right(he, r.start)   # the first hole ending after the region starts
        if i == len(hs) or hs[i][0] >= r.start + r.size:
            kept.append(r)              # untouched: most regions
            continue
        pieces, lost = _cut(r, hs, i)
        kept.extend(pieces)
        root.taken.extend(lost)
    root.regions = kept


def _cut(r: Region, holes: list[tuple[int, int]], i: int) -> tuple[list[Region], list[Region]]:
    """``r`` minus the sorted disjoint ``holes`` from ``holes[i]`` on: (what stays, what is taken),
    provenance kept."""
    keep: list[tuple[int, int]] = []
    lost: list[tuple[int, int]] = []
    start = pos = r.start
    end = start + r.size
    n = len(holes)
    while i < n:
        hs, he = holes[i]
        if hs >= end:
            break
        if he > pos:
            if hs > pos:
                keep.append((pos, hs))
            lost.append((hs if hs > pos else pos, he if he < end else end))
            pos = he if he > pos else pos
        i += 1
    if pos == start and not lost:
        return [r], []
    if pos < end:
        keep.append((pos, end))
    fields = r.__dict__
    label = f"{r.label + '; ' if r.label else ''}the part of {hex_range(start, end)} no cell takes"
    return [_piece(fields, s, e, label) for s, e in keep], [_piece(fields, s, e, r.label) for s, e in lost]


def _piece(fields: dict[str, object], start: int, end: int, label: str | None) -> Region:
    """The region with these ``fields`` cut to [start, end). A copy of its fields rather than
    dataclasses.replace, which re-runs the frozen __init__ and costs ten times more (10^5 cut
    regions in a generated set)."""
    piece = object.__new__(Region)
    copy = fields.copy()
    copy["start"], copy["size"], copy["label"] = start, end - start, label
    guest = fields["guest_start"]
    if guest is not None:
        copy["guest_start"] = guest + (start - fields["start"])  # type: ignore[operator]
    object.__setattr__(piece, "__dict__", copy)
    return piece


def _take_irqs(root: Zone, cells: list[Zone]) -> None:
    taken = {(n.number, n.domain) for z in cells for n in z.irqs}
    root.irqs = [n for n in root.irqs if (n.number, n.domain) not in taken]


def _subpage_note(system: System) -> None:
    trapped = sum(1 for z in system.zones for r in z.regions if r.trapped)
    if trapped:
        system.notes.append(f"{trapped} sub-page MMIO region(s) are trapped and forwarded by Jailhouse (no page "
                            "alignment needed; not reported by M009)")


def describe_range(start: int, end: int) -> str:
    return hex_range(start, end)
