"""Reporters turn findings into text, JSON, SARIF, GitHub annotations or compact lines. They never
compute anything: what was suppressed and why, fingerprints and the project root are decided
before (hvcheck.policy) and handed over in :class:`RunInfo`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hvcheck.findings import Finding

FORMATS = ("text", "json", "sarif", "github", "compact")


@dataclass
class RunInfo:
    """What a reporter may say about the run beyond its findings."""

    command: str = "hvcheck"               # the subcommand (SARIF automationDetails.id)
    root: Path | None = None               # relative paths (SARIF uriBaseId, github, compact) are from here
    summary: str | None = None             # suppression / baseline summary line
    show_suppressed: bool = False
    baseline: bool = False                 # a baseline was given: SARIF baselineState
    errors: list[str] = field(default_factory=list)   # the run failed: toolExecutionNotifications
    fixes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # finding index -> SARIF fixes


def render(
    findings: list[Finding],
    fmt: str,
    *,
    color: bool = False,
    title: str | None = None,
    preamble: str | None = None,
    extra: dict[str, Any] | None = None,
    width: int | None = None,
    run: RunInfo | None = None,
) -> str:
    """Render findings (suppressed ones are flagged on the Finding). ``preamble`` is text-only context
    (tables, decodes) printed first; ``extra`` adds top-level fields to the JSON document."""
    return "".join(render_chunks(findings, fmt, color=color, title=title, preamble=preamble, extra=extra,
                                 width=width, run=run))


def render_chunks(
    findings: list[Finding],
    fmt: str,
    *,
    color: bool = False,
    title: str | None = None,
    preamble: str | None = None,
    extra: dict[str, Any] | None = None,
    width: int | None = None,
    run: RunInfo | None = None,
) -> Iterator[str]:
    """:func:`render` in pieces to write as they come: JSON and SARIF make each finding's part
    only when it is written, so a run with 50,000 findings never holds its 100 MB document."""
    run = run or RunInfo()
    if fmt == "json":
        from hvcheck.report.json_report import json_chunks

        yield from json_chunks(findings, extra=extra, run=run)
        return
    if fmt == "sarif":
        from hvcheck.report.sarif import sarif_chunks

        yield from sarif_chunks(findings, run=run)
        return
    if fmt == "github":
        from hvcheck.report.lines import render_github

        yield render_github(findings, run=run)
        return
    if fmt == "compact":
        from hvcheck.report.lines import render_compact

        yield render_compact(findings, run=run)
        return
    from hvcheck.report.text import text_chunks

    yield from text_chunks(findings, color=color, title=title, preamble=preamble, width=width, run=run)
