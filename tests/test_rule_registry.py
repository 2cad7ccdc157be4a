"""One rule registry: the rules declared in the code, the rule IDs the code emits, the shipped
documentation pages and the tests (a failing and a passing case each) are the same set. Adding a
rule is one declared function + one page + one test; this file proves nothing else is needed."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import ROOT

from hvcheck.catalogue import load_catalogue, rule_range
from hvcheck.findings import RULE_DOCS_DIR, Severity, declare_rule

CATALOGUE = load_catalogue()
RULE_ID = re.compile(r"^[A-Z][0-9]{3}$")


def _calls(paths: list[Path], names: set[str]) -> dict[str, set[str]]:
    """For each function name in ``names``: the rule IDs passed to it as a string literal."""
    out: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name not in names:
                continue
            for arg in node.args[:2]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and RULE_ID.match(arg.value):
                    out[name].add(arg.value)
    return out


def test_emitted_ids_are_exactly_the_declared_ones() -> None:
    sources = [p for p in (ROOT / "hvcheck").rglob("*.py") if "demo" not in p.parts]
    emitted = _calls(sources, {"Finding"})["Finding"]
    assert emitted, "the scan found no Finding(...) calls"
    assert emitted - set(CATALOGUE) == set(), "emitted but never declared"
    assert set(CATALOGUE) - emitted == set(), "declared but never emitted"


def test_doc_pages_are_exactly_the_declared_rules() -> None:
    pages = {p.stem for p in RULE_DOCS_DIR.glob("*.md")}
    assert pages == set(CATALOGUE)
    for rule in CATALOGUE.values():
        text = rule.doc()
        assert text.startswith(f"# {rule.id}"), rule.id
        m = re.search(r"\*\*Severity:\*\* (\w+)", text)
        assert m, f"{rule.id}.md does not state its severity"
        assert m.group(1) == rule.severity.label, f"{rule.id}: page says {m.group(1)}, code says {rule.severity.label}"


def test_every_rule_has_a_failing_and_a_passing_test() -> None:
    tests = [p for p in (ROOT / "tests").rglob("test_*.py")]
    calls = _calls(tests, {"fires", "clean"})
    missing_fail = sorted(set(CATALOGUE) - calls["fires"])
    missing_pass = sorted(set(CATALOGUE) - calls["clean"])
    assert not missing_fail, f"rules without a failing case (rulecheck.fires): {missing_fail}"
    assert not missing_pass, f"rules without a passing case (rulecheck.clean): {missing_pass}"


def test_help_strings_come_from_the_registry() -> None:
    from conftest import run_hvcheck

    layout_ids = sorted(r.id for r in CATALOGUE.values() if r.area == "layout")
    proc = run_hvcheck("layout", "--help")
    assert f"{layout_ids[0]}-{layout_ids[-1]}" in proc.stdout
    proc = run_hvcheck("riscv", "--help")
    assert rule_range("riscv") in proc.stdout.replace("\n", " ")


def test_no_hand_written_rule_ranges_in_the_code() -> None:
    """Ranges such as 'M001-M014' drift when a rule is added: help and messages use rule_range()."""
    pattern = re.compile(r"[A-Z]0\d\d-[A-Z]?0\d\d")
    offenders = []
    for path in (ROOT / "hvcheck").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if pattern.search(node.value):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders


def test_redeclaring_a_rule_differently_fails_at_import() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        declare_rule("M001", "something else", Severity.NOTE, "layout")
    with pytest.raises(ValueError, match="letter and three digits"):
        declare_rule("M1", "bad", Severity.NOTE, "layout")
