"""The two assertions every rule's tests use, so that the registry test can prove each rule has a
failing case (`fires`) and a passing case (`clean`) — tests/test_rule_registry.py finds these calls
in the test sources and fails for a registered rule that lacks either.

Both accept Finding objects or the dicts of a JSON/SARIF report (``rule`` / ``ruleId``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _rule_of(f: Any) -> str:
    if isinstance(f, dict):
        return str(f.get("rule", f.get("ruleId")))
    return str(f.rule)


def fires(findings: Iterable[Any], rule_id: str) -> list[Any]:
    """Assert that ``rule_id`` is reported; return its findings for closer checks."""
    found = list(findings)
    hits = [f for f in found if _rule_of(f) == rule_id]
    assert hits, f"expected {rule_id}, got {sorted({_rule_of(f) for f in found})}"
    return hits


def clean(findings: Iterable[Any], rule_id: str) -> None:
    """Assert that ``rule_id`` is not reported."""
    found = list(findings)
    hits = [f for f in found if _rule_of(f) == rule_id]
    assert not hits, f"{rule_id} reported on a passing case: {[getattr(f, 'message', f) for f in hits][:3]}"
