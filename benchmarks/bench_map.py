"""`hvcheck map` (issue 21): a 10,000-region layout to HTML in under 2 s, side by side with
`hvcheck layout` on the same input (what the map adds to loading and checking), and the page in a
real browser.

- whole process: `hvcheck map big.json -o big.html` (and svg, text) vs `hvcheck layout big.json`;
- in process: model + findings -> geometry -> HTML, the map's own share;
- the seed-001 example (small, the common case) vs `hvcheck layout` on it;
- chromium (when installed) loading and laying out the 10,000-region page vs the seed-001 page: the
  page stays usable because the grouped overview is what the browser draws first.

The input is generated (deterministic): 4 zones of 2,500 regions (4 KiB to 2 MiB, RAM and I/O,
a gap every ~10 regions), a hypervisor, board memory, and a few deliberate overlaps so findings are
drawn too.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.harness import PYTHON, ROOT, Row, Section, Timing, hvcheck_argv, time_callable, time_command

SEED = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"
GOAL_S = 2.0


def big_layout(n: int = 10_000, seed: int = 2026) -> dict[str, object]:
    rnd = random.Random(seed)
    zones = []
    per = n // 4
    for z in range(4):
        regions = []
        addr = 0x1_0000_0000 + z * 0x4_0000_0000
        for _ in range(per):
            size = rnd.choice([0x1000, 0x2000, 0x10000, 0x100000, 0x200000])
            regions.append({"kind": "ram" if rnd.random() < 0.6 else "io", "start": hex(addr), "size": hex(size)})
            addr += size + (rnd.choice([0x1000, 0x100000, 0x400_0000]) if rnd.random() < 0.1 else 0)
        if z == 1:  # a deliberate overlap with zone 0's first region: an M004 drawn on the map
            regions.append({"kind": "ram", "start": "0x100000000", "size": "0x2000"})
        zones.append({"name": f"zone{z}", "id": z, "root": z == 0, "cpus": [z], "regions": regions})
    return {"hvcheck-layout": 1, "name": f"synthetic {n} regions",
            "hypervisor": {"name": "hvisor", "start": "0x80000000", "end": "0x84000000"},
            "board": {"cpus": 4, "memory": [{"start": "0x80000000", "size": "0x1000000000"}]},
            "zones": zones}


def _cpu_seconds(argv: list[str], repeat: int) -> Timing:
    """user + sys CPU seconds of a whole process: what the wall time is on an idle machine, and
    what a shared, busy one does not inflate."""
    samples = []
    for _ in range(repeat):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        samples.append(usage.ru_utime + usage.ru_stime)
    return Timing(samples)


def _chromium_load(chromium: str, page: Path, profile: Path, repeat: int) -> Row | None:
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--dump-dom", page.as_uri()]
    try:
        return Row("", time_command(argv, repeat=repeat, ok_codes=(0,)))
    except (OSError, RuntimeError, subprocess.SubprocessError):
        return None


def run() -> list[Section]:
    from hvcheck.layout.loaders import load_layout
    from hvcheck.layout.rules import run_rules
    from hvcheck.map.render import MapInput, render_maps

    load_before = os.getloadavg()[0]
    whole = Section("Map: whole-process wall time (`hvcheck map` vs `hvcheck layout` on the same input)")
    inproc = Section("Map: the map's own share, in process (model + findings → HTML)")
    browser = Section("Map: the HTML in a real browser (chromium --headless --dump-dom: load, style, layout)")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        big = tmp / "big.json"
        big.write_text(json.dumps(big_layout()))
        layout_big = time_command(hvcheck_argv("layout", str(big)), repeat=5)
        for fmt in ("html", "svg", "text"):
            out = tmp / f"big.{fmt if fmt != 'text' else 'txt'}"
            timing = time_command(hvcheck_argv("map", str(big), "--format", fmt, "-o", str(out)), repeat=5)
            size = out.stat().st_size / (1 << 20)
            goal = f"≤ {GOAL_S:.0f} s" if fmt == "html" else ""
            verdict = ("yes" if timing.median <= GOAL_S else "NO") if fmt == "html" else ""
            whole.rows.append(Row(f"hvcheck map 10,000 regions --format {fmt} ({size:.1f} MiB)", timing, goal,
                                  verdict, "hvcheck layout 10,000 regions", layout_big))
        cpu_layout = _cpu_seconds(hvcheck_argv("layout", str(big)), repeat=5)
        cpu_map = _cpu_seconds(hvcheck_argv("map", str(big), "-o", str(tmp / "cpu.html")), repeat=5)
        whole.rows.append(Row("CPU seconds (user + sys) of hvcheck map 10,000 regions -o big.html", cpu_map,
                              f"≤ {GOAL_S:.0f} s", "yes" if cpu_map.median <= GOAL_S else "NO",
                              "CPU seconds of hvcheck layout 10,000 regions", cpu_layout,
                              "the wall time on an idle machine; not inflated by other load"))
        layout_seed = time_command(hvcheck_argv("layout", str(SEED)), repeat=7)
        seed_html = tmp / "seed.html"
        map_seed = time_command(hvcheck_argv("map", str(SEED), "-o", str(seed_html)), repeat=7)
        whole.rows.append(Row("hvcheck map seed001-stomp.yaml -o seed.html", map_seed, "", "",
                              "hvcheck layout seed001-stomp.yaml", layout_seed))
        baseline = time_command([PYTHON, "-c", "pass"], repeat=7)
        whole.rows.append(Row("python3 -c pass (how busy the machine is)", baseline))
        whole.notes.append("the input: 4 zones × 2,500 regions (4 KiB–2 MiB, RAM and I/O, a gap every ~10), "
                           "generated by big_layout() in this module; peak RSS from GNU time")

        system = load_layout(big)
        findings = run_rules(system)
        render = time_callable(lambda: render_maps([MapInput(system.name, system, findings)], "html", title="b"),
                               repeat=5)
        load = time_callable(lambda: load_layout(big), repeat=3)
        inproc.rows.append(Row(f"geometry + grouped overview + HTML, 10,000 regions, {len(findings)} findings",
                               render, "", "", "loading the same layout (neutral JSON loader)", load))

        chromium = shutil.which("chromium")
        if chromium is None:
            browser.notes.append("chromium not installed: not measured")
        else:
            big_html = tmp / "big.html"
            seed_row = _chromium_load(chromium, seed_html, tmp / "profile", 5)
            big_row = _chromium_load(chromium, big_html, tmp / "profile", 5)
            if seed_row is not None and big_row is not None:
                browser.rows.append(Row("10,000-region page (overview drawn, detailed map in a closed details element)",
                                        big_row.timing, "", "", "seed-001 page", seed_row.timing))
            browser.notes.append("whole chromium process per run (start-up included, which the anchor shows)")
    browser.notes.append(f"1-minute load average {load_before:.1f} at the start of this part and "
                         f"{os.getloadavg()[0]:.1f} at its end, on {os.cpu_count()} cores (a shared machine)")
    return [whole, inproc, browser]
