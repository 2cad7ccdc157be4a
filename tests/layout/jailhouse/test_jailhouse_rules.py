"""Every layout rule with Jailhouse's semantics, on sets packed by our writer: one failing and one
passing set per rule (the clean baseline passes them all)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cellwriter import (
    ARM,
    GICD,
    GICR,
    INMATE_RAM,
    IO,
    MMIO,
    RAM,
    READ,
    ROOTSHARED,
    WRITE,
    X86,
    Cell,
    Console,
    Gic,
    Iommu,
    Irqchip,
    Mem,
    Pci,
    comm,
    inmate,
    pins,
    root_cell,
    shmem_net,
    system,
    write_set,
)
from rulecheck import clean, fires

from hvcheck.findings import Finding, Severity
from hvcheck.layout.loaders import LoadOptions, load_paths
from hvcheck.layout.model import RegionKind, System
from hvcheck.layout.rules import run_rules

ALL = [f"M{n:03d}" for n in range(1, 20)]


NO_OPTIONS = LoadOptions()


def load(tmp_path: Path, sysd: object, *cells: Cell, options: LoadOptions = NO_OPTIONS) -> System:
    paths = write_set(tmp_path, sysd, *cells)  # type: ignore[arg-type]
    return load_paths(paths, options)


def check(tmp_path: Path, sysd: object, *cells: Cell, options: LoadOptions = NO_OPTIONS) -> list[Finding]:
    return run_rules(load(tmp_path, sysd, *cells, options=options))


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]


def clean_set() -> tuple[object, Cell, Cell]:
    root = root_cell()
    root.regions = root.regions[1:]        # the root leaves the hypervisor's console alone
    b = inmate("b", [3], 0x70100000)
    b.regions[0] = Mem(0x0A001000, 0x1000, MMIO)
    b.irqchips = [pins(GICD, 41)]
    return system(root), inmate("a", [2], 0x70000000), b


def test_the_clean_set_passes_every_rule(tmp_path: Path) -> None:
    findings = check(tmp_path, *clean_set())  # type: ignore[arg-type]
    for rid in ALL:
        clean(findings, rid)
    assert not findings, [f.message for f in findings]


def test_the_root_loses_what_cells_take_and_keeps_rootshared(tmp_path: Path) -> None:
    cell = inmate("a", [2, 3])
    cell.regions.append(Mem(0x7E000000, 0x1000, READ | WRITE | ROOTSHARED))
    sysm = load(tmp_path, system(), cell)
    root = sysm.root
    assert root is not None
    # CPUs, RAM and the interrupt pin went to the cell; the root keeps the rest.
    assert [c.number for c in root.cpus] == [0, 1]
    ram = sorted((r.start, r.end) for r in root.regions if r.kind is RegionKind.RAM)
    assert (0x70000000, 0x70100000) not in ram and (0x70100000, 0x7F000000) in ram
    assert any(r.start == 0x70000000 and r.size == 0x100000 for r in root.taken)
    assert any(r.start <= 0x7E000000 < r.end for r in root.regions)  # a ROOTSHARED region is not taken
    assert 40 not in {n.number for n in root.irqs} and 41 in {n.number for n in root.irqs}
    # The cell's device taken from the root is gone from the root's IO.
    assert not any(r.start <= 0x0A000000 < r.end for r in root.regions)


def test_comm_region_is_guest_only_and_not_physically_checked(tmp_path: Path) -> None:
    cell = inmate("a")
    cell.regions.append(comm(0x80000000))  # a second comm placeholder at phys 0: no physical overlap
    sysm = load(tmp_path, system(), cell)
    zone = next(z for z in sysm.zones if z.name == "a")
    comms = [r for r in zone.regions if r.kind is RegionKind.EMULATED]
    assert comms and all(r.start == 0x80000000 for r in comms)
    findings = run_rules(sysm)
    clean(findings, "M001")
    assert all(f.data.get("space") == "guest-physical" for f in findings if f.rule == "M005")


# ---------------------------------------------------------------- M001


def test_m001_hypervisor_memory_inside_root_ram(tmp_path: Path) -> None:
    root = root_cell()
    root.regions[3] = Mem(0x70000000, 0x10000000, RAM)   # now covers hypervisor_memory at 0x7fc00000
    hit = fires(check(tmp_path, system(root)), "M001")
    assert hit[0].data["overlap_start"] == 0x7FC00000


def test_m001_clean_when_hypervisor_memory_is_outside(tmp_path: Path) -> None:
    clean(check(tmp_path, system()), "M001")


# ---------------------------------------------------------------- M004 and which cells run together


def test_m004_cells_with_disjoint_cpus_overlapping_ram(tmp_path: Path) -> None:
    hit = fires(check(tmp_path, system(), inmate("a", [2]), inmate("b", [3])), "M004")
    assert set(hit[0].data["zones"]) == {"a", "b"}


def test_m004_cells_sharing_a_cpu_are_alternatives(tmp_path: Path) -> None:
    sysm = load(tmp_path, system(), inmate("a", [3]), inmate("b", [3]))
    clean(run_rules(sysm), "M004")
    assert any("alternatives" in n and "share CPU 3" in n for n in sysm.notes)


def test_together_makes_alternatives_run_together(tmp_path: Path) -> None:
    findings = check(tmp_path, system(), inmate("a", [3]), inmate("b", [3]), options=LoadOptions(together=("a,b",)))
    fires(findings, "M004")
    fires(findings, "M010")   # both have CPU 3
    refused = fires(findings, "M018")
    assert any("-EBUSY" in f.message for f in refused)


def test_together_leaves_other_cells_apart(tmp_path: Path) -> None:
    findings = check(tmp_path, system(), inmate("a", [2]), inmate("b", [3]), inmate("c", [1], 0x70200000),
                     options=LoadOptions(together=("a,c",)))
    clean(findings, "M004")    # a and b overlap but are not named together


def test_together_with_an_unknown_cell_is_bad_input(tmp_path: Path) -> None:
    from hvcheck.errors import InputError

    with pytest.raises(InputError, match="nosuch"):
        load(tmp_path, system(), inmate("a", [2]), options=LoadOptions(together=("a,nosuch",)))


def test_scenario_file(tmp_path: Path) -> None:
    scen = tmp_path / "scenario.txt"
    scen.write_text("# demo\ntogether system: a, b\n")
    fires(check(tmp_path, system(), inmate("a", [3]), inmate("b", [3]), options=LoadOptions(scenario=scen)), "M004")
    scen.write_text("together other-board: a, b\n")   # a line for another system config does not apply
    clean(check(tmp_path, system(), inmate("a", [3]), inmate("b", [3]), options=LoadOptions(scenario=scen)), "M004")


# ---------------------------------------------------------------- M005


def test_m005_nested_duplicate_is_a_warning(tmp_path: Path) -> None:
    root = root_cell()
    root.regions.append(Mem(0x40000000, 0x1000, RAM))    # nested in the Linux RAM region
    hit = fires(check(tmp_path, system(root)), "M005")
    assert all(f.severity is Severity.WARNING for f in hit)


def test_m005_overlap_changing_the_translation_is_an_error(tmp_path: Path) -> None:
    cell = inmate("a")
    cell.regions.append(Mem(0x7A000000, 0x1000, INMATE_RAM, 0x80000))   # guest range inside the RAM at 0
    hit = fires(check(tmp_path, system(), cell), "M005")
    assert any(f.severity is Severity.ERROR and f.data["space"] == "guest-physical" for f in hit)


def test_m005_clean(tmp_path: Path) -> None:
    clean(check(tmp_path, system(), inmate("a")), "M005")


# ---------------------------------------------------------------- M006


def test_m006_ram_over_the_gic(tmp_path: Path) -> None:
    root = root_cell()
    root.regions.append(Mem(0x08000000, 0x100000, RAM))
    fires(check(tmp_path, system(root)), "M006")


def test_m006_clean(tmp_path: Path) -> None:
    clean(check(tmp_path, system()), "M006")


# ---------------------------------------------------------------- M009


def test_m009_unaligned_ram(tmp_path: Path) -> None:
    cell = inmate("a")
    cell.regions[1] = Mem(0x70000800, 0x100000, INMATE_RAM, 0)   # phys not page aligned: not sub-page, mapped
    fires(check(tmp_path, system(), cell), "M009")


def test_m009_sub_page_mmio_is_trapped_not_an_error(tmp_path: Path) -> None:
    cell = inmate("a")
    cell.regions[0] = Mem(0x0A000040, 0x40, MMIO | 0x40000)   # IO_32, 64 bytes: emulated by the hypervisor
    sysm = load(tmp_path, system(), cell)
    clean(run_rules(sysm), "M009")
    assert any("sub-page" in n for n in sysm.notes)


# ---------------------------------------------------------------- M010 / M011


def test_m010_clean_for_alternatives_sharing_a_cpu(tmp_path: Path) -> None:
    clean(check(tmp_path, system(), inmate("a", [3]), inmate("b", [3], 0x70100000)), "M010")


def test_m011_two_running_cells_share_an_interrupt_pin(tmp_path: Path) -> None:
    hit = fires(check(tmp_path, system(), inmate("a", [2]), inmate("b", [3], 0x70100000)), "M011")
    assert hit[0].data["irq"] == 40


def test_m011_clean_when_pins_differ(tmp_path: Path) -> None:
    b = inmate("b", [3], 0x70100000)
    b.irqchips = [pins(GICD, 41)]
    clean(check(tmp_path, system(), inmate("a", [2]), b), "M011")


def test_x86_ioapic_pins_are_per_chip(tmp_path: Path) -> None:
    root = Cell("root", [0, 1, 2, 3], [Mem(0x100000, 0x3FF00000, RAM | 0x8)],
                [Irqchip(0xFEC00000, 0, (0xFFFFFF, 0, 0, 0)), Irqchip(0xFEC01000, 0, (0xFFFFFF, 0, 0, 0))], arch=X86)
    a = Cell("a", [2], [Mem(0x3F000000, 0x100000, INMATE_RAM, 0), comm()], [Irqchip(0xFEC00000, 0, (1 << 4, 0, 0, 0))],
             arch=X86)
    b = Cell("b", [3], [Mem(0x3F100000, 0x100000, INMATE_RAM, 0), comm()], [Irqchip(0xFEC01000, 0, (1 << 4, 0, 0, 0))],
             arch=X86)
    sysd = system(root, arch=X86, hv_start=0x3A000000, hv_size=0x600000, console=Console(0x3F8, 0, 2, 0))
    findings = check(tmp_path, sysd, a, b)
    clean(findings, "M011")   # pin 4 of two different IOAPICs
    b.irqchips = [Irqchip(0xFEC00000, 0, (1 << 4, 0, 0, 0))]
    fires(check(tmp_path, sysd, a, b), "M011")


# ---------------------------------------------------------------- M012 / M013


def test_m012_cell_memory_outside_the_systems_memory(tmp_path: Path) -> None:
    fires(check(tmp_path, system(), inmate("a", ram=0x90000000)), "M012")


def test_m012_and_m013_clean(tmp_path: Path) -> None:
    findings = check(tmp_path, system(), inmate("a"))
    clean(findings, "M012")
    clean(findings, "M013")   # hypervisor_memory is a fixed reservation: growth stays inside it


# ---------------------------------------------------------------- M015


def test_m015_loadable_region_not_in_root_memory(tmp_path: Path) -> None:
    hit = fires(check(tmp_path, system(), inmate("a", ram=0x7F000000)), "M015")
    assert hit[0].data["missing"] == [[0x7F000000, 0x7F100000]]


def test_m015_loadable_region_under_a_read_only_root_section(tmp_path: Path) -> None:
    root = root_cell()
    root.regions[3] = Mem(0x70000000, 0x0E000000, RAM)
    root.regions[0:0] = shmem_net(0x7E000000, 0)          # output of peer 1 is read-only for the root
    root.pci = [Pci(1 << 3, shmem_regions_start=0, shmem_dev_id=0)]
    hit = fires(check(tmp_path, system(root), inmate("a", ram=0x7E080000)), "M015")
    assert "writable" in hit[0].message


def test_m015_loadable_region_not_writable(tmp_path: Path) -> None:
    cell = inmate("a")
    cell.regions[1] = Mem(0x70000000, 0x100000, READ | 0x40, 0)
    hit = fires(check(tmp_path, system(), cell), "M015")
    assert hit[0].data["writable"] is False


def test_m015_clean(tmp_path: Path) -> None:
    clean(check(tmp_path, system(), inmate("a")), "M015")


# ---------------------------------------------------------------- M016


def test_m016_root_maps_the_second_redistributor(tmp_path: Path) -> None:
    root = root_cell()
    root.regions.append(Mem(GICR + 0x20000, 0x20000, MMIO))   # CPU 1's frame: the anchor checks only the first
    hit = fires(check(tmp_path, system(root)), "M016")
    assert hit[0].severity is Severity.ERROR and "redistributor" in hit[0].message


def test_m016_iommu_and_pci_window(tmp_path: Path) -> None:
    root = root_cell()
    root.regions.append(Mem(0x0B000000, 0x01000000, MMIO))
    sysd = system(root, iommus=[Iommu(3, 0x0B100000, 0x20000)], mmcfg=0x0B800000, end_bus=0)
    kinds = {f.data["kind"] for f in fires(check(tmp_path, sysd), "M016") if f.severity is Severity.ERROR}
    assert kinds == {"iommu", "pci-ecam"}


def test_m016_console_is_a_warning_for_a_cell(tmp_path: Path) -> None:
    cell = inmate("a")
    cell.regions.append(Mem(0x09000000, 0x1000, MMIO))
    hit = [f for f in fires(check(tmp_path, system(), cell), "M016") if f.data["zone"] == "a"]
    assert hit and hit[0].severity is Severity.WARNING


def test_m016_clean(tmp_path: Path) -> None:
    root = root_cell()
    root.regions = root.regions[1:]   # the root no longer maps the debug console either
    clean(check(tmp_path, system(root), inmate("a")), "M016")


def test_gicv2_interfaces_are_owned(tmp_path: Path) -> None:
    root = root_cell()
    root.regions.append(Mem(0x08010000, 0x1000, MMIO))
    sysd = system(root, gic=Gic(2, GICD, 0, 0x08010000, 0x08030000, 0x08040000))
    assert "GIC GICC" in {f.data["device"] for f in fires(check(tmp_path, sysd), "M016")}


# ---------------------------------------------------------------- M017


def test_m017_cell_ram_over_the_roots_ivshmem(tmp_path: Path) -> None:
    root = root_cell()
    root.regions[0:0] = shmem_net(0x7E000000, 0)
    root.pci = [Pci(1 << 3, shmem_regions_start=0)]
    hit = fires(check(tmp_path, system(root), inmate("a", ram=0x7E000000)), "M017")
    assert hit[0].data["shared_with"] == "root"


def test_m017_clean_when_the_cell_shares_it(tmp_path: Path) -> None:
    root = root_cell()
    root.regions[0:0] = shmem_net(0x7E000000, 0)
    root.pci = [Pci(1 << 3, shmem_regions_start=0)]
    cell = inmate("a")
    cell.regions[0:0] = shmem_net(0x7E000000, 1)
    cell.pci = [Pci(1 << 3, shmem_regions_start=0, shmem_dev_id=1)]
    findings = check(tmp_path, system(root), cell)
    clean(findings, "M017")
    clean(findings, "M019")


# ---------------------------------------------------------------- M018


def test_m018_cell_for_another_architecture_is_refused_and_checked_alone(tmp_path: Path) -> None:
    other = inmate("a32", arch=ARM)
    findings = check(tmp_path, system(), other, inmate("b", [3]))
    hit = fires(findings, "M018")
    assert "architecture mismatch" in hit[0].message and "returns 0" in hit[0].message
    clean(findings, "M004")   # not compared with b, although its RAM is the same


def test_m018_cpu_the_root_does_not_have_and_irqchip_not_the_gicd(tmp_path: Path) -> None:
    cell = inmate("a", [3, 7])
    cell.irqchips.append(pins(0x2C000000, 50))
    messages = " | ".join(f.message for f in fires(check(tmp_path, system(), cell), "M018"))
    assert "CPU 7" in messages and "-EBUSY" in messages
    assert "not the GIC distributor" in messages and "50" in messages


def test_m018_bad_pin_base_and_root_left_without_cpu(tmp_path: Path) -> None:
    cell = inmate("a", [1, 2, 3])
    cell.irqchips = [Irqchip(GICD, 48, (1, 0, 0, 0))]
    other = inmate("b", [0], 0x70200000)
    other.irqchips = []
    messages = " | ".join(f.message for f in fires(check(tmp_path, system(), cell, other), "M018"))
    assert "pin_base 48" in messages
    assert "keeps no CPU" in messages


def test_m018_clean(tmp_path: Path) -> None:
    clean(check(tmp_path, system(), inmate("a")), "M018")


# ---------------------------------------------------------------- M019


def _linked(peers_b: int = 2, start_b: int = 0x7E000000, id_b: int = 1) -> tuple[Cell, Cell]:
    root = root_cell()
    root.regions[0:0] = shmem_net(0x7E000000, 0)
    root.pci = [Pci(1 << 3, shmem_regions_start=0)]
    cell = inmate("a")
    cell.regions[0:0] = shmem_net(start_b, 1)
    cell.pci = [Pci(1 << 3, shmem_regions_start=0, shmem_dev_id=id_b, shmem_peers=peers_b)]
    return root, cell


def test_m019_ends_in_different_memory(tmp_path: Path) -> None:
    root, cell = _linked(start_b=0x7D000000)
    root.regions[-1] = Mem(0x70000000, 0x0F000000, RAM)
    hit = fires(check(tmp_path, system(root), cell), "M019")
    assert any("state table" in f.message for f in hit)


def test_m019_peer_count_and_id(tmp_path: Path) -> None:
    root, cell = _linked(peers_b=1)
    text = " | ".join(f.message for f in fires(check(tmp_path, system(root), cell), "M019"))
    assert "expects 2 peer(s)" in text and "is peer 1 but its end counts 1" in text


def test_m019_same_slot_in_cells_named_together(tmp_path: Path) -> None:
    root, a = _linked()
    _, b = _linked()
    b.name, b.cpus = "b", [2]
    b.regions[4] = Mem(0x70100000, 0x100000, INMATE_RAM, 0)
    findings = check(tmp_path, system(root), a, b, options=LoadOptions(together=("a,b",)))
    assert any("both peer 1" in f.message for f in fires(findings, "M019"))
    # Without a scenario the shared slot makes them alternatives (the hypervisor refuses the second).
    clean(check(tmp_path, system(root), a, b), "M019")


def test_io_flag_is_arm_only_x86_mmio_is_io(tmp_path: Path) -> None:
    root = Cell("root", [0, 1], [Mem(0x100000, 0x3FF00000, RAM | 0x8), Mem(0xFEB00000, 0x1000, READ | WRITE),
                                 Mem(0xE0000, 0x20000, READ)], arch=X86)
    sysm = load(tmp_path, system(root, arch=X86, hv_start=0x40000000, hv_size=0x600000,
                                 console=Console(0x3F8, 0, 2, 0)))
    kinds = {r.start: r.kind for r in sysm.zones[0].regions}
    assert kinds == {0x100000: RegionKind.RAM, 0xFEB00000: RegionKind.IO, 0xE0000: RegionKind.ROM}
    assert IO  # the x86 region above carries no IO flag: it is MMIO by its access rights


def test_m019_virtio_back_end_pairs_with_its_front_end(tmp_path: Path) -> None:
    root, cell = _linked()
    root.pci[0].shmem_protocol, cell.pci[0].shmem_protocol = 0xC002, 0x8002   # virtio-blk back-end / front-end
    clean(check(tmp_path, system(root), cell), "M019")
    cell.pci[0].shmem_protocol = 0xC002                                         # two back-ends
    hit = fires(check(tmp_path, system(root), cell), "M019")
    assert hit[0].severity is Severity.WARNING and "virtio back-end 2" in hit[0].message
