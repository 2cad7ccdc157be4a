"""Where on the physical address axis a finding is: the ranges its ``data`` names.

Findings carry their facts in ``data`` (DESIGN.md §3); the map reads the range fields the layout
rules write (``overlap_start/overlap_end``, guest ranges of a zone, a load address, the estimated
end, ...). Guest-physical ranges are translated to host-physical through the zone's memory
regions; a piece no region maps is drawn at the same address and says so (its ``caveat``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hvcheck.findings import Finding
from hvcheck.layout.model import System, Zone


@dataclass(frozen=True)
class Place:
    """One host-physical place of a finding: ``[start, end)``, or a point when start == end."""

    start: int
    end: int
    caveat: str = ""   # why the place is not exact; "" when it is


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _pair(data: dict[str, Any], lo: str, hi: str) -> tuple[int, int] | None:
    s, e = _int(data.get(lo)), _int(data.get(hi))
    return (s, e) if s is not None and e is not None and s <= e else None


def _ranges(value: Any) -> list[tuple[int, int]]:
    out = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, list | tuple) and len(item) == 2:
            s, e = _int(item[0]), _int(item[1])
            if s is not None and e is not None and s < e:
                out.append((s, e))
    return out


def guest_to_host(zone: Zone | None, start: int, end: int) -> list[Place]:
    """The host-physical pieces of a zone's guest-physical ``[start, end)``."""
    if zone is None:
        return [Place(start, end, "guest-physical range of an unknown zone, drawn at the same address")]
    pieces: list[Place] = []
    covered: list[tuple[int, int]] = []
    for r in zone.regions:
        if not r.kind.is_mapped:
            continue
        s, e = max(start, r.gstart), min(end, r.gend)
        if s < e:
            pieces.append(Place(r.start + (s - r.gstart), r.start + (e - r.gstart)))
            covered.append((s, e))
    covered.sort()
    cur = start
    for s, e in covered + [(end, end)]:
        if s > cur:
            pieces.append(Place(cur, min(s, end), "guest-physical range that no region of the zone maps; "
                                                   "drawn at the same host-physical address"))
        cur = max(cur, e)
    return sorted(set(pieces), key=lambda p: (p.start, p.end))


def finding_places(f: Finding, system: System) -> list[Place]:
    """Every host-physical place ``f`` is about; [] for findings without an address (CPUs, IRQs,
    unreadable inputs), which the map lists instead of drawing."""
    d = f.data
    zones = {z.name: z for z in system.zones}
    zone = zones.get(d["zone"]) if isinstance(d.get("zone"), str) else None
    guest_space = d.get("space") == "guest-physical" or f.rule == "M007"

    overlap = _pair(d, "overlap_start", "overlap_end")
    if overlap is not None:
        return guest_to_host(zone, *overlap) if guest_space else [Place(*overlap)]
    guest = _ranges(d.get("allocatable")) + _ranges(d.get("mapped_not_allocatable"))
    if guest:
        return [p for s, e in guest for p in guest_to_host(zone, s, e)]
    outside = _ranges(d.get("outside"))
    if outside:
        return [Place(s, e) for s, e in outside]
    address = _int(d.get("address"))
    if address is not None:
        size = _int(d.get("size")) or 0
        return [Place(address, address + size, "" if size else "size unknown: only the address")]
    hv_end, need = _int(d.get("hv_end")), _int(d.get("required"))
    if hv_end is not None and need:
        return [Place(hv_end, hv_end + need, "the headroom the rule asks for after the hypervisor's end")]
    estimate = _pair(d, "end_min", "end_max")
    if estimate is not None:
        return [Place(*estimate, "the estimated hypervisor end lies somewhere in this range")]
    if _int(d.get("granule")) is not None:
        r_start, r_size = _int(d.get("start")), _int(d.get("size"))
        if r_start is not None and r_size:
            return [Place(r_start, r_start + r_size)]
    base = _int(d.get("base"))
    if base is not None and _int(d.get("alignment")):
        return [Place(base, base)]
    plain = _pair(d, "start", "end")
    if plain is not None:
        return guest_to_host(zone, *plain) if f.rule == "M003" else [Place(*plain)]
    return []
