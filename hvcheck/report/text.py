"""Human-readable report: findings grouped by severity and rule, with the source lines quoted."""

from __future__ import annotations

import io
from functools import lru_cache

from rich.console import Console
from rich.markup import escape

from hvcheck.findings import REGISTRY, Finding, Location, Severity, summary

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.NOTE: "cyan"}


@lru_cache(maxsize=256)
def _file_lines(path: str) -> tuple[str, ...]:
    if path.endswith(".gz"):
        return ()  # compressed logs (triage): the finding carries the line's text itself
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            # Reading the quoted source is best effort; cap so a huge file costs nothing.
            return tuple(fh.read(4 << 20).splitlines())
    except OSError:
        return ()


def _clip(text: str, limit: int) -> str:
    """Names and lines come from the input and can be megabytes long: never print them whole."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


def source_line(loc: Location) -> str | None:
    if loc.path is None or loc.line is None or loc.line < 1:
        return None
    lines = _file_lines(loc.path)
    if loc.line <= len(lines):
        return lines[loc.line - 1].strip()
    return None


def render_text(
    findings: list[Finding], *, color: bool = False, title: str | None = None, preamble: str | None = None
) -> str:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=color, no_color=not color, width=110, soft_wrap=True, highlight=False)
    if title:
        console.print(f"[bold]{escape(_clip(title, 300))}[/bold]")
    if preamble:
        console.print(escape(preamble.rstrip("\n")))
    ordered = sorted(findings, key=lambda f: (-f.sev, f.rule))
    current: tuple[Severity, str] | None = None
    for f in ordered:
        key = (f.sev, f.rule)
        if key != current:
            current = key
            rule = REGISTRY[f.rule]
            console.print(
                f"\n[{_STYLE[f.sev]}]{f.sev.label}[/] [bold]{f.rule}[/bold] {escape(rule.title)}"
            )
        console.print(f"  • {escape(_clip(f.message, 4000))}")
        for loc in f.locations:
            console.print(f"      at {escape(str(loc))}", style="dim")
            src = source_line(loc)
            if src:
                console.print(f"         | {escape(_clip(src, 200))}", style="dim")
        if f.fix:
            console.print(f"      [green]fix:[/green] {escape(f.fix)}")
    counts = summary(findings)
    if not findings:
        if not preamble:
            console.print("no findings")
    else:
        console.print(
            f"\n{counts['error']} error(s), {counts['warning']} warning(s), {counts['note']} note(s)"
        )
    return buf.getvalue()
