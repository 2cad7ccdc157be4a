"""SARIF 2.1.0 reporter (for GitHub code scanning): the same findings as the JSON report."""

from __future__ import annotations

import json
from typing import Any

from hvcheck import __version__
from hvcheck.findings import REGISTRY, Finding, Severity
from hvcheck.report.json_report import _jsonable

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def _rule_descriptor(rule_id: str) -> dict[str, Any]:
    r = REGISTRY[rule_id]
    doc = r.doc()
    return {
        "id": r.id,
        "helpUri": r.help_uri(),
        "name": r.id,
        "shortDescription": {"text": r.title},
        "fullDescription": {"text": r.title},
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": _LEVEL[r.severity]},
        "properties": {"area": r.area},
    }


def _location(loc: Any) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": loc.path}}
    if loc.line is not None and loc.line >= 1:
        physical["region"] = {"startLine": loc.line}
    out: dict[str, Any] = {"physicalLocation": physical}
    notes = [t for t in (loc.symbol and f"symbol {loc.symbol}", loc.detail) if t]
    if notes:
        out["message"] = {"text": "; ".join(notes)}
    return out


def render_sarif(findings: list[Finding]) -> str:
    rule_ids = sorted({f.rule for f in findings})
    index = {rid: i for i, rid in enumerate(rule_ids)}
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _LEVEL[f.sev],
            "message": {"text": f.message + (f"\nFix: {f.fix}" if f.fix else "")},
            "locations": [_location(loc) for loc in f.locations if loc.path is not None],
            "properties": {"data": _jsonable(f.data)},
        }
        results.append(result)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "hvcheck",
                        "version": __version__,
                        "informationUri": "https://github.com/hvcheck/hvcheck",
                        "rules": [_rule_descriptor(rid) for rid in rule_ids],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
