"""Read hvisor's Rust configuration files (board.rs, consts.rs, config.rs) with tree-sitter-rust
and evaluate the constant expressions we need.

Why a real parser: the upstream regex script reads only hex literals and silently drops any
region whose size is an expression. Here every value goes through :class:`ConstEvaluator`, which
understands literals with `_` separators and type suffixes, arithmetic, casts, parentheses and
references to other consts (in this file or in the other files of the namespace). Anything it
does not understand raises :class:`InputError` naming file:line and the construct — a region is
never dropped silently. Commented-out entries are comments to the parser and so are ignored.

Every parsed region keeps the byte spans of its struct literal and of each field's value
expression, and whether the literal is written on one line, so `hvcheck fix` can later edit the
board.rs text minimally.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvcheck.errors import InputError
from hvcheck.findings import Location
from hvcheck.inputs import read_capped
from hvcheck.textio import decode_text
from hvcheck.units import int_of

MAX_RUST_BYTES = 4 << 20   # a board.rs larger than this is not a board file
MAX_EVAL_DEPTH = 64        # const-reference chains deeper than this are a cycle in practice

_INT_RE = re.compile(r"^(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)"
                     r"(u8|u16|u32|u64|u128|usize|i8|i16|i32|i64|i128|isize)?$")
_LABEL_NOT_CODE = re.compile(r"[{}]|^\s*(mem_type|physical_start|virtual_start|size)\s*:|^\s*HvConfig")


def _parser() -> Any:
    # Lazy: tree-sitter is only imported when a Rust file is actually read.
    global _PARSER
    if _PARSER is None:
        import tree_sitter
        import tree_sitter_rust

        _PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_rust.language()))
    return _PARSER


_PARSER: Any = None


@dataclass(frozen=True)
class Sym:
    """A symbolic (non-integer) value such as `MemoryType::Normal` or `GicConfig::Gicv3`."""

    name: str


@dataclass
class RustConst:
    """One top-level `const`/`static` item."""

    name: str
    type_text: str
    value: Any          # tree-sitter node of the value expression
    line: int           # 1-based line of the item's name
    file: RustFile
    cfg: str | None = None

    def loc(self) -> Location:
        return Location(self.file.path, self.line, detail=None)


@dataclass
class ParsedRegion:
    """One `HvConfigMemoryRegion` of a region array, evaluated, with its text positions."""

    mem_type: int | None       # evaluated value of mem_type (None when it is a symbolic const)
    mem_type_name: str         # the expression as written, e.g. MEM_TYPE_RAM or `0`
    physical_start: int
    virtual_start: int
    size: int
    path: str
    line: int                  # line of the struct literal (or of the const name it refers to)
    label: str | None
    literal_span: tuple[int, int]              # byte range of the struct literal
    element_span: tuple[int, int]              # byte range of the array element (literal or const name)
    field_spans: dict[str, tuple[int, int]]    # field -> byte range of its value expression
    field_lines: dict[str, int]
    one_line: bool                             # literal written on a single line (#[rustfmt::skip] style)
    via_const: str | None = None               # element was a named const (e.g. ROOT_ZONE_ACPI_REGION)

    def loc(self) -> Location:
        return Location(self.path, self.line)


@dataclass
class ParsedStruct:
    """A struct literal evaluated field by field (config blocks such as GIC or PCI)."""

    type_name: str
    fields: dict[str, Any]          # field -> int | Sym | ParsedStruct | list | tuple
    lines: dict[str, int]
    path: str
    line: int


class RustFile:
    """A parsed Rust source file: its top-level consts (after cfg selection) and its text."""

    def __init__(self, path: Path, text: bytes, cfg: Callable[[str], bool] | None = None) -> None:
        self.path = str(path)
        self.text = text
        self.tree = _parser().parse(text)
        self.consts: dict[str, RustConst] = {}
        self._check_syntax()
        self._collect(cfg)

    # -- reading -----------------------------------------------------------------------------

    def node_text(self, node: Any) -> str:
        return self.text[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def fail(self, node: Any, message: str) -> InputError:
        return InputError(self.path, message, node.start_point[0] + 1)

    def _check_syntax(self) -> None:
        """Record every syntax error. Merge-conflict markers are always fatal; other errors are
        fatal only when they touch a const we read (see :meth:`Namespace.lookup`), because real
        board files carry broken code in places that never matter for the layout (e.g. a
        half-merged ROOT_PCI_DEVS) and that must not hide the memory map."""
        self.syntax_errors: list[tuple[int, str, Any]] = []   # (line, message, error node)
        root = self.tree.root_node
        for line_no, line in enumerate(self.text.splitlines(), 1):
            if line.startswith((b"<<<<<<< ", b">>>>>>> ")) or line.rstrip() in (b"<<<<<<<", b">>>>>>>", b"======="):
                raise InputError(self.path, f"merge-conflict marker `{line.decode('utf-8', 'replace').strip()[:40]}`",
                                 line_no)
        if not root.has_error:
            return
        for bad in _error_nodes(root):
            snippet = self.node_text(bad).strip().splitlines()
            near = f" near `{_short(snippet[0])}`" if snippet else ""
            what = f"missing `{bad.type}`" if bad.is_missing else "Rust syntax error"
            self.syntax_errors.append((bad.start_point[0] + 1, f"{what}{near}", bad))

    def error_in(self, node: Any) -> tuple[int, str] | None:
        """The first syntax error inside ``node``, if any."""
        if not node.has_error:
            return None
        for line, message, bad in self.syntax_errors:
            if node.start_byte <= bad.start_byte and bad.end_byte <= node.end_byte:
                return line, message
        return node.start_point[0] + 1, "Rust syntax error"

    def error_mentioning(self, name: str) -> tuple[int, str] | None:
        """A syntax error whose text (or enclosing broken item) mentions ``name``: tree-sitter's
        recovery may have swallowed the definition we are looking for."""
        needle = name.encode()
        for line, message, start, end in self._error_items():
            if needle in self.text[start:end]:
                return line, message
        return None

    def _error_items(self) -> list[tuple[int, str, int, int]]:
        """Each syntax error with the byte span of its top-level item, computed once: walking up
        from every error for every name looked up was quadratic on deeply nested junk."""
        if getattr(self, "_error_spans", None) is None:
            # Top-level items are sorted and disjoint: find each error's item by binary search
            # (Node.parent re-descends from the root, so walking up is quadratic in the depth).
            items = [(c.start_byte, c.end_byte) for c in self.tree.root_node.children]
            starts = [a for a, _ in items]
            spans: dict[tuple[int, int], tuple[int, str, int, int]] = {}
            for line, message, bad in self.syntax_errors:
                k = bisect_right(starts, bad.start_byte) - 1
                start, end = items[k] if k >= 0 and bad.start_byte < items[k][1] else (bad.start_byte, bad.end_byte)
                spans.setdefault((start, end), (line, message, start, end))
            self._error_spans = list(spans.values())
        return self._error_spans

    def _collect(self, cfg: Callable[[str], bool] | None) -> None:
        self.cfg_skipped: dict[str, list[tuple[int, str]]] = {}  # definitions whose #[cfg] does not hold
        pending_cfg: list[str] = []
        for child in self.tree.root_node.named_children:
            if child.type == "attribute_item":
                text = self.node_text(child)
                m = re.match(r"#\s*\[\s*cfg\s*\((.*)\)\s*\]\s*$", text, re.S)
                if m:
                    pending_cfg.append(m.group(1))
                continue
            if child.type in ("line_comment", "block_comment"):
                continue
            if child.type in ("const_item", "static_item"):
                name_node = child.child_by_field_name("name")
                value = child.child_by_field_name("value")
                type_node = child.child_by_field_name("type")
                if name_node is not None and value is not None:
                    cond = " && ".join(pending_cfg) if pending_cfg else None
                    selected = cfg is None or all(cfg(c) for c in pending_cfg)
                    name = self.node_text(name_node)
                    if not selected:
                        self.cfg_skipped.setdefault(name, []).append((name_node.start_point[0] + 1, cond or ""))
                    if selected and name not in self.consts:  # the first definition that applies wins
                        self.consts[name] = RustConst(
                            name, self.node_text(type_node) if type_node is not None else "",
                            value, name_node.start_point[0] + 1, self, cond)
            pending_cfg = []


def _error_nodes(node: Any) -> Iterator[Any]:
    if node.type == "ERROR" or node.is_missing:
        yield node
        return
    for child in node.children:
        if child.has_error or child.is_missing:
            yield from _error_nodes(child)


def read_rust(path: Path, cfg: Callable[[str], bool] | None = None) -> RustFile:
    """Parse a Rust source file; InputError on unreadable, oversized, non-UTF-8 or unparsable text."""
    return rust_from_bytes(path, read_rust_bytes(path), cfg)


def read_rust_bytes(path: Path) -> bytes:
    """The bounded raw text of a Rust source file (callers that cache by content read it first)."""
    return read_capped(path, MAX_RUST_BYTES, "Rust config files")


def rust_from_bytes(path: Path, raw: bytes, cfg: Callable[[str], bool] | None = None) -> RustFile:
    """Parse ``raw`` (the text of ``path``); InputError on non-UTF-8 or unparsable text."""
    decode_text(raw, str(path), expected="Rust source")
    return RustFile(path, raw, cfg)


def cfg_evaluator(features: set[str], arch: str | None) -> Callable[[str], bool]:
    """Evaluate a `#[cfg(...)]` predicate: feature = "x", target_arch = "y", all/any/not.
    Unknown keys (test, debug_assertions, ...) are false, as in a normal hypervisor build."""

    token = re.compile(r'\s*(?:(all|any|not)\s*\(|(\))|(,)|([A-Za-z_][A-Za-z0-9_]*)\s*(?:=\s*"([^"]*)")?)')

    def evaluate(text: str) -> bool:
        pos = 0

        def parse() -> bool:
            nonlocal pos
            m = token.match(text, pos)
            if m is None:
                raise ValueError(text[pos:])
            pos = m.end()
            if m.group(1):
                op = m.group(1)
                values: list[bool] = []
                while True:
                    m2 = token.match(text, pos)
                    if m2 is None:
                        raise ValueError(text[pos:])
                    if m2.group(2):
                        pos = m2.end()
                        break
                    if m2.group(3):
                        pos = m2.end()
                        continue
                    values.append(parse())
                if op == "all":
                    return all(values)
                if op == "any":
                    return any(values)
                return not values[0] if values else True
            key, value = m.group(4), m.group(5)
            if key == "feature":
                return value in features
            if key == "target_arch":
                return arch is None or value == arch
            return False

        try:
            return parse()
        except (ValueError, IndexError):
            return False

    return evaluate


class Namespace:
    """Const lookup across several Rust files (board.rs first, then consts.rs, config.rs, ...),
    as Rust's `use crate::...` would resolve them in hvisor."""

    def __init__(self, files: list[RustFile], builtins: dict[str, int] | None = None) -> None:
        self.files = files
        self.builtins = dict(builtins or {})

    def lookup(self, name: str) -> RustConst | None:
        """The const ``name``; InputError when its definition is syntactically broken (or may
        have been swallowed by a syntax error)."""
        for f in self.files:
            c = f.consts.get(name)
            if c is not None:
                err = f.error_in(c.value)
                if err is not None:
                    raise InputError(f.path, f"{err[1]} (in const {name})", err[0])
                return c
        for f in self.files:
            err = f.error_mentioning(name)
            if err is not None:
                raise InputError(f.path, f"{err[1]} (the definition of {name} cannot be read)", err[0])
        return None

    def has(self, name: str) -> bool:
        return self.lookup(name) is not None or name in self.builtins

    # -- evaluation ----------------------------------------------------------------------------

    def int_const(self, name: str) -> tuple[int, Location]:
        const = self.lookup(name)
        if const is None:
            if name in self.builtins:
                return self.builtins[name], Location(None, None, detail=f"hvisor default for {name}")
            raise InputError(None, f"constant {name} not found")
        value = self.eval_int(const.file, const.value, f"const {name}")
        return value, const.loc()

    def eval_int(self, file: RustFile, node: Any, context: str, depth: int = 0) -> int:
        value = self.eval(file, node, context, depth)
        if isinstance(value, bool) or not isinstance(value, int):
            raise file.fail(node, f"{context}: `{_short(file.node_text(node))}` is not an integer expression")
        return value

    def eval(self, file: RustFile, node: Any, context: str, depth: int = 0) -> Any:
        """Evaluate a constant expression to int, Sym, str, tuple or list (of values)."""
        if depth > MAX_EVAL_DEPTH:
            raise file.fail(node, f"{context}: constant references nested deeper than {MAX_EVAL_DEPTH} (a cycle?)")
        t = node.type
        if t == "integer_literal":
            return _parse_int_literal(file, node, context)
        if t == "boolean_literal":
            return file.node_text(node) == "true"
        if t == "string_literal":
            return file.node_text(node)[1:-1]
        if t == "parenthesized_expression":
            return self.eval(file, _named(node)[0], context, depth)
        if t == "type_cast_expression":
            return self.eval(file, node.child_by_field_name("value"), context, depth)
        if t == "reference_expression":
            return self.eval(file, node.child_by_field_name("value"), context, depth)
        if t == "unary_expression":
            operand = self.eval_int(file, _named(node)[0], context, depth)
            op = file.node_text(node.children[0])
            if op == "-":
                return -operand
            if op == "!":
                return ~operand
            raise file.fail(node, f"{context}: unsupported unary operator `{op}`")
        if t == "binary_expression":
            left = self.eval_int(file, node.child_by_field_name("left"), context, depth)
            right = self.eval_int(file, node.child_by_field_name("right"), context, depth)
            op = file.node_text(node.child_by_field_name("operator"))
            return _binary(file, node, op, left, right, context)
        if t == "identifier":
            name = file.node_text(node)
            const = self.lookup(name)
            if const is not None:
                return self.eval(const.file, const.value, f"const {name}", depth + 1)
            if name in self.builtins:
                return self.builtins[name]
            raise file.fail(node, f"{context}: unknown constant `{name}` (not defined in "
                                  f"{', '.join(Path(f.path).name for f in self.files)})")
        if t == "scoped_identifier":
            text = file.node_text(node)
            last = text.rsplit("::", 1)[-1]
            # `crate::consts::X` or `config::X` style paths to a const resolve like the bare name.
            if last.isupper() and self.has(last):
                return self.eval(file, node.child_by_field_name("name"), context, depth)
            return Sym(text)
        if t == "tuple_expression":
            return tuple(self.eval(file, c, context, depth) for c in _named(node))
        if t == "array_expression":
            return [self.eval(file, c, context, depth) for c in self.array_elements(file, node, context)]
        if t == "struct_expression":
            return self.struct(file, node, context, depth)
        if t == "call_expression":
            fn = file.node_text(node.child_by_field_name("function"))
            args = [self.eval(file, a, context, depth) for a in _named(node.child_by_field_name("arguments"))]
            return (Sym(fn), *args)
        raise file.fail(node, f"{context}: cannot evaluate {t.replace('_', ' ')} `{_short(file.node_text(node))}`")

    def struct(self, file: RustFile, node: Any, context: str, depth: int = 0) -> ParsedStruct:
        name_node = node.child_by_field_name("name")
        type_name = file.node_text(name_node) if name_node is not None else "?"
        fields: dict[str, Any] = {}
        lines: dict[str, int] = {}
        body = node.child_by_field_name("body")
        for f in _named(body):
            if f.type == "field_initializer":
                fname = file.node_text(f.child_by_field_name("field"))
                fields[fname] = self.eval(file, f.child_by_field_name("value"), f"{context}.{fname}", depth)
                lines[fname] = f.start_point[0] + 1
            elif f.type == "shorthand_field_initializer":
                fname = file.node_text(f)
                fields[fname] = self.eval(file, _named(f)[0] if _named(f) else f, f"{context}.{fname}", depth)
                lines[fname] = f.start_point[0] + 1
            elif f.type == "base_field_initializer":
                raise file.fail(f, f"{context}: `..base` struct update syntax is not supported")
        return ParsedStruct(type_name, fields, lines, file.path, node.start_point[0] + 1)

    def array_elements(self, file: RustFile, node: Any, context: str) -> list[Any]:
        """Element nodes of an array expression (comments skipped). `[x; N]` repeats x N times."""
        while node.type == "reference_expression":
            node = node.child_by_field_name("value")
        if node.type != "array_expression":
            raise file.fail(node, f"{context}: expected an array, found {node.type.replace('_', ' ')} "
                                  f"`{_short(file.node_text(node))}`")
        length = node.child_by_field_name("length")
        items = [c for c in _named(node) if c.type not in ("line_comment", "block_comment", "attribute_item")]
        if length is not None:
            count = self.eval_int(file, length, f"{context} repeat count")
            if count > 4096:
                raise file.fail(node, f"{context}: repeat count {count} too large")
            return [items[0]] * count
        return items

    # -- hvisor shapes ------------------------------------------------------------------------------

    def regions(self, const: RustConst) -> list[ParsedRegion]:
        """Every HvConfigMemoryRegion of a region array const (slice or fixed-size array)."""
        file = const.file
        context = const.name
        out: list[ParsedRegion] = []
        for elem in self.array_elements(file, const.value, context):
            label = _label_of(file, elem)
            target_file, target, via = file, elem, None
            if elem.type == "identifier":
                via = file.node_text(elem)
                ref = self.lookup(via)
                if ref is None:
                    raise file.fail(elem, f"{context}: element `{via}` is not a known constant")
                target_file, target = ref.file, ref.value
            if target.type != "struct_expression":
                raise target_file.fail(target, f"{context}: unsupported region element "
                                               f"{target.type.replace('_', ' ')} `{_short(target_file.node_text(target))}`"
                                               " (expected an HvConfigMemoryRegion literal or a named const)")
            out.append(self._region(target_file, target, elem, file, label, via, context))
        return out

    def _region(self, file: RustFile, lit: Any, elem: Any, elem_file: RustFile, label: str | None,
                via: str | None, context: str) -> ParsedRegion:
        spans: dict[str, tuple[int, int]] = {}
        lines: dict[str, int] = {}
        values: dict[str, int] = {}
        mem_type_name = ""
        mem_type: int | None = None
        for f in _named(lit.child_by_field_name("body")):
            if f.type in ("line_comment", "block_comment"):
                continue
            if f.type != "field_initializer":
                raise file.fail(f, f"{context}: unsupported field syntax `{_short(file.node_text(f))}`")
            fname = file.node_text(f.child_by_field_name("field"))
            vnode = f.child_by_field_name("value")
            spans[fname] = (vnode.start_byte, vnode.end_byte)
            lines[fname] = vnode.start_point[0] + 1
            if fname == "mem_type":
                mem_type_name = file.node_text(vnode)
                try:
                    mem_type = self.eval_int(file, vnode, f"{context}.mem_type")
                except InputError:
                    if vnode.type != "identifier":
                        raise
                    mem_type = None  # a name we classify by its spelling (e.g. a const from another crate)
            else:
                values[fname] = self.eval_int(file, vnode, f"{context}.{fname}")
        missing = [k for k in ("mem_type", "physical_start", "virtual_start", "size") if k not in spans]
        if missing:
            raise file.fail(lit, f"{context}: HvConfigMemoryRegion without {', '.join(missing)}")
        line = (elem.start_point[0] + 1) if via is None else (lit.start_point[0] + 1)
        return ParsedRegion(
            mem_type=mem_type, mem_type_name=mem_type_name,
            physical_start=values["physical_start"], virtual_start=values["virtual_start"], size=values["size"],
            path=file.path if via is None else file.path, line=line, label=label,
            literal_span=(lit.start_byte, lit.end_byte), element_span=(elem.start_byte, elem.end_byte),
            field_spans=spans, field_lines=lines, one_line=lit.start_point[0] == lit.end_point[0], via_const=via)

    def irqs(self, const: RustConst) -> list[tuple[int, int]]:
        """IRQ numbers with their lines: a plain array, or `get_irqs_bitmap(&[..])` (its argument)."""
        file = const.file
        node = const.value
        while node.type == "reference_expression":
            node = node.child_by_field_name("value")
        if node.type == "call_expression":
            fn = file.node_text(node.child_by_field_name("function")).rsplit("::", 1)[-1]
            args = _named(node.child_by_field_name("arguments"))
            if fn != "get_irqs_bitmap" or len(args) != 1:
                raise file.fail(node, f"{const.name}: unsupported IRQ list form `{_short(file.node_text(node))}`")
            node = args[0]
        out: list[tuple[int, int]] = []
        for elem in self.array_elements(file, node, const.name):
            out.append((self.eval_int(file, elem, const.name), elem.start_point[0] + 1))
        return out

    def items(self, const: RustConst) -> Iterator[tuple[Any, Any]]:
        """(node, evaluated value) for each element of an array const."""
        for elem in self.array_elements(const.file, const.value, const.name):
            target_file, target = const.file, elem
            if elem.type == "identifier":
                ref = self.lookup(const.file.node_text(elem))
                if ref is not None:
                    target_file, target = ref.file, ref.value
            yield elem, self.eval(target_file, target, const.name)


def _named(node: Any) -> list[Any]:
    return [c for c in node.named_children if c.type not in ("line_comment", "block_comment")]


def _short(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= 70 else one[:67] + "..."


def _parse_int_literal(file: RustFile, node: Any, context: str) -> int:
    text = file.node_text(node)
    m = _INT_RE.match(text)
    if m is None:
        raise file.fail(node, f"{context}: unsupported integer literal `{text}`")
    digits = m.group(1).replace("_", "").lower()
    try:
        if digits.startswith("0x"):
            return int_of(digits[2:], 16)
        if digits.startswith("0o"):
            return int_of(digits[2:], 8)
        if digits.startswith("0b"):
            return int_of(digits[2:], 2)
        return int_of(digits, 10)
    except ValueError as exc:
        raise file.fail(node, f"{context}: bad integer literal `{_short(text)}` ({exc})") from None


def _binary(file: RustFile, node: Any, op: str, a: int, b: int, context: str) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op in ("/", "%"):
        if b == 0:
            raise file.fail(node, f"{context}: division by zero")
        return a // b if op == "/" else a % b
    if op in ("<<", ">>"):
        if not 0 <= b < 128:
            raise file.fail(node, f"{context}: shift by {b}")
        return a << b if op == "<<" else a >> b
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    raise file.fail(node, f"{context}: unsupported operator `{op}`")


def _label_of(file: RustFile, elem: Any) -> str | None:
    """The label comment of an array element: a comment after it on its last line (`}, // ram`),
    else a comment on its own line just before it. Comments that are commented-out code are not labels."""
    end_row = elem.end_point[0]
    sib = elem.next_sibling
    while sib is not None and sib.type == ",":
        sib = sib.next_sibling
    if sib is not None and sib.type in ("line_comment", "block_comment") and sib.start_point[0] == end_row:
        label = _comment_text(file.node_text(sib))
        if label and not _LABEL_NOT_CODE.search(label):
            return label
    prev = elem.prev_sibling
    if (prev is not None and prev.type in ("line_comment", "block_comment")
            and prev.end_point[0] == elem.start_point[0] - 1):
        before = prev.prev_sibling
        if before is None or before.end_point[0] < prev.start_point[0]:  # the comment is on its own line
            label = _comment_text(file.node_text(prev))
            if label and not _LABEL_NOT_CODE.search(label):
                return label
    return None


def _comment_text(text: str) -> str:
    text = text.strip()
    if text.startswith("//"):
        text = text.lstrip("/").lstrip("!")
    elif text.startswith("/*"):
        text = text[2:-2] if text.endswith("*/") else text[2:]
    return " ".join(text.split()).strip(" *")
