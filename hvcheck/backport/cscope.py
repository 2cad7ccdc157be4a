"""Enclosing function, `switch` and `case` of a source line, from a real C parser (tree-sitter-c).

Kernel C is not quite C to a parser: `#ifdef` branches that each open a brace, function-defining
macros (`SYSCALL_DEFINE3(...) {`) and attribute macros (`__init`). Before parsing, `#else`/`#elif`
branches are blanked (line numbers kept), so each function has balanced braces; a top-level
`MACRO(args) { ... }` is recognised as a function named after the macro and its first argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

MAX_SOURCE_BYTES = 16 << 20


@dataclass(frozen=True)
class Function:
    name: str
    start: int  # 1-based first line (the signature)
    end: int  # 1-based last line (the closing brace)
    body: str  # text of the body, for rename matching

    def signature_line(self) -> int:
        return self.start


@dataclass(frozen=True)
class Switch:
    condition: str  # normalised text of the discriminant, e.g. "ioctl"
    line: int
    cases: frozenset[str]  # every case label of this switch ("default" included)


@dataclass(frozen=True)
class Context:
    """Where a line sits: the function (None at file scope), the innermost switch and case."""

    function: Function | None
    switch: Switch | None = None
    case: str | None = None
    basis: str = "tree-sitter-c"
    known: bool = True  # False: no tree, no @@ function name, no signature in the hunk

    @property
    def function_name(self) -> str | None:
        return self.function.name if self.function else None

    def describe(self) -> str:
        if self.function is None:
            where = "file scope"
        else:
            name = self.function.name
            where = name if name.endswith(")") else f"{name}()"
        if self.switch is not None:
            cond = self.switch.condition
            where = f"the switch ({cond}) in {where}" if cond not in ("", "?") else f"a switch in {where}"
            if self.case:
                where += f", under {self.case}"
        return where


@dataclass
class SourceIndex:
    """Parsed view of one file image; answers 'where is line N'."""

    lines: list[str]
    functions: list[Function]
    _tree: Any = field(repr=False, default=None)

    def function_at(self, line: int) -> Function | None:
        best = None
        for fn in self.functions:
            if fn.start <= line <= fn.end and (best is None or fn.start >= best.start):
                best = fn
        return best

    def functions_named(self, name: str) -> list[Function]:
        return [f for f in self.functions if f.name == name]

    def context_at(self, line: int) -> Context:
        fn = self.function_at(line)
        if fn is None or self._tree is None:
            return Context(fn)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        col = len(text) - len(text.lstrip())
        node = self._tree.root_node.descendant_for_point_range((line - 1, col), (line - 1, max(col, len(text) - 1)))
        switch = None
        case = None
        while node is not None:
            if node.type == "case_statement" and case is None and switch is None:
                case = _case_label(node)
            if node.type == "switch_statement":
                switch = _switch(node)
                break
            if node.type == "function_definition":
                break
            node = node.parent
        return Context(fn, switch, case)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _case_label(node: Any) -> str:
    value = node.child_by_field_name("value")
    return f"case {_norm(value.text.decode('utf-8', 'replace'))}" if value is not None else "default"


def _switch(node: Any) -> Switch:
    cond = node.child_by_field_name("condition")
    cond_text = _norm(cond.text.decode("utf-8", "replace")) if cond is not None else ""
    if cond_text.startswith("(") and cond_text.endswith(")"):
        cond_text = cond_text[1:-1].strip()
    cases: set[str] = set()
    body = node.child_by_field_name("body")
    stack = list(body.children) if body is not None else []
    while stack:  # case labels of this switch, not of switches nested inside it
        child = stack.pop()
        if child.type == "case_statement":
            cases.add(_case_label(child))
            stack.extend(child.children)
        elif child.type == "switch_statement":
            continue
        elif child.type in ("compound_statement", "preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif",
                            "labeled_statement", "ERROR"):
            stack.extend(child.children)
    return Switch(cond_text, node.start_point[0] + 1, frozenset(cases))


_PP_IF = re.compile(r"^\s*#\s*(if|ifdef|ifndef)\b")
_PP_ELSE = re.compile(r"^\s*#\s*(else|elif|elifdef|elifndef)\b")
_PP_END = re.compile(r"^\s*#\s*endif\b")
_PP_ANY = re.compile(r"^\s*#")


def blank_alternative_branches(lines: list[str]) -> list[str]:
    """Keep the first branch of every #if chain, blank #else/#elif branches and all directives
    (and their continuation lines). Line count and numbering stay the same."""
    out: list[str] = []
    # stack of "are we inside a skipped branch at this depth"
    stack: list[bool] = []
    continuation = False
    skipping = False
    for line in lines:
        if not continuation and not line.lstrip().startswith("#"):
            out.append("" if skipping else line)  # fast path: most lines are not directives
            continue
        if continuation:
            continuation = line.rstrip().endswith("\\")
            out.append("")
            continue
        if _PP_IF.match(line):
            stack.append(False)
            out.append("")
        elif _PP_ELSE.match(line):
            if stack:
                stack[-1] = True
            out.append("")
        elif _PP_END.match(line):
            if stack:
                stack.pop()
            out.append("")
        elif _PP_ANY.match(line):
            out.append("")  # #define, #include, #pragma: irrelevant to structure
        else:
            out.append("" if skipping else line)
            continue
        continuation = line.rstrip().endswith("\\")
        skipping = any(stack)
    return out


@lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter
    import tree_sitter_c

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))


def _declarator_name(node: Any) -> str | None:
    """The identifier a function_definition defines, through pointer/parenthesised declarators."""
    decl = node.child_by_field_name("declarator")
    while decl is not None:
        if decl.type == "function_declarator":
            inner = decl.child_by_field_name("declarator")
            if inner is not None and inner.type == "identifier":
                name = inner.text.decode("utf-8", "replace")
                params = decl.child_by_field_name("parameters")
                if re.fullmatch(r"[A-Z][A-Z0-9_]*DEFINE[A-Z0-9_]*", name) and params is not None:
                    first = _first_macro_arg(params.text.decode("utf-8", "replace"))
                    return f"{name}({first})" if first else name
                return name
            decl = inner
            continue
        if decl.type == "identifier":
            return decl.text.decode("utf-8", "replace")
        nxt = decl.child_by_field_name("declarator")
        if nxt is None:
            for child in decl.children:
                if child.type in ("function_declarator", "pointer_declarator", "parenthesized_declarator",
                                  "identifier", "attributed_declarator"):
                    nxt = child
                    break
        decl = nxt
    return None


def _first_macro_arg(args: str) -> str:
    inner = args.strip()[1:].split(",")[0].split(")")[0]
    return inner.strip()


def _macro_function_name(prev: Any) -> str | None:
    """`SYSCALL_DEFINE2(name, ...)` followed by a top-level `{...}` block."""
    text = prev.text.decode("utf-8", "replace").strip().rstrip(";")
    m = re.match(r"^(?:[\w\s\*]*\s)?([A-Za-z_]\w*)\s*\((.*)\)\s*$", text, re.S)
    if not m:
        return None
    first = _first_macro_arg("(" + m.group(2) + ")")
    return f"{m.group(1)}({first})" if first else m.group(1)


def index_source(text: str) -> SourceIndex:
    lines = text.split("\n")
    clean = "\n".join(blank_alternative_branches(lines)).encode("utf-8", "replace")
    tree = _parser().parse(clean)
    functions: list[Function] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            name = _declarator_name(node) or "<unnamed>"
            body = node.child_by_field_name("body")
            body_text = body.text.decode("utf-8", "replace") if body is not None else ""
            functions.append(Function(name, node.start_point[0] + 1, node.end_point[0] + 1, body_text))
            continue
        children = node.children
        for i, child in enumerate(children):
            if child.type == "compound_statement" and node.type in ("translation_unit", "ERROR", "preproc_ifdef",
                                                                    "preproc_if", "preproc_else", "preproc_elif"):
                prev = children[i - 1] if i > 0 else None
                if prev is not None and prev.type in ("expression_statement", "declaration", "ERROR"):
                    name = _macro_function_name(prev)
                    if name:
                        functions.append(Function(name, prev.start_point[0] + 1, child.end_point[0] + 1,
                                                  child.text.decode("utf-8", "replace")))
                        stack.append(child)
                        continue
            stack.append(child)
    functions.sort(key=lambda f: f.start)
    return SourceIndex(lines, functions, tree)
