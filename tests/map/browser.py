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
