"""The backport area's shape (issue 12), enforced over its real imports: model → readers → rules →
check → cli, one way.

- model imports only core;
- readers build the model: they import model and core (and each other), never the rules;
- rules judge the model: they never read a file (no readers, no trees, no tree-sitter);
- only the CLI imports click.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

AREA = ROOT / "hvcheck" / "backport"
CORE = ("hvcheck.errors", "hvcheck.inputs", "hvcheck.findings", "hvcheck.textio", "hvcheck.units")


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


MODULES = {_module(p): _imports(p) for p in AREA.rglob("*.py")}


def _outside(mod: str, allowed: tuple[str, ...]) -> set[str]:
    return {m for m in MODULES[mod] if m.startswith("hvcheck") and not m.startswith(allowed)}


def test_the_area_has_the_shape() -> None:
    assert {"hvcheck.backport.model", "hvcheck.backport.rules", "hvcheck.backport.readers.patchfile",
            "hvcheck.backport.readers.mail", "hvcheck.backport.readers.trees", "hvcheck.backport.readers.cscope",
            "hvcheck.backport.readers.textscope", "hvcheck.backport.check", "hvcheck.backport.cli"} <= set(MODULES)


def test_model_imports_only_core() -> None:
    assert _outside("hvcheck.backport.model", CORE) == set()


def test_readers_import_model_and_core_only() -> None:
    for mod in MODULES:
        if mod.startswith("hvcheck.backport.readers"):
            assert _outside(mod, (*CORE, "hvcheck.backport.model", "hvcheck.backport.readers")) == set(), mod


def test_rules_read_nothing() -> None:
    allowed = (*CORE, "hvcheck.backport.model", "hvcheck.backport.pairing")
    assert _outside("hvcheck.backport.rules", allowed) == set()
    assert _outside("hvcheck.backport.pairing", (*CORE, "hvcheck.backport.model")) == set()
    assert not {m for m in MODULES["hvcheck.backport.rules"] if m.startswith(("tree_sitter", "subprocess", "os"))}


def test_only_the_cli_imports_click() -> None:
    assert [m for m, imps in MODULES.items() if "click" in imps] == ["hvcheck.backport.cli"]
