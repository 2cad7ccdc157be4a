"""The Jailhouse configuration binaries (``.cell``): system configs (``JHSYS``, with the root cell
embedded) and cell configs (``JHCLL``), as include/jailhouse/cell-config.h lays them out.

Little-endian, packed, fixed-width fields, so the same reader serves every host. Revisions:

- 14 (since f2320d2e, 2023-01): 5-byte signature and an architecture byte;
- 13 (b9df7b98, 2020-05 .. 2023-01): 6-byte signature ``JHSYST``/``JHCELL``, no architecture
  byte, every offset otherwise as in 14;
- 12 (v0.12): as 13, but ``iommu_units[8]`` sits *inside* the x86/ARM platform structs, so the
  root cell starts at byte 354 instead of 356.

Older revisions (v0.11 and before: 10 and lower) are refused with what to do. Arrays are read by
the header's counts (shipped files may carry trailing bytes); a count that runs past the end of
the file is bad input, never a silent truncation.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import NamedTuple

from hvcheck.errors import InputError

MAX_CELL_FILE_BYTES = 64 << 20   # one .cell binary (10^6 regions are 32 MiB)

ARCH_NAMES = {0: "x86", 1: "arm", 2: "arm64"}
SUPPORTED_REVISIONS = (12, 13, 14)
CURRENT_REVISION = 14

# struct jailhouse_memory flags (cell-config.h)
MEM_READ = 0x1
MEM_WRITE = 0x2
MEM_EXECUTE = 0x4
MEM_DMA = 0x8
MEM_IO = 0x10
MEM_COMM_REGION = 0x20
MEM_LOADABLE = 0x40
MEM_ROOTSHARED = 0x80
MEM_NO_HUGEPAGES = 0x100
MEM_IO_UNALIGNED = 0x8000
MEM_FLAG_NAMES = {MEM_READ: "READ", MEM_WRITE: "WRITE", MEM_EXECUTE: "EXECUTE", MEM_DMA: "DMA", MEM_IO: "IO",
                  MEM_COMM_REGION: "COMM_REGION", MEM_LOADABLE: "LOADABLE", MEM_ROOTSHARED: "ROOTSHARED",
                  MEM_NO_HUGEPAGES: "NO_HUGEPAGES", MEM_IO_UNALIGNED: "IO_UNALIGNED", 0x10000: "IO_8",
                  0x20000: "IO_16", 0x40000: "IO_32", 0x80000: "IO_64"}

CELL_PASSIVE_COMMREG = 0x1
CELL_TEST_DEVICE = 0x2
CELL_AARCH32 = 0x4

PCI_TYPE_DEVICE = 1
PCI_TYPE_BRIDGE = 2
PCI_TYPE_IVSHMEM = 3

IOMMU_NAMES = {1: "AMD IOMMU", 2: "Intel VT-d", 3: "SMMUv3", 4: "TI PVU", 5: "Arm MMU-500"}

CON_ACCESS_MMIO = 0x1
CON_TYPE_NONE = 0
CON_TYPE_EFIFB = 1

PAGE_SIZE = 0x1000

# Sizes of the packed structs.
CELL_DESC_SIZE = 132
MEMORY_SIZE = 32
CACHE_SIZE = 12
IRQCHIP_SIZE = 32
PIO_SIZE = 4
PCI_DEVICE_SIZE = 56
PCI_CAP_SIZE = 8
STREAM_ID_SIZE = 4
IOMMU_SIZE = 28
NUM_IOMMUS = 8
CONSOLE_SIZE = 32


def flag_names(flags: int) -> str:
    names = [name for bit, name in MEM_FLAG_NAMES.items() if flags & bit]
    rest = flags & ~sum(MEM_FLAG_NAMES)
    if rest:
        names.append(f"{rest:#x}")
    return " | ".join(names) if names else "0"


class MemRegion(NamedTuple):
    """A NamedTuple: a 10^5-region config builds 10^5 of them."""

    slot: int           # position in mem_regions[] (what ivshmem's shmem_regions_start counts)
    offset: int         # byte offset in the file
    phys_start: int
    virt_start: int
    size: int
    flags: int

    @property
    def is_subpage(self) -> bool:
        """JAILHOUSE_MEMORY_IS_SUBPAGE: virt_start or size not page-aligned (phys is not looked at)."""
        return bool(self.virt_start % PAGE_SIZE or self.size % PAGE_SIZE)

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)


@dataclass(frozen=True)
class Irqchip:
    index: int
    offset: int
    address: int
    id: int
    pin_base: int
    pin_bitmap: tuple[int, int, int, int]

    def pins(self) -> list[int]:
        """Interrupt numbers: pin_base + bit for every set bit of the 128-bit bitmap."""
        out = []
        for word, bits in enumerate(self.pin_bitmap):
            while bits:
                low = bits & -bits
                out.append(self.pin_base + word * 32 + low.bit_length() - 1)
                bits ^= low
        return out


@dataclass(frozen=True)
class PciDevice:
    index: int
    offset: int
    type: int
    iommu: int
    domain: int
    bdf: int
    bar_mask: tuple[int, ...]
    num_msix_vectors: int
    msix_region_size: int
    msix_address: int
    shmem_regions_start: int
    shmem_dev_id: int
    shmem_peers: int
    shmem_protocol: int

    def bdf_text(self) -> str:
        return f"{self.domain:04x}:{self.bdf >> 8:02x}:{(self.bdf >> 3) & 0x1f:02x}.{self.bdf & 7}"


@dataclass(frozen=True)
class Pio:
    index: int
    offset: int
    base: int
    length: int


@dataclass(frozen=True)
class Console:
    offset: int
    address: int
    size: int
    type: int
    flags: int

    @property
    def is_mmio(self) -> bool:
        return bool(self.flags & CON_ACCESS_MMIO)


@dataclass(frozen=True)
class Iommu:
    index: int
    offset: int
    type: int
    base: int
    size: int
    tlb_base: int = 0
    tlb_size: int = 0

    @property
    def name(self) -> str:
        return IOMMU_NAMES.get(self.type, f"IOMMU type {self.type}")


@dataclass
class CellDesc:
    """One cell: a JHCLL file, or the root cell embedded in a system file."""

    path: str
    offset: int                  # where the descriptor starts in the file
    revision: int
    architecture: int | None     # None: revision 13/12 files carry none; the root's is left 0 (take the system's)
    name: str
    flags: int
    cpu_set_offset: int
    cpu_set_size: int
    cpus: list[int]
    regions: list[MemRegion]
    irqchips: list[Irqchip]
    pio: list[Pio]
    pci_devices: list[PciDevice]
    num_cache_regions: int
    num_pci_caps: int
    num_stream_ids: int
    vpci_irq_base: int
    cpu_reset_address: int
    console: Console
    end: int                     # offset after the last array, by the counts
    trailing: int = 0            # bytes in the file beyond `end`

    @property
    def arch_name(self) -> str | None:
        return None if self.architecture is None else ARCH_NAMES.get(self.architecture, f"#{self.architecture}")


@dataclass
class GicInfo:
    version: int
    maintenance_irq: int
    gicd: int
    gicc: int
    gich: int
    gicv: int
    gicr: int
    offset: int


@dataclass
class SystemConfig:
    path: str
    revision: int
    architecture: int | None
    flags: int
    hypervisor: MemRegion            # hypervisor_memory (index -1)
    debug_console: Console
    pci_mmconfig_base: int
    pci_mmconfig_end_bus: int
    pci_is_virtual: int
    pci_domain: int
    pci_offset: int
    iommus: list[Iommu]
    gic: GicInfo | None              # ARM only
    x86_pm_timer: int | None         # x86 only
    root: CellDesc
    arch_guessed: bool = False       # revision 13/12: the architecture was inferred from the platform fields
    notes: list[str] = field(default_factory=list)

    @property
    def arch_name(self) -> str:
        if self.architecture is None:
            return "unknown"
        return ARCH_NAMES.get(self.architecture, f"#{self.architecture}")


class _Reader:
    """Bounded little-endian field reads that name the field when the file is too short."""

    def __init__(self, data: bytes, path: str) -> None:
        self.data = data
        self.path = path

    def unpack(self, fmt: str, offset: int, what: str) -> tuple[int, ...]:
        size = struct.calcsize("<" + fmt)
        if offset < 0 or offset + size > len(self.data):
            raise InputError(self.path, f"truncated: {what} needs bytes {offset:#x}..{offset + size:#x} but the file "
                                        f"has {len(self.data):#x}")
        return struct.unpack_from("<" + fmt, self.data, offset)

    def need(self, offset: int, size: int, what: str) -> None:
        if offset + size > len(self.data):
            raise InputError(self.path, f"{what} runs to byte {offset + size:#x}, past the end of the file "
                                        f"({len(self.data):#x} bytes): a count in the header is wrong or the file is "
                                        "truncated")


def signature_revision(data: bytes, path: str) -> tuple[str, int, int | None, int]:
    """(kind 'system'/'cell', revision, architecture or None, signature length)."""
    if len(data) >= 6 and data[:6] in (b"JHSYST", b"JHCELL"):
        # A 6-byte signature (revision 13 and older): the revision follows it, no architecture byte.
        if len(data) < 8:
            raise InputError(path, "truncated Jailhouse header")
        return ("system" if data[:6] == b"JHSYST" else "cell"), int.from_bytes(data[6:8], "little"), None, 6
    if data[:5] in (b"JHSYS", b"JHCLL"):
        if len(data) < 8:
            raise InputError(path, "truncated Jailhouse header")
        return ("system" if data[:5] == b"JHSYS" else "cell"), int.from_bytes(data[6:8], "little"), data[5], 5
    raise InputError(path, "not a Jailhouse configuration (no JHSYS/JHCLL signature)")


def _check_revision(path: str, kind: str, revision: int, sig_len: int) -> None:
    if revision in SUPPORTED_REVISIONS and (revision == CURRENT_REVISION) == (sig_len == 5):
        return
    if sig_len == 5 and revision != CURRENT_REVISION:
        raise InputError(path, f"Jailhouse {kind} config with a 5-byte signature but revision {revision}: "
                               f"only revision {CURRENT_REVISION} uses that header; the file is damaged")
    if sig_len == 6 and revision >= CURRENT_REVISION:
        raise InputError(path, f"Jailhouse {kind} config with a 6-byte signature but revision {revision}: "
                               "revision 14 and later use 5-byte signatures; the file is damaged")
    raise InputError(path, f"Jailhouse config revision {revision} (Jailhouse v0.11 or older): hvcheck reads "
                           f"revisions {', '.join(map(str, SUPPORTED_REVISIONS))}; rebuild the config from its .c "
                           "source with a current Jailhouse tree (hvcheck layout CONFIG.c --jailhouse-src DIR)")


def parse_cell(data: bytes, path: str, offset: int = 0, *, embedded: bool = False, revision: int = CURRENT_REVISION,
               architecture: int | None = None) -> CellDesc:
    """A cell descriptor and its arrays at ``offset`` (0 for a JHCLL file)."""
    r = _Reader(data, path)
    if not embedded:
        kind, revision, architecture, sig_len = signature_revision(data, path)
        if kind != "cell":
            raise InputError(path, "a Jailhouse system config where a cell config was expected")
        _check_revision(path, "cell", revision, sig_len)
    what = "root cell descriptor" if embedded else "cell descriptor"
    r.need(offset, CELL_DESC_SIZE, what)
    raw_name = data[offset + 8:offset + 40]
    name = raw_name.split(b"\0", 1)[0].decode("utf-8", "replace")
    (_id, flags, cpu_set_size, n_mem, n_cache, n_irq, n_pio, n_pci, n_caps, n_sids, vpci_irq_base,
     cpu_reset, _timeout) = r.unpack("IIIIIIIIIIIQQ", offset + 40, what)
    console = _console(r, offset + 100)
    pos = offset + CELL_DESC_SIZE
    counts = [("cpu set", cpu_set_size, 1), ("memory regions", n_mem, MEMORY_SIZE),
              ("cache regions", n_cache, CACHE_SIZE), ("irqchips", n_irq, IRQCHIP_SIZE),
              ("pio regions", n_pio, PIO_SIZE), ("PCI devices", n_pci, PCI_DEVICE_SIZE),
              ("PCI capabilities", n_caps, PCI_CAP_SIZE), ("stream ids", n_sids, STREAM_ID_SIZE)]
    total = pos
    for label, count, size in counts:
        if count * size > len(data):
            raise InputError(path, f"{name or what}: {count} {label} ({count * size} bytes) cannot fit in a "
                                   f"{len(data)}-byte file: the header's count is wrong")
        total += count * size
    r.need(pos, total - pos, f"{name or what}: the arrays the header counts")
    cpu_bytes = data[pos:pos + cpu_set_size]
    cpu_mask = int.from_bytes(cpu_bytes, "little")
    cpus = []
    while cpu_mask:
        low = cpu_mask & -cpu_mask
        cpus.append(low.bit_length() - 1)
        cpu_mask ^= low
    cpu_set_offset = pos
    pos += cpu_set_size
    regions = [MemRegion(i, pos + i * MEMORY_SIZE, p, v, sz, fl) for i, (p, v, sz, fl)
               in enumerate(struct.iter_unpack("<QQQQ", data[pos:pos + n_mem * MEMORY_SIZE]))]
    pos += n_mem * MEMORY_SIZE + n_cache * CACHE_SIZE
    irqchips = []
    for i in range(n_irq):
        o = pos + i * IRQCHIP_SIZE
        addr, chip_id, pin_base, b0, b1, b2, b3 = struct.unpack_from("<QIIIIII", data, o)
        irqchips.append(Irqchip(i, o, addr, chip_id, pin_base, (b0, b1, b2, b3)))
    pos += n_irq * IRQCHIP_SIZE
    pio = [Pio(i, pos + i * PIO_SIZE, *struct.unpack_from("<HH", data, pos + i * PIO_SIZE)) for i in range(n_pio)]
    pos += n_pio * PIO_SIZE
    pci = []
    for i in range(n_pci):
        o = pos + i * PCI_DEVICE_SIZE
        (typ, iommu, domain, bdf, m0, m1, m2, m3, m4, m5, _caps_start, _ncaps, _nmsi, _msi_bits, nmsix, msix_size,
         msix_addr, shm_start, shm_id, shm_peers, shm_proto) = struct.unpack_from("<BBHH6IHHBBHHQIBBH", data, o)
        pci.append(PciDevice(i, o, typ, iommu, domain, bdf, (m0, m1, m2, m3, m4, m5), nmsix, msix_size, msix_addr,
                             shm_start, shm_id, shm_peers, shm_proto))
    pos += n_pci * PCI_DEVICE_SIZE + n_caps * PCI_CAP_SIZE + n_sids * STREAM_ID_SIZE
    arch = None if embedded else architecture
    return CellDesc(path, offset, revision, arch, name, flags, cpu_set_offset, cpu_set_size, cpus, regions, irqchips,
                    pio, pci, n_cache, n_caps, n_sids, vpci_irq_base, cpu_reset, console, pos,
                    max(0, len(data) - pos) if not embedded else 0)


def _console(r: _Reader, offset: int) -> Console:
    address, size, typ, flags, _div, _gate, _clock = r.unpack("QIHHIIQ", offset, "console")
    return Console(offset, address, size, typ, flags)


def parse_system(data: bytes, path: str) -> SystemConfig:
    r = _Reader(data, path)
    kind, revision, architecture, sig_len = signature_revision(data, path)
    if kind != "system":
        raise InputError(path, "a Jailhouse cell config where a system config was expected")
    _check_revision(path, "system", revision, sig_len)
    (flags,) = r.unpack("I", 8, "system flags")
    hv = MemRegion(-1, 12, *r.unpack("QQQQ", 12, "hypervisor_memory"))
    debug_console = _console(r, 44)
    mmcfg, end_bus, is_virtual, domain = r.unpack("QBBH", 76, "platform_info")
    iommu_offset = 88 if revision >= 13 else None
    gic: GicInfo | None = None
    pm_timer: int | None = None
    guessed = False
    if revision >= 13:
        arch_offset = 312
        root_offset = 356
    else:
        arch_offset = 88
        root_offset = 354
    if architecture is None:
        architecture, guessed = _guess_arch(r, revision, arch_offset), True
    if architecture in (1, 2):
        if revision >= 13:
            mnt, ver, _p0, _p1, gicd, gicc, gich, gicv, gicr = r.unpack("BBBBQQQQQ", arch_offset, "ARM platform info")
        else:
            mnt, ver, gicd, gicc, gich, gicv, gicr = r.unpack("BBQQQQQ", arch_offset, "ARM platform info")
            iommu_offset = arch_offset + 42
        gic = GicInfo(ver, mnt, gicd, gicc, gich, gicv, gicr, arch_offset)
    elif architecture == 0:
        (pm_timer,) = r.unpack("H", arch_offset, "x86 platform info")
        if revision < 13:
            iommu_offset = arch_offset + 18
    else:
        raise InputError(path, f"unknown Jailhouse architecture {architecture} (0 x86, 1 arm, 2 arm64)")
    assert iommu_offset is not None
    iommus = []
    for i in range(NUM_IOMMUS):
        o = iommu_offset + i * IOMMU_SIZE
        typ, base, size = r.unpack("IQI", o, f"iommu_units[{i}]")
        if typ == 0:
            continue
        tlb_base, tlb_size = r.unpack("QI", o + 16, f"iommu_units[{i}]") if typ == 4 else (0, 0)
        iommus.append(Iommu(i, o, typ, base, size, tlb_base, tlb_size))
    root = parse_cell(data, path, root_offset, embedded=True, revision=revision, architecture=architecture)
    trailing = len(data) - root.end
    sysconf = SystemConfig(path, revision, architecture, flags, hv, debug_console, mmcfg, end_bus, is_virtual, domain,
                           76, iommus, gic, pm_timer, root, guessed)
    root.trailing = max(0, trailing)
    return sysconf


def _guess_arch(r: _Reader, revision: int, arch_offset: int) -> int:
    """Revision 13/12 files have no architecture byte: an ARM platform block names a GIC version 2 or
    3 and a distributor address; anything else is taken as x86."""
    ver_offset = arch_offset + 1
    (ver,) = r.unpack("B", ver_offset, "platform info")
    gicd_offset = arch_offset + (4 if revision >= 13 else 2)
    (gicd,) = r.unpack("Q", gicd_offset, "platform info")
    return 2 if ver in (2, 3) and gicd else 0


def read_kind(data: bytes, path: str) -> str:
    """'system' or 'cell' (InputError for anything else)."""
    return signature_revision(data, path)[0]
