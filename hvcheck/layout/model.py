"""The hypervisor-neutral layout model: owners, regions, load images, CPUs, IRQs and the
device-tree facts of each zone. Every number carries the :class:`Location` that produced it.

Loaders (neutral YAML/JSON, hvisor board.rs/JSON/DTS/ELF, ...) build a :class:`System`; the
rules in :mod:`hvcheck.layout.rules` read it and never look at files.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

from hvcheck.findings import Location
from hvcheck.layout.intervals import Interval, IntervalIndex
from hvcheck.units import hex_range


class RegionKind(enum.StrEnum):
    RAM = "ram"            # guest RAM, mapped at stage 2, private to the zone
    IO = "io"              # passthrough device MMIO, mapped at stage 2
    EMULATED = "emulated"  # trapped and emulated (virtio, vPCI, vGIC): not mapped
    SHARED = "shared"      # RAM deliberately shared between zones (IVC, virtio backends, shm)
    RESERVED = "reserved"  # mapped but not for the allocator (e.g. MEM_TYPE_RAM_NOT_ALLOC)
    ROM = "rom"            # read-only memory mapped into the zone

    @property
    def is_mapped(self) -> bool:
        """Backed by a stage-2 mapping the guest can touch (everything but emulated windows)."""
        return self != "emulated"

    @property
    def is_memory(self) -> bool:
        """Memory rather than device MMIO."""
        return self in _MEMORY_KINDS


# String values: a set lookup hashes like a str (rules ask this of every region, 10^5 times in a
# large Jailhouse set; a tuple of members goes through Enum's slower class attribute lookups).
_MEMORY_KINDS = frozenset({"ram", "shared", "reserved", "rom"})


@dataclass(frozen=True)
class Span:
    """A half-open physical (or guest-physical) range with where it came from."""

    start: int
    end: int
    source: Location

    @property
    def size(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:
        return hex_range(self.start, self.end)


@dataclass(frozen=True)
class Region:
    """One memory region mapped into (or emulated for) a zone."""

    kind: RegionKind
    start: int          # host-physical start
    size: int
    source: Location
    guest_start: int | None = None  # guest-physical start; None means identity
    label: str | None = None
    owner: str = ""     # the zone's name, filled in by Zone
    # The root zone writes this zone's image into the region before the zone starts (Jailhouse
    # LOADABLE): the root needs a writable mapping of it.
    loadable: bool = False
    # Accesses are trapped and forwarded by the hypervisor at byte granularity instead of being
    # mapped at stage 2 (Jailhouse sub-page MMIO): no page granule applies, but the zone still
    # reaches the physical range.
    trapped: bool = False
    # The zone's mapping allows writes (False for read-only shared sections as well as ROM).
    writable: bool = True

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def gstart(self) -> int:
        return self.start if self.guest_start is None else self.guest_start

    @property
    def gend(self) -> int:
        return self.gstart + self.size

    def describe(self) -> str:
        label = f" ({self.label})" if self.label else ""
        guest = "" if self.gstart == self.start else f", guest {hex_range(self.gstart, self.gend)}"
        return f"{self.owner} {self.kind.value} {hex_range(self.start, self.end)}{guest}{label}"


class ImageKind(enum.StrEnum):
    KERNEL = "kernel"
    DTB = "dtb"
    INITRD = "initrd"


@dataclass(frozen=True)
class LoadImage:
    kind: ImageKind
    address: int         # host-physical load address
    size: int | None     # None: unknown size, only the address can be checked
    source: Location
    # False when the hypervisor maps the image into the zone from wherever it was loaded (2024
    # hvisor: the root DTB at DTB_IPA), so it need not lie in the zone's own RAM
    in_zone_ram: bool = True

    @property
    def end(self) -> int:
        return self.address + (self.size or 1)


@dataclass(frozen=True)
class Numbered:
    """A CPU or IRQ number with its source."""

    number: int
    source: Location
    # The controller the number belongs to when a system has several that number independently
    # (e.g. "IOAPIC 0xfec01000"); None: the system's one numbering.
    domain: str | None = None


@dataclass(frozen=True)
class ReservedRange:
    """A /reserved-memory child (no_map or not) or a /memreserve/ entry, guest-physical."""

    start: int
    end: int
    source: Location
    no_map: bool
    name: str = ""
    memreserve: bool = False


@dataclass
class DeviceTreeFacts:
    """What a zone's device tree tells its kernel about memory (guest-physical addresses)."""

    path: str
    memory: list[Span] = field(default_factory=list)
    reserved: list[ReservedRange] = field(default_factory=list)
    mem_limit: Numbered | None = None   # `mem=` from chosen/bootargs, in bytes
    bootargs: str | None = None
    unknown: list[str] = field(default_factory=list)  # facts that could not be resolved, and why


@dataclass
class Zone:
    name: str
    zone_id: int | None
    root: bool
    source: Location
    regions: list[Region] = field(default_factory=list)
    cpus: list[Numbered] = field(default_factory=list)
    irqs: list[Numbered] = field(default_factory=list)
    images: list[LoadImage] = field(default_factory=list)
    devicetree: DeviceTreeFacts | None = None
    # Parts of this zone's configured regions that other zones take away while they exist (a
    # Jailhouse root cell loses each non-root cell's memory when the cell is created). They are not
    # in `regions`, which is the zone with every other zone created; the zone maps them before.
    taken: list[Region] = field(default_factory=list)
    # Parts of the zone's configuration the hypervisor (or its loader) refuses or silently ignores.
    refusals: list[Refusal] = field(default_factory=list)
    # This zone's ends of shared-memory links (Jailhouse ivshmem devices).
    shared_memory: list[SharedMemoryEndpoint] = field(default_factory=list)

    def add_region(self, region: Region) -> Region:
        if region.owner != self.name:
            region = dataclasses.replace(region, owner=self.name)
        self.regions.append(region)
        return region


@dataclass(frozen=True)
class SharedMemoryEndpoint:
    """One zone's end of a shared-memory link: which link (what the hypervisor connects the ends
    by), which peer this end is, how many peers it expects, and the sections it maps for the link
    in order (state table, read/write section, then one output section per peer; an absent
    section has size 0)."""

    link: str
    peer: int
    peers: int
    sections: tuple[Region, ...]
    source: Location
    protocol: str = ""
    # What the other ends must speak when it differs from `protocol` (a virtio back-end expects the
    # front-end of the same device type); "" means the same.
    peer_protocol: str = ""

    @property
    def expects(self) -> str:
        return self.peer_protocol or self.protocol


@dataclass(frozen=True)
class Refusal:
    """A configuration fact the hypervisor refuses (zone creation fails) or ignores (silently has
    no effect), with where the refusal is in the hypervisor's own source."""

    what: str            # "cell uses CPU 5, which the root cell does not have"
    consequence: str     # "cell_create returns -EBUSY (hypervisor/control.c)"
    source: Location
    ignored: bool = False  # True: the hypervisor accepts the config but drops this part


@dataclass(frozen=True)
class HypervisorPart:
    """A named piece of the hypervisor's extent: image, per-CPU areas, memory pool."""

    name: str
    start: int
    end: int
    source: Location


@dataclass
class Estimate:
    """How an estimated hypervisor end was computed (M014).

    ``end = fixed + image + cpus * per_cpu_size`` with the image and (when the hypervisor sizes
    its per-CPU areas by the CPUs it finds at boot) the CPU count between assumed bounds; the
    optional fields let a verdict that holds only for part of the range say which part."""

    formula: str
    end_min: int      # with the smallest assumed image (and CPU count)
    end_max: int      # with the largest assumed image (and CPU count): the value the checks use
    assumption: str
    image_size: tuple[int, int] | None = None   # assumed (min, max) image size
    cpus: tuple[int, int] | None = None         # assumed (min, max) number of per-CPU areas
    per_cpu_size: int = 0
    fixed: int = 0                              # the end without image and per-CPU areas (base + pool)
    cpus_source: str = ""                       # why the CPU count is what it is (file:line)


@dataclass
class Hypervisor:
    name: str
    start: int
    end: int                      # conservative end (the largest when estimated)
    source: Location              # where start came from
    end_source: Location          # where end came from
    parts: list[HypervisorPart] = field(default_factory=list)
    estimate: Estimate | None = None
    base_alignment: int | None = None
    base_alignment_source: Location | None = None
    # The extent is a fixed reservation the hypervisor's image, per-CPU data and pool are placed
    # inside (Jailhouse hypervisor_memory; its driver refuses an image that does not fit), so the
    # binary's growth cannot cross its end.
    fixed_reservation: bool = False

    @property
    def span(self) -> Span:
        return Span(self.start, self.end, self.source)


@dataclass(frozen=True)
class Device:
    """A platform device window: interrupt controller, PCI ECAM/memory window, UART, ..."""

    name: str
    kind: str
    start: int
    end: int
    source: Location
    # The hypervisor drives or intercepts this device itself (GIC, IOMMU, the PCI config window,
    # its debug console): a zone that maps it bypasses the hypervisor.
    hypervisor_owned: bool = False


@dataclass
class Board:
    name: str
    memory: list[Span] = field(default_factory=list)     # physical RAM banks
    io: list[Span] = field(default_factory=list)         # physical MMIO ranges, when listed
    devices: list[Device] = field(default_factory=list)
    cpu_count: Numbered | None = None
    granule: int = 0x1000


@dataclass(frozen=True)
class InputProblem:
    """One input of a system that could not be read or understood. The loader leaves out what
    depended on it and goes on; the rules report it (E001) and do not report what it hid as
    clean (``subject`` names what is missing: "hypervisor", "zone NAME devicetree", ...)."""

    path: str | None
    line: int | None
    message: str
    checks_not_run: str
    subject: str = ""


@dataclass
class System:
    """A whole partitioned system: the hypervisor, the board and every zone."""

    name: str
    source: Location
    hypervisor: Hypervisor | None
    board: Board
    zones: list[Zone] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Inputs that could not be read; the checks that needed them did not run (each becomes an E001).
    input_problems: list[InputProblem] = field(default_factory=list)
    # Pairs of zone names that never run at the same time (alternative configurations of the same
    # CPUs); conflicts between them are not conflicts. Empty: every zone runs with every other.
    never_together: set[frozenset[str]] = field(default_factory=set)
    # What the hypervisor does with overlapping regions of one zone: "refused" (zone creation
    # fails, hvisor) or "last-wins" (the later region's mapping overwrites, Jailhouse paging_create).
    region_overlap: str = "refused"

    @property
    def root(self) -> Zone | None:
        return next((z for z in self.zones if z.root), None)

    def can_run_together(self, a: str, b: str) -> bool:
        """Whether zones ``a`` and ``b`` can exist at the same time."""
        return a == b or frozenset((a, b)) not in self.never_together

    def all_regions(self) -> list[Region]:
        return [r for z in self.zones for r in z.regions]

    def owners_of(self, address: int) -> list[Owner]:
        """Every owner whose physical range contains ``address``, most specific first."""
        return OwnerIndex(self).owners_of(address)


@dataclass(frozen=True)
class Owner:
    """One answer to "who owns this address"."""

    what: str          # "hypervisor image", "zone root-linux ram", "device gicd", "board memory"
    start: int
    end: int
    source: Location
    zone: str | None = None

    def describe(self) -> str:
        return f"{self.what} {hex_range(self.start, self.end)}"


class OwnerIndex:
    """Physical-address ownership over the hypervisor parts, zone regions, devices, load
    images and board memory, built once for many queries (triage, explain)."""

    def __init__(self, system: System) -> None:
        owners: list[Interval[Owner]] = []
        hv = system.hypervisor
        if hv is not None:
            for part in hv.parts:
                owners.append(Interval(part.start, part.end, Owner(f"{hv.name} {part.name}", part.start,
                                                                   part.end, part.source)))
            owners.append(Interval(hv.start, hv.end, Owner(f"{hv.name} (whole extent)", hv.start, hv.end,
                                                           hv.source)))
        for zone in system.zones:
            for r in zone.regions:
                label = f" '{r.label}'" if r.label else ""
                owners.append(Interval(r.start, r.end, Owner(f"zone {zone.name} {r.kind.value}{label}", r.start,
                                                             r.end, r.source, zone.name)))
            for img in zone.images:
                owners.append(Interval(img.address, img.end, Owner(f"zone {zone.name} {img.kind.value} image",
                                                                    img.address, img.end, img.source, zone.name)))
        for dev in system.board.devices:
            owners.append(Interval(dev.start, dev.end, Owner(f"device {dev.name} ({dev.kind})", dev.start,
                                                             dev.end, dev.source)))
        for bank in system.board.memory:
            owners.append(Interval(bank.start, bank.end, Owner("board memory", bank.start, bank.end,
                                                               bank.source)))
        self._index = IntervalIndex(owners)

    def owners_of(self, address: int) -> list[Owner]:
        hits = [iv.item for iv in self._index.containing(address)]
        return sorted(hits, key=lambda o: (o.end - o.start, o.what))
