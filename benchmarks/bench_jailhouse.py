"""Jailhouse configs (issue 14): hvcheck beside Jailhouse's own `tools/jailhouse-config-check`, same run.

The Jailhouse tree is $JAILHOUSE_TREE, else /tmp/jailhouse (a clone of github siemens/jailhouse,
never committed). Without one, only the generated sets are measured, by hvcheck alone (the anchor
lives in the tree).

1. shipped sets: every config of the tree built once like configs/Makefile (scripts/jailhouse_trial.py),
   then `hvcheck layout BUILT --all` over the .cell binaries against the anchor run once per set on
   the same files; and `hvcheck layout TREE --all` from the .c sources (it builds them itself).
2. generated sets of n regions (a system config whose root has n/2 RAM regions and two cells
   with n/4 each, carved from the root's RAM, on disjoint CPUs), written with the tests' cell
   writer: hvcheck for n = 10^3 ... 10^5 (goal: 10^5 in under 2 s, n log n growth); the anchor
   only where it finishes within a minute (it grows about n^3).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import PYTHON, ROOT, Row, Section, Timing, hvcheck_argv, time_callable, time_command

PAIRING = ROOT / "scripts" / "jailhouse-pairing.txt"
SIZES = (1_000, 10_000, 100_000)
ANCHOR_SIZES = (1_000, 2_000)


def _tree() -> Path | None:
    for cand in (os.environ.get("JAILHOUSE_TREE"), "/tmp/jailhouse"):
        if cand and (Path(cand) / "tools" / "jailhouse-config-check").is_file():
            return Path(cand)
    return None


def _anchor(tree: Path, files: list[Path]) -> list[str]:
    return [PYTHON, str(tree / "tools" / "jailhouse-config-check"), *map(str, files)]


def _cpu_seconds(argv: list[str], repeat: int = 5) -> Timing:
    samples = []
    for _ in range(repeat):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        samples.append(usage.ru_utime + usage.ru_stime)
    return Timing(samples)


def _write_set(directory: Path, n: int) -> list[Path]:
    sys.path.insert(0, str(ROOT / "tests" / "layout" / "jailhouse"))
    try:
        from cellwriter import RAM, Cell, Mem, inmate, root_cell, system, write_set
    finally:
        sys.path.pop(0)
    half, quarter = n // 2, n // 4
    base, stride = 0x1_0000_0000, 0x10000
    root = root_cell()
    root.regions = [*root.regions, *(Mem(base + i * stride, 0x8000, RAM) for i in range(half))]
    cells: list[Cell] = []
    for k, cpu in ((0, 1), (1, 2)):
        cell = inmate(f"gen-{k}", [cpu])
        cell.regions = [*cell.regions, *(Mem(base + (2 * j + k) * stride, 0x1000, RAM) for j in range(quarter))]
        cells.append(cell)
    return write_set(directory, system(root), *cells)


def _shipped(tree: Path) -> Section:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from jailhouse_trial import build_configs
    finally:
        sys.path.pop(0)
    rev = subprocess.run(["git", "-C", str(tree), "log", "-1", "--format=%h %cs"], capture_output=True,
                         text=True).stdout.strip()
    section = Section(f"Jailhouse: every shipped board set of {tree} ({rev or 'unknown commit'})")
    with tempfile.TemporaryDirectory(prefix="jh-bench-") as tmp:
        built_dir = Path(tmp)
        n_built, failed = build_configs(tree, built_dir)
        from hvcheck.layout.loaders import LoadOptions
        from hvcheck.layout.loaders.jailhouse import FORMAT

        targets = FORMAT._sets(built_dir, LoadOptions(scenario=PAIRING))
        n_cells = sum(len(t.paths) for t in targets)

        def anchor_all() -> None:
            for t in targets:
                subprocess.run(_anchor(tree, list(t.paths)), capture_output=True, cwd=tree, check=False)

        anchor = time_callable(anchor_all, repeat=5, warmup=0)
        ours = time_command(hvcheck_argv("layout", str(built_dir), "--all", "--scenario", str(PAIRING)), repeat=5)
        section.rows.append(Row(f"hvcheck layout --all on the .cell binaries ({len(targets)} sets, {n_cells} "
                                "configs), whole process", ours, "faster than the anchor",
                                "yes" if ours.median < anchor.median else "NO",
                                f"jailhouse-config-check once per set ({len(targets)} processes)", anchor))
    source = time_command(hvcheck_argv("layout", str(tree), "--all", "--scenario", str(PAIRING)), repeat=5, warmup=0)
    section.rows.append(Row(f"hvcheck layout TREE --all from the .c sources (builds {n_built} configs with gcc "
                            "first)", source, note="gcc dominates; the anchor needs the same build done beforehand"
                                                   + (f"; build failures: {failed}" if failed else "")))
    return section


def _generated(tree: Path | None) -> Section:
    section = Section("Jailhouse: generated sets of n memory regions (system + 2 cells)")
    with tempfile.TemporaryDirectory(prefix="jh-bench-gen-") as tmp:
        results: dict[int, Timing] = {}
        for n in SIZES:
            paths = _write_set(Path(tmp) / str(n), n)
            results[n] = time_command(hvcheck_argv("layout", *map(str, paths)), repeat=5)
        for n in SIZES:
            growth = ""
            if n // 10 in results:
                ratio = results[n].median / results[n // 10].median
                growth = f"x{ratio:.1f} for x10 regions"
            goal, verdict = ("< 2 s", "yes" if results[n].median < 2.0 else "NO") if n == 100_000 else ("", "")
            section.rows.append(Row(f"hvcheck layout, n = {n:,} regions", results[n], goal, verdict, note=growth))
        cpu = {n: _cpu_seconds(hvcheck_argv("layout", *map(str, sorted((Path(tmp) / str(n)).glob("*.cell")))))
               for n in SIZES[-2:]}
        small, large = SIZES[-2:]
        section.rows.append(Row(f"same command, n = {small:,}: CPU time (user + sys) of the process", cpu[small]))
        section.rows.append(Row(f"same command, n = {large:,}: CPU time (user + sys) of the process", cpu[large],
                                "< 2 s", "yes" if cpu[large].median < 2.0 else "NO",
                                note=f"CPU x{cpu[large].median / cpu[small].median:.1f} for x10 regions; "
                                     "independent of other load on this shared machine; every root region is "
                                     "cut by a cell (worst case for the root's bookkeeping)"))
        if tree is None:
            section.notes.append("no Jailhouse tree ($JAILHOUSE_TREE or /tmp/jailhouse): anchor not measured")
        else:
            for n in ANCHOR_SIZES:
                paths = _write_set(Path(tmp) / f"anchor-{n}", n)
                repeat = 5 if n <= 1_000 else 1
                anchor = time_command(_anchor(tree, paths), repeat=repeat, warmup=0, cwd=tree, ok_codes=(0, 1))
                ours = time_command(hvcheck_argv("layout", *map(str, paths)), repeat=5)
                section.rows.append(Row(f"n = {n:,}: hvcheck beside jailhouse-config-check", ours, "", "",
                                        "jailhouse-config-check" + (" (one run)" if repeat == 1 else ""), anchor,
                                        note=f"anchor / hvcheck = {anchor.median / ours.median:.0f}x"))
            section.notes.append(f"the anchor is not run above n = {ANCHOR_SIZES[-1]:,}: it grows about n^3 "
                                 "(5,000 regions took 346 s on this machine, issue 14)")
    baseline = time_command([PYTHON, "-c", "pass"], repeat=7)
    section.rows.append(Row("interpreter start-up alone (`python3 -c pass`), same run", baseline,
                            note="wall times above include it; this machine is shared (2 cores), so wall medians "
                                 "move with its load: the CPU-time row does not"))
    return section


def run() -> list[Section]:
    tree = _tree()
    sections = [_shipped(tree)] if tree is not None else []
    sections.append(_generated(tree))
    return sections


if __name__ == "__main__":  # pragma: no cover
    for s in run():
        print(s.title)
        for r in s.rows:
            print(" ", r.what, r.timing.cell() if isinstance(r.timing, Timing) else "", r.goal, r.verdict,
                  r.anchor, r.anchor_timing.cell() if r.anchor_timing else "", r.note)
        for note in s.notes:
            print("  note:", note)
