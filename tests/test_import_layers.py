"""The one-way import rule of docs/ARCHITECTURE.md, enforced over the real import graph (every
`import` in every module, including the lazy ones inside functions):

    cli  ->  checks (rules, fix, triage diagnoses, map)  ->  loaders / readers  ->  model  ->  core

- core (errors, units, inputs, findings) imports only core;
- the layout model and interval engine import only core;
- reporters import only core: they never compute anything and never read a format;
- rules never import a loader; loaders never import rules, fix, triage, map, reporters or a CLI;
- nothing but a CLI module imports a CLI module;
- no area reaches another through import strings or signature probing.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "hvcheck"

CORE = ("hvcheck", "hvcheck.errors", "hvcheck.units", "hvcheck.inputs", "hvcheck.findings", "hvcheck.textio",
        "hvcheck.intexpr")


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        mod = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.startswith("hvcheck"):
                    edges[mod].add(node.module)
                    # `from hvcheck.layout.loaders import hvisor` imports a submodule
                    for alias in node.names:
                        edges[mod].add(f"{node.module}.{alias.name}")
            elif isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{mod}: relative import; use absolute hvcheck.* imports")
            elif isinstance(node, ast.Import):
                edges[mod].update(a.name for a in node.names if a.name.startswith("hvcheck"))
        edges.setdefault(mod, set())
    modules = set(edges)
    # Keep only edges to real modules/packages (drop `from m import function` names).
    return {m: {t for t in targets if t in modules} for m, targets in edges.items()}


GRAPH = _graph()


def _is_cli(mod: str) -> bool:
    last = mod.rsplit(".", 1)[-1]
    return mod in ("hvcheck.cli", "hvcheck.__main__", "hvcheck.rules_cli") or last == "cli" or \
        last.endswith("_cli") or mod.startswith("hvcheck.demo")


def _matching(pattern: str) -> list[str]:
    rx = re.compile(pattern)
    return [m for m in GRAPH if rx.fullmatch(m)]


def _violations(pattern: str, allowed: tuple[str, ...] = (), forbidden: tuple[str, ...] = ()) -> list[str]:
    out = []
    for mod in _matching(pattern):
        for target in sorted(GRAPH[mod]):
            if target == mod:
                continue
            if allowed and not any(target == a or target.startswith(a + ".") for a in allowed):
                out.append(f"{mod} -> {target}")
            if any(target == f or target.startswith(f + ".") for f in forbidden):
                out.append(f"{mod} -> {target}")
    return out


def test_graph_was_read() -> None:
    assert "hvcheck.layout.rules" in GRAPH and "hvcheck.layout.model" in GRAPH["hvcheck.layout.rules"]


def test_only_cli_modules_import_cli_modules() -> None:
    bad = [f"{m} -> {t}" for m, ts in GRAPH.items() if not _is_cli(m) for t in ts if _is_cli(t)]
    assert not bad


def test_core_imports_only_core() -> None:
    core = "|".join(re.escape(c) for c in CORE)
    assert not _violations(f"({core})", allowed=CORE)


def test_model_imports_only_core() -> None:
    allowed = (*CORE, "hvcheck.layout.intervals", "hvcheck.layout.model")
    assert not _violations(r"hvcheck\.layout\.(model|intervals)", allowed=allowed)


def test_reporters_import_only_core() -> None:
    assert not _violations(r"hvcheck\.report(\..*)?", allowed=(*CORE, "hvcheck.report"))


def test_rules_never_import_loaders() -> None:
    assert not _violations(r"hvcheck\.layout\.(rules|dtfacts)", forbidden=("hvcheck.layout.loaders",))


def test_loaders_never_import_checks_or_views() -> None:
    forbidden = ("hvcheck.layout.rules", "hvcheck.fix", "hvcheck.triage", "hvcheck.map", "hvcheck.report",
                 "hvcheck.cli", "hvcheck.catalogue")
    assert not _violations(r"hvcheck\.layout\.loaders(\..*)?", forbidden=forbidden)


def test_the_map_is_a_view_of_the_model_not_of_a_format() -> None:
    # Only its CLI may ask the loader registry for a model; no map module names a format loader.
    bad = [f"{m} -> {t}" for m in _matching(r"hvcheck\.map(\..*)?") for t in GRAPH[m]
           if t.startswith("hvcheck.layout.loaders") and not (_is_cli(m) and t == "hvcheck.layout.loaders")]
    assert not bad


def test_kvm_abi_module_imports_no_other_area() -> None:
    assert not _violations(r"hvcheck\.kvm\.abi", allowed=(*CORE, "hvcheck.kvm", "hvcheck.x86.data"))


# Modules that still reach other areas by import strings or signature probing (issue 12). The list
# may only shrink: an entry whose module no longer does it fails the test below.
DYNAMIC_IMPORT_ALLOWED = {
    "hvcheck.cli",                    # the lazy subcommand table (start-up budget)
    "hvcheck.catalogue",              # imports every rule-declaring module for the full catalogue
    "hvcheck.layout.loaders",         # the format registry scans its own package
    "hvcheck.demo",                   # scenario discovery
}
STILL_PROBING: set[str] = set()


def test_no_area_reaches_another_by_import_strings() -> None:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        mod = _module_name(path)
        text = path.read_text(encoding="utf-8")
        if re.search(r"importlib\.import_module|import_module\(|inspect\.signature|__import__\(|\b_optional\(|\b_have\(", text):
            found.add(mod)
    assert found - DYNAMIC_IMPORT_ALLOWED - STILL_PROBING == set()
    assert STILL_PROBING <= found, f"no longer probing, remove from STILL_PROBING: {STILL_PROBING - found}"
