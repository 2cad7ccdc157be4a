"""Draw every board of an hvisor checkout with `hvcheck map --all` and check the page in headless
chromium, board by board: every region, device and hypervisor part of the model is an element of
non-zero height, and every physical overlap finding is drawn exactly where the two owners meet.

    python scripts/map_real_boards.py /tmp/hvisor [OUT_DIR]

Prints a Markdown table (docs/map.md reports it). Needs chromium on PATH.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.map.browser import check_map, measure  # noqa: E402


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    tree = Path(argv[0])
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium not found", file=sys.stderr)
        return 2
    out_dir = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp())
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "boards.html"
    hv = [sys.executable, "-m", "hvcheck", "map", str(tree), "--all"]
    subprocess.run([*hv, "-o", str(page)], check=False)
    doc = json.loads(subprocess.run([*hv, "--format", "json"], capture_output=True, text=True).stdout)
    elements = measure(chromium, page, out_dir)
    print("| board | regions, devices, hv parts | drawn (height > 0) | physical overlaps | placed exactly | problems |")
    print("|---|---|---|---|---|---|")
    totals = [0, 0, 0, 0]
    for index, entry in enumerate(doc["layouts"]):
        name, model = entry["name"], entry["layout"]
        if model is None:
            print(f"| {name} | not loaded (E001) | | | | |")
            continue
        findings = [f for f in doc["findings"] if f["data"].get("board") == name]
        mine = [e for e in elements if e["svg"] == f"map-{index}"]
        regions, overlaps, problems = check_map(mine, model, findings)
        bad_regions = sum(1 for p in problems if "not drawn" in p or "zero height" in p)
        bad_overlaps = len({p.split(":")[0] for p in problems} - {p.split(":")[0] for p in problems
                                                                   if "not drawn" in p or "zero height" in p})
        totals[0] += regions
        totals[1] += regions - bad_regions
        totals[2] += overlaps
        totals[3] += overlaps - min(bad_overlaps, overlaps)
        print(f"| {name} | {regions} | {regions - bad_regions} | {overlaps} | {overlaps - min(bad_overlaps, overlaps)} "
              f"| {'; '.join(problems[:3])} |")
    print(f"| **all** | {totals[0]} | {totals[1]} | {totals[2]} | {totals[3]} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
