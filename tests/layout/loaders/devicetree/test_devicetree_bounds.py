"""The DTS reader's time and memory stay bounded by its input (issue 19): peak RSS measured with
GNU time on hostile single-line device trees, and the lexer the reader shares with `hvcheck fix`."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hvcheck.errors import InputError, LimitExceeded
from hvcheck.fix.dts import scan
from hvcheck.layout.loaders.devicetree import read_devicetree
from hvcheck.layout.loaders.devicetree.dts import MAX_DT_MEMRESERVE, MAX_DT_STATEMENTS
from hvcheck.layout.loaders.devicetree.lexer import Text
from hvcheck.layout.loaders.devicetree.node import MAX_DT_ITEMS
from tests.conftest import require_tool

SIZE = 8 << 20   # large enough that per-item and per-character costs dominate the interpreter's own


def _single_line(path: Path, head: str, unit: str, tail: str, size: int = SIZE) -> Path:
    n = (size - len(head) - len(tail)) // len(unit)
    path.write_text(head + unit * n + tail)
    return path


HOSTILE = {
    # name: (head, repeated unit, tail, the limit it must hit or None when it reads fine)
    "skipped-value": ("/dts-v1/; / { x { clocks = ", "<1>, ", "<1>; }; };", None),
    "comments": ("/dts-v1/; / { ", "/**/", "};", None),
    "kept-cells": ("/dts-v1/; / { memory { reg = <", "1 ", ">; }; };", "MAX_DT_ITEMS"),
    "tiny-properties": ("/dts-v1/; / { x {", "a;", "}; };", "MAX_DT_STATEMENTS"),
    "tiny-nodes": ("/dts-v1/; / { ", "a{};", " };", "MAX_DT_STATEMENTS"),
    "memreserve": ("/dts-v1/; ", "/memreserve/ 1 1;", "/ { };", "MAX_DT_MEMRESERVE"),
}


def _peak_rss_kib(path: Path) -> tuple[int, str]:
    gnu_time = require_tool("time")
    code = ("import sys\nfrom hvcheck.errors import InputError\nfrom hvcheck.layout.loaders.devicetree import "
            "read_devicetree\ntry:\n    read_devicetree(sys.argv[1]); print('read')\n"
            "except InputError as e:\n    print(e)\n")
    proc = subprocess.run([gnu_time, "-f", "%M", sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stderr.strip().splitlines()[-1]), proc.stdout.strip()


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_peak_memory_within_ten_times_the_input(tmp_path: Path, kind: str) -> None:
    head, unit, tail, limit = HOSTILE[kind]
    base_rss, _ = _peak_rss_kib(_single_line(tmp_path / "small.dts", head, unit, tail, size=4096))
    path = _single_line(tmp_path / f"{kind}.dts", head, unit, tail)
    peak, outcome = _peak_rss_kib(path)
    assert (peak - base_rss) * 1024 <= 10 * path.stat().st_size, f"{kind}: {peak} KiB peak, base {base_rss} KiB"
    if limit is None:
        assert outcome == "read"
    else:
        assert limit in outcome and str(path) in outcome


def test_statement_limit_is_exact(tmp_path: Path) -> None:
    ok = tmp_path / "ok.dts"
    # the root node's own statement, its MAX - 3 properties, `};`, and end of file: MAX statements
    ok.write_text("/ {" + "a;" * (MAX_DT_STATEMENTS - 3) + "};")
    read_devicetree(ok)
    over = tmp_path / "over.dts"
    over.write_text("/ {" + "a;" * (MAX_DT_STATEMENTS - 2) + "};")
    with pytest.raises(LimitExceeded, match="MAX_DT_STATEMENTS"):
        read_devicetree(over)


def test_memreserve_and_item_limits_name_themselves(tmp_path: Path) -> None:
    p = tmp_path / "m.dts"
    p.write_text("/memreserve/ 1 1;\n" * (MAX_DT_MEMRESERVE + 1) + "/ { };\n")
    with pytest.raises(LimitExceeded, match=f"more than {MAX_DT_MEMRESERVE} /memreserve/") as err:
        read_devicetree(p)
    assert err.value.line == MAX_DT_MEMRESERVE + 1
    q = tmp_path / "c.dts"
    q.write_text("/ { memory { reg = <" + "1 " * MAX_DT_ITEMS + ">; }; };")
    with pytest.raises(LimitExceeded, match="MAX_DT_ITEMS"):
        read_devicetree(q)


def test_time_is_linear_in_the_number_of_comments(tmp_path: Path) -> None:
    """No quadratic rescans: four times the input costs about four times the time, not sixteen."""
    def cost(n: int) -> float:
        p = _single_line(tmp_path / f"c{n}.dts", "/dts-v1/; / { x { ", "/* c */ #a; ", "}; };", size=n)
        t0 = time.process_time()   # CPU time: not inflated by other load on the machine
        read_devicetree(p)
        return time.process_time() - t0

    small, large = min(cost(250_000) for _ in range(2)), min(cost(1_000_000) for _ in range(2))
    assert large < 8 * small, (small, large)


# -- the lexer `hvcheck fix` shares ----------------------------------------------------------------

TRICKY = """\
#define X 1 /* a comment
   that continues */
# 12 "board.dtsi"
/dts-v1/;
/ {
	#address-cells = <2>;   // not a directive: a property
	#size-cells = <2>;
	compatible = "a{b};c", "d\\"}";
	/* } a brace in a comment */
	memory@0 { device_type = "memory"; reg = <0 0 0 0x1000>; };
};
"""


def test_lexer_recognises_directives_strings_and_comments() -> None:
    src = Text("t.dts", TRICKY)
    assert src.directive_at(0) is not None
    assert src.directive_at(TRICKY.index("# 12")) is not None
    assert src.directive_at(TRICKY.index("#address-cells")) is None
    q = TRICKY.index('"a{b}')
    assert TRICKY[src.string_end(q):].startswith(', "d')
    c = TRICKY.index("/* }")
    assert TRICKY[src.skip_blank(c):].startswith("memory@0")
    assert src.line_of(TRICKY.index("memory@0")) == 10
    assert src.line_of(TRICKY.index("compatible")) == 8   # backwards from the previous answer


def test_reader_and_editor_see_the_same_structure(tmp_path: Path) -> None:
    p = tmp_path / "t.dts"
    p.write_text(TRICKY)
    facts = read_devicetree(p)
    assert [(m.start, m.end) for m in facts.memory] == [(0, 0x1000)]
    top = scan(TRICKY, "t.dts")
    root = next(c for c in top.children if c.name == "/")
    assert [c.name for c in root.children] == ["memory@0"]
    assert set(root.props) == {"#address-cells", "#size-cells", "compatible"}


@pytest.mark.parametrize("text, what", [("/ { a = \"x; };", "unterminated value"),
                                        ("/ { /* open", "unterminated /* comment")])
def test_lexer_errors_carry_the_line(tmp_path: Path, text: str, what: str) -> None:
    p = tmp_path / "bad.dts"
    p.write_text("\n" + text)
    with pytest.raises(InputError, match=re.escape(what)) as err:
        read_devicetree(p)
    assert err.value.line == 2
