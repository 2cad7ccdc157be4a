"""Our own writer of Jailhouse configuration binaries, from Python descriptions: the test fixtures
are packed here from the layout documented in ../shared/reference/jailhouse-cell-format.md (and
checked against include/jailhouse/cell-config.h), never copied from Jailhouse."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

READ, WRITE, EXECUTE, DMA, IO = 0x1, 0x2, 0x4, 0x8, 0x10
COMM_REGION, LOADABLE, ROOTSHARED = 0x20, 0x40, 0x80
RAM = READ | WRITE | EXECUTE
INMATE_RAM = READ | WRITE | EXECUTE | LOADABLE
MMIO = READ | WRITE | IO
X86, ARM, ARM64 = 0, 1, 2


@dataclass
class Mem:
    phys: int
    size: int
    flags: int = RAM
    virt: int | None = None

    def pack(self) -> bytes:
        return struct.pack("<QQQQ", self.phys, self.phys if self.virt is None else self.virt, self.size, self.flags)


def comm(virt: int = 0x80000000) -> Mem:
    return Mem(0, 0x1000, READ | WRITE | COMM_REGION, virt)


def shmem_net(start: int, dev_id: int) -> list[Mem]:
    """The four regions of JAILHOUSE_SHMEM_NET_REGIONS (state table, empty R/W slot, two outputs)."""
    return [Mem(start, 0x1000, READ | ROOTSHARED), Mem(0, 0, 0, 0),
            Mem(start + 0x1000, 0x7F000, READ | ROOTSHARED | (WRITE if dev_id == 0 else 0)),
            Mem(start + 0x80000, 0x7F000, READ | ROOTSHARED | (WRITE if dev_id == 1 else 0))]


@dataclass
class Irqchip:
    address: int
    pin_base: int = 32
    bitmap: tuple[int, int, int, int] = (0, 0, 0, 0)
    id: int = 0

    def pack(self) -> bytes:
        return struct.pack("<QII4I", self.address, self.id, self.pin_base, *self.bitmap)


def pins(address: int, *numbers: int, pin_base: int = 32) -> Irqchip:
    words = [0, 0, 0, 0]
    for n in numbers:
        k = n - pin_base
        words[k // 32] |= 1 << (k % 32)
    return Irqchip(address, pin_base, (words[0], words[1], words[2], words[3]))


@dataclass
class Pci:
    bdf: int
    type: int = 3
    domain: int = 0
    shmem_regions_start: int = 0
    shmem_dev_id: int = 0
    shmem_peers: int = 2
    shmem_protocol: int = 0

    def pack(self) -> bytes:
        return struct.pack("<BBHH6IHHBBHHQIBBH", self.type, 0, self.domain, self.bdf, 0xFFFFF000, 0, 0, 0, 0, 0,
                           0, 0, 0, 0, 0, 0, 0, self.shmem_regions_start, self.shmem_dev_id, self.shmem_peers,
                           self.shmem_protocol)


@dataclass
class Console:
    address: int = 0
    size: int = 0
    type: int = 0
    flags: int = 0

    def pack(self) -> bytes:
        return struct.pack("<QIHHIIQ", self.address, self.size, self.type, self.flags, 0, 0, 0)


@dataclass
class Cell:
    name: str
    cpus: list[int]
    regions: list[Mem] = field(default_factory=list)
    irqchips: list[Irqchip] = field(default_factory=list)
    pci: list[Pci] = field(default_factory=list)
    arch: int = ARM64
    revision: int = 14
    flags: int = 0
    console: Console = field(default_factory=Console)
    num_regions: int | None = None     # a header count other than len(regions)
    trailing: bytes = b""

    def pack(self, *, embedded: bool = False) -> bytes:
        cpu_words = max(1, (max(self.cpus, default=0) // 64) + 1)
        mask = sum(1 << c for c in self.cpus)
        cpu_set = mask.to_bytes(cpu_words * 8, "little")
        name = self.name.encode()[:31].ljust(32, b"\0")
        if embedded:
            head = b"\0" * 8
        elif self.revision >= 14:
            head = b"JHCLL" + bytes([self.arch]) + struct.pack("<H", self.revision)
        else:
            head = b"JHCELL" + struct.pack("<H", self.revision)
        n_mem = len(self.regions) if self.num_regions is None else self.num_regions
        desc = head + name + struct.pack("<IIIIIIIIIIIQQ", 0, self.flags, len(cpu_set), n_mem, 0,
                                         len(self.irqchips), 0, len(self.pci), 0, 0, 0, 0, 0)
        desc += self.console.pack()
        assert len(desc) == 132
        body = cpu_set + b"".join(m.pack() for m in self.regions) + b"".join(i.pack() for i in self.irqchips)
        body += b"".join(p.pack() for p in self.pci)
        return desc + body + self.trailing

    def write(self, path: Path) -> Path:
        path.write_bytes(self.pack())
        return path


@dataclass
class Iommu:
    type: int
    base: int
    size: int
    tlb_base: int = 0
    tlb_size: int = 0

    def pack(self) -> bytes:
        tail = struct.pack("<QI", self.tlb_base, self.tlb_size) if self.type == 4 else b"\0" * 12
        return struct.pack("<IQI", self.type, self.base, self.size) + tail


@dataclass
class Gic:
    version: int = 3
    gicd: int = 0x08000000
    gicr: int = 0x080A0000
    gicc: int = 0
    gich: int = 0
    gicv: int = 0
    maintenance_irq: int = 25


@dataclass
class System:
    root: Cell
    hv_start: int = 0x7FC00000
    hv_size: int = 0x400000
    arch: int = ARM64
    revision: int = 14
    console: Console = field(default_factory=lambda: Console(0x09000000, 0x1000, 3, 1))
    mmcfg: int = 0
    end_bus: int = 0
    pci_is_virtual: int = 0
    iommus: list[Iommu] = field(default_factory=list)
    gic: Gic = field(default_factory=Gic)
    pm_timer: int = 0x408

    def pack(self) -> bytes:
        if self.revision >= 14:
            head = b"JHSYS" + bytes([self.arch]) + struct.pack("<H", self.revision)
        else:
            head = b"JHSYST" + struct.pack("<H", self.revision)
        out = head + struct.pack("<I", 0) + Mem(self.hv_start, self.hv_size, 0).pack() + self.console.pack()
        out += struct.pack("<QBBH", self.mmcfg, self.end_bus, self.pci_is_virtual, 0)
        units = b"".join(u.pack() for u in self.iommus).ljust(8 * 28, b"\0")
        g = self.gic
        if self.arch == X86:
            arch = struct.pack("<HBBIII", self.pm_timer, 0, 0, 0, 0, 0) if self.revision >= 13 else \
                struct.pack("<HIB3xII", self.pm_timer, 0, 0, 0, 0)
        elif self.revision >= 13:
            arch = struct.pack("<BBxxQQQQQ", g.maintenance_irq, g.version, g.gicd, g.gicc, g.gich, g.gicv, g.gicr)
        else:
            arch = struct.pack("<BBQQQQQ", g.maintenance_irq, g.version, g.gicd, g.gicc, g.gich, g.gicv, g.gicr)
        if self.revision >= 13:
            out += units + arch.ljust(44, b"\0")
        else:
            out += (arch + units).ljust(266, b"\0")
        self.root.revision = self.revision
        return out + self.root.pack(embedded=True)

    def write(self, path: Path) -> Path:
        path.write_bytes(self.pack())
        return path


# A small, clean arm64 set: QEMU-like board, root with RAM, MMIO and inmate memory, one inmate.
GICD = 0x08000000
GICR = 0x080A0000


def root_cell(**changes: object) -> Cell:
    cell = Cell("root", [0, 1, 2, 3], [
        Mem(0x09000000, 0x1000, MMIO),                          # UART (the debug console)
        Mem(0x0A000000, 0x1000, MMIO),                          # another device
        Mem(0x40000000, 0x30000000, RAM),                       # Linux RAM
        Mem(0x70000000, 0x0F000000, RAM),                       # RAM for the inmates
    ], [pins(GICD, *range(32, 160))])
    for k, v in changes.items():
        setattr(cell, k, v)
    return cell


def inmate(name: str = "inmate", cpus: list[int] | None = None, ram: int = 0x70000000, **changes: object) -> Cell:
    cell = Cell(name, [3] if cpus is None else cpus, [
        Mem(0x0A000000, 0x1000, MMIO),
        Mem(ram, 0x00100000, INMATE_RAM, 0),
        comm(),
    ], [pins(GICD, 40)])
    for k, v in changes.items():
        setattr(cell, k, v)
    return cell


def system(root: Cell | None = None, **changes: object) -> System:
    sysd = System(root or root_cell())
    for k, v in changes.items():
        setattr(sysd, k, v)
    return sysd


def write_set(directory: Path, sysd: System, *cells: Cell) -> list[Path]:
    """Write a system config and cells as <name>.cell files; return their paths (system first)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [sysd.write(directory / "system.cell")]
    for c in cells:
        paths.append(c.write(directory / f"{c.name}.cell"))
    return paths
