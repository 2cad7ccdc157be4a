"""Issue 19: reading a patch is linear in time and bounded in memory at the documented limit.

Each measurement runs in its own interpreter (its peak RSS is its own, not the test runner's) and
counts CPU time, not wall time, so a busy CI machine does not make it fail; the bounds are still
far below what the reader cost before (a 1.5 MB patch with 50,000 hunks took 27 s and 300 MB).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hvcheck.backport.readers.patchfile import MAX_HUNKS, MAX_PATCH_BYTES
from hvcheck.errors import InputError

PROBE = """
import gc, json, resource, sys
gc.disable()  # as the command does (hvcheck.backport.cli.run_backport)
from hvcheck.backport.readers.patchfile import read_patch
before = resource.getrusage(resource.RUSAGE_SELF)
patch = read_patch(sys.argv[1])
after = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"hunks": sum(len(f.hunks) for f in patch.files),
                  "cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
                  "peak_kib": after.ru_maxrss}))
"""
BASE = "import resource, hvcheck.backport.readers.patchfile; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"


def _probe(path: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _minimal_hunks(path: Path, n: int) -> Path:
    """The shape of the issue's 1.5 MB patch: n one-line hunks (about 35 bytes each)."""
    out = ["diff --git a/x.c b/x.c", "--- a/x.c", "+++ b/x.c"]
    for i in range(n):
        out += [f"@@ -{i * 10 + 1} +{i * 10 + 1} @@", f"-\tb{i};", f"+\tc{i};"]
    path.write_text("\n".join(out) + "\n")
    return path


def test_parsing_is_linear_in_the_number_of_hunks(tmp_path: Path) -> None:
    small = _probe(_minimal_hunks(tmp_path / "10k.patch", 10_000))
    large = _probe(_minimal_hunks(tmp_path / "50k.patch", 50_000))
    assert (small["hunks"], large["hunks"]) == (10_000, 50_000)
    # 5x the hunks: linear is ~5x the time; the old reader's quadratic section scan is far beyond 10x
    assert large["cpu"] <= max(10 * small["cpu"], 0.5), (small, large)
    assert large["cpu"] < 3.0, large  # about 0.5 s of CPU here; 27 s before


def test_memory_at_the_size_limit_is_within_ten_times_the_input(tmp_path: Path) -> None:
    """The worst shape inside both limits: MAX_PATCH_BYTES of the shortest lines, in just under
    MAX_HUNKS hunks (one string per line would cost ~20x the input here)."""
    n = MAX_HUNKS - 1000
    per_hunk = (MAX_PATCH_BYTES - 64 * 1024) // n
    path = tmp_path / "limit.patch"
    with open(path, "w") as fh:
        fh.write("diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n")
        for i in range(n):
            tail = f"-b{i};\n+c{i};\n"
            header = f"@@ -{i * 400 + 1},999 +{i * 400 + 1},999 @@\n"
            ctx = max(0, (per_hunk - len(header) - len(tail)) // 3)
            fh.write(header.replace("999", str(ctx + 1)) + " x\n" * ctx + tail)
    size = path.stat().st_size
    assert MAX_PATCH_BYTES * 0.95 < size <= MAX_PATCH_BYTES
    base = int(subprocess.run([sys.executable, "-c", BASE], capture_output=True, text=True, check=True).stdout)
    result = _probe(path)
    assert result["hunks"] == n
    peak = result["peak_kib"] * 1024
    assert peak - base * 1024 <= 10 * size, f"{(peak - base * 1024) / size:.1f}x the input"


def test_more_hunks_than_the_limit_is_bad_input(tmp_path: Path) -> None:
    from hvcheck.backport.readers.patchfile import read_patch

    path = _minimal_hunks(tmp_path / "many.patch", MAX_HUNKS + 1)
    with pytest.raises(InputError) as exc:
        read_patch(str(path))
    assert "MAX_HUNKS" in str(exc.value) and exc.value.line is not None
