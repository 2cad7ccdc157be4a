"""Layout engine and command start-up (issue: foundation).

- all-overlaps on 10^3, 10^5, 10^6 random regions (sort + sweep) vs the naive pairwise scan that
  existing checkers use, run up to the size where it takes about a minute;
- whole-process wall time of `hvcheck --help` and `hvcheck layout <demo example>` vs
  `python3 -c pass` in the same run.
"""

from __future__ import annotations

import json

from benchmarks.harness import PYTHON, ROOT, Row, Section, Timing, hvcheck_argv, peak_rss_mib, time_command

# Regions: random starts over n MiB, sizes 4 KiB..2 MiB, so about one overlap per region.
_SETUP = """
import random, time
from hvcheck.layout.intervals import overlapping_index_pairs
n = {n}
rnd = random.Random(2026)
starts = [rnd.randrange(0, n << 20) for _ in range(n)]
ends = [s + rnd.randrange(4096, 2 << 20) for s in starts]
"""

_ENGINE = _SETUP + """
t0 = time.perf_counter()
k = len(overlapping_index_pairs(starts, ends))
dt = time.perf_counter() - t0
import json
print(json.dumps({{"k": k, "seconds": dt}}))
"""

_NAIVE = _SETUP + """
t0 = time.perf_counter()
k = 0
for i in range(n):
    si, ei = starts[i], ends[i]
    for j in range(i + 1, n):
        if starts[j] < ei and si < ends[j]:
            k += 1
dt = time.perf_counter() - t0
import json
print(json.dumps({{"k": k, "seconds": dt}}))
"""


def _run_snippet(code: str, repeat: int) -> tuple[Timing, int]:
    samples, peak, k = [], 0.0, -1
    for _ in range(repeat):
        proc, rss = peak_rss_mib([PYTHON, "-c", code], cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-800:])
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        samples.append(out["seconds"])
        peak = max(peak, rss or 0.0)
        k = out["k"]
    return Timing(samples, peak_rss_mib=peak or None), k


def run() -> list[Section]:
    engine = Section("Layout: all overlapping pairs among n regions (interval engine vs naive pairwise scan)")
    results: dict[int, Timing] = {}
    for n in (1_000, 100_000, 1_000_000):
        timing, k = _run_snippet(_ENGINE.format(n=n), repeat=5)
        results[n] = timing
        naive: Timing | None = None
        naive_note = ""
        if n <= 10_000:
            naive, k_naive = _run_snippet(_NAIVE.format(n=n), repeat=5)
            assert k_naive == k, (k_naive, k)
        else:
            naive_note = "naive not run: O(n²) would take far longer than a minute"
        goal = "≤ 3 s, ≤ 1 GiB" if n == 1_000_000 else ""
        verdict = ""
        if n == 1_000_000:
            verdict = "yes" if timing.median <= 3 and (timing.peak_rss_mib or 0) <= 1024 else "NO"
        engine.rows.append(Row(f"n = {n:,} ({k:,} overlapping pairs)", timing, goal, verdict,
                               "naive pairwise scan" if naive else "", naive, naive_note))
    naive_10k, k10 = _run_snippet(_NAIVE.format(n=10_000), repeat=5)
    engine_10k, _ = _run_snippet(_ENGINE.format(n=10_000), repeat=5)
    engine.rows.append(Row(f"n = 10,000 ({k10:,} pairs)", engine_10k, "", "", "naive pairwise scan", naive_10k,
                           "the largest size at which the naive scan stays near a minute for 5 runs"))
    ratio = results[1_000_000].median / results[100_000].median
    engine.notes.append(f"growth 10^5 → 10^6: time ratio {ratio:.1f} (goal ≤ 15; n log n predicts ≈ 12)")
    engine.notes.append("timed inside the process (data generation excluded); peak RSS of that whole process "
                        "(interpreter + data + pairs), from GNU time")

    startup = Section("Layout: whole-process wall time")
    baseline = time_command([PYTHON, "-c", "pass"], repeat=7)
    helptime = time_command(hvcheck_argv("--help"), repeat=7)
    example = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"
    layout = time_command(hvcheck_argv("layout", str(example)), repeat=7)
    startup.rows.append(Row("hvcheck --help", helptime, "≤ 150 ms", "yes" if helptime.median <= 0.150 else "NO",
                            "python3 -c pass", baseline))
    startup.rows.append(Row("hvcheck layout seed001-stomp.yaml", layout, "≤ 300 ms",
                            "yes" if layout.median <= 0.300 else "NO", "python3 -c pass", baseline))
    return [engine, startup]
