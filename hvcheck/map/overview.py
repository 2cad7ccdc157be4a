"""The low-zoom view of a large layout: tiny neighbouring items grouped, so the whole map fits a
few screens.

The detailed map gives every distinct edge its own rows; with thousands of regions that is
hundreds of thousands of pixels. The overview keeps at most :data:`OVERVIEW_EDGES` edges: those of
the largest items, gaps and finding marks first. An item whose two edges are kept is drawn as is;
in each lane, the others are snapped outwards to the kept edges and neighbours are merged into one
GROUP item ("37 × ram, io") that links to the first of them in the detailed map. Marks that lose an
edge are snapped the same way and say so (their exact place is in the detailed map and the list).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter

from hvcheck.findings import Location
from hvcheck.layout.intervals import union
from hvcheck.map.geometry import (
    BANK,
    GROUP,
    IMAGE,
    STRIP_KINDS,
    Item,
    MapGeometry,
    Mark,
    Scale,
    assign_columns,
)

DETAIL_EDGES = 400     # a detailed map with more edges than this (about 12 screens) also gets an overview
OVERVIEW_EDGES = 160   # the overview keeps at most this many edges (about 5 screens)


def needs_overview(geom: MapGeometry) -> bool:
    return len(geom.scale.edges) > DETAIL_EDGES


def _kept_edges(geom: MapGeometry, budget: int) -> list[int]:
    """At most ``budget`` edges, spread over the whole map. First the edges of findings (errors
    first), up to a quarter of the budget; then those of the largest structures — items, gaps, and
    each owner's occupied spans (so a zone's first and last address survive) — up to another
    quarter; then, in each of equal runs of the remaining edges, the edge of the largest structure
    there, so every part of the address space keeps some rows."""
    edges = geom.scale.edges
    weight: dict[int, int] = {}
    items = [it for it in geom.items if it.kind not in STRIP_KINDS and it.kind != IMAGE]
    structures = [(it.start, it.end) for it in items] + [(g.start, g.end) for g in geom.scale.gaps]
    by_lane: dict[int, list[tuple[int, int]]] = {}
    for it in items:
        by_lane.setdefault(it.lane, []).append((it.start, it.end))
    for lane, spans in by_lane.items():
        if lane >= 0:
            structures += union(spans)
    for s, e in structures:
        size = e - s
        for edge in (s, e):
            if weight.get(edge, -1) < size:
                weight[edge] = size
    kept = {edges[0], edges[-1]}
    rank = {"error": 0, "warning": 1, "note": 2}
    for m in sorted(geom.marks, key=lambda m: (rank.get(m.severity, 3), m.start - m.end, m.start)):
        if len(kept) + 2 > budget // 4:
            break
        kept.update((m.start, m.end))
    for edge in sorted(weight, key=lambda x: (-weight[x], x))[: budget // 4]:
        kept.add(edge)
    buckets = max(budget - len(kept), 1)
    step = len(edges) / buckets
    for b in range(buckets):
        run = edges[int(b * step): max(int((b + 1) * step), int(b * step) + 1)]
        if run:
            kept.add(max(run, key=lambda x: (weight.get(x, 0), -x)))
    return sorted(kept)


def _snap(kept: list[int], start: int, end: int) -> tuple[int, int]:
    s = kept[max(bisect_right(kept, start) - 1, 0)]
    e = kept[min(bisect_left(kept, end), len(kept) - 1)]
    return s, max(e, s)


def _group_label(members: list[Item]) -> str:
    kinds = Counter(m.kind for m in members)
    return ", ".join(k for k, _ in kinds.most_common(3)) + (", ..." if len(kinds) > 3 else "")


def build_overview(geom: MapGeometry, budget: int = OVERVIEW_EDGES) -> MapGeometry:
    kept = _kept_edges(geom, budget)
    keep = set(kept)
    items: list[Item] = []
    loose: dict[int, list[tuple[int, int, Item]]] = {}
    dropped_facts = 0
    for it in geom.items:
        if it.start in keep and it.end in keep or it.kind == BANK:
            items.append(Item(it.uid, it.lane, it.kind, it.start, it.end, it.label, it.source, it.estimated,
                              it.note))
        elif it.kind in STRIP_KINDS:
            dropped_facts += 1
        else:
            s, e = _snap(kept, it.start, it.end)
            loose.setdefault(it.lane, []).append((s, e, it))
    links: dict[str, str] = {}
    for lane, members in sorted(loose.items()):
        members.sort(key=lambda m: (m[0], m[1]))
        runs: list[tuple[int, int, list[Item]]] = []
        for s, e, it in members:
            if runs and s < runs[-1][1]:   # overlapping once snapped to the kept edges: one group
                rs, re_, run = runs[-1]
                run.append(it)
                runs[-1] = (rs, max(re_, e), run)
            else:
                runs.append((s, e, [it]))
        for rs, re_, run in runs:
            first = run[0]
            uid = f"g{lane}-{len(items)}"
            items.append(Item(uid, lane, GROUP, rs, re_, _group_label(run),
                              Location(first.source.path, first.source.line,
                                       detail=f"{len(run)} items; the first from here"),
                              note=f"first: {first.label} [{first.start:#x}, {first.end:#x})", count=len(run)))
            links[uid] = first.uid
    marks: list[Mark] = []
    seen: dict[tuple[str, int, int, int, int], Mark] = {}
    for m in geom.marks:
        if m.start in keep and m.end in keep:
            marks.append(m)
            continue
        s, e = _snap(kept, m.start, m.end)
        key = (m.rule, s, e, m.first_lane, m.last_lane)
        if key in seen:
            continue
        snapped = Mark(m.uid, m.rule, m.severity, s, e, m.message, m.first_lane, m.last_lane,
                       "grouped view: drawn at the nearest kept edges; exactly at "
                       f"[{m.start:#x}, {m.end:#x}) in the detailed map", m.finding, exact=(m.start, m.end))
        seen[key] = snapped
        marks.append(snapped)
    covered = union([(it.start, it.end) for it in items if it.end > it.start] +
                    [(m.start, m.end) for m in marks if m.end > m.start])
    notes = list(geom.notes)
    notes.append(f"grouped view: {len(kept)} of {len(geom.scale.edges)} edges kept (the largest items, gaps and "
                 f"findings); neighbouring smaller items are counted in groups")
    if dropped_facts:
        notes.append(f"grouped view: {dropped_facts} small device-tree facts are only in the detailed map")
    lanes = assign_columns(items, geom.lanes)
    return MapGeometry(geom.title + " (grouped overview)", lanes, items, marks, Scale(kept, covered),
                       geom.findings, geom.unplaced, notes, grouped=True, links=links)
