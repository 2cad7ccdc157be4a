"""A backport with thousands of hunks upstream does not have (two unrelated patches, a rework):
every block is still one P003/P004 finding with its lines, and the run stays linear. Issue 19
measured 10,000 such hunks at 4.5 s and 50,000 at 16.6 s / 889 MB; half of the report was a table
row per block repeating each finding's data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import run_hvcheck

from hvcheck.backport.check import MAX_PAIR_ROWS


def distinct_hunks(path: Path, n: int, tag: str) -> Path:
    """n one-line hunks, each changing a line no other hunk (and no other patch) changes."""
    out = ["diff --git a/x.c b/x.c", "--- a/x.c", "+++ b/x.c"]
    for i in range(n):
        out += [f"@@ -{i * 10 + 1} +{i * 10 + 1} @@", f"-\t{tag}b{i};", f"+\t{tag}c{i};"]
    path.write_text("\n".join(out) + "\n")
    return path


def test_every_extra_block_is_a_finding_but_the_table_lists_only_the_first(tmp_path: Path) -> None:
    n = MAX_PAIR_ROWS + 50
    up = distinct_hunks(tmp_path / "up.patch", 1, "u")
    bp = distinct_hunks(tmp_path / "bp.patch", n, "k")
    proc = run_hvcheck("backport", str(up), str(bp), "--format", "json")
    doc = json.loads(proc.stdout)
    p004 = [f for f in doc["findings"] if f["rule"] == "P004"]
    assert len(p004) == n and len([f for f in doc["findings"] if f["rule"] == "P003"]) == 1
    # each finding still carries its block's lines and its place in the patch
    lines = {tuple(f["data"]["lines"]) for f in p004}
    assert ("-kb0;", "+kc0;") in lines and (f"-kb{n - 1};", f"+kc{n - 1};") in lines and len(lines) == n
    assert {f["locations"][1]["line"] for f in p004} == {6 + 3 * i for i in range(n)}
    table = doc["backport"]["pairs"]
    assert len(table) == MAX_PAIR_ROWS  # one P003 row and the first P004 rows
    assert doc["backport"]["pairs_not_listed"] == str(n + 1 - MAX_PAIR_ROWS)
    text = run_hvcheck("backport", str(up), str(bp)).stdout
    assert f"1 upstream-only, {n} backport-only" in text
    assert f"... and {n + 1 - MAX_PAIR_ROWS} more upstream-only or backport-only block(s), not listed" in text
    assert text.count("\n  • the backport's hunk ") == n


PROBE = """
import json, os, resource, sys
from hvcheck.cli import main
try:
    main(["backport", sys.argv[1], sys.argv[2], "--format", sys.argv[3], "--output", os.devnull])
except SystemExit:
    pass
u = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"cpu": u.ru_utime + u.ru_stime, "peak_kib": u.ru_maxrss}))
"""


def _run(up: Path, bp: Path, fmt: str) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", PROBE, str(up), str(bp), fmt], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_distinct_hunks_whole_command_is_linear(tmp_path: Path) -> None:
    """5x the findings costs about 5x the CPU (CPU time: a busy machine does not fail it); before
    issue 19's fixes 10,000 to 50,000 went from 4.5 s to 16.6 s with the collector's rescans."""
    up = distinct_hunks(tmp_path / "up.patch", 1, "u")
    small = _run(up, distinct_hunks(tmp_path / "bp2k.patch", 2_000, "k"), "json")
    large = _run(up, distinct_hunks(tmp_path / "bp10k.patch", 10_000, "k"), "json")
    assert large["cpu"] <= 7 * max(small["cpu"], 0.3), (small, large)
