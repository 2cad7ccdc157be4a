"""Device-tree facts for the layout checks: memory, reserved memory, `mem=`, CPUs and interrupt
controllers, from a `.dts` source or a `.dtb` blob.

DTS is read by our own tolerant parser rather than through `dtc`: hvisor's zone device trees
`#include` headers that are often not in the checkout (dt-bindings, SoC .dtsi), and `dtc` (or
cpp) then refuses the whole file. This parser keeps going: an include that cannot be found, a
macro it cannot expand or an overlay whose label is undefined only makes the facts that depend
on them *unknown* (listed in :attr:`DeviceTreeFacts.unknown` with the reason). Real syntax errors
and committed merge-conflict markers raise :class:`InputError` with file:line.

DTB is read by a small FDT parser of our own (header, structure block, strings block; bounded
and validated). Why not pylibfdt: it is sdist-only on PyPI (needs swig and a C toolchain to
install), and reading the flattened tree takes ~80 lines; `dtc` is used in the tests to
cross-check that both readers give the same facts.

Addresses are guest-physical, decoded with the parent's `#address-cells`/`#size-cells`
(DTSpec defaults 2 and 1), every tuple of a multi-tuple `reg`.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.findings import Location
from hvcheck.inputs import open_input, read_capped
from hvcheck.intexpr import ExprError, evaluate
from hvcheck.layout.model import Device, DeviceTreeFacts, Numbered, ReservedRange, Span
from hvcheck.textio import decode_text
from hvcheck.units import int_of, parse_size

MAX_DT_BYTES = 32 << 20
MAX_INCLUDE_DEPTH = 16
MAX_NODE_DEPTH = 64
FDT_MAGIC = 0xD00DFEED


@dataclass
class Unknown:
    """A cell value that could not be computed (an undefined macro, usually from a missing header)."""

    why: str


@dataclass
class Prop:
    name: str
    # pieces: ("cells", [int | Unknown], bits) | ("str", text) | ("bytes", data) | ("ref", label)
    pieces: list[tuple]
    loc: Location
    raw: bytes | None = None   # DTB: the property value as stored

    def cells(self) -> list[int | Unknown]:
        out: list[int | Unknown] = []
        if self.raw is not None:
            n = len(self.raw) // 4
            return list(struct.unpack(f">{n}I", self.raw[: n * 4]))
        for piece in self.pieces:
            if piece[0] == "cells" and piece[2] == 32:
                out.extend(piece[1])
            elif piece[0] == "ref":
                out.append(Unknown(f"reference &{piece[1]}"))
        return out

    def string(self) -> str | None:
        if self.raw is not None:
            return self.raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        for piece in self.pieces:
            if piece[0] == "str":
                return piece[1]
        return None

    def strings(self) -> list[str]:
        if self.raw is not None:
            return [s.decode("utf-8", "replace") for s in self.raw.split(b"\0")[:-1]]
        return [p[1] for p in self.pieces if p[0] == "str"]


@dataclass
class DtNode:
    name: str
    loc: Location
    labels: list[str] = field(default_factory=list)
    props: dict[str, Prop] = field(default_factory=dict)
    children: dict[str, DtNode] = field(default_factory=dict)
    parent: DtNode | None = None

    def path(self) -> str:
        if self.parent is None:
            return "/"
        parent = self.parent.path()
        return f"{parent.rstrip('/')}/{self.name}"

    def child(self, name: str) -> DtNode:
        node = self.children.get(name)
        if node is None:
            node = DtNode(name, self.loc, parent=self)
            self.children[name] = node
        return node

    def walk(self):
        yield self
        for c in self.children.values():
            yield from c.walk()


@dataclass
class DeviceTreeInfo(DeviceTreeFacts):
    """DeviceTreeFacts plus what the DT says about CPUs and interrupt controllers."""

    cpus: list[Numbered] = field(default_factory=list)
    interrupt_controllers: list[Device] = field(default_factory=list)
    model: str | None = None


# ---------------------------------------------------------------------------------------------
# DTS source parser


_DIRECTIVE = re.compile(r"[ \t]*#[ \t]*(include|define|undef|if|ifdef|ifndef|else|elif|endif|error|warning|pragma|line|\d+)\b")
_NAME_CHARS = re.compile(r"[A-Za-z0-9,._+*#?@\-]+")
_LABEL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):")
_NUMBER = re.compile(r"(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)(?:[uU]?[lL]{0,2}|[lL]{0,2}[uU]?)\b")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WS_COMMENTS = re.compile(r"(?:[ \t\r\n]+|//[^\n]*|/\*.*?\*/)*", re.S)
# A property value we do not need, up to its `;` (strings and comments may contain `;`).
_SKIP_VALUE = re.compile(r'(?:"(?:[^"\\\n]|\\.)*"|/\*.*?\*/|//[^\n]*|[^;"/{}]|/(?![*/]))*;', re.S)
# Only these properties feed the facts; every other value is skipped unparsed (speed: pinctrl,
# clocks and interrupts are most of a board DTS).
NEEDED_PROPS = frozenset({"reg", "device_type", "status", "no-map", "bootargs", "#address-cells", "#size-cells",
                          "ranges", "compatible", "linux,usable-memory", "model", "interrupt-controller", "size"})


class _Source:
    """One file's text with a cursor; reports errors as file:line."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.pos = 0
        # line starts for pos -> line
        self._lines = [0]
        for m in re.finditer("\n", text):
            self._lines.append(m.end())

    def line_of(self, pos: int) -> int:
        import bisect

        return bisect.bisect_right(self._lines, pos)

    def fail(self, message: str, pos: int | None = None) -> InputError:
        return InputError(self.path, message, self.line_of(self.pos if pos is None else pos))

    def loc(self, pos: int | None = None, detail: str | None = None) -> Location:
        return Location(self.path, self.line_of(self.pos if pos is None else pos), detail=detail)

    def skip(self) -> None:
        """Skip whitespace and comments (preprocessor lines are handled by the caller)."""
        self.pos = _WS_COMMENTS.match(self.text, self.pos).end()  # type: ignore[union-attr]
        if self.text.startswith("/*", self.pos):
            raise self.fail("unterminated /* comment")

    def at_line_start(self) -> bool:
        start = self.text.rfind("\n", 0, self.pos) + 1
        return self.text[start:self.pos].strip() == ""

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def expect(self, s: str, what: str) -> None:
        self.skip()
        if not self.text.startswith(s, self.pos):
            got = self.text[self.pos:self.pos + 20].split("\n", 1)[0]
            raise self.fail(f"expected {what} `{s}`, found `{got}`" if got else f"expected `{s}`, found end of file")
        self.pos += len(s)


class DtsParser:
    def __init__(self, path: Path, include_dirs: list[Path] | None = None) -> None:
        self.root_path = path
        self.include_dirs = include_dirs or []
        self.root = DtNode("/", Location(str(path), 1))
        self.labels: dict[str, DtNode] = {}
        self.memreserve: list[tuple[int | Unknown, int | Unknown, Location]] = []
        self.defines: dict[str, str] = {}
        self.unknown: list[str] = []
        self.missing_includes: list[str] = []
        self.pending_overlays: list[tuple[str, _Source, int, DtNode]] = []
        self.deleted_labels: set[str] = set()

    # -- files ------------------------------------------------------------------------------

    def parse_file(self, path: Path, depth: int = 0) -> None:
        text = _read_text(path)
        src = _Source(str(path), text)
        _check_conflict_markers(src)
        self._statements(src, None, depth)

    def _include(self, src: _Source, name: str, pos: int, depth: int) -> None:
        if depth >= MAX_INCLUDE_DEPTH:
            raise src.fail(f"includes nested deeper than {MAX_INCLUDE_DEPTH}", pos)
        base = Path(src.path).parent
        for d in [base, *self.include_dirs, base / "include"]:
            cand = d / name
            if _is_file(cand):
                if cand.suffix in (".h",):
                    self._read_defines(cand)
                else:
                    self.parse_file(cand, depth + 1)
                return
        self.missing_includes.append(f"{name} (included at {src.path}:{src.line_of(pos)})")

    def _read_defines(self, path: Path) -> None:
        try:
            text = _read_text(path)
        except InputError:
            return
        for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)[ \t]+([^\n]*?)\s*(?://.*|/\*.*)?$", text, re.M):
            self.defines.setdefault(m.group(1), m.group(2))

    # -- statements -------------------------------------------------------------------------

    def _directive(self, src: _Source, depth: int) -> bool:
        """Handle a preprocessor line at the cursor; True if one was consumed."""
        if not src.at_line_start():
            return False
        line_start = src.text.rfind("\n", 0, src.pos) + 1
        m = _DIRECTIVE.match(src.text, line_start)
        if m is None:
            return False
        end = src.text.find("\n", src.pos)
        end = len(src.text) if end < 0 else end
        line = src.text[src.pos:end]
        # continuation lines
        while line.endswith("\\") and end < len(src.text):
            nxt = src.text.find("\n", end + 1)
            nxt = len(src.text) if nxt < 0 else nxt
            line = line[:-1] + src.text[end + 1:nxt]
            end = nxt
        word = m.group(1)
        pos = src.pos
        src.pos = end
        if word == "include":
            inc = re.match(r'\s*#\s*include\s*[<"]([^>"]+)[>"]', line)
            if inc is None:
                raise src.fail("malformed #include", pos)
            self._include(src, inc.group(1), pos, depth)
        elif word == "define":
            d = re.match(r"\s*#\s*define\s+([A-Za-z_]\w*)(\([^)]*\))?\s*(.*)$", line)
            if d and not d.group(2):
                self.defines[d.group(1)] = re.sub(r"/\*.*?\*/|//.*$", "", d.group(3)).strip()
        # #if/#ifdef/...: we cannot evaluate conditions without the headers; both branches are read
        return True

    def _statements(self, src: _Source, node: DtNode | None, depth: int) -> None:
        """Parse statements until `}` (inside a node) or end of file (top level)."""
        text = src.text
        while True:
            src.skip()
            if src.pos >= len(text):
                if node is not None:
                    opened = node.loc.line if node.loc.path == src.path and node.loc.line else src.line_of(src.pos)
                    raise InputError(src.path, f"unterminated node {node.path()} (opened here; missing `}};`)",
                                     opened)
                return
            if text[src.pos] == "#" and self._directive(src, depth):
                continue
            if node is not None and text[src.pos] == "}":
                src.pos += 1
                src.expect(";", "after node body")
                return
            start = src.pos
            if text[start] == "/":
                if src.peek("/dts-v1/") or src.peek("/plugin/"):
                    src.pos = text.index("/", src.pos + 1) + 1
                    src.expect(";", "after directive")
                    continue
                if src.peek("/memreserve/"):
                    src.pos += len("/memreserve/")
                    addr = self._number_expr(src)
                    size = self._number_expr(src)
                    src.expect(";", "after /memreserve/")
                    self.memreserve.append((addr, size, src.loc(start)))
                    continue
                if src.peek("/include/"):
                    src.pos += len("/include/")
                    src.skip()
                    m = re.compile(r'"([^"]*)"').match(text, src.pos)
                    if m is None:
                        raise src.fail("expected a quoted file name after /include/")
                    src.pos = m.end()
                    self._include(src, m.group(1), start, depth)
                    continue
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
                    continue
                if src.peek("/delete-property/"):
                    src.pos += len("/delete-property/")
                    src.skip()
                    name = self._name(src)
                    if node is not None:
                        node.props.pop(name, None)
                    src.expect(";", "after /delete-property/")
                    continue
                if src.peek("/omit-if-no-ref/"):
                    src.pos += len("/omit-if-no-ref/")
                    continue
                if src.peek("/ ") or src.peek("/{") or src.peek("/\t") or src.peek("/\n"):
                    if node is not None:
                        raise src.fail("root node `/` inside a node")
                    src.pos += 1
                    src.expect("{", "to open the root node")
                    self._body(src, self.root, depth)
                    continue
            if text[src.pos] == "&":
                self._overlay(src, node, depth)
                continue
            self._prop_or_node(src, node, depth)

    def _overlay(self, src: _Source, node: DtNode | None, depth: int) -> None:
        start = src.pos
        src.pos += 1
        if src.peek("{"):
            end = src.text.find("}", src.pos)
            if end < 0:
                raise src.fail("unterminated &{/path}")
            path = src.text[src.pos + 1:end]
            src.pos = end + 1
            target: DtNode | None = self.root
            for part in [p for p in path.split("/") if p]:
                target = target.children.get(part) if target is not None else None
            label = path
        else:
            label = self._ident(src)
            target = self.labels.get(label)
        src.skip()
        if not src.peek("{"):
            raise src.fail(f"expected `{{` after &{label}")
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
            raise src.fail(f"nodes nested deeper than {MAX_NODE_DEPTH}")
        self._statements(src, node, depth + 1)

    def _prop_or_node(self, src: _Source, node: DtNode | None, depth: int) -> None:
        start = src.pos
        labels: list[str] = []
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
                raise src.fail(f"node `{name}` outside the root node", name_pos)
            src.pos += 1
            child = node.child(name)
            if child.loc.line is None or child.loc == node.loc:
                child.loc = src.loc(name_pos)
            for label in labels:
                child.labels.append(label)
                self.labels[label] = child
            self._body(src, child, depth)
            return
        if node is None:
            raise src.fail(f"unexpected `{name}` at top level", start)
        if src.peek(";"):
            src.pos += 1
            node.props[name] = Prop(name, [], src.loc(name_pos))
            return
        if not src.peek("="):
            got = src.text[src.pos:src.pos + 20].split("\n", 1)[0]
            raise src.fail(f"expected `=`, `;` or `{{` after `{name}`, found `{got}`")
        src.pos += 1
        if name not in NEEDED_PROPS:
            m = _SKIP_VALUE.match(src.text, src.pos)
            if m is None:
                raise src.fail(f"unterminated value of `{name}` (missing `;`)", name_pos)
            src.pos = m.end()
            node.props[name] = Prop(name, [("skipped",)], src.loc(name_pos))
            return
        pieces = self._values(src)
        node.props[name] = Prop(name, pieces, src.loc(name_pos))

    def _name(self, src: _Source) -> str:
        m = _NAME_CHARS.match(src.text, src.pos)
        if m is None:
            got = src.text[src.pos:src.pos + 20].split("\n", 1)[0]
            raise src.fail(f"expected a node or property name, found `{got}`")
        src.pos = m.end()
        return m.group(0)

    def _ident(self, src: _Source) -> str:
        m = _IDENT.match(src.text, src.pos)
        if m is None:
            raise src.fail("expected a label")
        src.pos = m.end()
        return m.group(0)

    def _values(self, src: _Source) -> list[tuple]:
        pieces: list[tuple] = []
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
            if src.peek('"'):
                pieces.append(("str", self._string(src)))
            elif src.peek("<"):
                pieces.append(("cells", self._cells(src), bits))
            elif src.peek("["):
                end = src.text.find("]", src.pos)
                if end < 0:
                    raise src.fail("unterminated byte string `[`")
                hexdigits = re.sub(r"\s+", "", src.text[src.pos + 1:end])
                try:
                    pieces.append(("bytes", bytes.fromhex(hexdigits)))
                except ValueError:
                    raise src.fail("malformed byte string") from None
                src.pos = end + 1
            elif src.peek("&"):
                src.pos += 1
                if src.peek("{"):
                    end = src.text.find("}", src.pos)
                    label = src.text[src.pos + 1:end]
                    src.pos = end + 1
                else:
                    label = self._ident(src)
                pieces.append(("ref", label))
            elif _IDENT.match(src.text, src.pos):
                # a macro standing for a whole value (from a missing header)
                ident = self._ident(src)
                expansion = self.defines.get(ident)
                if expansion is not None and expansion.startswith('"'):
                    pieces.append(("str", expansion.strip('"')))
                else:
                    pieces.append(("cells", [Unknown(f"macro {ident}")], 32))
            else:
                got = src.text[src.pos:src.pos + 20].split("\n", 1)[0]
                raise src.fail(f"expected a property value, found `{got}`")
            src.skip()
            if src.peek(","):
                src.pos += 1
                continue
            src.expect(";", "after property value")
            return pieces

    def _string(self, src: _Source) -> str:
        m = re.compile(r'"((?:[^"\\\n]|\\.)*)"').match(src.text, src.pos)
        if m is None:
            raise src.fail("unterminated string")
        src.pos = m.end()
        return m.group(1).encode("utf-8").decode("unicode_escape", "replace") if "\\" in m.group(1) else m.group(1)

    def _cells(self, src: _Source) -> list[int | Unknown]:
        src.pos += 1
        out: list[int | Unknown] = []
        while True:
            src.skip()
            if src.pos >= len(src.text):
                raise src.fail("unterminated cell list `<`")
            c = src.text[src.pos]
            if c == ">":
                src.pos += 1
                return out
            if c == "&":
                src.pos += 1
                if src.peek("{"):
                    end = src.text.find("}", src.pos)
                    src.pos = end + 1
                    out.append(Unknown("path reference"))
                else:
                    out.append(Unknown(f"reference &{self._ident(src)}"))
                continue
            out.append(self._number_expr(src, in_cells=True))

    # -- integer expressions ----------------------------------------------------------------

    def _number_expr(self, src: _Source, in_cells: bool = False) -> int | Unknown:
        src.skip()
        if src.peek("("):
            end = _matching_paren(src)
            expr = src.text[src.pos + 1:end]
            src.pos = end + 1
            return self._eval_c(expr, src)
        if src.peek("'"):
            m = re.compile(r"'(\\?.)'").match(src.text, src.pos)
            if m is None:
                raise src.fail("malformed character literal")
            src.pos = m.end()
            return ord(m.group(1)[-1])
        m = _NUMBER.match(src.text, src.pos)
        if m is not None:
            try:
                value = _c_int(m.group(1))
            except ValueError as exc:
                raise src.fail(f"bad number `{m.group(1)[:40]}` ({exc})") from None
            src.pos = m.end()
            return value
        m = _IDENT.match(src.text, src.pos)
        if m is not None:
            src.pos = m.end()
            return self._eval_c(m.group(0), src)
        if src.peek("-"):
            src.pos += 1
            v = self._number_expr(src, in_cells)
            return -v if isinstance(v, int) else v
        got = src.text[src.pos:src.pos + 20].split("\n", 1)[0]
        raise src.fail(f"expected a number, found `{got}`")

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
            raise src.fail(f"cannot evaluate `({expr.strip()[:80]})`: {exc}") from None
        if abs(value) >= 1 << 128:
            raise src.fail(f"`({expr.strip()[:80]})` is out of range for a cell")
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
    raise src.fail("unbalanced parentheses")


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
    for n in node.walk():
        if any(p in n.props for p in ("reg", "device_type", "no-map", "bootargs", "linux,usable-memory")):
            return True
    return False


def _read_text(path: Path) -> str:
    name = str(path)
    raw = read_capped(path, MAX_DT_BYTES, "device trees")
    return decode_text(raw, name, expected="DTS text (a DTB must start with the FDT magic d00dfeed)")


def _check_conflict_markers(src: _Source) -> None:
    for m in re.finditer(r"^(<{7}|={7}|>{7})(?:[ \t].*)?$", src.text, re.M):
        raise InputError(src.path, f"merge-conflict marker `{m.group(0).strip()[:40]}` (unresolved git merge)",
                         src.line_of(m.start()))


# ---------------------------------------------------------------------------------------------
# DTB (flattened device tree) parser


def _parse_dtb(path: Path, data: bytes) -> tuple[DtNode, list[tuple[int, int, Location]]]:
    name = str(path)
    if len(data) < 40:
        raise InputError(name, f"truncated DTB: {len(data)} bytes, the FDT header alone is 40")
    magic, total, off_struct, off_strings, off_rsvmap, version, _last, _boot, size_strings, size_struct = \
        struct.unpack(">10I", data[:40])
    if magic != FDT_MAGIC:
        raise InputError(name, f"not a DTB: magic {magic:#010x}, expected {FDT_MAGIC:#x}")
    if version < 16:
        raise InputError(name, f"DTB version {version} not supported (16 or 17 expected)")
    if total > len(data):
        raise InputError(name, f"truncated DTB: header says {total} bytes, file has {len(data)}")
    for what, off, size in (("structure block", off_struct, size_struct), ("strings block", off_strings, size_strings)):
        if off + size > total:
            raise InputError(name, f"corrupt DTB: {what} [{off:#x}, {off + size:#x}) beyond totalsize {total:#x}")
    strings = data[off_strings:off_strings + size_strings]
    memreserve: list[tuple[int, int, Location]] = []
    pos = off_rsvmap
    while True:
        if pos + 16 > total:
            raise InputError(name, "corrupt DTB: memory reservation block not terminated")
        addr, size = struct.unpack(">QQ", data[pos:pos + 16])
        pos += 16
        if addr == 0 and size == 0:
            break
        memreserve.append((addr, size, Location(name, None, detail=f"/memreserve/ entry {len(memreserve)}")))
    pos = off_struct
    end = off_struct + size_struct
    root: DtNode | None = None
    stack: list[DtNode] = []
    while True:
        if pos + 4 > end:
            raise InputError(name, "corrupt DTB: structure block ends without FDT_END")
        (token,) = struct.unpack(">I", data[pos:pos + 4])
        pos += 4
        if token == 1:  # FDT_BEGIN_NODE
            nul = data.find(b"\0", pos, end)
            if nul < 0:
                raise InputError(name, "corrupt DTB: unterminated node name")
            nname = data[pos:nul].decode("utf-8", "replace") or "/"
            pos = (nul + 4) & ~3
            if len(stack) > MAX_NODE_DEPTH:
                raise InputError(name, f"corrupt DTB: nodes nested deeper than {MAX_NODE_DEPTH}")
            if not stack:
                if root is not None:
                    raise InputError(name, "corrupt DTB: two root nodes")
                node = DtNode("/", Location(name, None, detail="node /"))
                root = node
            else:
                parent = stack[-1]
                node = DtNode(nname, Location(name, None), parent=parent)
                node.loc = Location(name, None, detail=f"node {node.path()}")
                parent.children[nname] = node
            stack.append(node)
        elif token == 2:  # FDT_END_NODE
            if not stack:
                raise InputError(name, "corrupt DTB: unbalanced FDT_END_NODE")
            stack.pop()
        elif token == 3:  # FDT_PROP
            if pos + 8 > end:
                raise InputError(name, "corrupt DTB: truncated property")
            length, nameoff = struct.unpack(">II", data[pos:pos + 8])
            pos += 8
            if pos + length > end or nameoff >= len(strings):
                raise InputError(name, "corrupt DTB: property beyond its block")
            nul = strings.find(b"\0", nameoff)
            pname = strings[nameoff:nul if nul >= 0 else len(strings)].decode("utf-8", "replace")
            if not stack:
                raise InputError(name, "corrupt DTB: property outside a node")
            node = stack[-1]
            node.props[pname] = Prop(pname, [], Location(name, None, detail=f"{node.path()} {pname}"),
                                     raw=data[pos:pos + length])
            pos = (pos + length + 3) & ~3
        elif token == 4:  # FDT_NOP
            continue
        elif token == 9:  # FDT_END
            break
        else:
            raise InputError(name, f"corrupt DTB: unknown token {token:#x} at offset {pos - 4:#x}")
    if root is None or stack:
        raise InputError(name, "corrupt DTB: no complete root node")
    return root, memreserve


# ---------------------------------------------------------------------------------------------
# facts


def read_devicetree(path: Path, include_dirs: list[Path] | None = None) -> DeviceTreeInfo:
    """Memory-related facts of a `.dts` or `.dtb` (decided by content: the FDT magic)."""
    path = Path(path)
    name = str(path)
    with open_input(path) as fh:   # a FIFO or a device is refused here instead of blocking
        head = fh.read(4)
    if head == struct.pack(">I", FDT_MAGIC):
        data = read_capped(path, MAX_DT_BYTES, "device trees")
        root, memreserve = _parse_dtb(path, data)
        facts = DeviceTreeInfo(name)
        _facts(root, memreserve, facts)
        return facts
    if path.suffix.lower() == ".dtb":
        raise InputError(name, f"not a DTB: magic {head.hex()}, expected d00dfeed")
    parser = DtsParser(path, include_dirs)
    parser.parse_file(path)
    facts = DeviceTreeInfo(name)
    for inc in parser.missing_includes:
        facts.unknown.append(f"#include {inc} not found: facts defined only there are unknown")
    facts.unknown.extend(parser.unknown)
    _facts(parser.root, parser.memreserve, facts)
    return facts


def _cells_of(node: DtNode | None, prop: str, default: int) -> int:
    if node is None:
        return default
    p = node.props.get(prop)
    if p is None:
        return default
    cells = p.cells()
    if len(cells) != 1 or not isinstance(cells[0], int) or not 0 <= cells[0] <= 4:
        return default
    return cells[0]


def _decode_reg(node: DtNode, prop: Prop, facts: DeviceTreeInfo, what: str) -> list[tuple[int, int]] | None:
    """(start, size) tuples of a reg-like property, using the parent's cell sizes."""
    ac = _cells_of(node.parent, "#address-cells", 2)
    sc = _cells_of(node.parent, "#size-cells", 1)
    cells = prop.cells()
    for c in cells:
        if isinstance(c, Unknown):
            facts.unknown.append(f"{what} {node.path()} `{prop.name}` at {prop.loc}: uses {c.why}")
            return None
    step = ac + sc
    if step == 0 or len(cells) % step != 0:
        facts.unknown.append(f"{what} {node.path()} `{prop.name}` at {prop.loc}: {len(cells)} cells is not a "
                             f"multiple of #address-cells {ac} + #size-cells {sc}")
        return None
    out: list[tuple[int, int]] = []
    for i in range(0, len(cells), step):
        addr = 0
        for c in cells[i:i + ac]:
            addr = (addr << 32) | (c & 0xFFFFFFFF)  # type: ignore[operator]
        size = 0
        for c in cells[i + ac:i + step]:
            size = (size << 32) | (c & 0xFFFFFFFF)  # type: ignore[operator]
        out.append((addr, size))
    return out


def _disabled(node: DtNode) -> bool:
    status = node.props.get("status")
    return status is not None and (status.string() or "okay") not in ("okay", "ok")


def _facts(root: DtNode, memreserve: list, facts: DeviceTreeInfo) -> None:
    model = root.props.get("model")
    facts.model = model.string() if model is not None else None
    for child in root.children.values():
        dtype = child.props.get("device_type")
        if dtype is not None and dtype.string() == "memory" and not _disabled(child):
            prop = child.props.get("linux,usable-memory") or child.props.get("reg")
            if prop is None:
                facts.unknown.append(f"memory node {child.path()} at {child.loc} has no reg")
                continue
            for start, size in _decode_reg(child, prop, facts, "memory node") or []:
                if size:
                    facts.memory.append(Span(start, start + size, prop.loc))
        elif child.name.split("@")[0] == "memory" and dtype is None and "reg" in child.props:
            facts.unknown.append(f"node {child.path()} at {child.loc} has reg but no device_type = \"memory\": "
                                 "Linux ignores it")
    resv = root.children.get("reserved-memory")
    if resv is not None:
        for child in resv.children.values():
            if _disabled(child):
                continue
            prop = child.props.get("reg")
            if prop is None:
                continue  # dynamically placed (size/alloc-ranges): not a fixed range
            for start, size in _decode_reg(child, prop, facts, "reserved-memory") or []:
                if size:
                    facts.reserved.append(ReservedRange(start, start + size, prop.loc, "no-map" in child.props,
                                                        child.name))
    for addr, size, loc in memreserve:
        if isinstance(addr, Unknown) or isinstance(size, Unknown):
            facts.unknown.append(f"/memreserve/ at {loc}: uses {(addr if isinstance(addr, Unknown) else size).why}")
            continue
        if size:
            facts.reserved.append(ReservedRange(addr, addr + size, loc, False, "/memreserve/", memreserve=True))
    chosen = root.children.get("chosen")
    if chosen is not None and "bootargs" in chosen.props:
        prop = chosen.props["bootargs"]
        args = prop.string()
        facts.bootargs = args
        if args is None:
            facts.unknown.append(f"chosen/bootargs at {prop.loc} is not a string (macro from a missing header?)")
        else:
            limits = re.findall(r"(?:^|\s)mem=(\S+)", args)
            if limits:
                value = limits[-1].split("@", 1)[0].split("$", 1)[0]
                try:
                    facts.mem_limit = Numbered(parse_size(value), prop.loc)
                except ValueError:
                    facts.unknown.append(f"chosen/bootargs at {prop.loc}: cannot read mem={limits[-1]}")
    cpus = root.children.get("cpus")
    if cpus is not None:
        for child in cpus.children.values():
            dtype = child.props.get("device_type")
            if dtype is None or dtype.string() != "cpu" or _disabled(child):
                continue
            reg = child.props.get("reg")
            cells = reg.cells() if reg is not None else []
            number = 0
            if cells and all(isinstance(c, int) for c in cells):
                for c in cells:
                    number = (number << 32) | c  # type: ignore[operator]
            else:
                number = len(facts.cpus)
            facts.cpus.append(Numbered(number, (reg or dtype).loc))
    for node in root.walk():
        if "interrupt-controller" not in node.props or _disabled(node) or node.parent is None:
            continue
        reg = node.props.get("reg")
        if reg is None:
            continue
        tuples = _decode_reg(node, reg, facts, "interrupt controller")
        compat = node.props.get("compatible")
        kind = (compat.strings()[0] if compat is not None and compat.strings() else "interrupt-controller")
        for start, size in _translate(node, tuples or []):
            if size:
                facts.interrupt_controllers.append(Device(node.path(), kind, start, start + size, reg.loc))


def _translate(node: DtNode, tuples: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Child bus addresses to the root's address space through each ancestor's `ranges`
    (empty ranges = identity; absent = not translatable, dropped)."""
    out = list(tuples)
    bus = node.parent
    while bus is not None and bus.parent is not None:
        ranges = bus.props.get("ranges")
        if ranges is None:
            return []
        cells = ranges.cells()
        if cells and not any(isinstance(c, Unknown) for c in cells):
            cac = _cells_of(bus, "#address-cells", 2)
            pac = _cells_of(bus.parent, "#address-cells", 2)
            csc = _cells_of(bus, "#size-cells", 1)
            step = cac + pac + csc
            maps = []
            for i in range(0, len(cells) - step + 1, step):
                def num(cs: list) -> int:
                    v = 0
                    for c in cs:
                        v = (v << 32) | c
                    return v
                maps.append((num(cells[i:i + cac]), num(cells[i + cac:i + cac + pac]),
                             num(cells[i + cac + pac:i + step])))
            moved = []
            for start, size in out:
                for child_base, parent_base, length in maps:
                    if child_base <= start < child_base + length:
                        moved.append((start - child_base + parent_base, size))
                        break
            out = moved
        elif cells:
            return []
        bus = bus.parent
    return out
