"""The HTML map in a real browser (Debian's chromium, headless): every region of the model is an
element with a non-zero height, overlapping regions' elements intersect on the address axis
exactly where the finding says, a 4 KiB region next to a 4 GiB one is several pixels tall, and a
large layout's grouped overview renders with working links."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, ROOT, require_tool, run_hvcheck
from tests.map.browser import measure

SEED = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"
FAULTY = FIXTURES / "hvisor" / "repo" / "platform" / "aarch64" / "faulty"
STOMP = FIXTURES / "hvisor" / "repo" / "platform" / "aarch64" / "stomp"
TOLERANCE = 0.75   # CSS pixels: SVG coordinates are written with one decimal


def _render(target: Path, tmp: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    chromium = require_tool("chromium")
    page = tmp / f"{target.stem}.html"
    proc = run_hvcheck("map", str(target), "-o", str(page))
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(run_hvcheck("map", str(target), "--format", "json").stdout)
    return measure(chromium, page, tmp), doc


def _h(n: str) -> int:
    return int(n, 16)


def _model_ranges(model: dict[str, Any]) -> list[tuple[str, int, int]]:
    out = [(r["kind"], _h(r["start"]), _h(r["end"])) for z in model["zones"] for r in z["regions"]]
    out += [("device", _h(d["start"]), _h(d["end"])) for d in model["board"]["devices"]]
    hv = model["hypervisor"]
    if hv is not None:
        out.append(("hv", _h(hv["start"]), _h(hv["end"])))
        out += [("hv-part", _h(p["start"]), _h(p["end"])) for p in hv["parts"]]
    return out


@pytest.mark.parametrize("target", [SEED, FAULTY, STOMP], ids=lambda p: p.name)
def test_every_region_is_drawn_and_every_overlap_is_where_the_finding_says(target: Path, tmp_path: Path) -> None:
    elements, doc = _render(target, tmp_path)
    items = [e for e in elements if e["uid"] is not None]
    marks = {e["mark"]: e for e in elements if e["mark"] is not None}
    # 1. Every region, device and hypervisor part of the exported model is an element of height > 0.
    for kind, start, end in _model_ranges(doc["layout"]):
        hits = [e for e in items if (e["kind"], e["start"], e["end"]) == (kind, start, end)]
        assert hits, f"{kind} [{start:#x}, {end:#x}) not drawn"
        assert all(e["h"] >= 1 and e["w"] >= 1 for e in hits), hits
    # 2. Every overlap finding: its mark spans exactly the finding's range, and some pair of drawn
    #    owners whose address ranges overlap by exactly that range intersect on the y axis exactly there.
    checked = 0
    for index, f in enumerate(doc["findings"]):
        data = f["data"]
        if "overlap_start" not in data or data.get("space") == "guest-physical" or f["rule"] == "M007":
            continue
        lo, hi = _h(data["overlap_start"]), _h(data["overlap_end"])
        mark = marks[f"f{index}"]
        assert (mark["rule"], mark["start"], mark["end"]) == (f["rule"], lo, hi)
        owners = [e for e in items if e["start"] <= lo and hi <= e["end"]
                  and e["kind"] != "bank" and not e["kind"].startswith("dt-")]   # device-tree facts own nothing
        pairs = [(a, b) for a in owners for b in owners if a["uid"] < b["uid"]
                 and max(a["start"], b["start"]) == lo and min(a["end"], b["end"]) == hi]
        assert pairs, f"{f['rule']}: no drawn pair overlaps by exactly [{lo:#x}, {hi:#x})"
        for a, b in pairs:
            top, bottom = max(a["y"], b["y"]), min(a["y"] + a["h"], b["y"] + b["h"])
            assert abs(top - mark["y"]) <= TOLERANCE and abs(bottom - (mark["y"] + mark["h"])) <= TOLERANCE, \
                (f["rule"], a, b, mark)
            # Side by side (different lanes or columns), so the overlap is visible as such.
            assert a["x"] != b["x"] or a["kind"] in ("hv", "hv-part") or b["kind"] in ("hv", "hv-part")
        checked += 1
    assert checked >= {"seed001-stomp": 1, "faulty": 5, "stomp": 1}[target.stem]


def test_4k_region_next_to_4g_region_is_several_pixels_tall(tmp_path: Path) -> None:
    layout = {"hvcheck-layout": 1, "name": "4k-next-to-4g", "zones": [
        {"name": "z", "root": True, "regions": [
            {"kind": "ram", "start": "0x100000000", "size": "4G"},
            {"kind": "io", "start": "0x200000000", "size": "4K", "label": "doorbell"},
            {"kind": "ram", "start": "0x200001000", "size": "4G"}]}]}
    path = tmp_path / "4k.json"
    path.write_text(json.dumps(layout))
    elements, _ = _render(path, tmp_path)
    small = [e for e in elements if e["kind"] == "io"]
    big = [e for e in elements if e["kind"] == "ram"]
    assert len(small) == 1 and len(big) == 2
    assert small[0]["h"] >= 8
    assert all(b["h"] > small[0]["h"] for b in big)
    # ... and it sits between the two, touching both.
    above, below = sorted(big, key=lambda e: e["y"])
    assert abs(above["y"] + above["h"] - small[0]["y"]) <= TOLERANCE
    assert abs(small[0]["y"] + small[0]["h"] - below["y"]) <= TOLERANCE


def test_large_layout_overview_renders_and_links_to_the_detailed_map(tmp_path: Path) -> None:
    regions = []
    addr = 0x8000_0000
    for i in range(2000):
        size = 0x1000 if i % 5 else 0x10_0000
        regions.append({"kind": "ram" if i % 3 else "io", "start": hex(addr), "size": hex(size)})
        addr += size + (0x1000_0000 if i % 400 == 399 else 0)
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"hvcheck-layout": 1, "name": "big", "zones": [
        {"name": "z", "root": True, "regions": regions}]}))
    elements, _ = _render(path, tmp_path)
    overview = [e for e in elements if e["svg"] == "overview-0" and e["uid"] is not None]
    detail = [e for e in elements if e["svg"] == "map-0" and e["uid"] is not None]
    assert len(detail) == 2000 and all(e["h"] > 0 for e in detail)
    groups = [e for e in overview if e["kind"] == "group"]
    assert groups and all(e["h"] > 0 for e in groups)
    over_height = max(e["y"] + e["h"] for e in overview) - min(e["y"] for e in overview)
    detail_height = max(e["y"] + e["h"] for e in detail) - min(e["y"] for e in detail)
    assert over_height < detail_height / 5
    page = (tmp_path / "big.html").read_text()
    ids = {e["id"] for e in elements}
    for g in groups:
        link = page.split(f'id="o-{g["uid"]}"')[0].rsplit('<a href="#', 1)[1].split('"', 1)[0]
        assert link in ids
