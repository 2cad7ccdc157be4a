"""ruff clean is part of the test command, so CI enforces it."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import ROOT


def test_ruff_clean() -> None:
    ruff = shutil.which("ruff") or str(__import__("pathlib").Path(sys.executable).with_name("ruff"))
    proc = subprocess.run([ruff, "check", "hvcheck", "tests", "benchmarks", "fuzz"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
