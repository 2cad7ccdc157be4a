"""Where a source line sits, from a real C parser (tree-sitter-c): its container (function, macro
body, named struct/union/array initializer, struct/union/enum definition, or file scope with the
nearest named declaration above), then the switch/case or initializer member inside it, and the
#if/#ifdef conditions around it.

Kernel C is not quite C to a parser: `#ifdef` branches that each open a brace, function-defining
macros (`SYSCALL_DEFINE3(...) {`) and attribute macros (`__init`). Preprocessor lines are blanked
before parsing (line numbers kept) and every `#if` chain is reduced to one branch so braces
balance: the first branch, or — for a line that only exists in a later branch — the last one, in a
second parse. Macro bodies and conditions are read lexically from the same pass.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from typing import Any

from hvcheck.backport.model import Scope, ScopePart

MAX_SCOPE_DEPTH = 64  # ancestors walked from a line's node to its container

_PP_IF = re.compile(r"\s*#\s*(if|ifdef|ifndef)\b\s*(.*)")
_PP_ELSE = re.compile(r"\s*#\s*(else|elif|elifdef|elifndef)\b\s*(.*)")
_PP_END = re.compile(r"\s*#\s*endif\b")
_PP_DEFINE = re.compile(r"\s*#\s*define\s+([A-Za-z_]\w*)")
_PP_ANY = re.compile(r"\s*#")
_PP_LINE = re.compile(r"^[^\S\n]{0,63}#", re.M)  # a directive: '#' after at most 63 blanks


def _norm(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Definition:
    """A top-level named thing with a body: what a change can land in."""

    kind: str  # "function", "initializer", "type", "macro"
    name: str
    start: int  # 1-based first line
    end: int  # 1-based last line
    body: str = field(default="", repr=False)  # for rename matching (functions)


@dataclass
class Preprocessed:
    first: list[str]  # every #if chain reduced to its first branch, directives blank
    last: list[str]  # ... to its last branch
    in_later_branch: list[bool]  # the line is blank in ``first`` because it is in a later branch
    conditions: list[tuple[str, ...]]  # per line (0-based), the enclosing conditions
    macros: list[Definition]  # #define extents (with continuation lines)


def preprocess(lines: list[str]) -> Preprocessed:
    """One pass over the directive lines (found by one regex search of the whole text): branch
    selection for both parses, conditions, macro extents. The lines between two directives share
    their entries and are filled in by slice, so a 15,000-line file costs about a millisecond."""
    n = len(lines)
    macros: list[Definition] = []
    # stack entries: [condition text, branch number, is include guard]; which branch is a chain's
    # last is only known at its #endif, so branch selection is a second loop
    stack: list[list[Any]] = []
    chain_branches: list[int] = []
    open_chains: list[tuple[int, int]] = []
    cur_chains: tuple[tuple[int, int], ...] = ()
    cur_conds: tuple[str, ...] = ()
    conds: list[tuple[str, ...]] = [()] * n
    runs: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []  # lines [start, end) between directives
    macro_start = -1
    macro_name = ""
    text = "\n".join(lines)
    pos = 0  # first line not yet assigned
    row = char = 0
    for m in _PP_LINE.finditer(text):
        row += text.count("\n", char, m.start())
        char = m.start()
        i = row
        if i < pos:  # a continuation line of the previous directive
            continue
        if i > pos:
            runs.append((pos, i, cur_chains))
            conds[pos:i] = [cur_conds] * (i - pos)
        line = lines[i]
        changed = False
        m_if = _PP_IF.match(line)
        if m_if:
            kind, expr = m_if.group(1), _norm(m_if.group(2).split("/*")[0].split("//")[0])
            cond = {"ifdef": expr, "ifndef": f"!{expr}"}.get(kind, expr)
            guard = kind == "ifndef" and i + 1 < n and bool(
                re.match(rf"\s*#\s*define\s+{re.escape(expr)}\b", lines[i + 1])) and expr.upper() == expr
            stack.append([cond, 0, guard])
            chain_branches.append(1)
            open_chains.append((len(chain_branches) - 1, 0))
            changed = True
        else:
            m_else = _PP_ELSE.match(line)
            if m_else:
                if stack:
                    prev = stack[-1][0]
                    expr = _norm(m_else.group(2).split("/*")[0].split("//")[0])
                    stack[-1][0] = f"!({prev})" if m_else.group(1) == "else" else (expr or f"!({prev})")
                    stack[-1][1] += 1
                    cid, _ = open_chains[-1]
                    chain_branches[cid] += 1
                    open_chains[-1] = (cid, stack[-1][1])
                    changed = True
            elif _PP_END.match(line):
                if stack:
                    stack.pop()
                    open_chains.pop()
                    changed = True
            else:
                m_def = _PP_DEFINE.match(line)
                if m_def:
                    macro_name = m_def.group(1)
                    if line.rstrip().endswith("\\"):
                        macro_start = i
                    else:
                        macros.append(Definition("macro", macro_name, i + 1, i + 1))
        if changed:
            cur_chains = tuple(open_chains)
            cur_conds = tuple(e[0] for e in stack if not e[2])
        conds[i] = cur_conds
        pos = i + 1
        continuation = line.rstrip().endswith("\\")
        while continuation and pos < n:  # whatever a continuation line holds, it is part of the directive
            continuation = lines[pos].rstrip().endswith("\\")
            if not continuation and macro_start >= 0:
                macros.append(Definition("macro", macro_name, macro_start + 1, pos + 1))
                macro_start = -1
            conds[pos] = cur_conds
            pos += 1
    if pos < n:
        runs.append((pos, n, cur_chains))
        conds[pos:n] = [cur_conds] * (n - pos)
    first: list[str] = [""] * n  # directive lines stay blank
    last: list[str] = [""] * n
    later: list[bool] = [False] * n
    for start, end, chains in runs:
        in_first = all(b == 0 for _, b in chains)
        if in_first:
            first[start:end] = lines[start:end]
        else:
            later[start:end] = [True] * (end - start)
        if all(b == chain_branches[c] - 1 for c, b in chains):
            last[start:end] = lines[start:end]
    return Preprocessed(first, last, later, conds, macros)


def blank_alternative_branches(lines: list[str]) -> list[str]:
    """Keep the first branch of every #if chain, blank #else/#elif branches and all directives
    (and their continuation lines). Line count and numbering stay the same."""
    return preprocess(lines).first


@lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter
    import tree_sitter_c

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))


def _text(node: Any) -> str:
    return str(node.text.decode("utf-8", "replace"))


def _declarator_name(node: Any) -> str | None:
    """The identifier a function_definition defines, through pointer/parenthesised declarators."""
    decl = node.child_by_field_name("declarator")
    while decl is not None:
        if decl.type == "function_declarator":
            inner = decl.child_by_field_name("declarator")
            if inner is not None and inner.type == "identifier":
                name = _text(inner)
                params = decl.child_by_field_name("parameters")
                if re.fullmatch(r"[A-Z][A-Z0-9_]*DEFINE[A-Z0-9_]*", name) and params is not None:
                    first = _first_macro_arg(_text(params))
                    return f"{name}({first})" if first else name
                return name
            decl = inner
            continue
        if decl.type in ("identifier", "field_identifier"):
            return _text(decl)
        nxt = decl.child_by_field_name("declarator")
        if nxt is None:
            for child in decl.children:
                if child.type in ("function_declarator", "pointer_declarator", "parenthesized_declarator",
                                  "identifier", "attributed_declarator", "array_declarator"):
                    nxt = child
                    break
        decl = nxt
    return None


def _first_macro_arg(args: str) -> str:
    inner = args.strip()[1:].split(",")[0].split(")")[0]
    return inner.strip()


def _macro_function_name(prev: Any) -> str | None:
    """`SYSCALL_DEFINE2(name, ...)` followed by a top-level `{...}` block."""
    text = _text(prev).strip().rstrip(";")
    m = re.match(r"^(?:[\w\s\*]*\s)?([A-Za-z_]\w*)\s*\((.*)\)\s*$", text, re.S)
    if not m:
        return None
    first = _first_macro_arg("(" + m.group(2) + ")")
    return f"{m.group(1)}({first})" if first else m.group(1)


_TOP_LEVEL = ("translation_unit", "ERROR", "preproc_ifdef", "preproc_if", "preproc_else", "preproc_elif",
              "linkage_specification", "declaration_list")


def _type_name(spec: Any) -> str | None:
    name = spec.child_by_field_name("name")
    body = spec.child_by_field_name("body")
    if body is None:
        return None
    kind = spec.type.split("_")[0]  # struct / union / enum
    return f"{kind} {_text(name)}" if name is not None else None


@dataclass
class _Parsed:
    tree: Any
    definitions: list[Definition]  # sorted by start
    starts: list[int]
    named: list[tuple[int, str]]  # (line, name) of every top-level declaration, sorted: file-scope anchors
    nodes: dict[tuple[int, int], Any]  # (start, end) of a definition -> its tree-sitter node


def _encode(lines: list[str]) -> bytes:
    return "\n".join(lines).encode("utf-8", "replace")


def _parse(lines: list[str], macros: list[Definition]) -> _Parsed:
    return _scan(_parser().parse(_encode(lines)), macros)


def _scan(tree: Any, macros: list[Definition]) -> _Parsed:
    """The top-level definitions and named declarations of a parsed image."""
    definitions: list[Definition] = []
    named: list[tuple[int, str]] = [(m.start, m.name) for m in macros]
    nodes: dict[tuple[int, int], Any] = {}

    def add(kind: str, name: str, node: Any, start: int | None = None, body: str = "") -> None:
        if not body and kind in ("type", "initializer"):
            body = _text(node)  # for rename matching, as function bodies
        d = Definition(kind, name, start if start is not None else node.start_point[0] + 1, node.end_point[0] + 1, body)
        definitions.append(d)
        nodes[(d.start, d.end)] = node

    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        children = node.children
        for i, child in enumerate(children):
            t = child.type
            if t == "function_definition":
                name = _declarator_name(child) or "<unnamed>"
                body = child.child_by_field_name("body")
                add("function", name, child, body=_text(body) if body is not None else "")
                named.append((child.start_point[0] + 1, name))
                continue
            if t == "compound_statement" and node.type in _TOP_LEVEL:
                prev = children[i - 1] if i > 0 else None
                if prev is not None and prev.type in ("expression_statement", "declaration", "ERROR"):
                    macro_name = _macro_function_name(prev)
                    if macro_name:
                        add("function", macro_name, child, start=prev.start_point[0] + 1, body=_text(child))
                        named.append((prev.start_point[0] + 1, macro_name))
                        continue
            if t in ("declaration", "type_definition") and node.type in _TOP_LEVEL:
                _declaration(child, add, named)
                continue
            if t in ("struct_specifier", "union_specifier", "enum_specifier") and node.type in _TOP_LEVEL:
                tname = _type_name(child)
                if tname:
                    add("type", tname, child)
                    named.append((child.start_point[0] + 1, tname))
                continue
            if node.type in _TOP_LEVEL or t in _TOP_LEVEL:
                stack.append(child)
    definitions.sort(key=lambda d: (d.start, -d.end))
    named.sort()
    return _Parsed(tree, definitions, [d.start for d in definitions], named, nodes)


def _declaration(decl: Any, add: Any, named: list[tuple[int, str]]) -> None:
    """Top-level declaration: named initializers become definitions; struct/union/enum bodies
    inside it too (`struct foo {...} x;`, typedefs); every declared name is a file-scope anchor."""
    type_node = decl.child_by_field_name("type")
    if type_node is not None and type_node.type in ("struct_specifier", "union_specifier", "enum_specifier"):
        tname = _type_name(type_node)
        if tname:
            add("type", tname, type_node)
    for child, name in _declared_names(decl):
        if child.type == "init_declarator":
            value = child.child_by_field_name("value")
            if value is not None and value.type == "initializer_list":
                add("initializer", name, decl)
        named.append((decl.start_point[0] + 1, name))


_DECLARATORS = ("identifier", "pointer_declarator", "array_declarator", "function_declarator", "type_identifier",
                "parenthesized_declarator")
_ATTRIBUTE_MACRO = re.compile(r"__[a-z][a-z0-9_]*")  # __read_mostly, __initdata, __rte_unused, __maybe_unused


def _declared_names(decl: Any, declarators_only: bool = False) -> list[tuple[Any, str]]:
    """(declarator node, name) of every name a declaration declares (with ``declarators_only``
    False, a `type_identifier` type too, as file-scope anchors always had).

    An attribute macro between the type and the name (`bool __read_mostly x;`, `static int
    __initdata y = 1;`) or after it (`names[] __initconst`) is taken by tree-sitter for the name,
    the real name left in an ERROR node beside it; then the name is that identifier."""
    out: list[tuple[Any, str]] = []
    children = decl.children
    fields = {(c.start_byte, c.end_byte) for c in decl.children_by_field_name("declarator")} if declarators_only \
        else None
    for i, child in enumerate(children):
        if fields is not None and (child.start_byte, child.end_byte) not in fields:
            continue
        if child.type == "init_declarator" and not declarators_only:
            name = _declarator_name(child)
        elif child.type in _DECLARATORS or declarators_only:
            name = _identifier_in(child)
        else:
            continue
        if not name:
            continue
        if _ATTRIBUTE_MACRO.fullmatch(name):
            errors = [n for n in _errors_within(child)] + \
                [children[j] for j in (i + 1, i - 1) if 0 <= j < len(children) and children[j].type == "ERROR"]
            held_names = [_error_name(err) for err in errors]
            if i == len(children) - 2 and children[-1].is_missing:
                held_names.append(_statement_name(decl))
            name = next((h for h in held_names if h and not _ATTRIBUTE_MACRO.fullmatch(h)), name)
        out.append((child, name))
    return out


def _errors_within(declarator: Any) -> list[Any]:
    """ERROR nodes inside a declarator (not inside its initializer, parameters or array size)."""
    found: list[Any] = []
    stack = [declarator]
    depth = 0
    while stack and depth < MAX_SCOPE_DEPTH:
        depth += 1
        node = stack.pop()
        for child in node.children:
            if child.type == "ERROR":
                found.append(child)
            elif child.type in ("init_declarator", *_DECLARATORS) and child.type != "function_declarator":
                stack.append(child)
    return found


def _statement_name(decl: Any) -> str | None:
    """`static int __initdata y = 1;` can also come out as a declaration of `__initdata` with a
    missing `;` and a statement `y = 1;` after it on the same line: the name is y."""
    nxt = decl.next_sibling
    if nxt is None or nxt.type != "expression_statement" or nxt.start_point[0] != decl.end_point[0]:
        return None
    expr = nxt.named_children[0] if nxt.named_children else None
    if expr is not None and expr.type == "assignment_expression":
        expr = expr.child_by_field_name("left")
    return _text(expr) if expr is not None and expr.type == "identifier" else None


def _error_name(node: Any) -> str | None:
    """The identifier an ERROR node holds when it holds one name and nothing else."""
    named = node.named_children
    if len(named) == 1 and named[0].type in ("identifier", *_DECLARATORS):
        return _identifier_in(named[0])
    return None


def _identifier_in(node: Any) -> str | None:
    """The first identifier down a declarator (`*foo`, `foo[3]`, `(*foo)(int)`, `foo(void)`)."""
    depth = 0
    while node is not None and depth < MAX_SCOPE_DEPTH:
        depth += 1
        if node.type in ("identifier", "type_identifier", "field_identifier"):
            return _text(node)
        nxt = node.child_by_field_name("declarator")
        if nxt is None:
            nxt = next((c for c in node.children if c.type in (
                "identifier", "type_identifier", "pointer_declarator", "array_declarator", "function_declarator",
                "parenthesized_declarator", "attributed_declarator")), None)
        node = nxt
    return None


def _case_label(node: Any) -> str:
    value = node.child_by_field_name("value")
    return f"case {_norm(_text(value))}" if value is not None else "default"


def switch_cases(node: Any) -> frozenset[str]:
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
    return frozenset(cases)


def _switch_condition(node: Any) -> str:
    cond = node.child_by_field_name("condition")
    text = _norm(_text(cond)) if cond is not None else ""
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return text


def _designator(pair: Any) -> str:
    out = []
    for child in pair.children:
        if child.type == "field_designator":
            out.append(_norm(_text(child)))
        elif child.type == "subscript_designator":
            out.append(_norm(_text(child)))
    return "".join(out)


@dataclass
class SourceIndex:
    """Parsed view of one file image; answers 'where is line N'. The walk over the tree's top
    level (definitions, named declarations) is done on first use: an image parsed only as a step
    towards the next one in a series never needs it."""

    lines: list[str]
    pre: Preprocessed
    tree: Any
    _parsed: _Parsed | None = None
    _alt: _Parsed | None = None
    _errors: list[tuple[int, int, str, bool, bytes]] | None = None
    _errors_known: bool = False
    _offsets: list[int] | None = None  # byte offset of each line in the parsed text (incremental edits)

    def line_offsets(self) -> list[int]:
        if self._offsets is None:
            self._offsets = _offsets(self.pre.first)
        return self._offsets

    def syntax_errors(self) -> list[tuple[int, int, str, bool, bytes]] | None:
        if not self._errors_known:
            self._errors, self._errors_known = _syntax_errors(self.tree), True
        return self._errors

    @property
    def parsed(self) -> _Parsed:
        if self._parsed is None:
            self._parsed = _scan(self.tree, self.pre.macros)
        return self._parsed

    @property
    def functions(self) -> list[Definition]:
        return [d for d in self.parsed.definitions if d.kind == "function"]

    def functions_named(self, name: str) -> list[Definition]:
        return [d for d in self.parsed.definitions if d.kind == "function" and d.name == name]

    def definitions_named(self, kind: str, name: str) -> list[Definition]:
        found = [d for d in self.parsed.definitions if d.kind == kind and d.name == name]
        return found + [m for m in self.pre.macros if kind == "macro" and m.name == name]

    def _container(self, parsed: _Parsed, line: int) -> Definition | None:
        k = bisect.bisect_right(parsed.starts, line)
        best = None
        # definitions are few hundred per file; walk back from the last one starting at or before
        # the line while they could still contain it (nested definitions start later)
        for d in reversed(parsed.definitions[max(0, k - 64):k]):
            if d.start <= line <= d.end and (best is None or d.start >= best.start):
                best = d
        return best

    def local_names(self, d: Definition) -> set[str]:
        """The names a function declares itself: its parameters and every variable declared in its
        body (any block, `for` headers too). Names declared through macros are not seen."""
        node = self.parsed.nodes.get((d.start, d.end))
        names: set[str] = set()
        stack = [node] if node is not None else []
        while stack:
            n = stack.pop()
            if n.type == "parameter_declaration":
                found = _identifier_in(n.child_by_field_name("declarator"))
                if found:
                    names.add(found)
            elif n.type == "declaration":
                names.update(name for _, name in _declared_names(n, declarators_only=True))
            stack.extend(n.children)
        return names

    def file_scope_names(self) -> set[str]:
        """Names declared at file scope: declarations, definitions and macros."""
        return {name for _, name in self.parsed.named} | {d.name for d in self.parsed.definitions}

    def function_at(self, line: int) -> Definition | None:
        d = self._container(self.parsed, line)
        return d if d is not None and d.kind == "function" else None

    def scope_at(self, line: int) -> Scope:
        parsed = self.parsed
        if 0 < line <= len(self.pre.in_later_branch) and self.pre.in_later_branch[line - 1]:
            if self._alt is None:
                self._alt = _parse(self.pre.last, self.pre.macros)
            parsed = self._alt
        conditions = self.pre.conditions[line - 1] if 0 < line <= len(self.pre.conditions) else ()
        macro = next((m for m in self.pre.macros if m.start <= line <= m.end), None)
        container = self._container(parsed, line)
        if container is None:
            if macro is not None:
                return Scope((ScopePart("macro", macro.name, macro.start),), conditions)
            k = bisect.bisect_right(parsed.named, (line, "\uffff"))
            anchor = parsed.named[k - 1] if k else None
            return Scope((ScopePart("file", anchor[1] if anchor else "", anchor[0] if anchor else 0),), conditions)
        parts: list[ScopePart] = [ScopePart(container.kind, container.name, container.start)]
        if macro is not None and container.kind == "function":
            parts.append(ScopePart("macro", macro.name, macro.start))
        cases: frozenset[str] = frozenset()
        inner = self._inner_parts(parsed, container, line)
        if inner is not None:
            more, cases = inner
            parts.extend(more)
        return Scope(tuple(parts), conditions, cases)

    def _inner_parts(self, parsed: _Parsed, container: Definition, line: int
                     ) -> tuple[list[ScopePart], frozenset[str]] | None:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        col = len(text) - len(text.lstrip())
        node = parsed.tree.root_node.descendant_for_point_range((line - 1, col), (line - 1, max(col, len(text) - 1)))
        parts: list[ScopePart] = []
        switch = None
        cases: frozenset[str] = frozenset()
        case = None
        depth = 0
        while node is not None and depth < MAX_SCOPE_DEPTH:
            depth += 1
            t = node.type
            if container.kind == "function":
                if t == "case_statement" and case is None and switch is None:
                    case = _case_label(node)
                if t == "switch_statement":
                    switch = ScopePart("switch", _switch_condition(node), node.start_point[0] + 1)
                    cases = switch_cases(node)
                    break
                if t == "function_definition":
                    break
            elif container.kind == "initializer":
                # members that contain the line; a pair starting on the line is the change itself
                if t == "initializer_pair" and node.start_point[0] < line - 1:
                    name = _designator(node)
                    if name:
                        parts.insert(0, ScopePart("member", name, node.start_point[0] + 1))
                if t == "declaration":
                    break
            elif container.kind == "type":
                if t == "field_declaration" and node.start_point[0] < line - 1:
                    fname = node.child_by_field_name("declarator")
                    if fname is not None:
                        parts.insert(0, ScopePart("member", "." + _norm(_text(fname)), node.start_point[0] + 1))
                if t in ("struct_specifier", "union_specifier", "enum_specifier") and \
                        node.start_point[0] + 1 == container.start:
                    break
            node = node.parent
        if switch is not None:
            parts.append(switch)
            if case is not None:
                parts.append(ScopePart("case", case))
        return parts, cases


@dataclass(frozen=True)
class LineEdit:
    """Lines [old_at, old_at + old_len) of one image became [new_at, new_at + new_len) of the
    next (0-based): where a hunk was applied."""

    old_at: int
    old_len: int
    new_at: int
    new_len: int


def index_source(text: str, base: SourceIndex | None = None, edits: list[LineEdit] | None = None) -> SourceIndex:
    """Parse one image. With ``base`` (the parsed image ``edits`` turn into this one, e.g. the
    previous commit's image of the file in a series), tree-sitter re-parses only what changed and
    reuses the rest of base's tree; the tree is the one a fresh parse gives (tests compare them).
    When the edits do not describe the difference, or a tree has syntax errors (where error
    recovery could in principle depend on what was reused), it parses from scratch."""
    lines = text.split("\n")
    pre = preprocess(lines)
    found = _reparse(base, pre.first, edits) if base is not None and edits is not None else None
    if found is None:
        return SourceIndex(lines, pre, _parser().parse(_encode(pre.first)))
    return SourceIndex(lines, pre, found[0], _offsets=found[1])


def _offsets(lines: list[str]) -> list[int]:
    """Byte offset of the start of every line of the joined, encoded image, plus one entry past
    the end (the document's length + 1)."""
    sizes: Iterable[int] = map(len, lines) if "".join(lines).isascii() else \
        (len(line.encode("utf-8", "replace")) for line in lines)
    return list(accumulate(map((1).__add__, sizes), initial=0))


def _changed_spans(old: list[str], new: list[str], edits: list[LineEdit]) -> list[list[int]] | None:
    """The line spans [a, b) of ``old`` that became [c, d) of ``new``: the edits, plus any line
    between them that differs anyway (preprocessing can blank lines far from a hunk that adds an
    `#else`). None when the edits do not line the two images up."""
    spans: list[list[int]] = []

    def compare(p: int, q: int, n: int) -> None:
        if old[p:p + n] == new[q:q + n]:
            return
        for i in range(n):
            if old[p + i] != new[q + i]:
                spans.append([p + i, p + i + 1, q + i, q + i + 1])

    p = q = 0
    for e in sorted(edits, key=lambda e: e.old_at):
        if e.old_at < p or e.new_at - q != e.old_at - p or e.old_len < 0 or e.new_len < 0:
            return None
        compare(p, q, e.old_at - p)
        spans.append([e.old_at, e.old_at + e.old_len, e.new_at, e.new_at + e.new_len])
        p, q = e.old_at + e.old_len, e.new_at + e.new_len
    if len(old) - p != len(new) - q or p > len(old):
        return None
    compare(p, q, len(old) - p)
    spans = [s for s in spans if s[0] < s[1] or s[2] < s[3]]
    if spans and spans[-1][1] == len(old) and (spans[-1][0] == spans[-1][1] or spans[-1][2] == spans[-1][3]):
        # at the end of the image one side is empty: take in the line before, so both sides end
        # the document and the newline between them is part of the edit
        if spans[-1][0] == 0 or spans[-1][2] == 0:
            return None
        spans[-1][0] -= 1
        spans[-1][2] -= 1
    merged: list[list[int]] = []
    for s in spans:
        if merged and merged[-1][1] >= s[0]:
            merged[-1][1], merged[-1][3] = s[1], s[3]
        else:
            merged.append(s)
    return merged


def _reparse(base: SourceIndex, first: list[str], edits: list[LineEdit]) -> tuple[Any, list[int] | None] | None:
    """``first`` (preprocessed lines) parsed incrementally from base's tree (and its line
    offsets), or None.

    Tree-sitter's incremental parse equals a fresh one for code it parses cleanly; where error
    recovery is involved the two can differ (seen on randomly garbled lines, not on real commits). Kernel C has parse errors in most files (macros), so rather than refuse every
    such file, the incremental tree is kept only when its syntax errors are the base tree's (same
    kind and text) and none lies on or next to a changed line; otherwise None (parse afresh)."""
    old = base.pre.first
    if not hasattr(base.tree, "copy"):
        return None
    spans = _changed_spans(old, first, edits)
    if spans is None:
        return None
    if not spans:
        return base.tree, base._offsets  # the same parsed text (only directives or blanked branches changed)
    old_off, new_off = base.line_offsets(), _offsets(first)
    n_old, n_new = len(old), len(first)
    tree = base.tree.copy()
    for a, b, c, d in reversed(spans):  # last first: the text before each edit is still base's
        start = old_off[a]
        if b < n_old:
            tree.edit(start_byte=start, old_end_byte=old_off[b], new_end_byte=start + new_off[d] - new_off[c],
                      start_point=(a, 0), old_end_point=(b, 0), new_end_point=(a + d - c, 0))
        else:  # the edit runs to the end of both images: no newline after their last lines
            tree.edit(start_byte=start, old_end_byte=old_off[n_old] - 1,
                      new_end_byte=start + new_off[n_new] - 1 - new_off[c], start_point=(a, 0),
                      old_end_point=(n_old - 1, old_off[n_old] - 1 - old_off[n_old - 1]),
                      new_end_point=(a + d - c - 1, new_off[n_new] - 1 - new_off[n_new - 1]))
    out = _parser().parse(_encode(first), tree)
    if not base.tree.root_node.has_error and not out.root_node.has_error:
        return out, new_off
    old_errors = base.syntax_errors()
    new_errors = _syntax_errors(out)
    if old_errors is None or new_errors is None or \
            sorted(e[2:] for e in old_errors) != sorted(e[2:] for e in new_errors):
        return None
    for r0, r1, *_ in new_errors:
        if any(r0 <= d and r1 >= c - 1 for _, _, c, d in spans):
            return None
    return out, new_off


@lru_cache(maxsize=1)
def _error_query() -> Any:
    import tree_sitter
    import tree_sitter_c

    return tree_sitter.Query(tree_sitter.Language(tree_sitter_c.language()), "(ERROR) @e (MISSING) @m")


def _syntax_errors(tree: Any) -> list[tuple[int, int, str, bool, bytes]] | None:
    """(first row, last row, type, is missing, text) of every ERROR and MISSING node; None when
    this tree-sitter cannot run the query (then no incremental parse is trusted on such trees)."""
    if not tree.root_node.has_error:
        return []
    import tree_sitter

    cursor_type = getattr(tree_sitter, "QueryCursor", None)
    if cursor_type is None:
        return None
    captures = cursor_type(_error_query()).captures(tree.root_node)
    return [(n.start_point[0], n.end_point[0], str(n.type), bool(n.is_missing), bytes(n.text or b""))
            for nodes in captures.values() for n in nodes]
