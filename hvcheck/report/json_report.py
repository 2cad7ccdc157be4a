"""JSON reporter: exactly the contract of DESIGN.md §3 (add fields, never rename)."""

from __future__ import annotations

import json
from typing import Any

from hvcheck import __version__
from hvcheck.findings import Finding, summary

# Keys whose integer values are counts or line numbers, not addresses: they stay JSON integers
# ("line numbers are integers", DESIGN.md §3), wherever they appear (e.g. a source location inside
# `data` or inside an exported layout).
INTEGER_KEYS = frozenset({"line", "model_version"})


def _jsonable(value: Any) -> Any:
    """Integers become 0x-hex strings (the contract); containers recurse; the rest stays."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return f"-{-value:#x}" if value < 0 else f"{value:#x}"
    if isinstance(value, dict):
        return {str(k): v if k in INTEGER_KEYS and isinstance(v, int) and not isinstance(v, bool) else _jsonable(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | str):
        return value
    return str(value)


def finding_to_json(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule": f.rule,
        "severity": f.sev.label,
        "message": f.message,
        "locations": [loc.to_json() for loc in f.locations],
        "data": _jsonable(f.data),
    }
    if f.fix:
        out["fix"] = f.fix
    return out


def render_json(findings: list[Finding], extra: dict[str, Any] | None = None) -> str:
    doc: dict[str, Any] = {
        "tool": "hvcheck",
        "version": __version__,
        "findings": [finding_to_json(f) for f in findings],
        "summary": summary(findings),
    }
    for key, value in (extra or {}).items():
        doc.setdefault(key, _jsonable(value))
    return json.dumps(doc, indent=2) + "\n"
