"""Model + findings -> what to draw: lanes, items, finding marks and the address scale.

One lane (column) per owner: the hypervisor with its parts, each zone (its regions, a narrow strip
with what its device tree tells the kernel, load images as markers), the board's devices. Board
memory is the background. Items that overlap inside a lane get side-by-side sub-columns.

The scale (:class:`Scale`) runs top to bottom, low addresses first. Every start and end of every
item and finding mark is an edge; between two neighbouring edges lies an elementary range. A range
that nothing covers is a gap: it is collapsed to a fixed-height break (:data:`GAP_PX`). A covered
range gets a height that grows with the logarithm of its size (:func:`segment_height`), at least
:data:`MIN_PX`, so a 4 KiB region next to a 4 GiB one stays visible and every distinct edge gets its
own pixel row, in address order. Nothing here knows an output format.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hvcheck.findings import Finding, Location
from hvcheck.layout.intervals import Interval, IntervalIndex, union
from hvcheck.layout.model import RegionKind, System, Zone
from hvcheck.map.export import part_is_estimated
from hvcheck.map.marks import finding_places, guest_to_host
from hvcheck.units import human_size

MIN_PX = 12            # the height of the smallest elementary range (4 KiB and below)
PX_PER_DOUBLING = 3    # each doubling of an elementary range's size adds this much
GAP_PX = 22            # a collapsed empty gap, whatever its size
SMALLEST_LOG2 = 12     # ranges of 4 KiB and less all get MIN_PX


def segment_height(size: int) -> int:
    """Pixel height of a covered elementary range of ``size`` bytes (monotonic, >= MIN_PX):
    ceil(log2(size)) is (size - 1).bit_length(), exact for any integer."""
    return MIN_PX + PX_PER_DOUBLING * max(0, (max(size, 1) - 1).bit_length() - SMALLEST_LOG2)


@dataclass(frozen=True)
class Lane:
    key: str        # "hv", "zone:<name>", "devices"
    title: str
    columns: int = 1          # side-by-side sub-columns for overlapping items
    strip: bool = False       # a zone lane with a device-tree strip


# Item kinds (also the CSS classes of the renderers).
HV, HV_PART, HV_UNCERTAIN = "hv", "hv-part", "hv-uncertain"
DEVICE, BANK, IMAGE, GROUP = "device", "bank", "image", "group"
DT_MEMORY, DT_NOMAP, DT_RESERVED, DT_MEMRESERVE = "dt-memory", "dt-nomap", "dt-reserved", "dt-memreserve"
STRIP_KINDS = (DT_MEMORY, DT_NOMAP, DT_RESERVED, DT_MEMRESERVE)


@dataclass
class Item:
    """One drawn range (or, for load images of unknown size, a point: start == end)."""

    uid: str
    lane: int              # index into MapGeometry.lanes; -1 for board memory (the background)
    kind: str              # a region kind value ("ram", "io", ...) or one of the constants above
    start: int
    end: int
    label: str
    source: Location
    estimated: bool = False
    note: str = ""         # one more line for the tooltip/legend (guest address, caveat, ...)
    column: int = 0        # sub-column in the lane; items of STRIP_KINDS sit in the strip instead
    count: int = 1         # a GROUP stands for this many items

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def is_marker(self) -> bool:
        return self.kind == IMAGE

    @property
    def is_container(self) -> bool:
        """Drawn behind its parts in the same column, not given a column of its own."""
        return self.kind in (HV, HV_UNCERTAIN)


@dataclass
class Mark:
    """A finding drawn where it is: ``[start, end)`` (a point when start == end) across lanes."""

    uid: str
    rule: str
    severity: str
    start: int
    end: int
    message: str
    first_lane: int
    last_lane: int
    caveat: str = ""
    finding: int = 0       # index of the finding in MapGeometry.findings
    exact: tuple[int, int] | None = None   # the finding's own range when the mark is drawn snapped (overview)

    @property
    def named(self) -> tuple[int, int]:
        """The range the finding names (what labels and lists print)."""
        return self.exact if self.exact is not None else (self.start, self.end)


@dataclass
class Gap:
    start: int
    end: int
    y0: int
    y1: int


class Scale:
    """Address -> y (pixels from the top of the map area), piecewise over the edges."""

    def __init__(self, edges: Sequence[int], covered: Sequence[tuple[int, int]]) -> None:
        self.edges = list(edges)
        self.ys: list[int] = []
        self.gaps: list[Gap] = []
        y = 0
        j = 0
        cov = list(covered)
        for i, a in enumerate(self.edges):
            self.ys.append(y)
            if i + 1 == len(self.edges):
                break
            b = self.edges[i + 1]
            while j < len(cov) and cov[j][1] <= a:
                j += 1
            if j < len(cov) and cov[j][0] < b:   # something covers part of [a, b)
                y += segment_height(b - a)
            else:
                self.gaps.append(Gap(a, b, y, y + GAP_PX))
                y += GAP_PX
        self.height = y
        self._at_edge = dict(zip(self.edges, self.ys, strict=True))

    def y(self, address: int) -> float:
        """The y of an address: exact at every edge, linear inside an elementary range."""
        at_edge = self._at_edge.get(address)
        if at_edge is not None:
            return float(at_edge)
        edges = self.edges
        if not edges:
            return 0.0
        i = bisect_right(edges, address) - 1
        if i < 0:
            return float(self.ys[0])
        if i + 1 >= len(edges):
            return float(self.ys[-1])
        a, b = edges[i], edges[i + 1]
        return self.ys[i] + (self.ys[i + 1] - self.ys[i]) * (address - a) / (b - a)

    def gap_between(self, a: int, b: int) -> bool:
        """Whether a collapsed gap lies between addresses a < b."""
        return any(g.start < b and a < g.end for g in self.gaps)


@dataclass
class MapGeometry:
    title: str
    lanes: list[Lane]
    items: list[Item]
    marks: list[Mark]
    scale: Scale
    findings: list[Finding]
    unplaced: list[int] = field(default_factory=list)   # findings with no address: listed, not drawn
    notes: list[str] = field(default_factory=list)
    grouped: bool = False                               # an overview: tiny neighbours are GROUP items
    links: dict[str, str] = field(default_factory=dict)  # GROUP uid -> uid of its first item (detailed map)


# Enum .value is a slow descriptor; a 10,000-region map reads it 20,000 times.
_KIND_NAME = {kind: kind.value for kind in RegionKind}


def _zone_items(zone: Zone, lane: int, zi: int) -> list[Item]:
    out: list[Item] = []
    for ri, r in enumerate(zone.regions):
        kind = _KIND_NAME[r.kind]
        start = r.start
        guest = "" if r.guest_start is None or r.guest_start == start else f"guest [{r.gstart:#x}, {r.gend:#x})"
        label = f"{kind} {r.label}" if r.label else kind
        out.append(Item(f"z{zi}-r{ri}", lane, kind, start, start + r.size, label, r.source, note=guest))
    for ii, img in enumerate(zone.images):
        end = img.address + img.size if img.size else img.address
        out.append(Item(f"z{zi}-i{ii}", lane, IMAGE, img.address, end, img.kind.value, img.source,
                        note="" if img.size else "size unknown: load address only"))
    dt = zone.devicetree
    if dt is None:
        return out
    facts: list[tuple[str, str, int, int, Location]] = [(DT_MEMORY, "/memory", m.start, m.end, m.source)
                                                         for m in dt.memory]
    for res in dt.reserved:
        kind = DT_MEMRESERVE if res.memreserve else DT_NOMAP if res.no_map else DT_RESERVED
        name = "/memreserve/" if res.memreserve else f"reserved {res.name}".strip() + (" no-map" if res.no_map else "")
        facts.append((kind, name, res.start, res.end, res.source))
    for fi, (kind, name, gs, ge, src) in enumerate(facts):
        for pi, place in enumerate(guest_to_host(zone, gs, ge)):
            guest = "" if (place.start, place.end) == (gs, ge) else f"guest [{gs:#x}, {ge:#x})"
            note = "; ".join(x for x in (guest, place.caveat) if x)
            out.append(Item(f"z{zi}-d{fi}" + (f"-{pi}" if pi else ""), lane, kind, place.start, place.end, name,
                            src, note=note))
    return out


def assign_columns(items: list[Item], lanes: list[Lane]) -> list[Lane]:
    """Greedy interval colouring per lane: overlapping items side by side, in start order."""
    ends: dict[int, list[int]] = {}
    for it in sorted(items, key=lambda i: (i.start, -i.end)):
        if it.lane < 0 or it.is_container or it.is_marker or it.kind in STRIP_KINDS:
            continue
        cols = ends.setdefault(it.lane, [])
        for c, end in enumerate(cols):
            if end <= it.start:
                it.column = c
                cols[c] = it.end
                break
        else:
            it.column = len(cols)
            cols.append(it.end)
    return [Lane(ln.key, ln.title, max(1, len(ends.get(i, []))), ln.strip) for i, ln in enumerate(lanes)]


def system_items(system: System) -> tuple[list[Lane], list[Item]]:
    """The lanes and items of a system (no findings)."""
    lanes: list[Lane] = []
    items: list[Item] = []
    hv = system.hypervisor
    if hv is not None:
        lanes.append(Lane("hv", hv.name))
        est = hv.estimate
        note = f"estimated: end between {est.end_min:#x} and {est.end_max:#x}" if est else ""
        items.append(Item("hv", 0, HV, hv.start, hv.end, "whole extent", hv.source,
                          estimated=est is not None, note=note))
        for pi, part in enumerate(hv.parts):
            items.append(Item(f"hv-p{pi}", 0, HV_PART, part.start, part.end, part.name, part.source,
                              estimated=part_is_estimated(hv, part)))
        if est is not None and est.end_min < est.end_max:
            items.append(Item("hv-end", 0, HV_UNCERTAIN, est.end_min, est.end_max, "end (estimated)",
                              hv.end_source, estimated=True, note=est.assumption))
    for zi, zone in enumerate(system.zones):
        lane = len(lanes)
        dt = zone.devicetree
        title = f"{zone.name}" + (" (root)" if zone.root else "")
        lanes.append(Lane(f"zone:{zone.name}", title, strip=dt is not None and bool(dt.memory or dt.reserved)))
        items.extend(_zone_items(zone, lane, zi))
    if system.board.devices:
        lane = len(lanes)
        lanes.append(Lane("devices", "devices"))
        for di, d in enumerate(system.board.devices):
            items.append(Item(f"dev{di}", lane, DEVICE, d.start, d.end, d.name, d.source, note=d.kind))
    for bi, bank in enumerate(system.board.memory):
        items.append(Item(f"bank{bi}", -1, BANK, bank.start, bank.end, "board memory", bank.source))
    return lanes, items


class _LaneFinder:
    """Which lanes have an item over a range: a linear scan for a few queries, an interval index
    (built on first need) for many."""

    def __init__(self, items: Sequence[Item], queries: int) -> None:
        self.items = [it for it in items if it.lane >= 0]
        self.index: IntervalIndex[Item] | None = None
        if queries * len(self.items) > 200_000:
            self.index = IntervalIndex(Interval(it.start, max(it.end, it.start + 1), it) for it in self.items)

    def lanes(self, start: int, end: int) -> list[int]:
        end = max(end, start + 1)
        if self.index is not None:
            return sorted({iv.item.lane for iv in self.index.overlapping(start, end)})
        return sorted({it.lane for it in self.items if it.start < end and start < max(it.end, it.start + 1)})


def build_marks(system: System, findings: Sequence[Finding], items: Sequence[Item],
                lane_count: int) -> tuple[list[Mark], list[int]]:
    """One mark per place of each finding; findings without a place are returned as unplaced."""
    placed = [(fi, f, finding_places(f, system)) for fi, f in enumerate(findings)]
    finder = _LaneFinder(items, sum(len(p) for _, _, p in placed))
    marks: list[Mark] = []
    unplaced: list[int] = []
    for fi, f, places in placed:
        if not places:
            unplaced.append(fi)
            continue
        for pi, place in enumerate(places):
            lanes = finder.lanes(place.start, place.end) or list(range(lane_count))
            marks.append(Mark(f"f{fi}" + (f"-{pi}" if pi else ""), f.rule, f.sev.label, place.start, place.end,
                              f.message, lanes[0] if lanes else 0, lanes[-1] if lanes else 0, place.caveat, fi))
    return marks, unplaced


def build_scale(items: Iterable[Item], marks: Iterable[Mark]) -> Scale:
    edges: set[int] = set()
    covered: list[tuple[int, int]] = []
    for it in items:
        edges.add(it.start)
        edges.add(it.end)
        if it.end > it.start:
            covered.append((it.start, it.end))
    for m in marks:
        edges.add(m.start)
        edges.add(m.end)
        if m.end > m.start:
            covered.append((m.start, m.end))
    return Scale(sorted(edges), union(covered))


def build_map(system: System, findings: Sequence[Finding] = (), title: str | None = None) -> MapGeometry:
    """Everything to draw for ``system`` and the findings the layout rules gave for it."""
    lanes, items = system_items(system)
    marks, unplaced = build_marks(system, findings, items, len(lanes))
    lanes = assign_columns(items, lanes)
    notes = list(system.notes)
    hv = system.hypervisor
    if hv is not None and hv.estimate is not None:
        notes.append(f"{hv.name}'s extent is estimated ({hv.estimate.assumption}): hatched parts, end between "
                     f"{hv.estimate.end_min:#x} and {hv.estimate.end_max:#x} ({human_size(hv.estimate.end_max - hv.estimate.end_min)})")
    return MapGeometry(title or system.name, lanes, items, marks, build_scale(items, marks), list(findings),
                       unplaced, notes)
