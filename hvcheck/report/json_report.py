"""JSON reporter: exactly the contract of DESIGN.md §3 (add fields, never rename)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hvcheck import __version__
from hvcheck.findings import Finding, Location, summary
from hvcheck.report import RunInfo
from hvcheck.report.stream import Lazy


# Integers under these keys are positions in a file, not addresses or sizes: line numbers are JSON
# integers everywhere (DESIGN.md §3).
def _is_plain_int_key(key: str | None) -> bool:
    return key is not None and (key in ("line", "column", "model_version") or key.endswith(("_line", "_column")))


def _jsonable(value: Any, key: str | None = None) -> Any:
    """Integers become 0x-hex strings (the contract: addresses, sizes, register values), except line
    and column numbers, which stay integers; containers recurse; the rest stays."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if _is_plain_int_key(key):
            return value
        return f"-{-value:#x}" if value < 0 else f"{value:#x}"
    if isinstance(value, dict):
        return {str(k): _jsonable(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, key) for v in value]
    if isinstance(value, float | str):
        return value
    return str(value)


def finding_to_json(f: Finding, lazy_locations: bool = False) -> dict[str, Any]:
    """The finding's JSON object; ``lazy_locations``: its locations as a Lazy list (written by
    hvcheck.report.stream as they come, for a finding over thousands of places)."""
    out: dict[str, Any] = {
        "rule": f.rule,
        "severity": f.sev.label,
        "message": f.message,
        "locations": Lazy(f.locations, Location.to_json) if lazy_locations else [loc.to_json() for loc in f.locations],
        "data": _jsonable(f.data),
    }
    if f.fix:
        out["fix"] = f.fix
    if f.fingerprint:
        out["fingerprint"] = f.fingerprint
    if f.suppressed is not None:
        out["suppression"] = {"kind": f.suppressed.kind, "reason": f.suppressed.reason,
                              "where": f.suppressed.where.to_json()}
    return out


def render_json(findings: list[Finding], extra: dict[str, Any] | None = None, run: RunInfo | None = None) -> str:
    return "".join(json_chunks(findings, extra=extra, run=run))


def json_chunks(findings: list[Finding], extra: dict[str, Any] | None = None,
                run: RunInfo | None = None) -> Iterator[str]:
    """``findings`` holds the reported findings; suppressed ones (inline, config, baseline) go to
    ``suppressed`` with why, and do not count in ``summary``. The document comes in pieces (each
    finding converted as it is written), the text of ``json.dumps(doc, indent=2)``."""
    from hvcheck.report.stream import BATCH, chunks

    def streamed(f: Finding) -> dict[str, Any]:
        return finding_to_json(f, lazy_locations=len(f.locations) > BATCH)

    reported = [f for f in findings if f.suppressed is None]
    doc: dict[str, Any] = {
        "tool": "hvcheck",
        "version": __version__,
        "findings": Lazy(reported, streamed),
        "summary": summary(reported),
    }
    suppressed = [f for f in findings if f.suppressed is not None]
    if suppressed:
        doc["suppressed"] = Lazy(suppressed, streamed)
    if run is not None and run.summary:
        doc["run_summary"] = run.summary
    if run is not None and run.errors:
        doc["errors"] = list(run.errors)
    for key, value in (extra or {}).items():
        doc.setdefault(key, _jsonable(value, key))
    yield from chunks(doc)
    yield "\n"
