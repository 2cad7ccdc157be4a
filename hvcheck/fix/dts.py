"""Edits to device-tree sources: add or widen a `/reserved-memory` child with `no-map`.

The DTS is scanned lexically (comments, strings, preprocessor lines and `/directives/` skipped;
braces and `;` give the node structure) — enough to find the root node, its `#address-cells` /
`#size-cells`, an existing `reserved-memory` node and its children's `reg`, without resolving
includes. The edited text is then re-read by the real reader
(:func:`hvcheck.layout.loaders.devicetree.read_devicetree`) in the engine's re-check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hvcheck.fix.numfmt import format_like
from hvcheck.fix.plan import Reservation
from hvcheck.fix.textedit import FileEdits, FixError, read_source
from hvcheck.units import hex_range

_DIRECTIVE = re.compile(r"#\s*(include|define|undef|if|ifdef|ifndef|else|elif|endif|line|pragma|error|warning"
                        r"|\d)\b")


@dataclass
class Prop:
    name: str
    start: int        # statement start
    end: int          # offset just after the `;`
    value: str        # text after `=` (stripped), "" for a boolean property
    value_span: tuple[int, int] | None


@dataclass
class DtsNode:
    header: str
    start: int
    open: int
    close: int = -1
    end: int = -1
    parent: DtsNode | None = None
    props: dict[str, Prop] = field(default_factory=dict)
    children: list[DtsNode] = field(default_factory=list)

    @property
    def name(self) -> str:
        h = self.header
        while True:  # strip labels `a: b: name`
            m = re.match(r"\s*[A-Za-z_][A-Za-z0-9_]*:\s*(?!/)", h)
            if not m or h[m.end():].startswith(":"):
                break
            h = h[m.end():]
        return h.strip()


def scan(text: str, path: str) -> DtsNode:
    """The node tree of a DTS text; the returned pseudo-node holds the top-level statements."""
    top = DtsNode("<top>", 0, 0)
    cur = top
    i, n = 0, len(text)
    stmt = None
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if text.startswith("//", i):
            i = text.find("\n", i) if text.find("\n", i) >= 0 else n
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise FixError(f"{path}: unterminated comment")
            i = j + 2
            continue
        if c == "#" and stmt is None and text[text.rfind("\n", 0, i) + 1:i].strip() == "" and \
                _DIRECTIVE.match(text, i):
            while True:  # a preprocessor line, with backslash continuations
                j = text.find("\n", i)
                if j < 0:
                    i = n
                    break
                if text[j - 1] != "\\":
                    i = j + 1
                    break
                i = j + 1
            continue
        if c == '"':
            i = _skip_string(text, i, path)
            stmt = i if stmt is None else stmt
            continue
        if stmt is None:
            stmt = i
        if c == "{":
            node = DtsNode(text[stmt:i].strip(), stmt, i, parent=cur)
            cur.children.append(node)
            cur = node
            stmt = None
        elif c == "}":
            if cur is top:
                raise FixError(f"{path}:{text.count(chr(10), 0, i) + 1}: unbalanced '}}'")
            cur.close = i
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            cur.end = j + 1 if j < n and text[j] == ";" else i + 1
            i = cur.end
            cur = cur.parent  # type: ignore[assignment]
            stmt = None
            continue
        elif c == ";":
            body = text[stmt:i]
            if "=" in body:
                name, _, _ = body.partition("=")
                eq = stmt + body.index("=") + 1
                vs = eq + len(text[eq:i]) - len(text[eq:i].lstrip())
                cur.props[name.strip()] = Prop(name.strip(), stmt, i + 1, text[vs:i].strip(), (vs, i))
            else:
                cur.props[body.strip()] = Prop(body.strip(), stmt, i + 1, "", None)
            stmt = None
        elif c == "<":
            j = text.find(">", i)
            i = j + 1 if j >= 0 else n
            continue
        i += 1
    if cur is not top:
        raise FixError(f"{path}: unbalanced braces (node {cur.header!r} is never closed)")
    return top


def _skip_string(text: str, i: int, path: str) -> int:
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == '"':
            return j + 1
        j += 1
    raise FixError(f"{path}: unterminated string")


def _cells(node: DtsNode | None, prop: str, default: int) -> int:
    while node is not None:
        p = node.props.get(prop)
        if p is not None:
            m = re.fullmatch(r"<\s*(0[xX][0-9a-fA-F]+|\d+)\s*>", p.value)
            if m:
                return int(m.group(1), 0)
        node = None
    return default


def _reg_ranges(value: str, ac: int, sc: int) -> list[tuple[int, int]] | None:
    cells: list[int] = []
    for group in re.findall(r"<([^>]*)>", value):
        for tok in group.split():
            if not re.fullmatch(r"0[xX][0-9a-fA-F]+|\d+", tok):
                return None
            cells.append(int(tok, 0))
    step = ac + sc
    if not cells or len(cells) % step:
        return None
    out = []
    for k in range(0, len(cells), step):
        a = 0
        for c in cells[k:k + ac]:
            a = (a << 32) | c
        s = 0
        for c in cells[k + ac:k + step]:
            s = (s << 32) | c
        out.append((a, a + s))
    return out


def _encode(value: int, ncells: int, sample: str, what: str) -> list[str]:
    if value >> (32 * ncells):
        raise FixError(f"{what} {value:#x} does not fit in {ncells} cell(s)")
    return [format_like(sample, (value >> (32 * k)) & 0xFFFF_FFFF) for k in reversed(range(ncells))]


def _line_indent(text: str, i: int) -> str:
    ls = text.rfind("\n", 0, i) + 1
    m = re.match(r"[ \t]*", text[ls:])
    return m.group(0) if m else ""


def _unit(text: str, root: DtsNode) -> str:
    base = _line_indent(text, root.start)
    for item in list(root.props.values()) + root.children:
        start = item.start
        ind = _line_indent(text, start)
        if len(ind) > len(base) and text[text.rfind("\n", 0, start) + 1:start].strip() == "":
            return ind[len(base):]
    return "\t"


def _roots(top: DtsNode) -> list[DtsNode]:
    return [c for c in top.children if c.name == "/"]


def dts_edits(reservations: list[Reservation]) -> list[FileEdits]:
    by_file: dict[str, list[Reservation]] = {}
    for res in reservations:
        by_file.setdefault(res.dt.path, []).append(res)
    out = []
    for path, items in by_file.items():
        p = Path(path)
        if p.suffix.lower() == ".dtb":
            raise FixError(f"{path}: a compiled device tree; edit its .dts source and rebuild it")
        fe = FileEdits(p, read_source(p))
        _edit(fe, items)
        out.append(fe)
    return out


def _edit(fe: FileEdits, items: list[Reservation]) -> None:
    text = fe.original
    top = scan(text, str(fe.path))
    roots = _roots(top)
    if not roots:
        raise FixError(f"{fe.path}: no root node `/ {{ ... }};` found")
    root = next((r for r in roots if "#address-cells" in r.props), roots[0])
    ac, sc = _cells(root, "#address-cells", 2), _cells(root, "#size-cells", 1)
    resv = next((c for r in roots for c in r.children if c.name == "reserved-memory"), None)
    unit = _unit(text, root)
    new_children: list[tuple[str, str]] = []   # (node name, reg cells)
    for res in items:
        if res.widen is None and res.memory is not None and _shrink(fe, roots, res, ac, sc):
            continue
        if resv is not None:
            rac, rsc = _cells(resv, "#address-cells", ac), _cells(resv, "#size-cells", sc)
            if res.widen is not None and _widen(fe, resv, res, rac, rsc):
                continue
        else:
            rac, rsc = ac, sc
        upper = re.search(r"0[xX][0-9a-fA-F]*[A-F][0-9a-fA-F]*", text[root.open:root.close])
        sample = "0xA" if upper else "0x0"
        reg = " ".join(_encode(res.start, rac, sample, "address") + _encode(res.end - res.start, rsc, sample, "size"))
        new_children.append((f"{res.name}@{res.start:x}", reg))
        fe.explain(res.why + f"; added /reserved-memory/{res.name}@{res.start:x} with no-map over "
                   f"{hex_range(res.start, res.end)} (#address-cells = <{rac}>, #size-cells = <{rsc}>), "
                   "chosen over shrinking /memory so the hole stays named in the device tree.")
    if not new_children:
        return
    why = items[0].why
    if resv is not None:
        ind = _line_indent(text, resv.start) + unit
        if resv.children:  # follow the existing children's indentation
            ind = _line_indent(text, resv.children[-1].start)
            inner = next(iter(resv.children[-1].props.values()), None)
            if inner is not None and _line_indent(text, inner.start).startswith(ind):
                unit = _line_indent(text, inner.start)[len(ind):] or unit
        body = "".join("\n" + _indent_block(_child(n, r, unit), ind) for n, r in new_children)
        at = _before_close(text, resv)
        fe.add(at, at, body if text[resv.open + 1:resv.close].strip() else body, why)
        return
    ind = _line_indent(text, root.start) + unit
    node = (f"reserved-memory {{\n{unit}#address-cells = <{ac}>;\n{unit}#size-cells = <{sc}>;\n{unit}ranges;\n"
            + "".join("\n" + _indent_block(_child(n, r, unit), unit) + "\n" for n, r in new_children) + "};")
    at = _before_close(text, root)
    fe.add(at, at, "\n\n" + _indent_block(node, ind), why)


def _child(name: str, reg: str, unit: str) -> str:
    return f"{name} {{\n{unit}reg = <{reg}>;\n{unit}no-map;\n}};"


def _indent_block(block: str, ind: str) -> str:
    return "\n".join((ind + ln) if ln else ln for ln in block.split("\n"))


def _before_close(text: str, node: DtsNode) -> int:
    """Insertion point for new lines at the end of a node's body: the end of the line before the
    closing brace (or just after `{` for a one-line node)."""
    ls = text.rfind("\n", 0, node.close)
    if ls > node.open and text[ls + 1:node.close].strip() == "":
        return ls
    return node.close


def _widen(fe: FileEdits, resv: DtsNode, res: Reservation, ac: int, sc: int) -> bool:
    text = fe.original
    assert res.widen is not None
    for child in resv.children:
        reg = child.props.get("reg")
        if reg is None or reg.value_span is None:
            continue
        ranges = _reg_ranges(reg.value, ac, sc)
        if ranges != [(res.widen.start, res.widen.end)]:
            continue
        first = re.search(r"0[xX][0-9a-fA-F]+|\d+", reg.value)
        sample = first.group(0) if first else "0x0"
        cells = _encode(res.start, ac, sample, "address") + _encode(res.end - res.start, sc, sample, "size")
        fe.add(reg.value_span[0], reg.value_span[1], "<" + " ".join(cells) + ">", res.why)
        if "no-map" not in child.props:
            ind = _line_indent(text, reg.start)
            fe.add(reg.end, reg.end, f"\n{ind}no-map;", res.why)
        fe.explain(res.why + f"; the existing reservation {child.name} {hex_range(res.widen.start, res.widen.end)} "
                   f"is widened to {hex_range(res.start, res.end)}"
                   + ("" if "no-map" in child.props else " and gets no-map") + ".")
        return True
    return False


_REG_TOKEN = re.compile(r"0[xX][0-9a-fA-F]+|\d+")


def _shrink(fe: FileEdits, roots: list[DtsNode], res: Reservation, ac: int, sc: int) -> bool:
    """Shrink the /memory reg tuple whose head or tail is the range, rewriting only its cells."""
    assert res.memory is not None
    text = fe.original
    for root in roots:
        for node in root.children:
            dev = node.props.get("device_type")
            if not (node.name.split("@")[0] == "memory" or (dev is not None and "memory" in dev.value)):
                continue
            reg = node.props.get("reg")
            if reg is None or reg.value_span is None or not re.fullmatch(r"[\s<>,0-9a-fA-FxX]*", reg.value):
                continue
            vs = reg.value_span[0]
            tokens = list(_REG_TOKEN.finditer(text, vs, reg.value_span[1]))
            step = ac + sc
            if not tokens or len(tokens) % step:
                continue
            for k in range(0, len(tokens), step):
                cells = [int(t.group(0), 0) for t in tokens[k:k + step]]
                a = s_ = 0
                for c in cells[:ac]:
                    a = (a << 32) | c
                for c in cells[ac:]:
                    s_ = (s_ << 32) | c
                if (a, a + s_) != (res.memory.start, res.memory.end):
                    continue
                ns, ne = res.remainder()
                new = _encode(ns, ac, "0x0", "address") + _encode(ne - ns, sc, "0x0", "size")
                for tok, cell in zip(tokens[k:k + step], new, strict=True):
                    value = int(cell, 16)
                    if int(tok.group(0), 0) != value:
                        fe.add(tok.start(), tok.end(), format_like(tok.group(0), value), res.why)
                unit = re.search(r"@([0-9a-fA-F]+)\s*$", node.header)
                if unit and int(unit.group(1), 16) == a and ns != a and len(node.children) == 0:
                    at = node.start + node.header.rindex("@") + 1   # keep unit address == reg address
                    fe.add(at, at + len(unit.group(1)), f"{ns:x}", res.why)
                res.shrunk = True
                fe.explain(res.why + f"; the range is the {'head' if res.start == a else 'tail'} of {node.name}'s "
                           f"reg {hex_range(a, a + s_)}, so that tuple shrinks to {hex_range(ns, ne)} — cleaner "
                           "than a reservation: the kernel never sees the range at all.")
                return True
    return False
