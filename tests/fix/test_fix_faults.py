"""The fault-injection harness (fuzz/fixfault.py) on one case in CI: real `hvcheck fix --write`
processes killed by strace before a write/rename/fsync, or failed with ENOSPC/EACCES/EFBIG, then
checked file by file. The long campaign (every step, every board) is `python -m fuzz.fixfault`."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, require_tool


def test_injected_kills_and_errors_never_half_apply_a_fix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    require_tool("strace")
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "fuzz.fixfault", "--case", "dts-layout", "--points", "5",
                           "--kinds", "kill,enospc,eacces,fsize", "--json", str(report)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import json

    doc = json.loads(report.read_text())
    assert doc["half_applied"] == 0 and not doc["failures"] and not doc["missed"]
    assert doc["runs"]["kill"] >= 5 and doc["runs"]["enospc"] >= 1 and doc["runs"]["fsize"] >= 1
    # the kills landed on both sides of the commit: some were rolled back, some completed
    assert doc["outcomes"].get("kill: original", 0) and doc["outcomes"].get("kill: fixed", 0)
