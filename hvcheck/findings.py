"""Findings, severities, locations and the rule registry.

A :class:`Finding` is what every check produces and every reporter consumes. The registry maps
stable rule IDs (DESIGN.md §3; add, never renumber) to a title, a default severity and the area
that owns the rule. Rules are declared beside their code (``@rule`` / ``declare_rule``); the long
explanation of each rule lives in ``hvcheck/docs/rules/<ID>.md``, shipped with the package.
"""

from __future__ import annotations

import enum
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hvcheck.errors import InputError


class Severity(enum.IntEnum):
    NOTE = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (error, warning or note)") from None


@dataclass(frozen=True, slots=True)  # slots: a run can hold 100,000 of them
class Location:
    """Where a value or a finding came from: a file and line, an ELF symbol, or an estimate.

    ``path`` is None only for values that have no file at all (e.g. a command-line argument or
    an estimate); ``detail`` then says what it is ("estimated: BASE + 8 MiB image + ...").
    """

    path: str | None = None
    line: int | None = None
    symbol: str | None = None
    detail: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.path is not None:
            parts.append(f"{self.path}:{self.line}" if self.line is not None else self.path)
        if self.symbol is not None:
            parts.append(f"symbol {self.symbol}")
        if self.detail is not None:
            parts.append(self.detail)
        return ", ".join(parts) if parts else "<unknown>"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "line": self.line}
        if self.symbol is not None:
            out["symbol"] = self.symbol
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    area: str
    module: str = ""  # where the rule is declared (the code that emits it)

    def doc_path(self) -> Path:
        return RULE_DOCS_DIR / f"{self.id}.md"

    def doc(self) -> str:
        """The rule's documentation page, shipped inside the package (hvcheck/docs/rules/)."""
        path = self.doc_path()
        try:
            return path.read_text(encoding="utf-8")
        except OSError:
            raise InputError(str(path), f"no documentation page for rule {self.id} in this installation") from None

    def help_uri(self) -> str:
        return f"{DOCS_URL}/rules/{self.id}.md"


# The pages ship inside the package, so `hvcheck rules ID` and SARIF help work from a wheel too.
DOCS_DIR = Path(__file__).resolve().parent / "docs"
RULE_DOCS_DIR = DOCS_DIR / "rules"
DOCS_URL = "https://github.com/hvcheck/hvcheck/blob/main/hvcheck/docs"

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE

_RULE_ID = re.compile(r"^[A-Z][0-9]{3}$")

# Every rule, declared beside the code that emits it (`declare_rule` / `@rule`); the modules that
# declare rules are listed in hvcheck/catalogue.py so the whole catalogue can be loaded at once.
REGISTRY: dict[str, Rule] = {}


def declare_rule(rule_id: str, title: str, severity: Severity, area: str) -> Rule:
    """Register a rule where its code is. IDs are stable (DESIGN.md §3): declaring one twice with a
    different meaning, or an ID of the wrong shape, is a programming error and fails at import."""
    if not _RULE_ID.match(rule_id):
        raise ValueError(f"rule id {rule_id!r} is not a letter and three digits")
    caller = sys._getframe(1).f_globals.get("__name__", "")
    new = Rule(rule_id, title, severity, area, caller)
    old = REGISTRY.get(rule_id)
    if old is not None and (old.title, old.severity, old.area) != (title, severity, area):
        raise ValueError(f"rule {rule_id} declared twice: in {old.module} and in {caller}")
    REGISTRY.setdefault(rule_id, new)
    return REGISTRY[rule_id]


F = TypeVar("F", bound=Callable[..., Any])


def rule(rule_id: str, title: str, severity: Severity, area: str) -> Callable[[F], F]:
    """Decorator form of :func:`declare_rule` for a function that implements one rule; the function
    gets a ``rule_id`` attribute so an area's runner can key its table by it."""

    def register(fn: F) -> F:
        declared = declare_rule(rule_id, title, severity, area)
        object.__setattr__(declared, "module", fn.__module__)
        fn.rule_id = rule_id  # type: ignore[attr-defined]
        return fn

    return register


def get_rule(rule_id: str) -> Rule:
    try:
        return REGISTRY[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule id {rule_id!r} (declared rules: {', '.join(sorted(REGISTRY))})") from None


declare_rule("E001", "an input needed by a check could not be read or parsed", E, "input")


@dataclass(frozen=True)
class Suppression:
    """How a finding was accepted: ``kind`` is "inline" (a comment in the input), "config" (an ignore
    in the project configuration) or "baseline"; ``where`` is the comment, config entry or file."""

    kind: str
    reason: str
    where: Location


@dataclass(slots=True)  # slots: a patch of 50,000 unrelated hunks makes 50,000 findings
class Finding:
    """One violated invariant (or one input problem), with its evidence.

    ``data`` holds rule-specific facts; integers in it are rendered as 0x-hex strings in JSON.
    """

    rule: str
    message: str
    locations: list[Location] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    fix: str | None = None
    severity: Severity | None = None
    # Set by the run's post-processing (hvcheck.baseline.fingerprint), read by the reporters.
    fingerprint: str | None = None
    # Why the finding is not counted, when it is suppressed (inline comment, config, baseline).
    suppressed: Suppression | None = None

    def __post_init__(self) -> None:
        registered = get_rule(self.rule)  # an unknown ID is a programming error, fail loudly
        if self.severity is None:
            self.severity = registered.severity

    @property
    def sev(self) -> Severity:
        assert self.severity is not None
        return self.severity


def input_error_finding(path: str | None, line: int | None, what: str, checks: str) -> Finding:
    """E001: in runs over many inputs, one unreadable input becomes a finding, not an abort."""
    return Finding(
        "E001",
        f"{what}; not checked: {checks}",
        locations=[Location(path, line)],
        data={"what": what, "checks_not_run": checks},
    )


def worst(findings: list[Finding]) -> Severity | None:
    return max((f.sev for f in findings), default=None)


def summary(findings: list[Finding]) -> dict[str, int]:
    counts = {s.label: 0 for s in (Severity.ERROR, Severity.WARNING, Severity.NOTE)}
    for f in findings:
        counts[f.sev.label] += 1
    return counts
