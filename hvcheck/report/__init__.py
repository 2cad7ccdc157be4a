"""Reporters turn findings into text, JSON or SARIF. They never compute anything."""

from __future__ import annotations

from typing import Any

from hvcheck.findings import Finding

FORMATS = ("text", "json", "sarif")


def render(
    findings: list[Finding],
    fmt: str,
    *,
    color: bool = False,
    title: str | None = None,
    preamble: str | None = None,
    extra: dict[str, Any] | None = None,
    width: int | None = None,
) -> str:
    """Render findings. ``preamble`` is text-only context (tables, decodes) printed first;
    ``extra`` adds top-level fields to the JSON document (the contract allows new fields)."""
    if fmt == "json":
        from hvcheck.report.json_report import render_json

        return render_json(findings, extra=extra)
    if fmt == "sarif":
        from hvcheck.report.sarif import render_sarif

        return render_sarif(findings)
    from hvcheck.report.text import render_text

    return render_text(findings, color=color, title=title, preamble=preamble, width=width)
