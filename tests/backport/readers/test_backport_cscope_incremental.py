"""Incremental parsing of a series' images and the one-pass preprocessor: both must give exactly
what the plain versions give (issue 18: a 50-hunk series in under 1 s without changing a result)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvcheck.backport.readers import cscope
from hvcheck.backport.readers.cscope import LineEdit, index_source, preprocess


def _function(k: int) -> list[str]:
    return [f"static long disp_{k}(unsigned int cmd, unsigned long arg)", "{", "\tlong r;", "",
            "\tswitch (cmd) {", f"\tcase CMD_{k}:", f"\t\tr = handle_{k}(arg);", "\t\tbreak;", "\tdefault:",
            "\t\tr = -EINVAL;", "\t\tbreak;", "\t}", "\treturn r;", "}", ""]


BASE = ["/* ours */", "#include \"disp.h\"", "", "static int __initdata boot_flag = 1;", ""] + \
    [ln for k in range(12) for ln in _function(k)] + \
    ["#ifdef CONFIG_X", "int only_x(void)", "{", "\treturn 1;", "}", "#else", "int only_x(void)", "{",
     "\treturn 0;", "}", "#endif", "", "void tail(void)", "{", "\tbarrier();", "}"]

# lines a hunk may add: plain code, case arms, a declaration, directives, and lines that do not parse
POOL = ["\tcase CMD_NEW:", "\t\tr = new_handler(arg);", "\t\tbreak;", "\tint err = 0;", "", "#ifdef CONFIG_Y",
        "#else", "#endif", "#define FLAG (1 << 4)", "static int extra;", "}", "{", "\tif (cmd) {",
        "\treturn r +;", "int broken(", "\t/* é comment ü */", "\tr = \"naïve\";", "struct s { int a; };"]


class _CountingParser:
    """Wraps the cached tree-sitter parser to count fresh and incremental parses."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.fresh = 0
        self.incremental = 0

    def parse(self, source: bytes, old_tree: Any = None) -> Any:
        if old_tree is None:
            self.fresh += 1
            return self.real.parse(source)
        self.incremental += 1
        return self.real.parse(source, old_tree)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> _CountingParser:
    counter = _CountingParser(cscope._parser())
    monkeypatch.setattr(cscope, "_parser", lambda: counter)
    return counter


def _apply(lines: list[str], changes: list[tuple[int, int, list[str]]]) -> tuple[list[str], list[LineEdit]]:
    """Replace ``old_len`` lines at ``at`` by ``new`` for each (at, old_len, new), in order."""
    out: list[str] = []
    edits: list[LineEdit] = []
    pos = 0
    for at, old_len, new in sorted(changes, key=lambda c: c[0]):
        if at < pos:
            continue
        old_len = min(old_len, len(lines) - at)
        out.extend(lines[pos:at])
        edits.append(LineEdit(at, old_len, len(out), len(new)))
        out.extend(new)
        pos = at + old_len
    out.extend(lines[pos:])
    return out, edits


def _same_as_fresh(lines: list[str], changes: list[tuple[int, int, list[str]]]) -> Any:
    base = index_source("\n".join(lines))
    new, edits = _apply(lines, changes)
    text = "\n".join(new)
    got, fresh = index_source(text, base, edits), index_source(text)
    assert str(got.tree.root_node) == str(fresh.tree.root_node)
    assert got.parsed.definitions == fresh.parsed.definitions and got.parsed.named == fresh.parsed.named
    assert [got.scope_at(i) for i in range(1, len(new) + 1)] == [fresh.scope_at(i) for i in range(1, len(new) + 1)]
    for d in fresh.functions:
        assert got.local_names(d) == fresh.local_names(d)
    return got


def test_one_hunk_is_parsed_incrementally_and_gives_the_fresh_tree(counting: _CountingParser) -> None:
    at = BASE.index("\t\tr = handle_5(arg);") + 2
    base = index_source("\n".join(BASE))
    new, edits = _apply(BASE, [(at, 0, ["\tcase CMD_NEW:", "\t\tr = new_handler(arg);", "\t\tbreak;"])])
    got = index_source("\n".join(new), base, edits)
    assert counting.incremental == 1 and counting.fresh == 1  # only base was parsed afresh
    assert got.function_at(at + 2) is not None and got.function_at(at + 2).name == "disp_5"  # type: ignore[union-attr]
    _same_as_fresh(BASE, [(at, 0, new[at:at + 3])])


@pytest.mark.parametrize("changes", [
    [(0, 1, ["/* new first line */", "int first;"])],  # at the start
    [(len(BASE) - 2, 2, ["\tbarrier2();", "}", "", "void more(void)", "{", "}"])],  # runs to the end
    [(len(BASE) - 3, 3, [])],  # deletes the last lines
    [(len(BASE), 0, ["", "int appended;"])],  # appends after the last line
    [(0, len(BASE), ["int only;"])],  # replaces everything
    [(3, 1, ["static int __initdata boot_flag = 2; /* ü */"]), (40, 2, ["\tr = \"naïve\";"]), (90, 0, ["\tint e;"])],
    [(BASE.index("#else"), 1, ["#elif defined(CONFIG_Z)"])],  # directive: other lines change branch
    [(BASE.index("#else"), 0, ["#endif", "#ifdef CONFIG_W"])],
    # preprocessing changes lines far from the hunk: an unclosed chain blanks the rest of the file,
    # a deleted #ifdef makes its #else branch code
    [(BASE.index("void tail(void)"), 0, ["#ifdef CONFIG_V", "#else"])],
    [(BASE.index("#ifdef CONFIG_X"), 1, [])],
])
def test_edits_anywhere_give_the_fresh_tree(changes: list[tuple[int, int, list[str]]]) -> None:
    _same_as_fresh(BASE, changes)


def test_edits_that_do_not_describe_the_change_fall_back_to_a_fresh_parse(counting: _CountingParser) -> None:
    base = index_source("\n".join(BASE))
    new, _ = _apply(BASE, [(20, 0, ["\tint err = 0;"])])
    wrong = [LineEdit(30, 0, 30, 1)]  # one line added, but at another place: the lines between differ
    got = index_source("\n".join(new), base, wrong)
    assert str(got.tree.root_node) == str(index_source("\n".join(new)).tree.root_node)
    overlapping = [LineEdit(20, 2, 20, 2), LineEdit(21, 0, 21, 1)]
    assert cscope._changed_spans(base.pre.first, new, overlapping) is None
    assert cscope._changed_spans(base.pre.first, new, [LineEdit(20, 0, 20, 2)]) is None  # counts disagree


def test_an_edit_next_to_a_syntax_error_is_parsed_afresh(counting: _CountingParser) -> None:
    lines = BASE[:10] + ["int broken(", ""] + BASE[10:]
    base = index_source("\n".join(lines))
    assert base.tree.root_node.has_error
    new, edits = _apply(lines, [(11, 0, ["int more;"])])
    before = counting.fresh
    got = index_source("\n".join(new), base, edits)
    assert counting.fresh == before + 1  # tried incrementally, then parsed afresh
    assert str(got.tree.root_node) == str(index_source("\n".join(new)).tree.root_node)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, len(BASE)), st.integers(0, 3),
                          st.lists(st.sampled_from(POOL), max_size=4)), min_size=1, max_size=4))
def test_property_incremental_equals_fresh(changes: list[tuple[int, int, list[str]]]) -> None:
    _same_as_fresh(BASE, changes)


# --- the preprocessor against the line-by-line definition it replaced --------------------------------

def _reference(lines: list[str]) -> tuple[list[str], list[str], list[bool], list[tuple[str, ...]], list[str]]:
    """Directive = '#' after at most 63 blanks, or a line continuing one; every #if chain is cut
    to its first / last branch; conditions exclude include guards."""
    stack: list[list[Any]] = []  # [condition, branch, guard, chain id]
    branches: list[int] = []
    where: list[tuple[tuple[int, int], ...]] = []
    conds: list[tuple[str, ...]] = []
    directive: list[bool] = []
    macros: list[str] = []
    cont = False
    start = -1
    name = ""
    for i, line in enumerate(lines):
        is_dir = cont or ("#" in line[:64] and line.lstrip().startswith("#"))
        directive.append(is_dir)
        if is_dir and not cont:
            m = re.match(r"\s*#\s*(if|ifdef|ifndef)\b\s*(.*)", line)
            e = re.match(r"\s*#\s*(else|elif|elifdef|elifndef)\b\s*(.*)", line)
            if m:
                expr = " ".join(m.group(2).split("/*")[0].split("//")[0].split())
                guard = m.group(1) == "ifndef" and i + 1 < len(lines) and expr.upper() == expr and bool(
                    re.match(rf"\s*#\s*define\s+{re.escape(expr)}\b", lines[i + 1]))
                stack.append([{"ifdef": expr, "ifndef": f"!{expr}"}.get(m.group(1), expr), 0, guard, len(branches)])
                branches.append(1)
            elif e and stack:
                expr = " ".join(e.group(2).split("/*")[0].split("//")[0].split())
                prev = stack[-1][0]
                stack[-1][0] = f"!({prev})" if e.group(1) == "else" else (expr or f"!({prev})")
                stack[-1][1] += 1
                branches[stack[-1][3]] += 1
            elif re.match(r"\s*#\s*endif\b", line) and stack:
                stack.pop()
            else:
                d = re.match(r"\s*#\s*define\s+([A-Za-z_]\w*)", line)
                if d:
                    name, start = d.group(1), (i if line.rstrip().endswith("\\") else -1)
                    if start < 0:
                        macros.append(f"{name}:{i + 1}-{i + 1}")
        elif cont and not line.rstrip().endswith("\\") and start >= 0:
            macros.append(f"{name}:{start + 1}-{i + 1}")
            start = -1
        if is_dir:
            cont = line.rstrip().endswith("\\")
        where.append(tuple((s[3], s[1]) for s in stack))
        conds.append(tuple(s[0] for s in stack if not s[2]))
    first = [ln if not d and all(b == 0 for _, b in w) else "" for ln, d, w in zip(lines, directive, where, strict=True)]
    last = [ln if not d and all(b == branches[c] - 1 for c, b in w) else ""
            for ln, d, w in zip(lines, directive, where, strict=True)]
    later = [not d and not all(b == 0 for _, b in w) for d, w in zip(directive, where, strict=True)]
    return first, last, later, conds, macros


ATOMS = ["#if A", "#ifdef B", "#ifndef G_H", "#define G_H", "#else", "#elif C", "#endif", "  #  if X /* c */",
         "#define M(x) \\", "  x + \\", "  1", "int a;", "", " " * 63 + "#if Z", " " * 64 + "#if Z", "\t#endif",
         "{", "}", "foo(); \\", "#", "\u00a0#if U", "\x1c#else", "#elifdef D", "#define N 1 \\ ", "a # b"]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(ATOMS), max_size=30))
def test_property_preprocess_matches_the_line_by_line_definition(lines: list[str]) -> None:
    pre = preprocess(lines)
    first, last, later, conds, macros = _reference(lines)
    assert pre.first == first and pre.last == last and pre.in_later_branch == later
    assert pre.conditions == conds
    assert [f"{m.name}:{m.start}-{m.end}" for m in pre.macros] == macros
