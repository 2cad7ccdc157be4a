"""Model -> geometry: lanes, items, marks where the findings are, a scale that keeps small ranges
visible and collapses gaps, and the grouped overview of large layouts. Property tests read the
positions back from the rendered SVG, so they check what is drawn."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvcheck.findings import Location
from hvcheck.layout.loaders import load_layout
from hvcheck.layout.model import (
    Board,
    Device,
    DeviceTreeFacts,
    Hypervisor,
    HypervisorPart,
    Region,
    RegionKind,
    Span,
    System,
    Zone,
)
from hvcheck.layout.rules import run_rules
from hvcheck.map.geometry import GAP_PX, GROUP, MIN_PX, STRIP_KINDS, build_map
from hvcheck.map.overview import OVERVIEW_EDGES, build_overview, needs_overview
from hvcheck.map.svg import render_svg
from tests.conftest import ROOT

SEED = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"
HERE = Location("test.yaml", 1)


def _system(zones: list[Zone], hv: Hypervisor | None = None, devices: list[Device] | None = None,
            memory: list[Span] | None = None) -> System:
    return System("t", HERE, hv, Board("b", memory=memory or [], devices=devices or []), zones)


def _zone(name: str, regions: list[tuple[RegionKind, int, int]], root: bool = False) -> Zone:
    z = Zone(name, None, root, HERE)
    for kind, start, size in regions:
        z.add_region(Region(kind, start, size, HERE))
    return z


def test_seed_every_owner_and_the_m001_mark_where_the_overlap_is() -> None:
    system = load_layout(SEED)
    geom = build_map(system, run_rules(system))
    assert [lane.title for lane in geom.lanes] == ["hvisor", "root-linux (root)", "linux1", "devices"]
    drawn = {(it.kind, it.start, it.end) for it in geom.items}
    for r in system.all_regions():
        assert (r.kind.value, r.start, r.end) in drawn
    for d in system.board.devices:
        assert ("device", d.start, d.end) in drawn
    m001 = [m for m in geom.marks if m.rule == "M001"]
    assert [(m.start, m.end, m.first_lane, m.last_lane, m.severity) for m in m001] == \
        [(0x40400000, 0x44c00000, 0, 1, "error")]
    # The scale places the overlap exactly between the edges of hvisor's extent.
    assert geom.scale.y(0x40400000) == geom.scale.ys[geom.scale.edges.index(0x40400000)]


def test_4k_next_to_4g_stays_visible_and_gaps_collapse() -> None:
    big, small = 0x1_0000_0000, 0x2_0000_0000
    far = 0x100_0000_0000     # 1 TiB further: an empty gap
    system = _system([_zone("z", [(RegionKind.RAM, big, 4 << 30), (RegionKind.IO, small, 0x1000),
                                  (RegionKind.RAM, far, 0x1000)])])
    geom = build_map(system)
    ys = dict(zip(geom.scale.edges, geom.scale.ys, strict=True))
    assert ys[small + 0x1000] - ys[small] == MIN_PX
    assert ys[small] - ys[big] > ys[small + 0x1000] - ys[small]      # bigger stays bigger
    assert ys[small] - ys[big] < 10 * MIN_PX                          # ... but not a million times
    assert [(g.start, g.end, g.y1 - g.y0) for g in geom.scale.gaps] == [(small + 0x1000, far, GAP_PX)]
    assert geom.scale.height < 200


def test_device_tree_facts_are_drawn_at_their_host_address() -> None:
    zone = _zone("guest", [(RegionKind.RAM, 0x8000_0000, 0x1000_0000)])
    zone.regions[0] = Region(RegionKind.RAM, 0x8000_0000, 0x1000_0000, HERE, guest_start=0x4000_0000, owner="guest")
    zone.devicetree = DeviceTreeFacts("z.dts", memory=[Span(0x4000_0000, 0x5000_0000, HERE),
                                                       Span(0x6000_0000, 0x6010_0000, HERE)])
    geom = build_map(_system([zone]))
    facts = sorted((it.start, it.end, it.note) for it in geom.items if it.kind in STRIP_KINDS)
    assert facts[0][:2] == (0x6000_0000, 0x6010_0000) and "no region of the zone maps" in facts[0][2]
    assert facts[1][:2] == (0x8000_0000, 0x9000_0000) and "guest [0x40000000, 0x50000000)" in facts[1][2]


def test_estimated_hypervisor_is_drawn_as_a_range() -> None:
    from hvcheck.layout.model import Estimate

    hv = Hypervisor("hv", 0x4000_0000, 0x4480_0000, HERE, HERE,
                    parts=[HypervisorPart("image", 0x4000_0000, 0x4080_0000, HERE)],
                    estimate=Estimate("f", 0x4420_0000, 0x4480_0000, "image 2-8 MiB"))
    geom = build_map(_system([_zone("z", [(RegionKind.RAM, 0x5000_0000, 0x1000)])], hv))
    parts = [it for it in geom.items if it.kind == "hv-part"]
    assert parts and all(it.estimated for it in parts)
    assert [(it.start, it.end) for it in geom.items if it.kind == "hv-uncertain"] == [(0x4420_0000, 0x4480_0000)]


def _layout_strategy() -> st.SearchStrategy[System]:
    scale = st.sampled_from([0, 12, 16, 20, 24, 30, 34, 40])
    address = st.builds(lambda e, k: (k << e) if e else k, scale, st.integers(1, 4096))
    size = st.builds(lambda e, k: max(1, (k << e) if e else k), st.sampled_from([0, 9, 12, 16, 21, 30, 32]),
                     st.integers(1, 8))
    kind = st.sampled_from([RegionKind.RAM, RegionKind.IO, RegionKind.EMULATED, RegionKind.SHARED])
    region = st.tuples(kind, address, size)
    zones = st.lists(st.lists(region, min_size=1, max_size=6), min_size=1, max_size=3)
    hv = st.one_of(st.none(), st.tuples(address, size))
    devices = st.lists(st.tuples(address, size), max_size=3)

    def build(zs: list[list[tuple[RegionKind, int, int]]], h: tuple[int, int] | None,
              devs: list[tuple[int, int]]) -> System:
        zone_objs = [_zone(f"z{i}", rs, root=i == 0) for i, rs in enumerate(zs)]
        hyp = None if h is None else Hypervisor("hv", h[0], h[0] + h[1], HERE, HERE)
        return _system(zone_objs, hyp, [Device(f"d{i}", "dev", s, s + n, HERE) for i, (s, n) in enumerate(devs)])

    return st.builds(build, zones, hv, devices)


def _drawn_edges(svg: str) -> dict[int, set[float]]:
    """address -> every y at which the SVG draws it (item and mark rects: top = start, bottom = end)."""
    ns = "{http://www.w3.org/2000/svg}"
    out: dict[int, set[float]] = {}
    for el in ET.fromstring(svg).iter():
        if el.tag not in (ns + "rect", ns + "line") or "data-start" not in el.attrib:
            continue
        start, end = int(el.attrib["data-start"], 16), int(el.attrib["data-end"], 16)
        if el.tag == ns + "rect":
            top, h = float(el.attrib["y"]), float(el.attrib["height"])
            out.setdefault(start, set()).add(round(top, 1))
            out.setdefault(end, set()).add(round(top + h, 1))
        else:
            out.setdefault(start, set()).add(round(float(el.attrib["y1"]), 1))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_layout_strategy())
def test_drawn_edges_follow_address_order_and_never_share_a_row(system: System) -> None:
    geom = build_map(system, run_rules(system))
    drawn = _drawn_edges(render_svg([geom]))
    # Each address is drawn at one y (to the SVG's 0.1 px precision)...
    for address, ys in drawn.items():
        assert max(ys) - min(ys) <= 0.11, (hex(address), ys)
    # ... in the numeric order of the addresses, and two distinct addresses never share a pixel row
    # unless a collapsed gap lies between them.
    ordered = sorted(drawn)
    for a, b in zip(ordered, ordered[1:], strict=False):
        ya, yb = min(drawn[a]), min(drawn[b])
        assert ya < yb, (hex(a), hex(b), ya, yb)
        assert int(ya) != int(yb) or geom.scale.gap_between(a, b)
    # Every item with a size has a non-zero height.
    for it in geom.items:
        if it.end > it.start:
            assert geom.scale.y(it.end) - geom.scale.y(it.start) >= MIN_PX


def test_overview_groups_tiny_neighbours_and_loses_none(tmp_path: Path) -> None:
    regions = []
    addr = 0x8000_0000
    for i in range(3000):
        size = 0x1000 if i % 7 else 0x20_0000
        regions.append((RegionKind.RAM if i % 3 else RegionKind.IO, addr, size))
        addr += size + (0x4000_0000 if i % 500 == 499 else 0)
    # A second zone whose 8 KiB region overlaps the big zone's 1000th region: an M004 mark.
    overlap_at = regions[1000][1]
    system = _system([_zone("big", regions, root=True), _zone("other", [(RegionKind.RAM, overlap_at, 0x2000)])])
    geom = build_map(system, run_rules(system))
    assert any(m.rule == "M004" for m in geom.marks)
    assert needs_overview(geom)
    over = build_overview(geom)
    assert len(over.scale.edges) <= OVERVIEW_EDGES and over.grouped
    assert over.scale.height < geom.scale.height / 5
    groups = [it for it in over.items if it.kind == GROUP]
    kept = [it for it in over.items if it.kind != GROUP and it.kind != "bank"]
    assert groups and sum(g.count for g in groups) + len(kept) == len(regions) + 1
    # Findings keep their own edges, so their bands stay exact even in the overview.
    m004 = [m for m in over.marks if m.rule == "M004"]
    assert m004 and all(m.exact is None and m.start >= overlap_at for m in m004)
    # Each owner's first and last address survive.
    assert over.scale.edges[0] == 0x8000_0000 and addr - 0x4000_0000 in over.scale.edges
    # Each original region is inside the group that counts it, or drawn itself; groups link to it.
    for it in geom.items:
        if it.kind == "bank":
            continue
        inside = [g for g in groups if g.start <= it.start and it.end <= g.end]
        assert inside or any((k.start, k.end) == (it.start, it.end) for k in kept)
    assert all(over.links[g.uid] in {it.uid for it in geom.items} for g in groups)
    # The five 1 GiB gaps survive as gaps.
    assert len([g for g in over.scale.gaps if g.end - g.start == 0x4000_0000]) == 5
