"""SARIF 2.1.0 reporter, shaped for GitHub code scanning:

- artifact URIs relative to the project root with ``uriBaseId`` (declared in ``originalUriBaseIds``);
- ``partialFingerprints`` from the finding's stable fingerprint (the same one baselines use);
- ``tool.driver.rules`` with ``helpUri``, the full shipped help page and ``defaultConfiguration``;
- at least one location per result: a physical one, or a logical one for a value given on the
  command line (an XCR0 value, an ioctl number) that has no file;
- ``relatedLocations`` for the other places of a finding; ``automationDetails.id`` per subcommand;
- suppressed findings as results with ``suppressions`` (inline: inSource; config and baseline:
  external), ``baselineState`` when a baseline was given, ``fixes`` where `hvcheck fix` has an edit;
- a run that failed still yields a valid document: ``invocations[0].executionSuccessful`` false
  and the error as a ``toolExecutionNotifications`` entry.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from hvcheck import __version__
from hvcheck.findings import REGISTRY, Finding, Location, Severity
from hvcheck.report import RunInfo
from hvcheck.report.json_report import _jsonable
from hvcheck.report.stream import BATCH, Lazy

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
ROOT_ID = "SRCROOT"
FINGERPRINT_KEY = "hvcheck/v1"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def _rule_descriptor(rule_id: str) -> dict[str, Any]:
    r = REGISTRY[rule_id]
    doc = r.doc()
    return {
        "id": r.id,
        "name": r.id,
        "shortDescription": {"text": r.title},
        "fullDescription": {"text": r.title},
        "helpUri": r.help_uri(),
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": _LEVEL[r.severity]},
        "properties": {"area": r.area, "tags": ["hvcheck", r.area]},
    }


def _artifact(path: str, run: RunInfo) -> dict[str, Any]:
    return dict(_artifact_of(os.path.abspath(path), run.root))


@lru_cache(maxsize=1024)
def _artifact_of(absolute: str, root: Path | None) -> dict[str, Any]:
    # cached: one finding over 50,000 places of one patch asked relpath 50,000 times
    if root is not None:
        rel = os.path.relpath(absolute, root)
        if not rel.startswith(".."):
            return {"uri": rel.replace(os.sep, "/"), "uriBaseId": ROOT_ID}
    return {"uri": "file://" + absolute}


def _physical(loc: Location, run: RunInfo) -> dict[str, Any]:
    assert loc.path is not None
    physical: dict[str, Any] = {"artifactLocation": _artifact(loc.path, run)}
    if loc.line is not None and loc.line >= 1:
        physical["region"] = {"startLine": loc.line}
    out: dict[str, Any] = {"physicalLocation": physical}
    notes = [t for t in (loc.symbol and f"symbol {loc.symbol}", loc.detail) if t]
    if notes:
        out["message"] = {"text": "; ".join(notes)}
    return out


def _logical(f: Finding, loc: Location | None) -> dict[str, Any]:
    """Where a finding about a command-line value (or an estimate) is: a logical location."""
    name = (loc.detail or loc.symbol) if loc is not None else None
    if not name:
        name = f"{f.rule} input"
    return {"logicalLocations": [{"name": name[:200], "kind": "value"}]}


def _message_only(loc: Location) -> dict[str, Any]:
    return {"message": {"text": loc.detail or loc.symbol or str(loc)}}


def _result(f: Finding, index: dict[str, int], run: RunInfo, fixes: list[dict[str, Any]] | None) -> dict[str, Any]:
    with_path = [loc for loc in f.locations if loc.path is not None]
    locations = [_physical(with_path[0], run)] if with_path else [_logical(f, f.locations[0] if f.locations else None)]
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": index[f.rule],
        "level": _LEVEL[f.sev],
        "message": {"text": f.message + (f"\nFix: {f.fix}" if f.fix else "")},
        "locations": locations,
        "properties": {"data": _jsonable(f.data)},
    }
    others = [loc for loc in f.locations if loc.path is None and (loc.detail or loc.symbol) and with_path]
    n_related = len(with_path) - 1 + len(others) if with_path else 0
    if n_related > BATCH:  # one finding over thousands of places: each made as it is written
        first = with_path[1:]
        result["relatedLocations"] = Lazy(range(n_related), lambda i: dict(
            _physical(first[i], run) if i < len(first) else _message_only(others[i - len(first)]), id=i + 1))
    elif n_related:
        related = [_physical(loc, run) for loc in with_path[1:]] + [_message_only(loc) for loc in others]
        result["relatedLocations"] = [dict(r, id=i) for i, r in enumerate(related, 1)]
    if f.fingerprint:
        result["partialFingerprints"] = {FINGERPRINT_KEY: f.fingerprint}
    if f.suppressed is not None:
        sup: dict[str, Any] = {"kind": "inSource" if f.suppressed.kind == "inline" else "external",
                               "justification": f.suppressed.reason}
        if f.suppressed.where.path is not None:
            sup["location"] = _physical(f.suppressed.where, run)
        result["suppressions"] = [sup]
    if run.baseline:
        result["baselineState"] = "unchanged" if (f.suppressed and f.suppressed.kind == "baseline") else "new"
    if fixes:
        result["fixes"] = fixes
    return result


def render_sarif(findings: list[Finding], run: RunInfo | None = None) -> str:
    return "".join(sarif_chunks(findings, run))


def sarif_chunks(findings: list[Finding], run: RunInfo | None = None) -> Iterator[str]:
    """The document in pieces, each result made as it is written (hvcheck.report.stream)."""
    from hvcheck.report.stream import chunks

    run = run or RunInfo()
    rule_ids = sorted({f.rule for f in findings})
    index = {rid: i for i, rid in enumerate(rule_ids)}
    info = run
    results = Lazy(range(len(findings)), lambda i: _result(findings[i], index, info, info.fixes.get(i)))
    invocation: dict[str, Any] = {"executionSuccessful": not run.errors}
    if run.errors:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": e}, "descriptor": {"id": "E001"}} for e in run.errors]
    sarif_run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "hvcheck",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": "https://github.com/hvcheck/hvcheck",
                "rules": [_rule_descriptor(rid) for rid in rule_ids],
            }
        },
        "automationDetails": {"id": f"hvcheck/{run.command}/"},
        "invocations": [invocation],
        "results": results,
    }
    if run.root is not None:
        sarif_run["originalUriBaseIds"] = {ROOT_ID: {"uri": run.root.absolute().as_uri().rstrip("/") + "/"}}
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [sarif_run]}
    yield from chunks(doc)
    yield "\n"
