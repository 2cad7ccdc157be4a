"""Inline suppressions: a comment in the input itself, on the line a finding points at or in the
comment block right above it, in whatever comment syntax the file uses:

    HvConfigMemoryRegion { ... },   // hvcheck: ignore[M006] the GIC window is remapped by firmware
    # hvcheck: ignore[M013,M014] headroom is checked by the vendor's own build
    /* hvcheck: ignore[M002] the root kernel never onlines this bank (mem= is set by U-Boot) */

A suppression names the rules and must give a reason. One that suppresses nothing is itself
reported (E002), as ruff reports an unused `noqa`. A malformed one is bad input (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hvcheck.errors import InputError
from hvcheck.findings import Finding, Location, Severity, declare_rule
from hvcheck.textio import decode_text

declare_rule("E002", "a suppression (inline comment or configuration entry) suppressed nothing", Severity.WARNING,
             "input")

MAX_SCANNED_BYTES = 8 << 20     # files larger than this are not scanned for suppression comments
MAX_COMMENT_LINES_ABOVE = 8     # how far up a comment block above a finding's line may reach

_MARK = re.compile(r"hvcheck:\s*ignore\b")
_SUPPRESSION = re.compile(r"hvcheck:\s*ignore\[(?P<rules>[^\]\n]*)\](?P<reason>[^\n]*)")
_RULE = re.compile(r"^[A-Z]\d{3}$")
_COMMENT_ONLY = re.compile(r"^\s*(//|#|/\*|\*|;|--|<!--)")


@dataclass
class InlineSuppression:
    path: str
    line: int
    rules: tuple[str, ...]
    reason: str
    used: int = 0

    @property
    def location(self) -> Location:
        return Location(self.path, self.line)


def _parse_line(path: str, number: int, text: str) -> InlineSuppression | None:
    if not _MARK.search(text):
        return None
    m = _SUPPRESSION.search(text)
    if m is None:
        raise InputError(path, "malformed suppression: write `hvcheck: ignore[RULE,...] reason`", number)
    rules = tuple(r.strip() for r in m.group("rules").split(",") if r.strip())
    bad = [r for r in rules if not _RULE.match(r)]
    if not rules or bad:
        raise InputError(path, f"suppression names no valid rule ID ({', '.join(bad) or 'empty list'})", number)
    reason = re.sub(r"\s*(\*/|-->)\s*$", "", m.group("reason")).strip(" \t:-—")
    if not reason:
        raise InputError(path, f"suppression of {', '.join(rules)} gives no reason: say why it is accepted", number)
    return InlineSuppression(path, number, rules, reason)


@dataclass
class SuppressionIndex:
    """Every inline suppression in the files of one run, by (path, line)."""

    by_place: dict[tuple[str, int], InlineSuppression] = field(default_factory=dict)
    lines: dict[str, list[str]] = field(default_factory=dict)

    def scan(self, path: str, raw: bytes) -> None:
        if path in self.lines or len(raw) > MAX_SCANNED_BYTES or b"hvcheck:" not in raw:
            self.lines.setdefault(path, [])
            return
        try:
            text = decode_text(raw, path, strict=False)
        except InputError:
            self.lines[path] = []   # binary input: no comments to read
            return
        lines = text.splitlines()
        self.lines[path] = lines
        for number, line in enumerate(lines, 1):
            found = _parse_line(path, number, line)
            if found is not None:
                self.by_place[(path, number)] = found

    def covering(self, finding: Finding) -> InlineSuppression | None:
        """The suppression on a finding's line, or in the comment block right above it."""
        for loc in finding.locations:
            if loc.path is None or loc.line is None:
                continue
            lines = self.lines.get(loc.path, [])
            sup = self.by_place.get((loc.path, loc.line))
            if sup is not None and finding.rule in sup.rules:
                return sup
            number = loc.line - 1   # then up through the comment block right above the line
            while 1 <= number <= len(lines) and loc.line - number <= MAX_COMMENT_LINES_ABOVE \
                    and _COMMENT_ONLY.match(lines[number - 1]):
                sup = self.by_place.get((loc.path, number))
                if sup is not None and finding.rule in sup.rules:
                    return sup
                number -= 1
        return None

    def unused(self) -> list[Finding]:
        return [Finding("E002", f"suppression of {', '.join(s.rules)} here suppressed nothing (the finding is gone, "
                                "or the comment is not on or right above its line): remove it",
                        locations=[s.location], data={"rules": list(s.rules), "reason": s.reason})
                for s in sorted(self.by_place.values(), key=lambda s: (s.path, s.line)) if s.used == 0]
