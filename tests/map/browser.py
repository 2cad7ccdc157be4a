"""Render a page in headless Chromium and read back where every map element was laid out.

The test appends its own measuring script to a copy of the page (the page hvcheck writes has no
script), loads it with --dump-dom, and reads the bounding boxes the browser computed."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path
from typing import Any

MEASURE = """<script>
for (const d of document.querySelectorAll('details')) d.open = true;
const out = [];
for (const e of document.querySelectorAll('[data-start]')) {
  const b = e.getBoundingClientRect();
  out.push({id: e.getAttribute('id'), uid: e.dataset.id || null, mark: e.dataset.mark || null,
            rule: e.dataset.rule || null, kind: e.dataset.kind || null, lane: e.dataset.lane || null,
            start: parseInt(e.dataset.start, 16), end: parseInt(e.dataset.end, 16),
            x: b.x + window.scrollX, y: b.y + window.scrollY, w: b.width, h: b.height,
            svg: e.ownerSVGElement ? e.ownerSVGElement.id : null});
}
const pre = document.createElement('pre'); pre.id = 'measured'; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


def chromium_argv(chromium: str, profile: Path) -> list[str]:
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--window-size=1600,1200"]


def measure(chromium: str, page: Path, tmp: Path) -> list[dict[str, Any]]:
    """Every element with data-start, with its rendered box (page coordinates, CSS pixels)."""
    probe = tmp / f"{page.stem}.measure.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    proc = subprocess.run([*chromium_argv(chromium, tmp / "profile"), "--dump-dom", probe.as_uri()],
                          capture_output=True, text=True, timeout=240)
    found = re.search(r'<pre id="measured">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"chromium rendered nothing: {proc.stderr[-2000:]}"
    return list(json.loads(html.unescape(found.group(1))))


def _h(n: str) -> int:
    return int(n, 16)


def model_ranges(model: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every region, device and hypervisor part of an exported model."""
    out = [(r["kind"], _h(r["start"]), _h(r["end"])) for z in model["zones"] for r in z["regions"]]
    out += [("device", _h(d["start"]), _h(d["end"])) for d in model["board"]["devices"]]
    hv = model["hypervisor"]
    if hv is not None:
        out.append(("hv", _h(hv["start"]), _h(hv["end"])))
        out += [("hv-part", _h(p["start"]), _h(p["end"])) for p in hv["parts"]]
    return out


def check_map(elements: list[dict[str, Any]], model: dict[str, Any], findings: list[dict[str, Any]],
              tolerance: float = 0.75) -> tuple[int, int, list[str]]:
    """Check one rendered map against its model and findings: every region is an element of
    non-zero height; every physical overlap finding's mark spans exactly the finding's range, and a
    drawn pair of owners overlapping by exactly that range intersects on the y axis exactly there.
    Returns (regions checked, overlaps checked, problems)."""
    items = [e for e in elements if e["uid"] is not None]
    marks = {e["mark"]: e for e in elements if e["mark"] is not None}
    problems: list[str] = []
    ranges = model_ranges(model)
    for kind, start, end in ranges:
        hits = [e for e in items if (e["kind"], e["start"], e["end"]) == (kind, start, end)]
        if not hits:
            problems.append(f"{kind} [{start:#x}, {end:#x}) not drawn")
        elif not all(e["h"] >= 1 and e["w"] >= 1 for e in hits):
            problems.append(f"{kind} [{start:#x}, {end:#x}) drawn with zero height or width")
    overlaps = 0
    for index, f in enumerate(findings):
        data = f["data"]
        if "overlap_start" not in data or data.get("space") == "guest-physical" or f["rule"] == "M007":
            continue
        overlaps += 1
        lo, hi = _h(data["overlap_start"]), _h(data["overlap_end"])
        mark = marks.get(f"f{index}")
        if mark is None or (mark["rule"], mark["start"], mark["end"]) != (f["rule"], lo, hi):
            problems.append(f"{f['rule']} [{lo:#x}, {hi:#x}): no mark with that range")
            continue
        owners = [e for e in items if e["start"] <= lo and hi <= e["end"]
                  and e["kind"] != "bank" and not e["kind"].startswith("dt-")]   # device-tree facts own nothing
        pairs = [(a, b) for a in owners for b in owners if a["uid"] < b["uid"]
                 and max(a["start"], b["start"]) == lo and min(a["end"], b["end"]) == hi]
        if not pairs:
            problems.append(f"{f['rule']} [{lo:#x}, {hi:#x}): no drawn pair overlaps by exactly that range")
        for a, b in pairs:
            top, bottom = max(a["y"], b["y"]), min(a["y"] + a["h"], b["y"] + b["h"])
            if abs(top - mark["y"]) > tolerance or abs(bottom - (mark["y"] + mark["h"])) > tolerance:
                problems.append(f"{f['rule']} [{lo:#x}, {hi:#x}): {a['uid']} and {b['uid']} meet at y "
                                f"{top:.1f}-{bottom:.1f}, the mark is at {mark['y']:.1f}-{mark['y'] + mark['h']:.1f}")
            if a["x"] == b["x"] and "hv" not in (a["kind"], b["kind"]) and "hv-part" not in (a["kind"], b["kind"]):
                problems.append(f"{f['rule']}: {a['uid']} and {b['uid']} drawn on top of each other")
    return len(ranges), overlaps, problems
