"""What to change in the model, independent of any file syntax.

- punch: every mapped zone region that meets the hypervisor extent loses
  [start, end + headroom) rounded out to the board granule (and, with ``other_zones``, the root
  loses other zones' private RAM that its device tree does not reserve). A zone whose device tree
  still gives its kernel a punched range gets a no-map reservation of it too, or its first touch
  would be a stage-2 fault (M003).
- reserve: each zone whose kernel maps hypervisor memory (M002) gets a no-map reservation of the
  whole extent's guest image (image + per-CPU areas + pool); an existing reservation that covers
  part of it is widened instead of adding a second one.
- relocate: the lowest (or nearest ``prefer``) base aligned to max(2 MiB, the board's base
  alignment) where extent + headroom fits in one board memory bank, clear of every zone region,
  device window and load image. An already valid base is kept (fix is idempotent).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from hvcheck.layout import dtfacts
from hvcheck.layout.intervals import Range, intersect, subtract, union
from hvcheck.layout.model import DeviceTreeFacts, Region, RegionKind, ReservedRange, Span, System
from hvcheck.units import hex_range, human_size

STRATEGIES = ("punch", "reserve", "relocate", "all")
RELOCATE_ALIGN = 2 << 20


def align_down(x: int, a: int) -> int:
    return x - x % a


def align_up(x: int, a: int) -> int:
    return -(-x // a) * a


@dataclass
class RegionSplit:
    """Region ``index`` of zone ``zone`` is replaced by ``pieces`` (host-physical ranges)."""

    zone: str
    index: int
    region: Region
    pieces: list[Range]
    removed: list[Range]
    why: str


@dataclass
class Reservation:
    """Add (or widen ``widen`` into) a no-map reservation of guest ``start..end`` in a zone's DT."""

    zone: str
    dt: DeviceTreeFacts
    start: int
    end: int
    name: str
    why: str
    widen: ReservedRange | None = None
    # When the range is the head or tail of one /memory entry, shrinking that entry is cleaner
    # (the kernel never sees the range at all). The editor sets ``shrunk`` when it could do so;
    # otherwise it adds the reservation.
    memory: Span | None = None
    shrunk: bool = False

    def remainder(self) -> tuple[int, int]:
        assert self.memory is not None
        m = self.memory
        return (self.end, m.end) if self.start == m.start else (m.start, self.start)


@dataclass
class Relocation:
    old_start: int
    old_end: int
    new_start: int
    why: str

    @property
    def delta(self) -> int:
        return self.new_start - self.old_start


@dataclass
class Plan:
    strategy: str
    splits: list[RegionSplit] = field(default_factory=list)
    reservations: list[Reservation] = field(default_factory=list)
    relocation: Relocation | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.splits or self.reservations or self.relocation)


def derived_dt(dt: DeviceTreeFacts) -> bool:
    """Facts a loader derived from the zone's own regions (x86: the e820 map hvisor builds from
    ROOT_ZONE_MEMORY_REGIONS), named "<file> (<what>)": they follow a punch by themselves and
    there is no device-tree text to edit."""
    return dt.path.endswith(")") and " (" in dt.path


def make_plan(system: System, strategy: str, *, headroom: int = 8 << 20, other_zones: bool = False,
              prefer: int | None = None) -> Plan:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}")
    plan = Plan(strategy)
    hv = system.hypervisor
    if hv is None:
        plan.notes.append("no hypervisor extent is known, so there is nothing to fix (give start/end or an ELF)")
        return plan
    if strategy == "relocate":
        plan.relocation = _relocate(system, headroom, prefer, plan)
        return plan
    if strategy in ("punch", "all"):
        _punch(system, headroom, other_zones, plan)
    if strategy in ("reserve", "all"):
        _reserve(system, other_zones, plan)
    for res in plan.reservations:
        if res.widen is None and res.dt.mem_limit is None:
            inside = [m for m in res.dt.memory if m.start <= res.start and res.end <= m.end]
            if len(inside) == 1 and (res.start == inside[0].start) != (res.end == inside[0].end):
                res.memory = inside[0]
    return plan


# ---------------------------------------------------------------- punch


def _punch(system: System, headroom: int, other_zones: bool, plan: Plan) -> None:
    hv = system.hypervisor
    assert hv is not None
    g = system.board.granule
    hole = (align_down(hv.start, g), align_up(hv.end + headroom, g))
    extent = (hv.start, hv.end)
    room = f" plus {human_size(headroom)} headroom" if headroom else ""
    for zone in system.zones:
        holes: list[tuple[Range, str]] = []
        if other_zones and zone.root:
            holes.extend(_other_zone_holes(system, zone))
        for index, r in enumerate(zone.regions):
            if not r.kind.is_mapped:
                continue
            cut: list[Range] = []
            reasons: list[str] = []
            if intersect([(r.start, r.end)], [extent]):
                cut.append(hole)
                reasons.append(f"{hv.name} {hex_range(hv.start, hv.end)}{room}")
            for rng, what in holes:
                if r.kind in (RegionKind.RAM, RegionKind.RESERVED) and intersect([(r.start, r.end)], [rng]):
                    cut.append(rng)
                    reasons.append(what)
            if not cut:
                continue
            pieces = subtract([(r.start, r.end)], cut)
            removed = subtract([(r.start, r.end)], pieces)
            plan.splits.append(RegionSplit(
                zone.name, index, r, pieces, removed,
                f"zone {zone.name}'s {r.kind.value} region {hex_range(r.start, r.end)} maps "
                f"{' and '.join(reasons)} at stage 2 (M001/M004); "
                + (f"it is split around {', '.join(hex_range(s, e) for s, e in removed)}" if pieces else
                   "it lies entirely inside that range and is removed")
                + " so the guest can no longer reach it"))
        # A punched range the zone's kernel still believes is RAM must be reserved no-map (M003).
        dt = zone.devicetree
        if dt is None or derived_dt(dt):
            continue
        for split in [s for s in plan.splits if s.zone == zone.name]:
            r = split.region
            for s, e in split.removed:
                gs, ge = r.gstart + (s - r.start), r.gstart + (e - r.start)
                if intersect(dtfacts.mapped_by_kernel(dt), [(gs, ge)]):
                    _add_reservation(plan, zone.name, dt, gs, ge, hv.name if intersect([(s, e)], [extent])
                                     else "other-zone",
                                     f"zone {zone.name}'s device tree {dt.path} still gives its kernel guest "
                                     f"{hex_range(gs, ge)}, which is no longer mapped at stage 2; the device "
                                     "tree must stop offering it to the kernel (otherwise M003: a stage-2 "
                                     "fault on first touch)")


def _other_zone_holes(system: System, root) -> list[tuple[Range, str]]:
    """Other zones' private RAM that the root maps and its device tree does not keep it off."""
    out: list[tuple[Range, str]] = []
    for other in system.zones:
        if other is root:
            continue
        for o in other.regions:
            if o.kind not in (RegionKind.RAM, RegionKind.RESERVED):
                continue
            for r in root.regions:
                if r.kind not in (RegionKind.RAM, RegionKind.RESERVED):
                    continue
                s, e = max(r.start, o.start), min(r.end, o.end)
                if s >= e:
                    continue
                gs, ge = r.gstart + (s - r.start), r.gstart + (e - r.start)
                dt = root.devicetree
                if dt is not None and not intersect(dtfacts.allocatable(dt), [(gs, ge)]):
                    continue  # the loader pattern, kept off by the root's device tree: fine
                out.append(((s, e), f"zone {other.name}'s private RAM {hex_range(s, e)}"))
    return out


# ---------------------------------------------------------------- reserve


def _add_reservation(plan: Plan, zone: str, dt: DeviceTreeFacts, start: int, end: int, name: str,
                     why: str) -> None:
    for res in plan.reservations:
        if res.zone == zone and res.start <= end and start <= res.end:
            res.start, res.end = min(res.start, start), max(res.end, end)
            return
    widen = next((r for r in dt.reserved if not r.memreserve and r.start < end and start < r.end), None)
    if widen is not None:
        start, end = min(start, widen.start), max(end, widen.end)
        name = widen.name or name
        if widen.no_map and widen.start <= start and end <= widen.end:
            return
    plan.reservations.append(Reservation(zone, dt, start, end, name, why, widen))


def _reserve(system: System, other_zones: bool, plan: Plan) -> None:
    hv = system.hypervisor
    assert hv is not None
    g = system.board.granule
    for zone in system.zones:
        dt = zone.devicetree
        if dt is None or derived_dt(dt):
            continue
        targets: list[tuple[Range, str, str]] = []
        for r in zone.regions:
            if not r.kind.is_mapped:
                continue
            s, e = max(r.start, hv.start), min(r.end, hv.end)
            if s < e:
                # The whole extent this region maps (image + per-CPU areas + pool: all written as
                # often), in the zone's guest-physical addresses; never beyond the region, whose
                # neighbours in guest space may be something else entirely.
                gs = r.gstart + (max(align_down(hv.start, g), r.start) - r.start)
                ge = r.gstart + (min(align_up(hv.end, g), r.end) - r.start)
                targets.append(((gs, ge), hv.name, f"{hv.name} {hex_range(hv.start, hv.end)} (image + per-CPU "
                                                    "areas + pool)"))
        if other_zones and zone.root:
            for (s, e), what in _other_zone_holes(system, zone):
                for r in zone.regions:
                    if r.start <= s and e <= r.end:
                        targets.append(((r.gstart + s - r.start, r.gstart + e - r.start), "other-zone", what))
        mapped = dtfacts.mapped_by_kernel(dt)
        not_allocatable = subtract(dtfacts.known_memory(dt), dtfacts.allocatable(dt))
        for (gs, ge), name, what in targets:
            if not intersect(mapped, [(gs, ge)]) and not intersect(not_allocatable, [(gs, ge)]):
                continue  # the kernel neither maps nor knows it: nothing to reserve
            kernel_view = union(intersect(dtfacts.known_memory(dt), [(gs, ge)]))
            if not kernel_view:
                continue
            _add_reservation(plan, zone.name, dt, gs, ge, name,
                             f"zone {zone.name}'s kernel may use guest {hex_range(gs, ge)}, which holds {what}, "
                             f"because device tree {dt.path} gives it as memory without a no-map reservation "
                             "(M002); a /reserved-memory no-map child over the whole range removes it from the "
                             "kernel's linear map and allocator")


# ---------------------------------------------------------------- relocate


def _relocate(system: System, headroom: int, prefer: int | None, plan: Plan) -> Relocation | None:
    hv = system.hypervisor
    assert hv is not None
    size = hv.end - hv.start
    need = size + headroom
    align = max(RELOCATE_ALIGN, hv.base_alignment or 0)
    banks = union((b.start, b.end) for b in system.board.memory)
    if not banks:
        plan.notes.append("the board's physical memory list is unknown, so no base can be proposed "
                          "(relocate needs board memory)")
        return None
    obstacles: list[tuple[int, int, str]] = []
    for zone in system.zones:
        for r in zone.regions:
            obstacles.append((r.start, r.end, f"zone {zone.name}'s {r.kind.value} region {hex_range(r.start, r.end)}"))
        for img in zone.images:
            obstacles.append((img.address, img.end, f"zone {zone.name}'s {img.kind.value} image at {img.address:#x}"))
    for d in system.board.devices:
        obstacles.append((d.start, d.end, f"device {d.name} {hex_range(d.start, d.end)}"))
    free = subtract(banks, [(s, e) for s, e, _ in obstacles])

    def fits(base: int) -> bool:
        return base % align == 0 and any(s <= base and base + need <= e for s, e in free)

    conflicts = [what for s, e, what in obstacles if s < hv.start + need and hv.start < e]
    in_bank = any(s <= hv.start and hv.start + need <= e for s, e in banks)
    if fits(hv.start):
        return None  # already clear of everything with the headroom: nothing to move
    candidates: list[int] = []
    for s, e in free:
        lo = align_up(s, align)
        hi = align_down(e - need, align)
        if lo > hi:
            continue
        if prefer is None:
            candidates.append(lo)
        else:
            candidates.append(min(max(align_down(prefer, align), lo), hi))
            candidates.append(min(max(align_up(prefer, align), lo), hi))
    if not candidates:
        plan.notes.append(f"no {human_size(align)}-aligned place in board memory fits {hv.name}'s "
                          f"{human_size(size)} plus {human_size(headroom)} headroom clear of every zone region, "
                          "device window and load image")
        return None
    new = min(candidates) if prefer is None else min(candidates, key=lambda b: (abs(b - prefer), b))
    why_old = ("; ".join(conflicts[:4]) + (" and more" if len(conflicts) > 4 else "")) if conflicts else ""
    if not why_old:
        why_old = ("it is not inside one board memory bank with the headroom" if not in_bank
                   else f"it is not {human_size(align)}-aligned")
    nxt = min([s for s, _, _ in obstacles if s >= new + size] + [e for s, e in banks if s <= new < e])
    return Relocation(
        hv.start, hv.end, new,
        f"base {hv.start:#x} fails because [{hv.start:#x}, {hv.start + need:#x}) (extent + "
        f"{human_size(headroom)} headroom) meets {why_old}; the new base {new:#x} is the "
        f"{'lowest' if prefer is None else f'nearest to {prefer:#x}'} {human_size(align)}-aligned address "
        f"where the {human_size(size)} extent fits in board memory clear of every zone region, device window "
        f"and load image, leaving {human_size(nxt - (new + size))} headroom before the next owner"
        + ("" if prefer is not None else "; firmware the layout does not describe (ATF, OpenSBI, U-Boot) may "
           "live low in DRAM: check it, or pass --prefer to stay near the old base"))


# ---------------------------------------------------------------- applying a plan to the model


def apply_to_model(system: System, plan: Plan) -> System:
    """The model the edited files should parse to (used by the property tests and the engine)."""
    out = copy.deepcopy(system)
    zones = {z.name: z for z in out.zones}
    for zone_name in {s.zone for s in plan.splits}:
        zone = zones[zone_name]
        by_index = {s.index: s for s in plan.splits if s.zone == zone_name}
        regions: list[Region] = []
        for i, r in enumerate(zone.regions):
            split = by_index.get(i)
            if split is None:
                regions.append(r)
                continue
            for s, e in split.pieces:
                guest = None if r.guest_start is None else r.guest_start + (s - r.start)
                regions.append(Region(r.kind, s, e - s, r.source, guest, r.label, r.owner))
        zone.regions = regions
    for res in plan.reservations:
        dt = zones[res.zone].devicetree
        assert dt is not None
        if res.shrunk and res.memory is not None:
            s, e = res.remainder()
            dt.memory = [Span(s, e, m.source) if (m.start, m.end) == (res.memory.start, res.memory.end) else m
                         for m in dt.memory]
            continue
        if res.widen is not None:
            dt.reserved = [r for r in dt.reserved if not (r.start == res.widen.start and r.end == res.widen.end
                                                            and r.name == res.widen.name)]
        dt.reserved.append(ReservedRange(res.start, res.end, res.widen.source if res.widen else
                                         zones[res.zone].source, True, res.name))
    if plan.relocation is not None and out.hypervisor is not None:
        d = plan.relocation.delta
        hv = out.hypervisor
        hv.start += d
        hv.end += d
        if hv.estimate is not None:
            hv.estimate.end_min += d
            hv.estimate.end_max += d
        hv.parts = [type(p)(p.name, p.start + d, p.end + d, p.source) for p in hv.parts]
    return out
