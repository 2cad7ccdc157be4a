"""Fingerprints are a saved contract: baselines users committed hold them, so a faster derivation
must give the same 32 hex digits for every finding. ``_v1`` below is the derivation as first
shipped (hvcheck/baseline.py before the 50,000-finding speed-up), kept verbatim as the reference."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvcheck.baseline import assign_fingerprints, fingerprint
from hvcheck.catalogue import load_catalogue
from hvcheck.findings import Finding, Location

load_catalogue()


def _v1_relative(path: str, root: Path) -> str:
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute, root)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def _v1_line_text(path: str, line: int) -> str | None:
    try:
        lines = Path(path).read_bytes().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    return " ".join(lines[line - 1].split()) if 1 <= line <= len(lines) else None


def _v1_is_position(key: str) -> bool:
    return key in ("line", "column", "lines") or key.endswith(("_line", "_column"))


def _v1_canonical(value: Any, root: Path) -> Any:
    if isinstance(value, dict):
        return {str(k): _v1_canonical(v, root) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                if not _v1_is_position(str(k))}
    if isinstance(value, list | tuple):
        return [_v1_canonical(v, root) for v in value]
    if isinstance(value, str) and os.path.isabs(value):
        return _v1_relative(value, root)
    if isinstance(value, int) and not isinstance(value, bool):
        return hex(value)
    if isinstance(value, float | str | bool) or value is None:
        return value
    return str(value)


def _v1(finding: Finding, root: Path) -> str:
    locs = []
    for loc in finding.locations:
        path = _v1_relative(loc.path, root) if loc.path else None
        anchor = _v1_line_text(loc.path, loc.line) if (loc.path and loc.line) else None
        locs.append([path, anchor if anchor is not None else loc.line, loc.symbol, loc.detail])
    key = [finding.rule, locs, _v1_canonical(finding.data, root)]
    blob = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(1 << 70), 1 << 70),
                     st.floats(allow_nan=False, allow_infinity=False),
                     st.text(max_size=12), st.sampled_from(["/abs/x.c", "/r/sub/f.c", "/r/.hidden/g.c", "/r/../r/a.c",
                                                            "/r//b.c", "/r/..x/c.c", "rel/d.c", "/r", "/r/"]))
_keys = st.one_of(st.sampled_from(["line", "lines", "column", "start_line", "path", "zone", "at", "size"]),
                  st.text(max_size=6))
_data = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(_keys, inner, max_size=5)), max_leaves=20)


@given(st.dictionaries(_keys, _data, max_size=6), st.sampled_from(["/r", "/r/", "/", "/r/sub", "/other"]),
       st.lists(st.tuples(st.sampled_from([None, "/r/sub/f.c", "/elsewhere/z.c", "rel.c", "/r/.h/q.c"]),
                          st.one_of(st.none(), st.integers(0, 5)), st.one_of(st.none(), st.text(max_size=5))),
                max_size=3))
@settings(max_examples=300, deadline=None)
def test_fingerprint_equals_the_first_shipped_derivation(data: dict[str, Any], root: str,
                                                          locs: list[tuple[str | None, int | None, str | None]]) -> None:
    f = Finding("P004", "m", [Location(p, n, detail=d) for p, n, d in locs], data=data)
    assert fingerprint(f, Path(root)) == _v1(f, Path(root))
    assign_fingerprints([f], Path(root))
    assert f.fingerprint == _v1(f, Path(root))


def test_fingerprint_of_known_findings_never_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Literal values: a baseline saved by any earlier release must still match these findings."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.patch").write_text("diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-\tkb0;\n+\tkc0;\n")
    p004 = Finding("P004", "any wording", [Location("x.c", None, detail="backport: an unknown place"),
                                           Location(str(tmp_path / "b.patch"), 4, detail="backport patch, hunk 1")],
                   data={"backport": {"path": "x.c", "at": None, "patch": f"{tmp_path}/b.patch:4", "hunk": "hunk 1",
                                      "scope_parts": [], "located": None}, "lines": ["-kb0;", "+kc0;"]})
    m001 = Finding("M001", "any wording", [Location(None, None, detail="estimated: BASE + 8 MiB")],
                   data={"zone": "z", "start": 0x4000_0000, "size": 1 << 27, "flag": True, "end_line": 9})
    assign_fingerprints([p004, m001], tmp_path)
    assert (p004.fingerprint, m001.fingerprint) == (_v1(p004, tmp_path), _v1(m001, tmp_path))
    assert p004.fingerprint == "fe04b7a186bf6b7d5e56afb0f2970115"
    assert m001.fingerprint == "b7c5bba0fb537d3766b6e336e73bf06b"
