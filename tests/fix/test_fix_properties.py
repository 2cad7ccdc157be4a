"""Property tests over random layouts: punch removes exactly the hole and nothing else, keeps
alignment, the edited text parses to the planned model, and fix is idempotent."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvcheck.fix.engine import model_signature, run_fix
from hvcheck.fix.plan import align_down, align_up, apply_to_model, make_plan
from hvcheck.layout.intervals import intersect, subtract, union
from hvcheck.layout.loaders import load_layout

G = 0x1000
MB = 1 << 20


def _num(value: int, style: str) -> str:
    if style == "hex":
        return f"{value:#x}"
    if style == "HEX":
        return f"0x{value:X}"
    if style == "grouped":
        digits = f"{value:x}"
        groups = []
        while len(digits) > 4:
            groups.append(digits[-4:])
            digits = digits[:-4]
        return "0x" + "_".join([digits, *reversed(groups)])
    return str(value)


@st.composite
def layouts(draw):
    """(document text, suffix) of a random layout whose root RAM meets the hypervisor."""
    style = draw(st.sampled_from(["hex", "HEX", "grouped", "dec"]))
    syntax = draw(st.sampled_from(["flow", "block", "json"]))
    hv_start = 0x4000_0000 + draw(st.integers(0, 64)) * 2 * MB
    hv_size = draw(st.integers(1, 40 * MB // G)) * G
    # 1-4 disjoint granule-aligned RAM regions between 0x4000_0000 and 0x5000_0000
    cuts = sorted(draw(st.lists(st.integers(0, 0x1_0000), min_size=2, max_size=8, unique=True)))
    regions = []
    for a, b in zip(cuts[::2], cuts[1::2], strict=False):
        start, end = 0x4000_0000 + a * G, 0x4000_0000 + b * G
        use_end = draw(st.booleans())
        guest = draw(st.sampled_from([None, 0, 0x1000_0000]))
        regions.append((start, end, use_end, None if guest is None else start - 0x4000_0000 + guest))
    with_dt = draw(st.booleans())
    headroom = draw(st.sampled_from([0, 8 * MB, 3 * G]))

    def rng(start: int, end: int, use_end: bool) -> dict:
        return {"start": _num(start, style), ("end" if use_end else "size"): _num(end if use_end else end - start,
                                                                                   style)}

    regs = []
    for i, (s, e, use_end, guest) in enumerate(regions):
        r = {"kind": "ram", **rng(s, e, use_end), "label": f"bank{i}"}
        if guest is not None:
            r["guest"] = _num(guest, style)
        regs.append(r)
    root = {"name": "root", "root": True, "regions": regs}
    if with_dt:
        root["devicetree"] = {"memory": [rng(g, g + (e - s), True) for s, e, _, gg in regions
                                         for g in [s if gg is None else gg]]}
    doc = {"hvcheck-layout": 1, "name": "random",
           "hypervisor": {"name": "hv", "start": _num(hv_start, style), "size": _num(hv_size, style)},
           "board": {"granule": "4K", "memory": [{"start": "0x40000000", "size": "0x40000000"}]},
           "zones": [root]}
    if syntax == "json":
        return json.dumps(doc, indent=2), ".json", headroom
    if syntax == "flow":
        lines = ["hvcheck-layout: 1", "hypervisor: " + _flow(doc["hypervisor"]),
                 "board: " + _flow(doc["board"]), "zones:", "  - name: root", "    root: true", "    regions:"]
        lines += [f"      - {_flow(r)}   # region {i}" for i, r in enumerate(regs)]
        if with_dt:
            lines += ["    devicetree:", "      memory:"] + [f"        - {_flow(m)}"
                                                          for m in root["devicetree"]["memory"]]
        return "\n".join(lines) + "\n", ".yaml", headroom
    import yaml

    return "# random block layout\n" + yaml.safe_dump(doc, sort_keys=False), ".yaml", headroom


def _flow(d: dict) -> str:
    inner = ", ".join(f"{k}: {v}" if not isinstance(v, list) else f"{k}: [{', '.join(_flow(x) for x in v)}]"
                      for k, v in d.items())
    return "{" + inner + "}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts())
def test_punch_properties(case) -> None:
    text, suffix, headroom = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"layout{suffix}"
        path.write_text(text)
        system = load_layout(path)
        hv = system.hypervisor
        before = union((r.start, r.end) for r in system.zones[0].regions)
        result = run_fix(path, "punch", headroom=headroom)
        if not result.changed_files:
            assert not intersect(before, [(hv.start, hv.end)])
            return
        assert not [r for r in result.refused if "internal check" in r], result.refused
        path.write_text(result.changed_files[0].result())
        after_sys = load_layout(path)
        after = union((r.start, r.end) for r in after_sys.zones[0].regions)
        hole = (align_down(hv.start, G), align_up(hv.end + headroom, G))
        # no zone RAM meets the extent
        assert not intersect(after, [(hv.start, hv.end)])
        # nothing lost, nothing added: RAM after == RAM before minus the hole (for each region that
        # met the extent) — regions that did not meet the extent are untouched
        met = [(r.start, r.end) for r in system.zones[0].regions if intersect([(r.start, r.end)], [(hv.start, hv.end)])]
        untouched = [(r.start, r.end) for r in system.zones[0].regions if (r.start, r.end) not in met]
        assert after == union(subtract(met, [hole]) + untouched)
        # the removed part is exactly the extent plus headroom, rounded to the granule
        assert union(subtract(before, after)) == union(intersect(met, [hole]))
        # alignment holds, guest offsets move with the pieces
        for r in after_sys.zones[0].regions:
            assert r.start % G == 0 and r.size % G == 0 and r.gstart % G == 0
        # parse(edit(text)) equals the planned model
        # (the plan as the editors completed it: they decide reservation vs shrinking /memory)
        assert model_signature(after_sys) == model_signature(apply_to_model(system, result.plan))
        fresh = make_plan(system, "punch", headroom=headroom)
        assert [(s.zone, s.index, s.pieces) for s in fresh.splits] == \
            [(s.zone, s.index, s.pieces) for s in result.plan.splits]
        # idempotent
        assert run_fix(path, "punch", headroom=headroom).diff() == ""
        # the device tree (when given) keeps the kernel off the hole: no M003/M002 errors
        assert not {f.rule for f in result.after} & {"M001", "M002", "M003"}
