"""Shared helpers for the triage tests."""

from __future__ import annotations

from pathlib import Path

from hvcheck.triage.facts import Fault
from hvcheck.triage.scan import ScanResult, scan

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "triage"
DEMO = Path(__file__).resolve().parent.parent.parent / "hvcheck" / "demo" / "examples" / "triage"


def scan_fixture(name: str) -> ScanResult:
    return scan(str(FIX / name))


def only(result: ScanResult, kind: str | None = None) -> Fault:
    faults = [f for f in result.faults if kind is None or f.kind == kind]
    assert len(faults) == 1, [(f.kind, f.summary) for f in result.faults]
    return faults[0]


def write(tmp_path: Path, text: str, name: str = "log.txt") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)
