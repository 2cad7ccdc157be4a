"""The .cell reader: revisions 14, 13 and 12, counts, empty slots, trailing bytes, bad input, and a
write → read → same model property over generated configurations."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from cellwriter import (
    ARM64,
    INMATE_RAM,
    MMIO,
    RAM,
    READ,
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
    root_cell,
    shmem_net,
    system,
    write_set,
)
from conftest import run_hvcheck
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvcheck.errors import InputError
from hvcheck.layout.loaders import LoadOptions, load_paths
from hvcheck.layout.loaders.jailhouse import cellfile as cf
from hvcheck.layout.model import RegionKind


def test_revision_14_system_fields() -> None:
    sysd = system(iommus=[Iommu(3, 0x0B100000, 0x20000), Iommu(4, 0x30F80000, 0x1000, 0x36000000, 0x40000)],
                  mmcfg=0x0B800000, end_bus=1, gic=Gic(3, 0x08000000, 0x080A0000))
    sc = cf.parse_system(sysd.pack(), "s.cell")
    assert (sc.revision, sc.architecture, sc.arch_name) == (14, ARM64, "arm64")
    assert (sc.hypervisor.phys_start, sc.hypervisor.size) == (0x7FC00000, 0x400000)
    assert (sc.debug_console.address, sc.debug_console.is_mmio) == (0x09000000, True)
    assert (sc.pci_mmconfig_base, sc.pci_mmconfig_end_bus) == (0x0B800000, 1)
    assert [(u.type, u.base, u.size, u.tlb_base) for u in sc.iommus] == [(3, 0x0B100000, 0x20000, 0),
                                                                         (4, 0x30F80000, 0x1000, 0x36000000)]
    assert sc.gic is not None and (sc.gic.version, sc.gic.gicd, sc.gic.gicr) == (3, 0x08000000, 0x080A0000)
    assert sc.root.name == "root" and sc.root.cpus == [0, 1, 2, 3] and len(sc.root.regions) == 4
    assert sc.root.architecture is None  # the embedded root header is left zero: the system's applies


@pytest.mark.parametrize("revision", [13, 12])
@pytest.mark.parametrize("arch", [ARM64, X86])
def test_older_revisions_are_read(revision: int, arch: int) -> None:
    root = root_cell(arch=arch)
    sysd = system(root, arch=arch, revision=revision, iommus=[Iommu(2 if arch == X86 else 3, 0xFED90000, 0x1000)])
    sc = cf.parse_system(sysd.pack(), "s.cell")
    assert sc.revision == revision and sc.arch_guessed
    assert (sc.architecture == X86) == (arch == X86)
    assert [(u.type, u.base) for u in sc.iommus] == [(2 if arch == X86 else 3, 0xFED90000)]
    assert [r.phys_start for r in sc.root.regions] == [r.phys for r in root.regions]
    cell = cf.parse_cell(inmate(revision=revision).pack(), "c.cell")
    assert cell.revision == revision and cell.architecture is None and len(cell.regions) == 3


def test_revision_10_is_refused_with_what_to_do() -> None:
    data = bytearray(inmate(revision=13).pack())
    data[6:8] = struct.pack("<H", 10)
    with pytest.raises(InputError, match=r"revision 10 .*rebuild the config from its \.c source"):
        cf.parse_cell(bytes(data), "old.cell")


def test_a_count_beyond_the_file_is_bad_input() -> None:
    cell = inmate()
    cell.num_regions = 1000
    with pytest.raises(InputError, match="count"):
        cf.parse_cell(cell.pack(), "c.cell")
    huge = bytearray(inmate().pack())
    huge[40 + 12:40 + 16] = struct.pack("<I", 0xFFFFFFFF)   # num_memory_regions
    with pytest.raises(InputError, match="cannot fit"):
        cf.parse_cell(bytes(huge), "c.cell")


def test_truncated_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="truncated"):
        cf.parse_system(system().pack()[:100], "s.cell")
    with pytest.raises(InputError, match="not a Jailhouse configuration"):
        cf.read_kind(b"\x7fELF....", "x.cell")
    bad = tmp_path / "junk.cell"
    bad.write_bytes(b"JHSYS\x02\x0e\x00" + b"\xff" * 20)
    proc = run_hvcheck("layout", str(bad))
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1


def test_trailing_bytes_are_a_note_and_empty_slots_are_skipped(tmp_path: Path) -> None:
    root = root_cell()
    root.regions[0:0] = shmem_net(0x7E000000, 0)     # holds an empty { 0 } slot
    root.pci = [Pci(1 << 3)]
    cell = inmate("a", trailing=b"\0" * 56)
    paths = write_set(tmp_path, system(root), cell)
    sysm = load_paths(paths, LoadOptions())
    assert any("56 bytes after the arrays" in n for n in sysm.notes)
    assert all(r.size > 0 for z in sysm.zones for r in z.regions)
    root_zone = sysm.zones[0]
    assert sum(1 for r in root_zone.regions if r.kind is RegionKind.SHARED) == 3


def test_cpu_and_pin_bitmaps() -> None:
    c = cf.parse_cell(Cell("c", [0, 5, 63, 64, 130], [], [Irqchip(0x8000000, 32, (0b101, 0, 1 << 31, 0))]).pack(),
                      "c.cell")
    assert c.cpus == [0, 5, 63, 64, 130] and c.cpu_set_size == 24
    assert c.irqchips[0].pins() == [32, 34, 32 + 64 + 31]


# ---------------------------------------------------------------- write -> read -> same model

_regions = st.lists(st.builds(
    Mem,
    phys=st.integers(0, 1 << 40).map(lambda v: v & ~0xFFF),
    size=st.integers(1, 1 << 20).map(lambda v: v << 12),
    flags=st.sampled_from([RAM, MMIO, INMATE_RAM, READ, READ | WRITE]),
    virt=st.none() | st.integers(0, 1 << 40).map(lambda v: v & ~0xFFF),
), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(root_regions=_regions, cell_regions=_regions, cpus=st.sets(st.integers(0, 15), min_size=1, max_size=8),
       pins_=st.lists(st.integers(0, 2 ** 32 - 1), min_size=4, max_size=4))
def test_round_trip(tmp_path: Path, root_regions: list[Mem], cell_regions: list[Mem], cpus: set[int],
                    pins_: list[int]) -> None:
    root = Cell("root", sorted(cpus | {0}), root_regions, [Irqchip(0x08000000, 32, (pins_[0], pins_[1], pins_[2],
                                                                                      pins_[3]))])
    cell = Cell("cell", sorted(cpus - {0}) or [1], cell_regions + [comm()], [])
    sysd = system(root, hv_start=0xFFFF000000, hv_size=0x400000, console=Console())
    d = tmp_path / f"rt{abs(hash((tuple(cpus), len(root_regions), len(cell_regions))))}"
    sysm = load_paths(write_set(d, sysd, cell), LoadOptions())
    # Parsing gives back exactly what was packed.
    parsed = cf.parse_system(sysd.pack(), "s")
    assert [(r.phys_start, r.size, r.flags) for r in parsed.root.regions] == [(m.phys, m.size, m.flags)
                                                                              for m in root_regions]
    assert parsed.root.irqchips[0].pin_bitmap == tuple(pins_)
    # The model keeps every region of the cell, each at its physical and guest address.
    zone = sysm.zones[1]
    want = sorted((m.phys, m.size, m.phys if m.virt is None else m.virt) for m in cell_regions)
    got = sorted((r.start, r.size, r.gstart) for r in zone.regions if r.kind is not RegionKind.EMULATED)
    assert got == want
    # The root keeps what no cell takes and lost exactly the rest.
    root_zone = sysm.zones[0]
    kept = sum(r.size for r in root_zone.regions if r.kind is not RegionKind.SHARED)
    lost = sum(r.size for r in root_zone.taken)
    assert kept + lost == sum(m.size for m in root_regions)
    assert {n.number for n in root_zone.cpus} == (set(root.cpus) - set(cell.cpus))
