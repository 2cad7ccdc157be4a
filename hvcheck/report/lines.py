"""One line per finding, for machines that read logs: GitHub Actions workflow commands
(`::error file=...,line=...,title=...::message`, shown as annotations on the pull request) and the
compact `path:line:col: severity RULE message` that compilers and ruff print (editors jump to it).
Suppressed findings are not printed. Paths are relative to the project root (for GitHub, the
repository root) when they lie under it."""

from __future__ import annotations

import os

from hvcheck.findings import Finding, Location, Severity
from hvcheck.report import RunInfo

_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def _rel(loc: Location, run: RunInfo) -> str | None:
    if loc.path is None:
        return None
    if run.root is None:
        return loc.path
    absolute = os.path.abspath(loc.path)
    rel = os.path.relpath(absolute, run.root)
    return loc.path if rel.startswith("..") else rel.replace(os.sep, "/")


def _primary(f: Finding) -> Location | None:
    return next((loc for loc in f.locations if loc.path is not None), None)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: list[Finding], *, run: RunInfo) -> str:
    from hvcheck.findings import REGISTRY

    out = []
    for f in findings:
        if f.suppressed is not None:
            continue
        props = []
        loc = _primary(f)
        if loc is not None:
            props.append(f"file={_escape_property(_rel(loc, run) or '')}")
            if loc.line:
                props.append(f"line={loc.line}")
        props.append(f"title={_escape_property(f'{f.rule} {REGISTRY[f.rule].title}')}")
        message = f.message + (f" (fix: {f.fix})" if f.fix else "")
        out.append(f"::{_GITHUB_LEVEL[f.sev]} {','.join(props)}::{_escape_data(message)}")
    if run.summary:
        out.append(f"::notice title=hvcheck::{_escape_data(run.summary)}")
    return "\n".join(out) + ("\n" if out else "")


def render_compact(findings: list[Finding], *, run: RunInfo) -> str:
    """`path:line:col: severity RULE message` (column 1: hvcheck locates lines, not columns)."""
    out = []
    def order(f: Finding) -> tuple[str, int, str]:
        loc = _primary(f)
        return ((_rel(loc, run) or "") if loc else "", (loc.line or 0) if loc else 0, f.rule)

    for f in sorted(findings, key=order):
        if f.suppressed is not None:
            continue
        loc = _primary(f)
        if loc is None:
            where = "-"
        elif loc.line:
            where = f"{_rel(loc, run)}:{loc.line}:1"
        else:
            where = f"{_rel(loc, run)}"
        message = " ".join(f.message.split())
        out.append(f"{where}: {f.sev.label} {f.rule} {message}")
    return "\n".join(out) + ("\n" if out else "")
