"""Where each entry of a Jailhouse config came from: a ``.c`` source line and the comment naming it,
or (for a bare ``.cell`` binary) the array slot and its byte offset."""

from __future__ import annotations

from dataclasses import dataclass, field

from hvcheck.findings import Location
from hvcheck.layout.loaders.jailhouse.cellfile import CellDesc, SystemConfig


@dataclass(frozen=True)
class Origin:
    """One entry's place in a source file and the comment that names it."""

    path: str
    line: int
    label: str | None = None


@dataclass
class Provenance:
    """Locations of one config file's entries. Binary facts (array slot, byte offset) are always
    known; ``entries``/``fields`` add the source line when the config was built from a ``.c``."""

    path: str                                   # what the user gave (.cell or .c)
    desc: CellDesc
    system: SystemConfig | None = None
    entries: dict[tuple[str, int], Origin] = field(default_factory=dict)   # ("mem", i), ("irqchip", i), ("pci", i)
    fields: dict[str, Origin] = field(default_factory=dict)                # "hypervisor_memory", "cpus", ...
    binary: bool = True                         # False: built from a .c (byte offsets are of the compiled image)

    def _slot(self, what: str, offset: int) -> str:
        return f"{what} at byte {offset:#x} of the compiled config" if not self.binary else f"{what} at byte {offset:#x}"

    def _entry(self, kind: str, index: int, what: str, offset: int) -> Location:
        origin = self.entries.get((kind, index))
        if origin is not None:
            return Location(origin.path, origin.line, detail=what)
        return Location(self.path, None, detail=self._slot(what, offset))

    def region(self, index: int) -> Location:
        r = self.desc.regions[index]
        return self._entry("mem", index, f"mem_regions[{index}]", r.offset)

    def regions(self) -> list[Location]:
        """Every region's location at once (a large config has 10^5 of them)."""
        if self.entries:
            return [self.region(i) for i in range(len(self.desc.regions))]
        path, suffix = self.path, "" if self.binary else " of the compiled config"
        return [Location(path, None, None, f"mem_regions[{r.slot}] at byte {r.offset:#x}{suffix}")
                for r in self.desc.regions]

    def region_labels(self) -> list[str | None] | None:
        """Every region's comment, or None when the config came without source."""
        if not self.entries:
            return None
        return [self.region_label(i) for i in range(len(self.desc.regions))]

    def region_label(self, index: int) -> str | None:
        origin = self.entries.get(("mem", index))
        return origin.label if origin else None

    def irqchip(self, index: int) -> Location:
        return self._entry("irqchip", index, f"irqchips[{index}]", self.desc.irqchips[index].offset)

    def pci(self, index: int) -> Location:
        return self._entry("pci", index, f"pci_devices[{index}]", self.desc.pci_devices[index].offset)

    def pci_label(self, index: int) -> str | None:
        origin = self.entries.get(("pci", index))
        return origin.label if origin else None

    def field(self, name: str, offset: int | None = None) -> Location:
        origin = self.fields.get(name)
        if origin is not None:
            return Location(origin.path, origin.line, detail=name)
        if offset is None:
            return Location(self.path, None, detail=name)
        return Location(self.path, None, detail=self._slot(name, offset))

    def cell(self) -> Location:
        """The cell as a whole (its descriptor)."""
        name = "root_cell" if self.system is not None else "cell"
        return self.field(name, self.desc.offset)
