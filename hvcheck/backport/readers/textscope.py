"""Where a change sits when no source tree is at hand: from the patch's own text.

Two separate pieces of evidence, never mixed and never compared with a parsed tree:

* the hunk text: a definition head (function signature, `name[] = {`, `struct foo {`, `#define`)
  visible in the hunk above the changed line, or a closing `}` at column 0 (the line is at file
  scope), plus the `switch`/`case` lines visible above it;
* the `@@` header's section text, which git and diff -p fill with the nearest line that starts
  with a letter — a function signature, but just as well a goto label, a struct, or a truncated
  name (quilt cuts it at 40 characters). It is used only when it looks like a declaration.
"""

from __future__ import annotations

import re
from functools import lru_cache

from hvcheck.backport.model import CASE_LABEL, LINE_HEAD, Block, Scope, ScopePart

TRUNCATED_HEADER = 36  # quilt/diff -p cut the section at 40 characters: a shorter one is complete

_KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "else", "do", "case", "goto", "typeof",
             "__typeof__", "defined"}
_FUNC = re.compile(r"^(?:[A-Za-z_][\w]*[\s\*]+)*?\(?\*?\s*([A-Za-z_]\w*)\s*\(")
_INIT = re.compile(r"^[A-Za-z_][\w\s\*]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]=]*\]\s*)*=\s*\{?\s*$")
_TYPE = re.compile(r"^(?:typedef\s+)?(struct|union|enum)\s+([A-Za-z_]\w*)\s*\{?\s*$")
_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)")
_LABEL = re.compile(r"^[A-Za-z_]\w*\s*:(?!:)")
_TRUNC = re.compile(r"^(?:[A-Za-z_]\w*[\s\*]+)+\**([A-Za-z_]\w*)$")
_SWITCH = re.compile(r"^(\s*).*\bswitch\s*\((.*)\)")


def _norm(text: str) -> str:
    return " ".join(text.split())


def _define_name(name: str, rest: str) -> str:
    """`SYSCALL_DEFINE3(foo, ...` is the definition of foo."""
    if re.fullmatch(r"[A-Z][A-Z0-9_]*DEFINE[A-Z0-9_]*", name):
        first = rest.split(",")[0].split(")")[0].strip()
        return f"{name}({first})" if first else name
    return name


def declaration_head(text: str) -> ScopePart | None:
    """The definition a line at column 0 opens, if it looks like one."""
    head = text[:LINE_HEAD].rstrip()
    if not head or head[0] in " \t{}/#*" or head.endswith(";") or _LABEL.match(head) and "(" not in head:
        return None
    m = _TYPE.match(head)
    if m:
        return ScopePart("type", f"{m.group(1)} {m.group(2)}")
    m = _INIT.match(head)
    if m and "(" not in head.split("=")[0]:
        return ScopePart("initializer", m.group(1))
    m = _FUNC.match(head)
    if m and m.group(1) not in _KEYWORDS and "=" not in head[:m.start(1)]:
        return ScopePart("function", _define_name(m.group(1), head[m.end():]))
    return None


def header_scope(section: str) -> ScopePart | None:
    """The container an `@@` header names, only when its text looks like a declaration."""
    s = section.strip()[:LINE_HEAD]
    if not s:
        return None
    if _LABEL.match(s) and "(" not in s:
        return None  # `out_success:` — a goto label, not a definition
    part = declaration_head(s)
    if part is not None:
        return part
    m = _TRUNC.match(s)
    if m and len(s) >= TRUNCATED_HEADER and m.group(1) not in _KEYWORDS:
        return ScopePart("function", m.group(1) + "…")  # cut before the '(': a prefix of the name
    return None


@lru_cache(maxsize=4096)
def cached_header_scope(section: str) -> ScopePart | None:
    return header_scope(section)


def _indent(text: str) -> int:
    expanded = text[:LINE_HEAD].expandtabs(8)
    return len(expanded) - len(expanded.lstrip())


def _switch_parts(above: list[str], line_text: str, side_lines: list[str]) -> tuple[list[ScopePart], frozenset[str]]:
    """switch/case visible in the hunk text above the line (innermost first found)."""
    own_indent = _indent(line_text)
    case = None
    case_indent = None
    switch = None
    for text in reversed(above):
        mc = CASE_LABEL.match(text, 0, LINE_HEAD)
        if mc and case is None and _indent(text) <= own_indent:
            case = f"case {_norm(mc.group(3))}" if mc.group(3) else "default"
            case_indent = _indent(text)
            continue
        ms = _SWITCH.match(text, 0, LINE_HEAD)
        if ms and (case_indent is None or _indent(text) <= case_indent):
            switch = _norm(ms.group(2))
            break
        if text[:1] not in (" ", "\t", "") and not text.startswith("#"):
            break  # a line at column 0: left the function
    if case is None and switch is None:
        return [], frozenset()
    labels = frozenset(f"case {_norm(m.group(3))}" if m.group(3) else "default"
                       for m in (CASE_LABEL.match(t, 0, LINE_HEAD) for t in side_lines) if m and
                       (case_indent is None or _indent(m.string) == case_indent))
    parts = [ScopePart("switch", switch if switch is not None else "?")]
    if case is not None:
        parts.append(ScopePart("case", case))
    return parts, labels


def patch_scopes(block: Block, index: int) -> tuple[Scope | None, Scope | None]:
    """(hunk-text scope, @@-header scope) of ``block.hunk.lines[index]``."""
    hunk = block.hunk
    kind = hunk.lines[index][0]
    skip = "-" if kind == "+" else "+"
    above = [ln[1:] for ln in hunk.lines[:index] if ln[0] != skip]
    side_lines = [ln[1:] for ln in hunk.lines if ln[0] != skip]
    line_text = hunk.lines[index][1:]
    inner, labels = _switch_parts(above, line_text, side_lines)
    # a multi-line #define the line continues
    for k in range(len(above) - 1, -1, -1):
        if not above[k].rstrip().endswith("\\"):
            break
        m = _DEFINE.match(above[k])
        if m:
            part = ScopePart("macro", m.group(1))
            return Scope((part,)), Scope((part,))
    own_define = _DEFINE.match(line_text)
    hunk_container: ScopePart | None = None
    for text in reversed(above):
        if text.startswith("}"):
            hunk_container = ScopePart("file", "")  # a definition ended above the line, none began
            break
        head = declaration_head(text)
        if head is not None:
            hunk_container = head
            break
    if own_define and hunk_container is None:
        hunk_container = ScopePart("macro", own_define.group(1))
    hunk_scope = Scope((hunk_container, *inner), cases=labels) if hunk_container is not None else None
    header_part = header_scope(hunk.section)
    header = Scope((header_part, *inner), cases=labels) if header_part is not None else None
    return hunk_scope, header
