"""`hvcheck fix`: whole-process wall time of computing, re-checking and printing a fix, next to
`hvcheck layout` on the same input (the check a user runs anyway; fix = check + plan + edit +
staged re-load + second check), and the library call on a layout with many regions."""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.harness import ROOT, Row, Section, hvcheck_argv, time_callable, time_command

SEED = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"
BOARD = ROOT / "tests" / "fixtures" / "fix" / "hvrepo" / "platform" / "aarch64" / "variants"


def _many_regions(n: int, directory: Path) -> Path:
    """A root zone with n RAM regions of 2 MiB, one of which holds the hypervisor."""
    lines = ["hvcheck-layout: 1", "hypervisor: {start: 0x40400000, end: 0x44c00000}",
             "board: {memory: [{start: 0x40000000, size: 0x400000000}]}", "zones:",
             "  - name: root", "    root: true", "    regions:"]
    lines += [f"      - {{kind: ram, start: {0x40000000 + i * 0x200000:#x}, size: 0x200000}}" for i in range(n)]
    path = directory / f"many-{n}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run() -> list[Section]:
    sec = Section("Fix: plan + minimal edits + staged re-check (whole process; anchor: `hvcheck layout` on the "
                  "same input in the same run)")
    for label, target, args in (("seed-001 layout file, --strategy all", SEED, []),
                                ("fixture hvisor board (board.rs + JSON + 2 DTS), --strategy all", BOARD, [])):
        fix_t = time_command(hvcheck_argv("fix", str(target), *args))
        chk_t = time_command(hvcheck_argv("layout", str(target)))
        sec.rows.append(Row(f"hvcheck fix {label}", fix_t, goal="< 2 s", verdict="ok" if fix_t.median < 2 else "slow",
                            anchor="hvcheck layout (check only)", anchor_timing=chk_t))
    from hvcheck.fix.engine import run_fix

    with tempfile.TemporaryDirectory() as tmp:
        for n in (100, 2000):
            path = _many_regions(n, Path(tmp))
            t = time_callable(lambda p=path: run_fix(p, "punch"), repeat=5)
            sec.rows.append(Row(f"run_fix punch, one zone with {n} regions (library call)", t,
                                goal="< 5 s", verdict="ok" if t.median < 5 else "slow"))
    sec.notes.append("fix re-parses the edited text and re-runs every rule before printing, so it costs about two "
                     "checks plus the staging copy.")
    return sec and [sec]
