"""Layout rules over the neutral model. One function per rule, declared with ``@layout_rule``
(ID, title, severity) where it is written; ``RULES`` maps the rule ID to it. Rules read a
:class:`System` and return findings; they never read files."""

from __future__ import annotations

import dataclasses
import itertools
import operator
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from typing import TypeVar

from hvcheck.findings import Finding, Location, Severity, declare_rule, input_error_finding, rule
from hvcheck.layout import dtfacts
from hvcheck.layout.intervals import (
    Coverage,
    Interval,
    Range,
    intersect,
    overlapping_index_pairs,
    overlapping_index_pairs_between,
    overlapping_pairs_between,
    subtract,
    union,
)
from hvcheck.layout.model import Estimate, Hypervisor, Region, RegionKind, SharedMemoryEndpoint, System, Zone
from hvcheck.units import hex_range, human_size

DEFAULT_HEADROOM = 8 << 20


class RegionTable:
    """Every region of every zone once, as parallel lists in zone order (the order the rules
    report in): the rules that look at all regions share it instead of each walking the model and
    its properties again (10^5 regions in a large Jailhouse set)."""

    def __init__(self, system: System) -> None:
        self.zones: list[Zone] = []
        self.regions: list[Region] = []
        # zone -> [first, last) positions of its regions
        self.spans: list[tuple[Zone, int, int]] = []
        for zone in system.zones:
            first = len(self.regions)
            self.zones.extend(itertools.repeat(zone, len(zone.regions)))
            self.regions.extend(zone.regions)
            self.spans.append((zone, first, len(self.regions)))
        self.starts = [r.start for r in self.regions]
        self.ends = [r.start + r.size for r in self.regions]        # Region.end
        self.gstarts = [r.start if r.guest_start is None else r.guest_start for r in self.regions]  # Region.gstart
        self._by_kind: dict[str, list[int]] = defaultdict(list)
        for k, r in enumerate(self.regions):
            self._by_kind[r.kind].append(k)
        # RegionKind.is_mapped: every kind but emulated
        self.mapped = self.of_kinds([kind for kind in self._by_kind if kind != "emulated"])

    def interval(self, k: int) -> Interval[tuple[Zone, Region]]:
        """Region ``k`` physically, carrying (zone, region)."""
        return Interval(self.starts[k], self.ends[k], (self.zones[k], self.regions[k]))

    def of_zone(self, zone: Zone) -> range:
        """Positions of ``zone``'s regions."""
        for z, first, last in self.spans:
            if z is zone:
                return range(first, last)
        return range(0)

    def within(self, positions: list[int], zone: Zone) -> list[int]:
        """The part of the sorted ``positions`` that belongs to ``zone``."""
        span = self.of_zone(zone)
        return positions[bisect_left(positions, span.start):bisect_left(positions, span.stop)]

    def touching(self, positions: Iterable[int], start: int, end: int) -> list[int]:
        """Those of ``positions`` whose [start, end) reaches into [start, end) — a cheap filter in C
        (starts < end and ends > start), before a rule looks at the few that pass."""
        pos = list(positions)
        starts, ends = self.starts, self.ends
        below = map(end.__gt__, map(starts.__getitem__, pos))
        above = map(start.__lt__, map(ends.__getitem__, pos))
        return list(compress(pos, map(operator.and_, below, above)))

    def of_kinds(self, kinds: Iterable[str]) -> list[int]:
        """Positions of the regions of these kinds, in table order."""
        lists = [self._by_kind.get(k, []) for k in kinds]
        lists = [x for x in lists if x]
        if len(lists) == 1:
            return lists[0]
        return sorted(itertools.chain.from_iterable(lists))


@dataclass
class Context:
    system: System
    headroom: int = DEFAULT_HEADROOM
    # Findings whose verdict depends on the hypervisor's end: id(finding) -> X such that the verdict
    # holds exactly when the end is above X (rules whose evidence is the extent record it).
    end_thresholds: dict[int, int] = dataclasses.field(default_factory=dict)
    _table: RegionTable | None = dataclasses.field(default=None, repr=False)
    # _hv_guest_ranges per (zone, hypervisor extent)
    hv_ranges: dict[tuple[int, int, int], list[tuple[Region, Range, Range]]] = dataclasses.field(
        default_factory=dict, repr=False)

    def holds_if_end_above(self, finding: Finding, threshold: int) -> Finding:
        self.end_thresholds[id(finding)] = threshold
        return finding

    @property
    def table(self) -> RegionTable:
        """The regions of the system as a :class:`RegionTable`, built on first use."""
        if self._table is None:
            self._table = RegionTable(self.system)
        return self._table


Rule = Callable[[Context], list[Finding]]

# The layout area's rules in ID order, filled by @layout_rule where each rule is written.
RULES: dict[str, Rule] = {}


def layout_rule(rule_id: str, title: str, severity: Severity) -> Callable[[Rule], Rule]:
    """Declare a layout rule (hvcheck.findings registry) and add it to :data:`RULES`."""

    def register(fn: Rule) -> Rule:
        rule(rule_id, title, severity, "layout")(fn)
        RULES[rule_id] = fn
        return fn

    return register


E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE


def _r(start: int, end: int) -> str:
    return hex_range(start, end)


def _hv_locs(hv: Hypervisor) -> list[Location]:
    return [hv.source] if hv.source == hv.end_source else [hv.source, hv.end_source]


def _estimated_note(hv: Hypervisor) -> str:
    return " (hypervisor end estimated, see M014)" if hv.estimate else ""


def _guest_image(region: Region, start: int, end: int) -> Range:
    """The guest-physical image of the host-physical [start, end) inside ``region``."""
    return region.gstart + (start - region.start), region.gstart + (end - region.start)


def _ranges_text(ranges: Iterable[Range]) -> str:
    return ", ".join(_r(s, e) for s, e in ranges)


X = TypeVar("X")
Y = TypeVar("Y")


def _overlapping(items: list[X], starts: list[int], ends: list[int]) -> Iterator[tuple[Interval[X], Interval[X]]]:
    """overlapping_pairs over [starts[k], ends[k]) carrying items[k], in the same order, building
    an Interval only for the ranges of a pair."""
    for i, j in overlapping_index_pairs(starts, ends):
        yield Interval(starts[i], ends[i], items[i]), Interval(starts[j], ends[j], items[j])


def _overlapping_between(left: Sequence[int], make: Callable[[int], Interval[X]], starts: list[int], ends: list[int],
                         right: list[Interval[Y]]) -> Iterator[tuple[Interval[X], Interval[Y]]]:
    """overlapping_pairs_between(left, right), the left family given as positions of ``starts``/``ends``
    (``make(k)`` its interval), in the same order: only the ranges of a pair become Intervals."""
    pairs = overlapping_index_pairs_between([starts[k] for k in left], [ends[k] for k in left],
                                            [iv.start for iv in right], [iv.end for iv in right])
    for i, j in pairs:
        yield make(left[i]), right[j]


# ---------------------------------------------------------------- M001


@layout_rule("M001", "hypervisor memory overlaps RAM mapped into a zone", E)
def m001_hypervisor_in_zone_ram(ctx: Context) -> list[Finding]:
    hv = ctx.system.hypervisor
    if hv is None:
        return []
    out = []
    table = ctx.table
    for k in table.touching(range(len(table.regions)), hv.start, hv.end):
        zone, r = table.zones[k], table.regions[k]
        if not r.kind.is_mapped:
            continue
        s, e = max(r.start, hv.start), min(r.end, hv.end)
        if s >= e:
            continue
        out.append(ctx.holds_if_end_above(Finding(
            "M001",
            f"{hv.name} {_r(hv.start, hv.end)} overlaps zone {zone.name}'s {r.kind.value} region "
            f"{_r(r.start, r.end)} by {_r(s, e)}{_estimated_note(hv)}: the zone's stage-2 map lets its "
            f"guest write {hv.name}'s own page tables, heap and per-CPU data, even if its device tree "
            "reserves the range",
            locations=[r.source, *_hv_locs(hv)],
            data={"zone": zone.name, "hv_start": hv.start, "hv_end": hv.end, "region_start": r.start,
                  "region_end": r.end, "overlap_start": s, "overlap_end": e, "kind": r.kind.value},
            fix=f"remove {_r(s, e)} from the region (hvcheck fix --strategy punch) or move {hv.name} "
                "out of every zone's RAM (--strategy relocate)",
        ), s))
    return out


# ---------------------------------------------------------------- M002


def _hv_guest_ranges(ctx: Context, zone: Zone, hv: Hypervisor) -> list[tuple[Region, Range, Range]]:
    """(region, host overlap, guest image) for each mapped region that maps hypervisor memory
    (M002 and E003 both ask, once per zone)."""
    key = (id(zone), hv.start, hv.end)
    known = ctx.hv_ranges.get(key)
    if known is not None:
        return known
    out: list[tuple[Region, Range, Range]] = ctx.hv_ranges.setdefault(key, [])
    table = ctx.table
    for k in table.touching(table.of_zone(zone), hv.start, hv.end):
        r = table.regions[k]
        if r.kind.is_mapped:
            s, e = max(r.start, hv.start), min(r.end, hv.end)
            if s < e:
                out.append((r, (s, e), _guest_image(r, s, e)))
    return out


@layout_rule("M002", "a zone's kernel may allocate hypervisor memory (not reserved in its device tree)", E)
def m002_kernel_may_allocate_hypervisor(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    hv = ctx.system.hypervisor
    if hv is None:
        return out
    for zone in ctx.system.zones:
        mapped = _hv_guest_ranges(ctx, zone, hv)
        dt = zone.devicetree
        if not mapped or dt is None:
            continue  # no device tree: E003 says the check could not run
        guest = union(g for _, _, g in mapped)
        alloc = intersect(dtfacts.allocatable(dt), guest)
        mapped_only = intersect(subtract(dtfacts.mapped_by_kernel(dt), dtfacts.allocatable(dt)), guest)
        partial = [r for r in dt.reserved if intersect([(r.start, r.end)], guest)]
        locs = [mapped[0][0].source, *_hv_locs(hv), *(m.source for m in dt.memory[:1])]
        if alloc:
            why = ""
            if partial:
                why = (" The reservation(s) " + ", ".join(f"{r.name or 'entry'} {_r(r.start, r.end)}" for r in partial)
                       + " cover only part of it — typically the image alone, not the per-CPU areas and pool.")
            out.append(ctx.holds_if_end_above(Finding(
                "M002",
                f"zone {zone.name}'s kernel may allocate {hv.name} memory at guest {_ranges_text(alloc)}: it is in "
                f"the /memory of device tree {dt.path} and not removed by /reserved-memory no-map, /memreserve/ or mem=. Linux will "
                f"hand these pages out and overwrite {hv.name}'s page tables and heap; the symptom comes later and "
                f"looks unrelated (an 'unhandled MMIO fault', a stage-2 fault, a hang).{why}{_estimated_note(hv)}",
                locations=locs + [r.source for r in partial],
                data={"zone": zone.name, "allocatable": [list(x) for x in alloc], "devicetree": dt.path},
                fix="add a /reserved-memory child with no-map covering the whole extent (hvcheck fix --strategy "
                    "reserve), or punch the range out of the zone's RAM"), _lowest_host(mapped, alloc)))
        if mapped_only:
            out.append(ctx.holds_if_end_above(Finding(
                "M002",
                f"zone {zone.name}'s device tree reserves {hv.name} memory at guest {_ranges_text(mapped_only)} "
                "without no-map: the page allocator stays off it, but the kernel still maps it in its linear map, "
                "so a driver claiming the reservation, /dev/mem or a stray pointer can still write it",
                locations=locs + [r.source for r in partial],
                data={"zone": zone.name, "mapped_not_allocatable": [list(x) for x in mapped_only]},
                fix="add no-map to the reserved-memory node"), _lowest_host(mapped, mapped_only)))
    return out


def _lowest_host(mapped: list[tuple[Region, Range, Range]], guest_ranges: list[Range]) -> int:
    """The lowest host address of ``guest_ranges`` inside the hypervisor's mapped ranges: the
    verdict about them holds while the hypervisor's end is above it."""
    lows = []
    for _region, (hs, _he), (gs, ge) in mapped:
        for a, _b in intersect(guest_ranges, [(gs, ge)]):
            lows.append(hs + (a - gs))
    return min(lows)


def _memory_unknowns(unknown: list[str]) -> list[str]:
    """Unresolved facts that can hide memory. A missing C header (`#include <dt-bindings/...h>`)
    only defines macros, and any memory fact that used one is listed on its own; a missing .dtsi
    can define whole nodes, so it counts."""
    return [u for u in unknown if not (u.startswith("#include") and u.split(" ", 2)[1].endswith(".h"))]


def _incomplete_devicetree(zone: Zone) -> Finding:
    """A device tree whose memory facts could not all be resolved: never a silent pass."""
    dt = zone.devicetree
    assert dt is not None
    relevant = _memory_unknowns(dt.unknown)
    shown = relevant[:5] + ([f"... and {len(relevant) - 5} more"] if len(relevant) > 5 else [])
    return Finding(
        "E003",
        f"zone {zone.name}'s device tree {dt.path} could not be fully resolved, so M002/M003 may miss memory it "
        f"describes: {'; '.join(shown)}",
        locations=[Location(dt.path)],
        data={"zone": zone.name, "checked": "partially", "checks": ["M002", "M003"], "unknown": relevant},
        fix="provide the missing headers (or a compiled .dtb) so every memory fact resolves")


# ---------------------------------------------------------------- M003


@layout_rule("M003", "memory the zone device tree gives the kernel is not mapped at stage 2", E)
def m003_dt_memory_not_mapped(ctx: Context) -> list[Finding]:
    out = []
    hv = ctx.system.hypervisor
    for zone in ctx.system.zones:
        dt = zone.devicetree
        if dt is None:
            continue
        mapped = union((r.gstart, r.gend) for r in zone.regions if r.kind.is_memory)
        for s, e in subtract(dtfacts.mapped_by_kernel(dt), mapped):
            extra = ""
            if hv is not None and s < hv.end and hv.start < e and not any(r.guest_start not in (None, r.start)
                                                                        for r in zone.regions):
                extra = f" The range is {hv.name}'s own memory (identity-mapped zone)."
            src = next((m.source for m in dt.memory if m.start < e and s < m.end), None)
            out.append(Finding(
                "M003",
                f"zone {zone.name}'s device tree gives its kernel guest memory {_r(s, e)} that no RAM region maps at "
                "stage 2: the kernel's first touch of it becomes a stage-2 fault (an 'unhandled MMIO fault' in "
                f"hvisor).{extra}",
                locations=[loc for loc in (src, zone.source) if loc is not None],
                data={"zone": zone.name, "start": s, "end": e, "devicetree": dt.path},
                fix="map the range as RAM for the zone, or remove it from /memory (or reserve it with no-map)"))
    return out


# ---------------------------------------------------------------- M004


# Sets of the kinds' string values: membership hashes like a str (each rule asks it of every region).
_PRIVATE = frozenset({RegionKind.RAM.value, RegionKind.RESERVED.value})
_MEMORY = frozenset(k.value for k in RegionKind if k.is_memory)


@layout_rule("M004", "private RAM of two zones overlaps", E)
def m004_private_ram_shared_between_zones(ctx: Context) -> list[Finding]:
    table = ctx.table
    private = table.of_kinds(_PRIVATE)
    out = []
    for i, j in overlapping_index_pairs([table.starts[k] for k in private], [table.ends[k] for k in private]):
        za, ra = table.zones[private[i]], table.regions[private[i]]
        zb, rb = table.zones[private[j]], table.regions[private[j]]
        if za is zb or not ctx.system.can_run_together(za.name, zb.name):
            continue
        s, e = max(ra.start, rb.start), min(ra.end, rb.end)
        data = {"zones": [za.name, zb.name], "overlap_start": s, "overlap_end": e}
        if za.root != zb.root:
            root, rr, other = (za, ra, zb) if za.root else (zb, rb, za)
            guest = _guest_image(rr, s, e)
            if root.devicetree is None:
                out.append(Finding(
                    "M004",
                    f"root zone {root.name} maps zone {other.name}'s RAM {_r(s, e)} (the loader pattern) and no "
                    "root device tree was given, so it is unknown whether the root kernel stays off it",
                    locations=[ra.source, rb.source], severity=Severity.WARNING, data=data,
                    fix="give the root device tree; it must reserve (no-map) or omit this range"))
                continue
            alloc = intersect(dtfacts.allocatable(root.devicetree), [guest])
            if not alloc:
                continue  # loader pattern, kept off by the root device tree: fine
            out.append(Finding(
                "M004",
                f"root zone {root.name} maps zone {other.name}'s RAM {_r(s, e)} and its device tree "
                f"{root.devicetree.path} lets the root kernel allocate guest {_ranges_text(alloc)}: the root "
                f"kernel can hand out zone {other.name}'s memory",
                locations=[ra.source, rb.source], data=data,
                fix="reserve the range with no-map in the root device tree, or drop it from /memory"))
        else:
            out.append(Finding(
                "M004",
                f"zones {za.name} and {zb.name} both own RAM {_r(s, e)} privately; declare it shared if that is "
                "intended, otherwise each guest corrupts the other's memory",
                locations=[ra.source, rb.source], data=data,
                fix="give each zone its own range, or mark the region kind 'shared'"))
    return out


# ---------------------------------------------------------------- M005


@layout_rule("M005", "regions of one zone overlap physically or in guest-physical space", E)
def m005_regions_overlap_within_zone(ctx: Context) -> list[Finding]:
    out = []
    last_wins = ctx.system.region_overlap == "last-wins"
    table = ctx.table
    for zone, first, last in table.spans:
        regions = table.regions[first:last]
        mapped = table.within(table.mapped, zone)
        starts, ends = table.starts[first:last], table.ends[first:last]
        gstarts = table.gstarts[first:last]
        gends = ends if gstarts == starts else list(map(operator.add, gstarts, (r.size for r in regions)))
        guest = _overlapping(regions, gstarts, gends)
        if len(mapped) < last - first:
            phys = _overlapping([table.regions[k] for k in mapped], [table.starts[k] for k in mapped],
                                [table.ends[k] for k in mapped])
        elif gstarts == starts:     # every region mapped, at its own address: the same pairs twice
            guest_pairs = list(guest)
            phys, guest = iter(guest_pairs), iter(guest_pairs)
        else:
            phys = _overlapping(regions, starts, ends)
        for space, pairs in (("physical", phys), ("guest-physical", guest)):
            for a, b in pairs:
                s, e = max(a.start, b.start), min(a.end, b.end)
                data = {"zone": zone.name, "space": space, "overlap_start": s, "overlap_end": e}
                if last_wins and _same_mapping(a.item, b.item):
                    how = ("are the same range" if (a.start, a.end) == (b.start, b.end) else
                           "nest" if _nested(a.item, b.item) else f"overlap by {_r(s, e)}")
                    out.append(Finding(
                        "M005",
                        f"zone {zone.name}: {a.item.kind.value} {_r(a.start, a.end)} and {b.item.kind.value} "
                        f"{_r(b.start, b.end)} {how} in {space} space with the same translation; the later entry's "
                        "mapping and access rights win in the shared part", severity=Severity.WARNING,
                        locations=[a.item.source, b.item.source], data={**data, "nested": True},
                        fix="drop the duplicate, or split the outer region if the inner one needs other rights"))
                    continue
                out.append(Finding(
                    "M005",
                    f"zone {zone.name}: {a.item.kind.value} {_r(a.start, a.end)} and {b.item.kind.value} "
                    f"{_r(b.start, b.end)} overlap in {space} space by {_r(s, e)}; the stage-2 map is ambiguous "
                    + ("(the later entry silently overwrites the earlier one's mapping)" if last_wins else
                       "(one mapping silently wins, or zone creation fails)"),
                    locations=[a.item.source, b.item.source], data=data,
                    fix="merge or split the regions so they are disjoint"))
    return out


def _nested(a: Region, b: Region) -> bool:
    inner, outer = (a, b) if a.size <= b.size else (b, a)
    return outer.start <= inner.start and inner.end <= outer.end


def _same_mapping(a: Region, b: Region) -> bool:
    """Two regions with the same host-to-guest offset where the overlap changes nothing that matters:
    one lies inside the other (a duplicate or a nested entry), or they are the same kind of mapping
    with the same access."""
    if a.gstart - a.start != b.gstart - b.start:
        return False
    return _nested(a, b) or (a.kind is b.kind and a.writable == b.writable and a.trapped == b.trapped)


# ---------------------------------------------------------------- M006


@layout_rule("M006", "a RAM region overlaps a device window", E)
def m006_ram_over_device_window(ctx: Context) -> list[Finding]:
    devices = [Interval(d.start, d.end, d) for d in ctx.system.board.devices]
    if not devices:
        return []
    table = ctx.table
    memory = table.of_kinds(_MEMORY)
    starts, ends = table.starts, table.ends
    hv = ctx.system.hypervisor
    if hv is not None:   # the hypervisor's extent after every region: position len(table.regions)
        memory = [*memory, len(starts)]
        starts, ends = [*starts, hv.start], [*ends, hv.end]

    def make(k: int) -> Interval[tuple[Zone | None, Region | None]]:
        return Interval(starts[k], ends[k], (table.zones[k], table.regions[k]) if k < len(table.regions)
                        else (None, None))

    out = []
    for m, d in _overlapping_between(memory, make, starts, ends, devices):
        z, r = m.item
        if z is not None and r is not None:
            what, src = f"zone {z.name} {r.kind.value}", r.source
        else:
            assert hv is not None
            what, src = hv.name, hv.source
        dev = d.item
        s, e = max(m.start, d.start), min(m.end, d.end)
        finding = Finding(
            "M006",
            f"{what} {_r(m.start, m.end)} overlaps device {dev.name} ({dev.kind}) {_r(dev.start, dev.end)}: "
            "memory accesses there reach the device (or the device's registers are handed out as RAM)",
            locations=[src, dev.source],
            data={"owner": what, "device": dev.name, "overlap_start": s, "overlap_end": e},
            fix="shrink or move the RAM region so it stops before the device window")
        out.append(ctx.holds_if_end_above(finding, s) if hv is not None and z is None
                   else finding)
    return out


# ---------------------------------------------------------------- M007


@layout_rule("M007", "an emulated region overlaps a passthrough I/O region of the same zone", E)
def m007_emulated_over_passthrough(ctx: Context) -> list[Finding]:
    out = []
    table = ctx.table
    emulated, passthrough = table.of_kinds([RegionKind.EMULATED.value]), table.of_kinds([RegionKind.IO.value])
    for zone in ctx.system.zones:
        emu = [Interval(r.gstart, r.gend, r) for r in map(table.regions.__getitem__, table.within(emulated, zone))
               if r.kind is RegionKind.EMULATED]
        io = [Interval(r.gstart, r.gend, r) for r in map(table.regions.__getitem__, table.within(passthrough, zone))
              if r.kind is RegionKind.IO]
        for a, b in overlapping_pairs_between(emu, io):
            s, e = max(a.start, b.start), min(a.end, b.end)
            out.append(Finding(
                "M007",
                f"zone {zone.name}: emulated region {_r(a.start, a.end)} overlaps passthrough I/O "
                f"{_r(b.start, b.end)} (guest-physical {_r(s, e)}): accesses go to the real device instead of "
                "the emulator, or the other way round",
                locations=[a.item.source, b.item.source],
                data={"zone": zone.name, "overlap_start": s, "overlap_end": e},
                fix="move the emulated window or drop the overlapping part of the passthrough region"))
    return out


# ---------------------------------------------------------------- M008


@layout_rule("M008", "a load address (kernel/DTB/initrd) is outside the zone's RAM or inside another owner", E)
def m008_load_address(ctx: Context) -> list[Finding]:
    out = []
    hv = ctx.system.hypervisor
    for zone in ctx.system.zones:
        if not zone.images:
            continue
        own = union((r.start, r.end) for r in zone.regions if r.kind.is_memory)
        for img in zone.images:
            span = (img.address, img.end)
            size_note = "" if img.size else " (size unknown: only the address was checked)"
            outside = subtract([span], own) if img.in_zone_ram else []
            problems = []
            if outside:
                problems.append(f"{_ranges_text(outside)} is not in the zone's RAM")
            in_hv = hv is not None and img.address < hv.end and hv.start < img.end
            if in_hv and hv is not None:
                problems.append(f"it overlaps {hv.name} {_r(hv.start, hv.end)}")
            inside_own = not outside
            for other in ctx.system.zones:
                if other is zone or not ctx.system.can_run_together(zone.name, other.name):
                    continue
                if other.root and not zone.root and inside_own:
                    continue  # the root maps this zone's RAM so its loader can write the image (M004 judges that)
                for r in other.regions:
                    if r.kind in _PRIVATE and img.address < r.end and r.start < img.end and not any(
                            (q.start <= img.address and img.end <= q.end) for q in zone.regions
                            if q.kind is RegionKind.SHARED):
                        problems.append(f"it overlaps zone {other.name}'s RAM {_r(r.start, r.end)}")
            for img2 in zone.images:
                if img2 is not img and img2.address < img.end and img.address < img2.end and \
                        (img.address, img.kind.value) < (img2.address, img2.kind.value):
                    problems.append(f"it overlaps the {img2.kind.value} image at {img2.address:#x}")
            if problems:
                finding = Finding(
                    "M008",
                    f"zone {zone.name}'s {img.kind.value} load address {img.address:#x}{size_note}: "
                    + "; ".join(problems),
                    locations=[img.source],
                    data={"zone": zone.name, "image": img.kind.value, "address": img.address,
                          "size": img.size if img.size else None},
                    fix="load the image inside the zone's own RAM, clear of other images")
                only_hv = in_hv and hv is not None and len(problems) == 1
                out.append(ctx.holds_if_end_above(finding, max(img.address, hv.start)) if only_hv and hv is not None
                           else finding)
    return out


# ---------------------------------------------------------------- M009


@layout_rule("M009", "region or hypervisor base not aligned to the page granule", E)
def m009_alignment(ctx: Context) -> list[Finding]:
    g = ctx.system.board.granule
    out = []
    table = ctx.table
    # start, size and guest start all aligned exactly when start, end and guest start are (in C)
    mapped = table.mapped
    off = map(operator.or_, map(operator.or_, map(operator.mod, map(table.starts.__getitem__, mapped), repeat(g)),
                                map(operator.mod, map(table.ends.__getitem__, mapped), repeat(g))),
              map(operator.mod, map(table.gstarts.__getitem__, mapped), repeat(g)))
    for k in compress(mapped, off):
        zone, r = table.zones[k], table.regions[k]
        if not r.kind.is_mapped or r.trapped:
            continue  # emulated or trapped (sub-page) windows are never mapped: no granule applies
        if not (r.start % g or r.size % g or (r.guest_start or 0) % g):
            continue
        bad = [name for name, v in (("start", r.start), ("size", r.size), ("guest start", r.gstart)) if v % g]
        if bad:
            out.append(Finding(
                "M009",
                f"zone {zone.name} {r.kind.value} {_r(r.start, r.end)}: {', '.join(bad)} not aligned to the "
                f"{human_size(g)} granule; the stage-2 map rounds it, silently giving away or losing the "
                "rest of the page",
                locations=[r.source], data={"zone": zone.name, "start": r.start, "size": r.size, "granule": g},
                fix=f"align start and size to {g:#x}"))
    hv = ctx.system.hypervisor
    if hv is not None and hv.base_alignment and hv.start % hv.base_alignment:
        out.append(Finding(
            "M009",
            f"{hv.name} base {hv.start:#x} is not aligned to {human_size(hv.base_alignment)} as the board requires",
            locations=[hv.source] + ([hv.base_alignment_source] if hv.base_alignment_source else []),
            data={"base": hv.start, "alignment": hv.base_alignment},
            fix=f"move the base to a multiple of {hv.base_alignment:#x}"))
    return out


# ---------------------------------------------------------------- M010 / M011


Key = tuple[int, str]


def _duplicates(ctx: Context, attr: str) -> dict[Key, list[tuple[Zone, Location]]]:
    """Numbers (in their domain) held by two zones that can run together, with those zones."""
    seen: dict[Key, list[tuple[Zone, Location]]] = defaultdict(list)
    for zone in ctx.system.zones:
        for n in getattr(zone, attr):
            key = (n.number, n.domain or "")
            if not any(z is zone for z, _ in seen[key]):
                seen[key].append((zone, n.source))
    can = ctx.system.can_run_together
    out = {}
    for key, owners in seen.items():
        clash = [(z, loc) for z, loc in owners if any(o is not z and can(z.name, o.name) for o, _ in owners)]
        if len(clash) > 1:
            out[key] = clash
    return out


def _in_domain(key: Key) -> str:
    return f" of {key[1]}" if key[1] else ""


@layout_rule("M010", "a CPU in two zones, or a CPU the board does not have", E)
def m010_cpus(ctx: Context) -> list[Finding]:
    out = []
    for (cpu, _), owners in sorted(_duplicates(ctx, "cpus").items()):
        out.append(Finding(
            "M010", f"CPU {cpu} is assigned to zones {', '.join(z.name for z, _ in owners)}",
            locations=[loc for _, loc in owners], data={"cpu": cpu, "zones": [z.name for z, _ in owners]},
            fix="give each CPU to one zone"))
    count = ctx.system.board.cpu_count
    if count is not None:
        for zone in ctx.system.zones:
            for n in zone.cpus:
                if n.number >= count.number:
                    out.append(Finding(
                        "M010", f"zone {zone.name} uses CPU {n.number}, but the board has {count.number} CPUs "
                        f"(0..{count.number - 1})", locations=[n.source, count.source],
                        data={"cpu": n.number, "board_cpus": count.number, "zone": zone.name}))
    return out


@layout_rule("M011", "an interrupt assigned to two zones", W)
def m011_irqs(ctx: Context) -> list[Finding]:
    return [Finding(
        "M011", f"interrupt {key[0]}{_in_domain(key)} is assigned to zones {', '.join(z.name for z, _ in owners)}",
        locations=[loc for _, loc in owners],
        data={"irq": key[0], "zones": [z.name for z, _ in owners], **({"controller": key[1]} if key[1] else {})},
        fix="route each interrupt to one zone (or make sure the sharing is intended and emulated)")
        for key, owners in sorted(_duplicates(ctx, "irqs").items())]


# ---------------------------------------------------------------- M012


@layout_rule("M012", "region outside the board's physical memory list", W)
def m012_outside_board_memory(ctx: Context) -> list[Finding]:
    board = ctx.system.board
    if not board.memory:
        return []  # E003 says the check could not run
    ram = union((m.start, m.end) for m in board.memory)
    io = union([(m.start, m.end) for m in board.io] + [(d.start, d.end) for d in board.devices])
    ram_cover = Coverage(ram)
    all_cover = Coverage(ram + io) if board.io else ram_cover     # I/O regions are checked only with board.io
    table = ctx.table
    memory = table.of_kinds(_MEMORY)
    passthrough = [k for k in table.of_kinds(["io"]) if table.regions[k].kind is RegionKind.IO] if board.io else []
    # Only the regions some part of which either cover misses are looked at again (one search each).
    short = set(ram_cover.uncovered(memory, table.starts, table.ends))
    short.update(all_cover.uncovered(passthrough, table.starts, table.ends))
    out = []
    for k in sorted(short):
        zone, r = table.zones[k], table.regions[k]
        if r.kind.is_memory:
            allowed, what = ram_cover, "the board's memory"
        elif r.kind is RegionKind.IO and board.io:
            allowed, what = all_cover, "the board's memory and I/O ranges"
        else:
            continue
        missing = allowed.missing(r.start, r.end)
        if missing:
            out.append(Finding(
                "M012",
                f"zone {zone.name} {r.kind.value} {_r(r.start, r.end)}: {_ranges_text(missing)} is outside "
                f"{what}", locations=[r.source, board.memory[0].source],
                data={"zone": zone.name, "outside": [list(x) for x in missing]},
                fix="fix the region's start/size, or the board's memory list"))
    return out


# ---------------------------------------------------------------- M013


@layout_rule("M013", "too little headroom between the hypervisor's end and the next owner", W)
def m013_headroom(ctx: Context) -> list[Finding]:
    hv = ctx.system.hypervisor
    if hv is None or hv.fixed_reservation:
        return []  # a fixed reservation: the image grows inside it, and its loader refuses one that does not fit
    candidates: list[tuple[int, str, Location]] = []
    for zone in ctx.system.zones:
        for r in zone.regions:
            if r.kind.is_mapped and r.end > hv.end:
                candidates.append((r.start, f"zone {zone.name} {r.kind.value} {_r(r.start, r.end)}", r.source))
        for img in zone.images:
            if img.end > hv.end:
                candidates.append((img.address, f"zone {zone.name} {img.kind.value} image at {img.address:#x}",
                                   img.source))
    for d in ctx.system.board.devices:
        if d.end > hv.end:
            candidates.append((d.start, f"device {d.name} {_r(d.start, d.end)}", d.source))
    for bank in ctx.system.board.memory:
        if bank.start <= hv.end - 1 < bank.end:
            candidates.append((bank.end, f"the end of board memory {_r(bank.start, bank.end)}", bank.source))
    if not candidates:
        return []
    start, what, src = min(candidates, key=lambda c: max(c[0], hv.end))
    gap = max(0, start - hv.end)
    if gap >= ctx.headroom:
        return []
    state = "already overlaps it (see M001/M006)" if start < hv.end else f"leaves {human_size(gap)}"
    return [ctx.holds_if_end_above(Finding(
        "M013",
        f"{hv.name} ends at {hv.end:#x}{_estimated_note(hv)} and the next owner, {what}, {state}; less than the "
        f"{human_size(ctx.headroom)} headroom, so the next growth of the binary (PCIe support, a larger pool) "
        "will stomp on it",
        locations=[*_hv_locs(hv), src],
        data={"hv_end": hv.end, "next_owner": what, "next_start": start, "headroom": gap,
              "required": ctx.headroom},
        fix="move the neighbour (or the hypervisor) so the gap is at least the required headroom"),
        max(hv.start, start - ctx.headroom))]


# ---------------------------------------------------------------- M014


@layout_rule("M014", "hypervisor extent estimated (no ELF given)", N)
def m014_estimated_extent(ctx: Context) -> list[Finding]:
    hv = ctx.system.hypervisor
    if hv is None:
        return []  # E003 (or the E001 that hid the extent) says what was not checked
    est = hv.estimate
    if est is None:
        return []
    # Which verdicts depend on the assumption: those that hold only while the end is above a point
    # inside the estimated range (each such finding says so itself, in depends_on_estimate).
    probe = Context(ctx.system, ctx.headroom)
    dependent = []
    for rid in EXTENT_RULES:
        found = RULES[rid](probe)
        if any(probe.end_thresholds.get(id(f), -1) >= est.end_min for f in found):
            dependent.append(rid)
    verdict = ("no verdict depends on it" if not dependent else
               f"these verdicts depend on it: {', '.join(dependent)} (they hold for the largest image only)")
    return [Finding(
        "M014",
        f"{hv.name}'s extent is estimated, not read from its ELF: {est.formula}; {est.assumption}; end between "
        f"{est.end_min:#x} and {est.end_max:#x}; {verdict}",
        locations=[hv.source, hv.end_source],
        data={"end_min": est.end_min, "end_max": est.end_max, "dependent_rules": dependent},
        fix="pass the linked hypervisor ELF (--elf) for exact skernel/__hv_end")]


def _key(f: Finding) -> tuple[str, tuple[str, ...]]:
    return f.rule, tuple(str(loc) for loc in f.locations if loc.detail is None)


# ---------------------------------------------------------------- M015


_WRITABLE = frozenset({RegionKind.RAM.value, RegionKind.RESERVED.value, RegionKind.SHARED.value,
                       RegionKind.IO.value})


@layout_rule("M015", "a loadable region the root zone cannot write", E)
def m015_loadable_not_writable_by_root(ctx: Context) -> list[Finding]:
    root = ctx.system.root
    out: list[Finding] = []
    loadable = [(zone, r) for zone in ctx.system.zones if not zone.root for r in zone.regions if r.loadable]
    if not loadable:
        return out
    # The root's writable memory, as far as it reaches into a loadable region (the rest cannot
    # change an answer, and a large root has 10^5 regions).
    wanted = Coverage((r.start, r.start + r.size) for _, r in loadable)
    wanted_starts, wanted_ends = [s for s, _ in wanted.spans], [e for _, e in wanted.spans]
    backing = [] if root is None else root.regions + root.taken
    reach = map(bisect_left, repeat(wanted_starts), [r.start + r.size for r in backing])
    cover = Coverage((r.start, r.start + r.size) for r, i in zip(backing, reach, strict=True)
                     if i and wanted_ends[i - 1] > r.start and r.kind in _WRITABLE and r.writable)
    for zone, r in loadable:
        if r.kind is RegionKind.ROM or not r.writable:
            out.append(Finding(
                "M015",
                f"zone {zone.name}: loadable region {_r(r.start, r.end)}{_label(r)} is not writable, so no image "
                "can be loaded into it (the loader needs the region writable as well as loadable)",
                locations=[r.source], data={"zone": zone.name, "start": r.start, "end": r.end, "writable": False},
                fix="add write access to the region, or drop its loadable flag"))
            continue
        if root is None:
            continue
        missing = cover.missing(r.start, r.end)
        if missing:
            out.append(Finding(
                "M015",
                f"zone {zone.name}: loadable region {_r(r.start, r.end)}{_label(r)} is not backed by writable memory "
                f"of the root zone {root.name} at {_ranges_text(missing)}: the root writes the image through its own "
                "mapping, which the hypervisor lends back only where the root's configuration covers the region, "
                "so loading there faults in the root (or the image silently stays incomplete)",
                locations=[r.source, root.source],
                data={"zone": zone.name, "root": root.name, "start": r.start, "end": r.end,
                      "missing": [list(x) for x in missing]},
                fix=f"add {_ranges_text(missing)} to a writable memory region of the root zone"))
    return out


def _label(r: Region) -> str:
    return f" ('{r.label}')" if r.label else ""


# ---------------------------------------------------------------- M016


@layout_rule("M016", "a zone maps a device the hypervisor owns", E)
def m016_zone_maps_hypervisor_device(ctx: Context) -> list[Finding]:
    owned = [Interval(d.start, d.end, d) for d in ctx.system.board.devices if d.hypervisor_owned]
    if not owned:
        return []
    table = ctx.table
    out = []
    for a, d in _overlapping_between(table.of_kinds(["io"]), table.interval, table.starts, table.ends, owned):
        zone, r = a.item
        dev = d.item
        s, e = max(a.start, d.start), min(a.end, d.end)
        if dev.kind == "console":
            severity = Severity.NOTE if zone.root else Severity.WARNING
            why = ("the zone and the hypervisor both drive the console: output interleaves, and the zone can "
                   "reprogram it under the hypervisor (its panic messages may be lost)")
        else:
            severity = Severity.ERROR
            why = ("the zone reaches the device directly instead of through the hypervisor's interception, so it "
                   "can reconfigure what the hypervisor relies on for isolation")
        out.append(Finding(
            "M016",
            f"zone {zone.name} maps {r.kind.value} {_r(r.start, r.end)}{_label(r)} over {dev.name} "
            f"{_r(dev.start, dev.end)} (overlap {_r(s, e)}), which the hypervisor owns: {why}",
            locations=[r.source, dev.source], severity=severity,
            data={"zone": zone.name, "device": dev.name, "kind": dev.kind, "overlap_start": s, "overlap_end": e},
            fix=f"cut {_r(s, e)} out of the region"))
    return out


# ---------------------------------------------------------------- M017


@layout_rule("M017", "a zone takes memory another zone uses as shared memory", E)
def m017_private_over_shared(ctx: Context) -> list[Finding]:
    table = ctx.table
    shared = [table.interval(k) for k in table.of_kinds(["shared"])]
    out = []
    for a, b in _overlapping_between(table.of_kinds(_PRIVATE), table.interval, table.starts, table.ends, shared):
        (za, ra), (zb, rb) = a.item, b.item
        if za is zb or za.root or not ctx.system.can_run_together(za.name, zb.name):
            continue  # the root keeping memory a zone declares shared is the zone's own choice (ROOTSHARED)
        s, e = max(a.start, b.start), min(a.end, b.end)
        out.append(Finding(
            "M017",
            f"zone {za.name} maps {_r(ra.start, ra.end)}{_label(ra)} as its private memory, but zone {zb.name} uses "
            f"{_r(rb.start, rb.end)}{_label(rb)} as shared memory (overlap {_r(s, e)}): creating {za.name} takes the "
            f"range away from {zb.name} (or both write it, each believing it its own)",
            locations=[ra.source, rb.source],
            data={"zone": za.name, "shared_with": zb.name, "overlap_start": s, "overlap_end": e},
            fix=f"declare the region shared in zone {za.name} too, or move it off the shared memory"))
    return out


# ---------------------------------------------------------------- M018


@layout_rule("M018", "the hypervisor refuses or ignores part of a zone's configuration", E)
def m018_refused_configuration(ctx: Context) -> list[Finding]:
    out = []
    for zone in ctx.system.zones:
        for ref in zone.refusals:
            out.append(Finding(
                "M018",
                f"zone {zone.name}: {ref.what}; {ref.consequence}",
                locations=[ref.source, zone.source] if ref.source != zone.source else [ref.source],
                data={"zone": zone.name, "ignored": ref.ignored},
                fix="correct the configuration so the hypervisor accepts it as written"))
    return out


# ---------------------------------------------------------------- M019


@layout_rule("M019", "the ends of a shared-memory link disagree", E)
def m019_shared_memory_link(ctx: Context) -> list[Finding]:
    links: dict[str, list[tuple[Zone, SharedMemoryEndpoint]]] = defaultdict(list)
    for zone in ctx.system.zones:
        for ep in zone.shared_memory:
            links[ep.link].append((zone, ep))
    out = []
    can = ctx.system.can_run_together
    for link, ends in sorted(links.items()):
        for (za, a), (zb, b) in itertools.combinations(ends, 2):
            if za is zb or not can(za.name, zb.name):
                continue
            problems = _link_problems(a, b, za.name, zb.name)
            data = {"link": link, "zones": [za.name, zb.name], "peers": [a.peer, b.peer]}
            for text, severity in problems:
                out.append(Finding(
                    "M019", f"{link}: {text}", locations=[a.source, b.source], severity=severity, data=data,
                    fix="give every end of the link the same peer count, distinct peer ids and the same memory "
                        "sections"))
        for zone, ep in ends:
            if ep.peer >= ep.peers:
                out.append(Finding(
                    "M019", f"{link}: zone {zone.name} is peer {ep.peer} but its end counts {ep.peers} peer(s), so "
                    "its own output section is not part of the link it describes",
                    locations=[ep.source], data={"link": link, "zone": zone.name, "peer": ep.peer, "peers": ep.peers}))
    return out


def _section_name(i: int) -> str:
    return ("state table", "read/write section")[i] if i < 2 else f"output section of peer {i - 2}"


def _link_problems(a: SharedMemoryEndpoint, b: SharedMemoryEndpoint, na: str,
                   nb: str) -> list[tuple[str, Severity]]:
    out: list[tuple[str, Severity]] = []
    if a.peer == b.peer:
        out.append((f"zones {na} and {nb} are both peer {a.peer}: the second one to be created is refused (the "
                    "link's slot is taken)", Severity.ERROR))
    if a.peers != b.peers:
        out.append((f"zone {na} expects {a.peers} peer(s), zone {nb} {b.peers}: they size the state table and "
                    "signal each other differently, and the output sections beyond the smaller count are described "
                    "on one side only", Severity.ERROR))
    for i in range(min(len(a.sections), len(b.sections))):
        sa, sb = a.sections[i], b.sections[i]
        if (sa.start, sa.size) != (sb.start, sb.size) and (sa.size or sb.size):
            out.append((f"the {_section_name(i)} is {_r(sa.start, sa.end) if sa.size else 'absent'} in zone {na} but "
                        f"{_r(sb.start, sb.end) if sb.size else 'absent'} in zone {nb}: the two ends do not share "
                        "that memory", Severity.ERROR))
    if a.expects != b.protocol or b.expects != a.protocol:
        out.append((f"zone {na} speaks protocol {a.protocol or 'undefined'}, zone {nb} {b.protocol or 'undefined'}: "
                    "their drivers will not talk to each other", Severity.WARNING))
    return out




# ---------------------------------------------------------------- inputs: E001, E003

EXTENT_RULES = ("M001", "M002", "M006", "M008", "M013")

declare_rule("E003", "a check could not run: an input it needs is missing or incomplete", N, "input")


def e001_unreadable_inputs(ctx: Context) -> list[Finding]:
    """Inputs the loader could not read (it left out what depended on them and went on)."""
    return [input_error_finding(p.path, p.line, p.message, p.checks_not_run) for p in ctx.system.input_problems]


def e003_checks_not_run(ctx: Context) -> list[Finding]:
    """Checks that could not run for lack of an input: never a silent pass."""
    system = ctx.system
    covered = {p.subject for p in system.input_problems}
    out = []
    if system.hypervisor is None and "hypervisor" not in covered:
        out.append(Finding(
            "E003", "no hypervisor extent was given, so M001, M002, M006 (hypervisor), M008 (hypervisor) and M013 "
            "were not checked", locations=[system.source],
            data={"checked": False, "checks": ["M001", "M002", "M006", "M008", "M013"], "missing": "hypervisor"},
            fix="give the hypervisor's start/end, or its ELF (--elf)"))
    for zone in system.zones:
        if zone.devicetree is None:
            hv = system.hypervisor
            mapped = _hv_guest_ranges(ctx, zone, hv) if hv is not None else []
            if f"zone {zone.name} devicetree" in covered or not mapped or hv is None:
                continue   # an E001 already says so, or nothing of the hypervisor's is at stake
            out.append(Finding(
                "E003", f"zone {zone.name} maps {hv.name} memory and no device tree was given for it, so whether its "
                "kernel allocates that memory could not be checked (M002)",
                locations=[mapped[0][0].source],
                data={"zone": zone.name, "checked": False, "checks": ["M002"], "missing": "devicetree"},
                fix="give the zone's device tree (layout file 'devicetree', or --root-dts)"))
        elif _memory_unknowns(zone.devicetree.unknown):
            out.append(_incomplete_devicetree(zone))
    if not system.board.memory and any(z.regions for z in system.zones):
        out.append(Finding(
            "E003", "the board's physical memory list was not given, so regions were not checked against it (M012)",
            locations=[system.source], data={"checked": False, "checks": ["M012"], "missing": "board memory"},
            fix="give the board's memory banks"))
    return out


RULES["E001"] = e001_unreadable_inputs
RULES["E003"] = e003_checks_not_run


def run_rules(system: System, *, headroom: int = DEFAULT_HEADROOM, only: Iterable[str] | None = None) -> list[Finding]:
    """Run every layout rule (or ``only`` those IDs) and return the findings in rule order.

    With an estimated hypervisor extent, every finding that holds only for part of the estimated
    range says so itself: ``data["depends_on_estimate"]`` with the bound, and the words in its
    message."""
    ctx = Context(system, headroom)
    out: list[Finding] = []
    wanted = None if only is None else set(only)
    for rid, fn in RULES.items():
        if wanted is None or rid in wanted:
            out.extend(fn(ctx))
    hv = system.hypervisor
    if hv is not None and hv.estimate is not None:
        for f in out:
            threshold = ctx.end_thresholds.get(id(f))
            if threshold is not None and threshold >= hv.estimate.end_min:
                _mark_estimate_dependence(f, hv, hv.estimate, threshold)
    return out


def _mark_estimate_dependence(f: Finding, hv: Hypervisor, est: Estimate, threshold: int) -> None:
    """Say in the finding that it holds only if the hypervisor really ends above ``threshold``,
    and what that takes of the estimated image size and CPU count."""
    need = threshold + 1 - est.fixed          # image + per-CPU areas needed
    parts = []
    bound: dict[str, object] = {"hv_end_above": threshold, "estimated_end_min": est.end_min,
                                "estimated_end_max": est.end_max}
    if est.image_size is not None:
        lo, hi = est.image_size
        cpus_max = est.cpus[1] if est.cpus is not None else 0
        image = need - cpus_max * est.per_cpu_size
        if lo < image <= hi:
            bound["image_size_at_least"] = image
            parts.append(f"an image larger than {human_size(image - 1)}"
                         + (f" with {cpus_max} CPUs" if est.cpus is not None else ""))
        if est.cpus is not None and est.per_cpu_size:
            clo, chi = est.cpus
            cpus = -(-(need - hi) // est.per_cpu_size)
            if clo < cpus <= chi:
                bound["cpus_at_least"] = cpus
                parts.append(f"at least {cpus} CPUs with a {human_size(hi)} image")
    if est.cpus_source:
        bound["cpus_source"] = est.cpus_source
    how = " or ".join(parts) if parts else f"an end between {est.end_min:#x} and {est.end_max:#x}"
    bound["bound"] = f"{hv.name} ends above {threshold:#x}: {how}"
    f.data["depends_on_estimate"] = bound
    decide = "--elf" + (" or --cpus N" if est.cpus is not None and est.cpus[0] != est.cpus[1] else "")
    f.message += (f". This verdict depends on the estimated extent: it holds only if {hv.name} really ends above "
                  f"{threshold:#x} ({how}); give {decide} to decide (M014)")
