"""The real-log corpus (tests/fixtures/triage/real/): load the manifest, run triage on each log, and
compare what it found with what was written down from each thread before hvcheck was run.

Shared by tests/triage/test_real_logs.py and scripts/triage_real_logs.py (docs/triage-real-logs.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hvcheck.findings import Finding
from hvcheck.triage.context import Context, load_context
from hvcheck.triage.diagnose import diagnose
from hvcheck.triage.facts import Fault
from hvcheck.triage.scan import ScanResult, scan

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "triage" / "real"
MANIFEST = REAL / "expected.yaml"


def manifest() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return entries


def view(fault: Fault) -> dict[str, Any]:
    """One flat namespace of what a record says: facts, registers (lower case), addresses, cpu, cell."""
    out: dict[str, Any] = {}
    for name, value in fault.registers.items():
        out[name.lower()] = value
    out.update(fault.facts)
    for name, addr in fault.addresses.items():
        out[name] = addr.value
    if fault.cpu is not None:
        out["cpu"] = fault.cpu
    if fault.zone_id is not None:
        out.setdefault("zone_id", fault.zone_id)
    return out


def same(expected: Any, actual: Any) -> bool:
    if actual is None:
        return False
    if isinstance(expected, str) and expected.startswith("0x") and isinstance(actual, int) \
            and not isinstance(actual, bool):
        return int(expected, 16) == actual
    if isinstance(expected, bool) or isinstance(actual, bool):
        return bool(actual) is expected if isinstance(expected, bool) else False
    if isinstance(expected, int) and isinstance(actual, int):
        return expected == actual
    return str(expected) == str(actual)


@dataclass
class Outcome:
    entry: dict[str, Any]
    result: ScanResult
    findings: list[Finding]
    records: list[Fault]
    problems: list[str] = field(default_factory=list)
    facts_checked: int = 0
    facts_right: int = 0

    @property
    def recognised(self) -> bool:
        return bool(self.records)


def _record_problems(expected: dict[str, Any], fault: Fault, out: Outcome, label: str) -> None:
    got = view(fault)
    for key, value in expected.items():
        out.facts_checked += 1
        if same(value, got.get(key)):
            out.facts_right += 1
        else:
            shown = got.get(key)
            shown = hex(shown) if isinstance(shown, int) and not isinstance(shown, bool) else shown
            out.problems.append(f"{label}{key}: expected {value!r}, got {shown!r}")


def run(entry: dict[str, Any], ctx: Context | None = None) -> Outcome:
    result = scan(str(REAL / f"{entry['id']}.log"))
    findings = diagnose([result], ctx if ctx is not None else load_context())
    exp = entry["expect"]
    records = [f for f in result.faults if f.reader == exp["reader"] or exp["reader"] == "any"]
    out = Outcome(entry, result, findings, records)
    if not result.faults:
        out.problems.append("not recognised: no fault record")
        return out
    if not records:
        out.problems.append(f"recognised as {sorted({f.reader for f in result.faults})}, not {exp['reader']}")
        return out
    arches = sorted({f.arch for f in records})
    if arches != [exp["arch"]]:
        out.problems.append(f"arch: expected {exp['arch']}, got {arches}")
    if exp["rule"] not in {f.rule for f in findings}:
        out.problems.append(f"rule: expected {exp['rule']}, got {sorted({f.rule for f in findings})}")
    if "records" in exp and len(records) != exp["records"]:
        out.problems.append(f"records: expected {exp['records']}, got {len(records)}")
    facts = exp.get("facts", {})
    if isinstance(facts, list):
        for i, wanted in enumerate(facts):
            match = next((f for f in records if all(same(v, view(f).get(k)) for k, v in wanted.items())), None)
            _record_problems(wanted, match if match is not None else records[min(i, len(records) - 1)], out,
                             f"record {i + 1}: ")
    else:
        best = max(records, key=lambda f: sum(same(v, view(f).get(k)) for k, v in facts.items()))
        _record_problems(facts, best, out, "")
    return out
