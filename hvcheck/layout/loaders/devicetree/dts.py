"""DTS source into a :class:`~.node.DtNode` tree (the syntax layer, like Zephyr's dtlib).

Our own tolerant reader rather than `dtc`: hvisor's zone device trees `#include` headers that are
often not in the checkout (dt-bindings, SoC .dtsi), and `dtc` (or cpp) then refuses the whole
file. This reader keeps going: an include that cannot be found, a macro it cannot expand or an
overlay whose label is undefined only makes the facts that depend on them *unknown* (listed with
the reason). Real syntax errors and committed merge-conflict markers raise :class:`InputError`
with file:line.

Only the properties in :data:`NEEDED_PROPS` are parsed and kept; every other value is skipped to
its `;` (pinctrl, clocks and interrupts are most of a board DTS). Time is linear in the text and
what is kept is bounded by :data:`~.node.MAX_DT_ITEMS`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from hvcheck.errors import InputError, LimitExceeded
from hvcheck.findings import Location
from hvcheck.inputs import read_capped
from hvcheck.intexpr import ExprError, evaluate
from hvcheck.layout.loaders.devicetree.lexer import Text, check_conflict_markers
from hvcheck.layout.loaders.devicetree.node import (
    Budget,
    Bytes,
    Cells,
    DtNode,
    MemReserve,
    Piece,
    Prop,
    Ref,
    Str,
    Unknown,
)
from hvcheck.textio import decode_text
from hvcheck.units import int_of

MAX_DT_BYTES = 32 << 20
MAX_INCLUDE_DEPTH = 16
MAX_NODE_DEPTH = 64
# Statements (properties, nodes, directives) in one file and its includes, kept or skipped: a
# preprocessed SoC device tree has tens of thousands; this bounds the time a bad input costs.
MAX_DT_STATEMENTS = 200_000
# /memreserve/ entries (a real tree has a handful).
MAX_DT_MEMRESERVE = 1024

_NAME_CHARS = re.compile(r"[A-Za-z0-9,._+*#?@\-]+")
_LABEL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):")
_NUMBER = re.compile(r"(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)(?:[uU]?[lL]{0,2}|[lL]{0,2}[uU]?)\b")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The common statement: a name, blanks, then `;`, `=` or `{` (no labels or comments in between).
_SIMPLE_STATEMENT = re.compile(r"([A-Za-z0-9,._+*#?@\-]+)[ \t\r\n]*+([;={])")
_QUOTED = re.compile(r'"([^"\n]*)"')
_HEADER_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)[ \t]+([^\n]*?)[ \t\r]*(?://[^\n]*|/\*[^\n]*)?$",
                            re.M)
# Only these properties feed the facts; every other value is skipped unparsed.
NEEDED_PROPS = frozenset({"reg", "device_type", "status", "no-map", "bootargs", "#address-cells", "#size-cells",
                          "ranges", "compatible", "linux,usable-memory", "model", "interrupt-controller", "size"})


def read_dt_bytes(path: Path) -> bytes:
    return read_capped(path, MAX_DT_BYTES, "device trees")


def dts_text(path: Path, raw: bytes) -> str:
    return decode_text(raw, str(path), expected="DTS text (a DTB must start with the FDT magic d00dfeed)")


def digest(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=16).digest()


class _Source(Text):
    """One file's text with the parser's cursor."""

    def __init__(self, path: str, text: str) -> None:
        super().__init__(path, text)
        self.pos = 0

    def here(self, message: str, pos: int | None = None) -> InputError:
        return self.fail(message, self.pos if pos is None else pos)

    def loc(self, pos: int | None = None, detail: str | None = None) -> Location:
        return Location(self.path, self.line_of(self.pos if pos is None else pos), detail=detail)

    def skip(self) -> None:
        self.pos = self.skip_blank(self.pos)

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def expect(self, s: str, what: str) -> None:
        self.skip()
        if not self.text.startswith(s, self.pos):
            got = self.text[self.pos:self.pos + 20].split("\n", 1)[0]
            raise self.here(f"expected {what} `{s}`, found `{got}`" if got else f"expected `{s}`, found end of file")
        self.pos += len(s)


class DtsParser:
    def __init__(self, path: Path, include_dirs: list[Path] | None = None) -> None:
        self.root_path = path
        self.include_dirs = include_dirs or []
        self.root = DtNode("/", Location(str(path), 1))
        self.labels: dict[str, DtNode] = {}
        self.memreserve: list[MemReserve] = []
        self.defines: dict[str, str] = {}
        self.unknown: list[str] = []
        self.missing_includes: list[str] = []
        self.deleted_labels: set[str] = set()
        # Every file an include looked for, with the digest of what was read (None: not there);
        # the facts depend on exactly these (the cache in __init__ re-checks them).
        self.probes: list[tuple[Path, bytes | None]] = []
        self.budget = Budget(str(path))
        self.statements = 0

    # -- files ------------------------------------------------------------------------------

    def parse_file(self, path: Path, depth: int = 0, raw: bytes | None = None) -> None:
        if raw is None:
            raw = read_dt_bytes(path)
            self.probes.append((path, digest(raw)))
        src = _Source(str(path), dts_text(path, raw))
        check_conflict_markers(src)
        self._statements(src, None, depth)

    def _include(self, src: _Source, name: str, pos: int, depth: int) -> None:
        if depth >= MAX_INCLUDE_DEPTH:
            raise src.here(f"includes nested deeper than {MAX_INCLUDE_DEPTH}", pos)
        base = Path(src.path).parent
        for d in [base, *self.include_dirs, base / "include"]:
            cand = d / name
            if not _is_file(cand):
                self.probes.append((cand, None))
            else:
                if cand.suffix in (".h",):
                    self._read_defines(cand)
                else:
                    self.parse_file(cand, depth + 1)
                return
        self.missing_includes.append(f"{name} (included at {src.path}:{src.line_of(pos)})")

    def _read_defines(self, path: Path) -> None:
        try:
            raw = read_dt_bytes(path)
            text = dts_text(path, raw)
        except InputError:
            self.probes.append((path, b"unreadable"))
            return
        self.probes.append((path, digest(raw)))
        for m in _HEADER_DEFINE.finditer(text):
            if m.group(1) not in self.defines:
                self.budget.take()
                self.defines[m.group(1)] = m.group(2)

    # -- statements -------------------------------------------------------------------------

    def _directive(self, src: _Source, depth: int) -> bool:
        """Handle a preprocessor line at the cursor; True if one was consumed."""
        m = src.directive_at(src.pos)
        if m is None:
            return False
        end = src.directive_end(src.pos)
        line = src.directive_text(src.pos, end)
        word = m.group(1)
        pos = src.pos
        src.pos = end
        if word == "include":
            inc = re.match(r'\s*#\s*include\s*[<"]([^>"]+)[>"]', line)
            if inc is None:
                raise src.here("malformed #include", pos)
            self._include(src, inc.group(1), pos, depth)
        elif word == "define":
            d = re.match(r"\s*#\s*define\s+([A-Za-z_]\w*)(\([^)]*\))?[ \t]*(.*)$", line, re.S)
            if d and not d.group(2):
                self.budget.take(line=src.line_of(pos))
                self.defines[d.group(1)] = re.sub(r"/\*.*?\*/|//.*$", "", d.group(3), flags=re.S).strip()
        # #if/#ifdef/...: conditions cannot be evaluated without the headers; both branches are read
        return True

    def _statements(self, src: _Source, node: DtNode | None, depth: int) -> None:
        """Parse statements until `}` (inside a node) or end of file (top level)."""
        text = src.text
        while True:
            src.pos = src.skip_blank(src.pos)
            self.statements += 1
            if self.statements > MAX_DT_STATEMENTS:
                raise LimitExceeded(src.path, f"more than {MAX_DT_STATEMENTS} statements: over the limit for one "
                                              "device tree (MAX_DT_STATEMENTS, `hvcheck docs limits`)", src.line_of(src.pos))
            if src.pos >= len(text):
                if node is not None:
                    opened = node.loc.line if node.loc.path == src.path and node.loc.line else src.line_of(src.pos)
                    raise InputError(src.path, f"unterminated node {node.path()} (opened here; missing `}};`)",
                                     opened)
                return
            if text[src.pos] == "#" and self._directive(src, depth):
                continue
            if node is not None and text[src.pos] == "}":
                if text.startswith(";", src.pos + 1):
                    src.pos += 2
                else:
                    src.pos += 1
                    src.expect(";", "after node body")
                return
            start = src.pos
            if text[start] == "/" and self._slash_directive(src, node, depth, start):
                continue
            if text[src.pos] == "&":
                self._overlay(src, depth)
                continue
            self._prop_or_node(src, node, depth)

    def _slash_directive(self, src: _Source, node: DtNode | None, depth: int, start: int) -> bool:
        """`/dts-v1/`, `/memreserve/`, `/include/`, `/delete-node/`, ..., or the root node `/ {`."""
        text = src.text
        if src.peek("/dts-v1/") or src.peek("/plugin/"):
            src.pos = text.index("/", src.pos + 1) + 1
            src.expect(";", "after directive")
            return True
        if src.peek("/memreserve/"):
            src.pos += len("/memreserve/")
            addr = self._number_expr(src)
            size = self._number_expr(src)
            src.expect(";", "after /memreserve/")
            if len(self.memreserve) >= MAX_DT_MEMRESERVE:
                raise LimitExceeded(src.path, f"more than {MAX_DT_MEMRESERVE} /memreserve/ entries (MAX_DT_MEMRESERVE, "
                                              "`hvcheck docs limits`)", src.line_of(start))
            self.budget.take(line=src.line_of(start))
            self.memreserve.append(MemReserve(addr, size, src.loc(start)))
            return True
        if src.peek("/include/"):
            src.pos += len("/include/")
            src.skip()
            m = _QUOTED.match(text, src.pos)
            if m is None:
                raise src.here("expected a quoted file name after /include/")
            src.pos = m.end()
            self._include(src, m.group(1), start, depth)
            return True
        if src.peek("/delete-node/"):
            src.pos += len("/delete-node/")
            src.skip()
            if src.peek("&"):
                src.pos += 1
                label = self._ident(src)
                target = self.labels.pop(label, None)
                if target is not None and target.parent is not None:
                    target.parent.children.pop(target.name, None)
                self.deleted_labels.add(label)
            else:
                name = self._name(src)
                if node is not None:
                    node.children.pop(name, None)
            src.expect(";", "after /delete-node/")
            return True
        if src.peek("/delete-property/"):
            src.pos += len("/delete-property/")
            src.skip()
            name = self._name(src)
            if node is not None:
                node.props.pop(name, None)
            src.expect(";", "after /delete-property/")
            return True
        if src.peek("/omit-if-no-ref/"):
            src.pos += len("/omit-if-no-ref/")
            return True
        if src.peek("/ ") or src.peek("/{") or src.peek("/\t") or src.peek("/\n"):
            if node is not None:
                raise src.here("root node `/` inside a node")
            src.pos += 1
            src.expect("{", "to open the root node")
            self._body(src, self.root, depth)
            return True
        return False

    def _overlay(self, src: _Source, depth: int) -> None:
        start = src.pos
        src.pos += 1
        target: DtNode | None
        if src.peek("{"):
            end = src.text.find("}", src.pos)
            if end < 0:
                raise src.here("unterminated &{/path}")
            path = src.text[src.pos + 1:end]
            src.pos = end + 1
            target = self.root
            for part in [p for p in path.split("/") if p]:
                target = target.children.get(part) if target is not None else None
            label = path
        else:
            label = self._ident(src)
            target = self.labels.get(label)
        src.skip()
        if not src.peek("{"):
            raise src.here(f"expected `{{` after &{label}")
        src.pos += 1
        if target is None:
            # Parse into a scratch node so the syntax is still checked; it matters only if it
            # could change memory facts (see _memory_relevant).
            scratch = DtNode(f"&{label}", src.loc(start))
            self._body(src, scratch, depth)
            if _memory_relevant(scratch):
                why = "its definition was deleted" if label in self.deleted_labels else \
                    "the label is not defined (in a missing include?)"
                self.unknown.append(f"overlay &{label} at {src.path}:{src.line_of(start)} was not applied: {why}")
            return
        self._body(src, target, depth)

    def _body(self, src: _Source, node: DtNode, depth: int) -> None:
        if depth > MAX_NODE_DEPTH:
            raise src.here(f"nodes nested deeper than {MAX_NODE_DEPTH}")
        self._statements(src, node, depth + 1)

    def _prop_or_node(self, src: _Source, node: DtNode | None, depth: int) -> None:
        start = src.pos
        labels: list[str] = []
        simple = _SIMPLE_STATEMENT.match(src.text, start)
        if simple is not None:
            name_pos, name = start, simple.group(1)
            src.pos = simple.start(2)
        else:
            while True:
                src.skip()
                m = _LABEL.match(src.text, src.pos)
                if m is None:
                    break
                labels.append(m.group(1))
                src.pos = m.end()
            src.skip()
            name_pos = src.pos
            name = self._name(src)
            src.skip()
        if src.peek("{"):
            if node is None:
                raise src.here(f"node `{name}` outside the root node", name_pos)
            src.pos += 1
            if name not in node.children:
                self.budget.take(line=src.line_of(name_pos))
            child = node.child(name)
            if child.loc.line is None or child.loc == node.loc:
                child.loc = src.loc(name_pos)
            for label in labels:
                self.budget.take()
                child.labels.append(label)
                self.labels[label] = child
            self._body(src, child, depth)
            return
        if node is None:
            raise src.here(f"unexpected `{name}` at top level", start)
        if src.peek(";"):
            src.pos += 1
            if name in NEEDED_PROPS:
                node.props[name] = Prop(name, [], src.loc(name_pos))
            return
        if not src.peek("="):
            got = src.text[src.pos:src.pos + 20].split("\n", 1)[0]
            raise src.here(f"expected `=`, `;` or `{{` after `{name}`, found `{got}`")
        src.pos += 1
        if name not in NEEDED_PROPS:
            # Not kept: nothing reads it, and a file of millions of them must not cost memory.
            src.pos = src.value_end(src.pos, name, name_pos)
            return
        self.budget.take(line=src.line_of(name_pos))
        pieces = self._values(src)
        node.props[name] = Prop(name, pieces, src.loc(name_pos))

    def _name(self, src: _Source) -> str:
        m = _NAME_CHARS.match(src.text, src.pos)
        if m is None:
            got = src.text[src.pos:src.pos + 20].split("\n", 1)[0]
            raise src.here(f"expected a node or property name, found `{got}`")
        src.pos = m.end()
        return m.group(0)

    def _ident(self, src: _Source) -> str:
        m = _IDENT.match(src.text, src.pos)
        if m is None:
            raise src.here("expected a label")
        src.pos = m.end()
        return m.group(0)

    def _values(self, src: _Source) -> list[Piece]:
        pieces: list[Piece] = []
        while True:
            src.skip()
            # labels inside values (`reg = <lbl: 0x0>`) are rare; `label:` before a value
            m = _LABEL.match(src.text, src.pos)
            if m is not None and not src.text.startswith("::", src.pos + len(m.group(1))):
                src.pos = m.end()
                src.skip()
            bits = 32
            if src.peek("/bits/"):
                src.pos += len("/bits/")
                b = self._number_expr(src)
                bits = b if isinstance(b, int) else 32
                src.skip()
            self.budget.take(line=src.line_of(src.pos))
            if src.peek('"'):
                pieces.append(Str(self._string(src)))
            elif src.peek("<"):
                pieces.append(Cells(self._cells(src), bits))
            elif src.peek("["):
                end = src.text.find("]", src.pos)
                if end < 0:
                    raise src.here("unterminated byte string `[`")
                hexdigits = re.sub(r"\s+", "", src.text[src.pos + 1:end])
                try:
                    pieces.append(Bytes(bytes.fromhex(hexdigits)))
                except ValueError:
                    raise src.here("malformed byte string") from None
                src.pos = end + 1
            elif src.peek("&"):
                src.pos += 1
                if src.peek("{"):
                    end = src.text.find("}", src.pos)
                    if end < 0:
                        raise src.here("unterminated &{/path}")
                    label = src.text[src.pos + 1:end]
                    src.pos = end + 1
                else:
                    label = self._ident(src)
                pieces.append(Ref(label))
            elif _IDENT.match(src.text, src.pos):
                # a macro standing for a whole value (from a missing header)
                ident = self._ident(src)
                expansion = self.defines.get(ident)
                if expansion is not None and expansion.startswith('"'):
                    pieces.append(Str(expansion.strip('"')))
                else:
                    pieces.append(Cells([Unknown(f"macro {ident}")], 32))
            else:
                got = src.text[src.pos:src.pos + 20].split("\n", 1)[0]
                raise src.here(f"expected a property value, found `{got}`")
            src.skip()
            if src.peek(","):
                src.pos += 1
                continue
            src.expect(";", "after property value")
            return pieces

    def _string(self, src: _Source) -> str:
        end = src.string_end(src.pos)
        body = src.text[src.pos + 1:end - 1]
        src.pos = end
        return body.encode("utf-8").decode("unicode_escape", "replace") if "\\" in body else body

    def _cells(self, src: _Source) -> list[int | Unknown]:
        src.pos += 1
        out: list[int | Unknown] = []
        text = src.text
        while True:
            src.skip()
            if src.pos >= len(text):
                raise src.here("unterminated cell list `<`")
            c = text[src.pos]
            if c == ">":
                src.pos += 1
                return out
            self.budget.take()
            if c == "&":
                src.pos += 1
                if src.peek("{"):
                    end = text.find("}", src.pos)
                    if end < 0:
                        raise src.here("unterminated &{/path}")
                    src.pos = end + 1
                    out.append(Unknown("path reference"))
                else:
                    out.append(Unknown(f"reference &{self._ident(src)}"))
                continue
            m = _NUMBER.match(text, src.pos) if c.isdigit() else None
            if m is not None:  # the common case, without the expression machinery
                try:
                    out.append(_c_int(m.group(1)))
                except ValueError as exc:
                    raise src.here(f"bad number `{m.group(1)[:40]}` ({exc})") from None
                src.pos = m.end()
                continue
            out.append(self._number_expr(src))

    # -- integer expressions ----------------------------------------------------------------

    def _number_expr(self, src: _Source) -> int | Unknown:
        src.skip()
        if src.peek("("):
            end = _matching_paren(src)
            expr = src.text[src.pos + 1:end]
            src.pos = end + 1
            return self._eval_c(expr, src)
        if src.peek("'"):
            m = re.compile(r"'(\\?.)'").match(src.text, src.pos)
            if m is None:
                raise src.here("malformed character literal")
            src.pos = m.end()
            return ord(m.group(1)[-1])
        m = _NUMBER.match(src.text, src.pos)
        if m is not None:
            try:
                value = _c_int(m.group(1))
            except ValueError as exc:
                raise src.here(f"bad number `{m.group(1)[:40]}` ({exc})") from None
            src.pos = m.end()
            return value
        m = _IDENT.match(src.text, src.pos)
        if m is not None:
            src.pos = m.end()
            return self._eval_c(m.group(0), src)
        if src.peek("-"):
            src.pos += 1
            v = self._number_expr(src)
            return -v if isinstance(v, int) else v
        got = src.text[src.pos:src.pos + 20].split("\n", 1)[0]
        raise src.here(f"expected a number, found `{got}`")

    def _eval_c(self, expr: str, src: _Source, depth: int = 0) -> int | Unknown:
        """Evaluate a C integer expression from a DTS (macros from #define; unknown -> Unknown)."""
        if depth > 16:
            return Unknown("macro recursion")
        tokens = re.findall(r"0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*|[A-Za-z_]\w*|<<|>>|[-+*/%&|^~()!]|\S", expr)
        out: list[str] = []
        for tok in tokens:
            if re.match(r"[A-Za-z_]", tok):
                if tok not in self.defines:
                    return Unknown(f"macro {tok} (not defined; its header is missing?)")
                v = self._eval_c(self.defines[tok], src, depth + 1)
                if isinstance(v, Unknown):
                    return v
                out.append(str(v))
            elif re.match(r"\d", tok):
                out.append(str(_c_int(re.sub(r"[uUlL]+$", "", tok))))
            elif tok in ("<<", ">>", "+", "-", "*", "/", "%", "&", "|", "^", "~", "(", ")"):
                out.append(tok)
            else:
                return Unknown(f"expression `{expr.strip()}`")
        try:
            value = evaluate(" ".join(out))
        except ExprError as exc:
            raise src.here(f"cannot evaluate `({expr.strip()[:80]})`: {exc}") from None
        if abs(value) >= 1 << 128:
            raise src.here(f"`({expr.strip()[:80]})` is out of range for a cell")
        return value


def _matching_paren(src: _Source) -> int:
    depth = 0
    i = src.pos
    while i < len(src.text):
        c = src.text[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        elif c in ";\n" and depth == 0:
            break
        i += 1
    raise src.here("unbalanced parentheses")


def _is_file(path: Path) -> bool:
    """Path.is_file, but a name from the input that the OS rejects (too long, bad bytes) is simply
    not a file."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _c_int(text: str) -> int:
    """A C integer literal; ValueError (turned into file:line by the caller) when malformed."""
    t = text.lower()
    if t.startswith("0x"):
        return int_of(t[2:], 16)
    if len(t) > 1 and t.startswith("0"):
        return int_of(t, 8)
    return int_of(t, 10)


def _memory_relevant(node: DtNode) -> bool:
    return any(any(p in n.props for p in ("reg", "device_type", "no-map", "bootargs", "linux,usable-memory"))
               for n in node.walk())


def parse_dts(path: Path, include_dirs: list[Path] | None = None, raw: bytes | None = None) -> DtsParser:
    """Parse ``path`` (its bytes ``raw`` when already read, and what it includes) into a parser
    holding the tree and what was unknown."""
    parser = DtsParser(path, include_dirs)
    parser.parse_file(path, raw=raw)
    return parser
