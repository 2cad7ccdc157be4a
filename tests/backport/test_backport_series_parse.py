"""A series read against one tree per side: each file is parsed afresh once per side and every
later image incrementally, with exactly the findings a fresh parse of every image gives (issue 18:
the 50-hunk series took 2 s, 106 fresh parses)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bp_helpers import make_patch, write
from rulecheck import fires

from hvcheck.backport import placement
from hvcheck.backport.cli import run_backport
from hvcheck.backport.readers import cscope

COMMITS = 6
COMMON = "\t\tr = common(arg);\n\t\tbreak;\n"


def _dispatcher(k: int, local: str) -> str:
    cases = "".join(f"\tcase CMD_{k}_{c}:\n\t\tr = handle_{k}_{c}(arg);\n\t\tbreak;\n" for c in range(4))
    return (f"long dispatch_{k}(unsigned int cmd, unsigned long arg)\n{{\n\tlong r;\n{local}\n"
            f"\tswitch (cmd) {{\n{cases}\tcase CMD_COMMON:\n{COMMON}\tdefault:\n\t\tr = -EINVAL;\n\t\tbreak;\n"
            "\t}\n\treturn r;\n}\n\n")


def _file(newer: bool) -> str:
    """Upstream's dispatchers declare `err`; the older tree's do not."""
    return "#include \"disp.h\"\n\n" + "".join(_dispatcher(k, "\tint err = 0;\n" if newer else "")
                                               for k in range(COMMITS + 2))


def _add_case(text: str, dest: int, tag: int, body: str) -> str:
    at = text.index(COMMON, text.index(f"long dispatch_{dest}(")) + len(COMMON)
    return text[:at] + f"\tcase CMD_NEW_{tag}:\n\t\tr = {body};\n\t\tbreak;\n" + text[at:]


def _series(tmp: Path) -> tuple[Path, Path, Path, Path]:
    """Commit c adds a case to dispatch_c; the backport's commit 2 keeps upstream's `err` (P008)
    and its commit 4 lands in dispatch_5 (P001)."""
    up, bp = _file(True), _file(False)
    write(tmp / "up-tree" / "disp.c", up)
    write(tmp / "bp-tree" / "disp.c", bp)
    up_mbox, bp_mbox = [], []
    for c in range(COMMITS):
        body = "err" if c == 2 else f"new_handler_{c}(arg)"
        up_next = _add_case(up, c, c, body)
        bp_next = _add_case(bp, c + 1 if c == 4 else c, c, body)
        up_mbox.append(make_patch(tmp / f"u{c}", "p", {"disp.c": up}, {"disp.c": up_next}).read_text())
        bp_mbox.append(make_patch(tmp / f"b{c}", "p", {"disp.c": bp}, {"disp.c": bp_next}).read_text())
        up, bp = up_next, bp_next
    return (write(tmp / "up.patch", "".join(up_mbox)), write(tmp / "bp.patch", "".join(bp_mbox)),
            tmp / "up-tree", tmp / "bp-tree")


def _findings(tmp: Path) -> list[tuple[Any, ...]]:
    up, bp, up_tree, bp_tree = _series(tmp)
    result = run_backport(str(up), str(bp), upstream_tree=str(up_tree), backport_tree=str(bp_tree))
    return [tuple(str(x).replace(str(tmp), "TMP") for x in (
        f.rule, f.message, [(loc.path, loc.line, loc.detail) for loc in f.locations], f.data, f.severity))
        for f in result.findings]


class _Counter:
    def __init__(self, real: Any) -> None:
        self.real, self.fresh, self.incremental = real, 0, 0

    def parse(self, source: bytes, old_tree: Any = None) -> Any:
        if old_tree is None:
            self.fresh += 1
            return self.real.parse(source)
        self.incremental += 1
        return self.real.parse(source, old_tree)


def test_series_parses_each_file_once_per_side_with_unchanged_findings(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    counter = _Counter(cscope._parser())
    monkeypatch.setattr(cscope, "_parser", lambda: counter)
    walked = _findings(tmp_path / "walk")
    # one fresh parse per side (the file before the series or after it), every other image incrementally
    assert counter.fresh == 2 and counter.incremental >= 2 * COMMITS - 1
    rules = sorted(f[0] for f in walked)
    assert "P001" in rules and "P008" in rules
    monkeypatch.setattr(placement, "MAX_CHAIN_WALK", 0)  # every image parsed afresh, as before
    counter.fresh = counter.incremental = 0
    fresh = _findings(tmp_path / "fresh")
    assert counter.incremental == 0 and counter.fresh > 2 * COMMITS
    assert walked == fresh


def test_series_findings_name_the_misplaced_case_and_the_copied_local(tmp_path: Path) -> None:
    up, bp, up_tree, bp_tree = _series(tmp_path)
    result = run_backport(str(up), str(bp), upstream_tree=str(up_tree), backport_tree=str(bp_tree))
    p001 = fires(result.findings, "P001")
    assert len(p001) == 1 and "dispatch_4()" in p001[0].message and "dispatch_5()" in p001[0].message
    p008 = fires(result.findings, "P008")
    assert len(p008) == 1 and p008[0].data["names"] == ["err"] and "dispatch_2()" in p008[0].message
