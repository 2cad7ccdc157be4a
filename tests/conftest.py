"""Shared test helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def require_tool(name: str) -> str:
    """Path of a system tool the test needs. Locally a missing tool skips the test; under CI
    (.ci/run installs it) a missing tool is a failure, so CI can never pass by skipping."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI (.ci/run installs it) but is not on PATH")
        pytest.skip(f"{name} not installed")
    return path


def require_kvm(device: str = "/dev/kvm") -> str:
    """A KVM device this process can open. Locally an absent or unusable device skips the test;
    under CI (the machines have a working /dev/kvm) it is a failure, so CI can never pass by skipping."""
    try:
        fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        reason = f"{device}: {exc.strerror}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; the KVM tests need a usable {device} in CI")
        pytest.skip(reason)
    os.close(fd)
    return device


def run_hvcheck(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a subprocess (exit codes, stderr, no tracebacks)."""
    return subprocess.run(
        [sys.executable, "-m", "hvcheck", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def assert_golden(golden: Path, actual: str) -> None:
    """Compare with a reviewed golden file. A missing golden fails; `HVCHECK_UPDATE_GOLDEN=1 pytest ...`
    (re)writes it, and the new file must then be reviewed and committed like code."""
    if os.environ.get("HVCHECK_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"missing golden file {golden}; create it with HVCHECK_UPDATE_GOLDEN=1 and review it"
    assert actual == golden.read_text(encoding="utf-8")
