"""Plain-text report for the x86 commands, laid out like hvcheck/report/text.py but without rich.

Why: `hvcheck xcr0` must run in <= 100 ms as a whole process, and importing rich costs about a
third of that. When the output is a terminal (colour wanted) the commands use the shared rich
reporter instead; the layout is the same.
"""

from __future__ import annotations

from hvcheck.findings import REGISTRY, Finding, Location, summary


def _source_line(loc: Location, cache: dict[str, list[str]]) -> str | None:
    if loc.path is None or loc.line is None or loc.line < 1:
        return None
    if loc.path not in cache:
        try:
            with open(loc.path, encoding="utf-8", errors="replace") as fh:
                cache[loc.path] = fh.read(4 << 20).splitlines()
        except OSError:
            cache[loc.path] = []
    lines = cache[loc.path]
    return lines[loc.line - 1].strip() if loc.line <= len(lines) else None


def render_plain(findings: list[Finding], *, title: str | None = None, preamble: str | None = None) -> str:
    out: list[str] = []
    if title:
        out.append(title)
    if preamble:
        out.append(preamble.rstrip("\n"))
    cache: dict[str, list[str]] = {}
    current = None
    for f in sorted(findings, key=lambda f: (-f.sev, f.rule)):
        if (f.sev, f.rule) != current:
            current = (f.sev, f.rule)
            out.append(f"\n{f.sev.label} {f.rule} {REGISTRY[f.rule].title}")
        out.append(f"  • {f.message}")
        for loc in f.locations:
            out.append(f"      at {loc}")
            src = _source_line(loc, cache)
            if src:
                out.append(f"         | {src}")
        if f.fix:
            out.append(f"      fix: {f.fix}")
    if not findings:
        if not preamble:
            out.append("no findings")
    else:
        c = summary(findings)
        out.append(f"\n{c['error']} error(s), {c['warning']} warning(s), {c['note']} note(s)")
    return "\n".join(out) + "\n"
