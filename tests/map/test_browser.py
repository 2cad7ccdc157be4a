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
from tests.map.browser import check_map, measure, model_ranges

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


@pytest.mark.parametrize("target", [SEED, FAULTY, STOMP], ids=lambda p: p.name)
def test_every_region_is_drawn_and_every_overlap_is_where_the_finding_says(target: Path, tmp_path: Path) -> None:
    elements, doc = _render(target, tmp_path)
    regions, overlaps, problems = check_map(elements, doc["layout"], doc["findings"])
    assert problems == []
    assert regions == len(model_ranges(doc["layout"])) >= 6
    assert overlaps >= {"seed001-stomp": 1, "faulty": 5, "stomp": 1}[target.stem]


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
