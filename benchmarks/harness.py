"""Measurement helpers shared by every benchmark module.

Every figure is the median of >= 5 runs with min and max; peak memory is the child's max RSS.
This machine is shared and noisy, so the anchors a user would otherwise use (`python3 -c pass`,
a naive scan, objdump, capstone) are measured in the same run and reported side by side.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass
class Timing:
    samples: list[float]
    peak_rss_mib: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def cell(self) -> str:
        lo, hi = min(self.samples), max(self.samples)
        return f"{fmt_seconds(self.median)} ({fmt_seconds(lo)}–{fmt_seconds(hi)})"


@dataclass
class Row:
    what: str
    timing: Timing | None
    goal: str = ""
    verdict: str = ""
    anchor: str = ""
    anchor_timing: Timing | None = None
    note: str = ""


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def fmt_seconds(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def time_callable(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> Timing:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return Timing(samples)


GNU_TIME = "/usr/bin/time"


def time_command(argv: list[str], repeat: int = 5, warmup: int = 1, cwd: Path | None = None,
                 ok_codes: tuple[int, ...] = (0, 1)) -> Timing:
    """Whole-process wall time of a command, and the largest peak RSS of its runs.

    The peak comes from GNU time's %M: a forked child's own ru_maxrss starts at the forking
    parent's RSS (this benchmark process, which can be large), so wait4/RUSAGE_CHILDREN would
    report the parent's size; GNU time execs first and reports only the command's own peak."""
    for _ in range(warmup):
        subprocess.run(argv, capture_output=True, cwd=cwd)
    samples = []
    peak: float | None = None
    use_time = os.path.exists(GNU_TIME)
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = os.path.join(tmp, "rss")
        for _ in range(repeat):
            full = [GNU_TIME, "-f", "%M", "-o", rss_file, *argv] if use_time else argv
            t0 = time.perf_counter()
            proc = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
            samples.append(time.perf_counter() - t0)
            if proc.returncode not in ok_codes:
                raise RuntimeError(f"{argv} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-500:]}")
            if use_time:
                kib = open(rss_file).read().strip().splitlines()[-1]
                peak = max(peak or 0.0, int(kib) / 1024.0)
    return Timing(samples, peak_rss_mib=peak)


def peak_rss_mib(argv: list[str], cwd: Path | None = None) -> tuple[subprocess.CompletedProcess[str], float | None]:
    """Run once under GNU time: (completed process, its own peak RSS in MiB or None)."""
    if not os.path.exists(GNU_TIME):
        return subprocess.run(argv, capture_output=True, text=True, cwd=cwd), None
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = os.path.join(tmp, "rss")
        proc = subprocess.run([GNU_TIME, "-f", "%M", "-o", rss_file, *argv], capture_output=True, text=True,
                              cwd=cwd)
        kib = open(rss_file).read().strip().splitlines()[-1]
        return proc, int(kib) / 1024.0


def hvcheck_argv(*args: str) -> list[str]:
    exe = Path(PYTHON).with_name("hvcheck")
    return [str(exe), *args] if exe.exists() else [PYTHON, "-m", "hvcheck", *args]
