"""Resource limits are code (module-level MAX_* constants) and documented in docs/limits.md with
their exact values; exceeding one gives exit 2 with the limit named."""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

from conftest import ROOT, run_hvcheck

DOC = ROOT / "hvcheck" / "docs" / "limits.md"


def _constants() -> dict[str, int]:
    """Every module-level MAX_* integer constant in hvcheck/, as `module.NAME` -> value."""
    out: dict[str, int] = {}
    for path in sorted((ROOT / "hvcheck").rglob("*.py")):
        tree = ast.parse(path.read_text())
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        names = [node.targets[0].id for node in tree.body
                 if isinstance(node, ast.Assign) and len(node.targets) == 1
                 and isinstance(node.targets[0], ast.Name) and node.targets[0].id.startswith("MAX_")]
        if names:
            mod = importlib.import_module(module)
            out.update({f"{module}.{n}": getattr(mod, n) for n in names if isinstance(getattr(mod, n), int)})
    return out


def _documented() -> dict[str, int]:
    rows = re.findall(r"^\| `([\w.]+)` \| `?(\d+)`? \|", DOC.read_text(), re.M)
    return {name: int(value) for name, value in rows}


def test_every_limit_in_code_is_documented_with_its_value() -> None:
    code, doc = _constants(), _documented()
    assert code, "no limits found"
    missing = sorted(set(code) - set(doc))
    stale = sorted(set(doc) - set(code))
    wrong = sorted(k for k in set(code) & set(doc) if code[k] != doc[k])
    assert not missing and not stale and not wrong, f"missing {missing}, stale {stale}, wrong {wrong}"


def test_oversized_layout_file_names_the_limit(tmp_path: Path) -> None:
    from hvcheck.layout.loaders.located import MAX_LAYOUT_BYTES

    p = tmp_path / "big.yaml"
    with p.open("wb") as fh:
        fh.write(b"hvcheck-layout: 1\nzones: []\n")
        fh.truncate(MAX_LAYOUT_BYTES + 1)
    proc = run_hvcheck("layout", str(p))
    assert proc.returncode == 2 and "limit" in proc.stderr and str(MAX_LAYOUT_BYTES) in proc.stderr


def test_too_many_regions_names_the_limit(tmp_path: Path) -> None:
    from hvcheck.layout.loaders.neutral import MAX_ITEMS

    regions = [{"kind": "ram", "start": i * 4096, "size": 4096} for i in range(MAX_ITEMS + 1)]
    p = tmp_path / "many.json"
    p.write_text(json.dumps({"hvcheck-layout": 1, "zones": [{"name": "z", "regions": regions}]}))
    proc = run_hvcheck("layout", str(p))
    assert proc.returncode == 2 and f"the limit is {MAX_ITEMS}" in proc.stderr


def test_nesting_depth_names_the_limit(tmp_path: Path) -> None:
    from hvcheck.layout.loaders.located import MAX_NESTING

    p = tmp_path / "deep.json"
    p.write_text('{"hvcheck-layout": 1, "zones": [], "name": ' + "[" * 200 + "]" * 200 + "}")
    proc = run_hvcheck("layout", str(p))
    assert proc.returncode == 2 and f"deeper than {MAX_NESTING}" in proc.stderr
