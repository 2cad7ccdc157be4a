"""A backport with thousands of hunks upstream does not have (two unrelated patches, a rework):
every block stays reachable (its own P003/P004 finding, or beyond MAX_ONE_SIDED_PER_FILE in one
file a location of that file's one finding), and the run stays linear and within 10x its input in
memory. Issue 19 measured 10,000 such hunks at 4.5 s and 50,000 at 16.6 s / 889 MB; half of the
report was a table row per block repeating each finding's data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import run_hvcheck

from fuzz.runner import MEMORY_FACTOR, run_forked
from hvcheck.backport.check import MAX_ONE_SIDED_PER_FILE, MAX_PAIR_ROWS


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


def test_more_than_the_limit_in_one_file_is_one_finding_listing_every_block(tmp_path: Path) -> None:
    n = MAX_ONE_SIDED_PER_FILE + 1
    up = distinct_hunks(tmp_path / "up.patch", 1, "u")
    bp = distinct_hunks(tmp_path / "bp.patch", n, "k")
    doc = json.loads(run_hvcheck("backport", str(up), str(bp), "--format", "json").stdout)
    (p004,) = [f for f in doc["findings"] if f["rule"] == "P004"]
    assert p004["data"] == {"file": "x.c", "blocks": str(n), "grouped": True, "side": "backport"}
    assert p004["message"].startswith(f"{n} of the backport's hunks of x.c change lines upstream does not")
    # every block: its patch line, hunk number, lines and place
    assert [loc["line"] for loc in p004["locations"]] == [6 + 3 * i for i in range(n)]
    assert p004["locations"][0]["detail"] == "backport patch, hunk 1: changes `kb0;` to `kc0;` in an unknown place"
    assert p004["locations"][-1]["detail"].startswith(f"backport patch, hunk {n}: changes `kb{n - 1};` to `kc{n - 1};`")
    assert [f["rule"] for f in doc["findings"] if f["rule"] == "P003"] == ["P003"]  # one upstream block: its own
    assert doc["backport"]["pairs_not_listed"] == str(n)
    sarif = json.loads(run_hvcheck("backport", str(up), str(bp), "--format", "sarif").stdout)
    (result,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "P004"]
    lines = [result["locations"][0]["physicalLocation"]["region"]["startLine"]] + [
        r["physicalLocation"]["region"]["startLine"] for r in result["relatedLocations"]]
    assert lines == [6 + 3 * i for i in range(n)]
    # the other direction: thousands of upstream hunks the backport lacks
    doc = json.loads(run_hvcheck("backport", str(bp), str(up), "--format", "json").stdout)
    (p003,) = [f for f in doc["findings"] if f["rule"] == "P003"]
    assert p003["data"]["blocks"] == str(n) and len(p003["locations"]) == n
    assert p003["locations"][5]["detail"] == "upstream patch, hunk 6: changes `kb5;` to `kc5;` in an unknown place"
    # at the limit, still one finding per block
    at_limit = distinct_hunks(tmp_path / "limit.patch", MAX_ONE_SIDED_PER_FILE, "k")
    doc = json.loads(run_hvcheck("backport", str(up), str(at_limit), "--format", "json").stdout)
    assert len([f for f in doc["findings"] if f["rule"] == "P004"]) == MAX_ONE_SIDED_PER_FILE


def test_fifty_thousand_distinct_hunks_stay_within_ten_times_the_input(tmp_path: Path) -> None:
    """Issue 19's ceiling (peak RSS <= 10 x input + 48 MiB above the start, as the fuzz runner
    checks it) for the worst many-findings shape, both directions, JSON written to a file. Before:
    889 MB for 2 MB of patch (json), 967 MB (sarif)."""
    import hvcheck.backport.check  # noqa: F401 - loaded before the fork, as the runner's start is measured

    up = distinct_hunks(tmp_path / "up.patch", 1, "u")
    bp = distinct_hunks(tmp_path / "bp.patch", 50_000, "k")
    size = up.stat().st_size + bp.stat().st_size
    ceiling = MEMORY_FACTOR * size // 1024 + (48 << 10)
    for a, b, fmt in ((up, bp, "json"), (bp, up, "sarif")):
        outcome = run_forked(["backport", str(a), str(b), "--format", fmt, "--output", str(tmp_path / "out")],
                             120.0, size, 48 << 10)
        assert outcome.peak_kib > 0, "the child's peak was not measured"
        assert outcome.ok, outcome.what
        assert outcome.peak_kib <= ceiling, f"{fmt}: {outcome.peak_kib} KiB > {ceiling} KiB"
        assert json.loads((tmp_path / "out").read_text())  # a whole, valid document
