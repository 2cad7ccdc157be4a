"""Human-readable report: findings grouped by severity and rule, with the source lines quoted.

The one text renderer for every command. It uses only the standard library (no rich): `hvcheck
xcr0` must start in a few tens of milliseconds, and colour is a handful of ANSI codes. Long
messages wrap to ``width`` with indented continuation lines when a width is given (a terminal);
piped output keeps one line per fact so grep and diff work on it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from functools import lru_cache

from hvcheck.findings import REGISTRY, Finding, Location, Severity, summary
from hvcheck.inputs import read_cited
from hvcheck.report import RunInfo

# ANSI styles (only when colour is on).
_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_GREEN = "\x1b[32m"
_STYLE = {Severity.ERROR: "\x1b[1;31m", Severity.WARNING: "\x1b[33m", Severity.NOTE: "\x1b[36m"}

MESSAGE_LIMIT = 4000
TITLE_LIMIT = 300
SOURCE_LIMIT = 200
FLUSH_LINES = 4096


@lru_cache(maxsize=256)
def _file_lines(path: str) -> tuple[str, ...]:
    if path.endswith(".gz"):
        return ()  # compressed logs (triage): the finding carries the line's text itself
    raw = read_cited(path, 4 << 20)   # best effort and capped, so a huge file costs nothing
    return () if raw is None else tuple(raw.decode("utf-8", "replace").splitlines())


def clip(text: str, limit: int) -> str:
    """Names and lines come from the input and can be megabytes long: never print them whole."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


def source_line(loc: Location) -> str | None:
    if loc.path is None or loc.line is None or loc.line < 1:
        return None
    lines = _file_lines(loc.path)
    if loc.line <= len(lines):
        return lines[loc.line - 1].strip()
    return None


class _Out:
    def __init__(self, color: bool, width: int | None) -> None:
        self.lines: list[str] = []
        self.color = color
        self.width = width

    def flush(self) -> str:
        """The lines so far as text (each ends in a newline), forgotten here."""
        text = "\n".join(self.lines) + "\n"
        self.lines = []
        return text

    def style(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def para(self, text: str, first: str, rest: str, code: str = "") -> None:
        """One paragraph: wrapped to the width (continuation lines indented by ``rest``) or kept whole."""
        if self.width is None or len(first) + len(text) <= self.width:
            chunks = [first + text]
        else:
            chunks = textwrap.wrap(text, width=max(self.width, len(rest) + 20), initial_indent=first,
                                   subsequent_indent=rest, break_long_words=True, break_on_hyphens=False)
        for chunk in chunks or [first]:
            self.lines.append(self.style(chunk, code) if code else chunk)


def _finding_lines(out: _Out, findings: list[Finding]) -> Iterator[str]:
    """Appends each finding's lines; every FLUSH_LINES lines, hands the text so far on (a run with
    50,000 findings would otherwise hold 450,000 lines and then their join)."""
    current: tuple[Severity, str] | None = None
    for f in sorted(findings, key=lambda f: (-f.sev, f.rule)):
        if (f.sev, f.rule) != current:
            current = (f.sev, f.rule)
            head = f"{out.style(f.sev.label, _STYLE[f.sev])} {out.style(f.rule, _BOLD)} {REGISTRY[f.rule].title}"
            out.lines.extend(["", head])
        out.para(clip(f.message, MESSAGE_LIMIT), "  • ", "    ")
        for loc in f.locations:
            out.para(str(loc), "      at ", "         ", _DIM)
            src = source_line(loc)
            if src:
                out.lines.append(out.style(f"         | {clip(src, SOURCE_LIMIT)}", _DIM))
            if len(out.lines) >= FLUSH_LINES:  # one finding can have thousands of places
                yield out.flush()
        if f.fix:
            out.para(f.fix, f"      {out.style('fix:', _GREEN)} ", "           ")
        if f.suppressed is not None:
            out.para(f"{f.suppressed.kind}: {f.suppressed.reason} ({f.suppressed.where})", "      suppressed, ",
                     "         ", _DIM)
        if len(out.lines) >= FLUSH_LINES:
            yield out.flush()


def _counts_line(findings: list[Finding]) -> str:
    counts = summary(findings)
    return f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['note']} note(s)"


def _board_table(groups: dict[str, list[Finding]], hidden: dict[str, int]) -> list[str]:
    """board × errors/warnings/notes (+ suppressed), the last thing a `--all` run prints."""
    width = max([len(b) for b in groups] + [5])
    rows = ["", f"{'board':<{width}}  errors  warnings  notes  suppressed"]
    for board, fs in groups.items():
        c = summary(fs)
        rows.append(f"{board:<{width}}  {c['error']:>6}  {c['warning']:>8}  {c['note']:>5}  {hidden.get(board, 0):>10}")
    return rows


def render_text(
    findings: list[Finding],
    *,
    color: bool = False,
    title: str | None = None,
    preamble: str | None = None,
    width: int | None = None,
    run: RunInfo | None = None,
) -> str:
    return "".join(text_chunks(findings, color=color, title=title, preamble=preamble, width=width, run=run))


def text_chunks(
    findings: list[Finding],
    *,
    color: bool = False,
    title: str | None = None,
    preamble: str | None = None,
    width: int | None = None,
    run: RunInfo | None = None,
) -> Iterator[str]:
    """The report in pieces of about FLUSH_LINES lines, written as they come."""
    run = run or RunInfo()
    out = _Out(color, width)
    if title:
        out.lines.append(out.style(clip(title, TITLE_LIMIT), _BOLD))
    if preamble:
        out.lines.extend(preamble.rstrip("\n").split("\n"))
    reported = [f for f in findings if f.suppressed is None]
    boards = [str(f.data["board"]) for f in findings if "board" in f.data]
    if boards:
        # A multi-board run (`layout --all`): one section per board, then a board × severity table.
        groups: dict[str, list[Finding]] = {b: [] for b in sorted(set(boards))}
        other = [f for f in reported if "board" not in f.data]
        for f in reported:
            if "board" in f.data:
                groups[str(f.data["board"])].append(f)
        for board, fs in groups.items():
            if fs:
                out.lines.extend(["", out.style(f"== {board} ==", _BOLD) + f"  ({_counts_line(fs)})"])
                yield from _finding_lines(out, fs)
        if other:
            out.lines.extend(["", out.style("== inputs ==", _BOLD)])
            yield from _finding_lines(out, other)
        per_board: dict[str, int] = {}
        for f in findings:
            if f.suppressed is not None and "board" in f.data:
                per_board[str(f.data["board"])] = per_board.get(str(f.data["board"]), 0) + 1
        out.lines.extend(_board_table(groups, per_board))
    else:
        yield from _finding_lines(out, reported)
    if run.show_suppressed:
        hidden = [f for f in findings if f.suppressed is not None]
        if hidden:
            out.lines.extend(["", out.style(f"suppressed ({len(hidden)})", _BOLD)])
            yield from _finding_lines(out, hidden)
    if not reported:
        if not preamble:
            out.lines.append("no findings")
    else:
        out.lines.extend(["", _counts_line(reported)])
    if run.summary:
        out.lines.append(run.summary)
    if out.lines:
        yield out.flush()
