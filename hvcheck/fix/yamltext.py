"""Positions in YAML/JSON text (PyYAML node marks) and the edits the fixers make there:
replace a number in its own style, split one list entry into several copies of itself, append
an entry to a list, add a key to a mapping. Everything not touched stays byte for byte."""

from __future__ import annotations

import re
from typing import Any

from hvcheck.fix.numfmt import format_like
from hvcheck.fix.textedit import FileEdits, FixError


def compose(text: str, path: str) -> Any:
    """The node tree of ``text`` with character offsets. libyaml (CSafeLoader, ~20x faster) is
    used for ASCII text only, where its marks are the same as the pure-Python composer's."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", None) if text.isascii() else None
    try:
        return yaml.compose(text, Loader=loader or yaml.SafeLoader)
    except yaml.YAMLError as exc:  # the loader accepted the file, so this is our bug or a race
        raise FixError(f"{path}: cannot re-read the file to edit it: {exc}") from None


def get(mapping: Any, key: str) -> tuple[Any, Any] | None:
    """(key node, value node) of ``key`` in a mapping node."""
    import yaml

    if not isinstance(mapping, yaml.MappingNode):
        return None
    for k, v in mapping.value:
        if getattr(k, "value", None) == key:
            return k, v
    return None


def value(mapping: Any, key: str) -> Any:
    kv = get(mapping, key)
    return None if kv is None else kv[1]


def is_flow(node: Any) -> bool:
    return bool(getattr(node, "flow_style", False))


def line_start(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1


def line_end(text: str, i: int) -> int:
    j = text.find("\n", i)
    return len(text) if j < 0 else j


def node_end(node: Any) -> int:
    """End of a node's own text: block mappings/sequences end at their last value, not at the
    next token (PyYAML's end mark may lie after following comment lines)."""
    import yaml

    if isinstance(node, yaml.MappingNode) and not is_flow(node) and node.value:
        return node_end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not is_flow(node) and node.value:
        return node_end(node.value[-1])
    return node.end_mark.index


def scalar_span(node: Any) -> tuple[int, int]:
    s, e = node.start_mark.index, node.end_mark.index
    if getattr(node, "style", None) in ('"', "'"):
        return s + 1, e - 1
    return s, e


def number_edit(text: str, node: Any, new_value: int) -> tuple[int, int, str] | None:
    s, e = scalar_span(node)
    old = text[s:e]
    new = format_like(old, new_value)
    return None if new == old else (s, e, new)


def _indent_of(text: str, i: int) -> str:
    ls = line_start(text, i)
    m = re.match(r"[ \t]*", text[ls:])
    return m.group(0) if m else ""


def _block_item_bounds(text: str, seq: Any, item: Any) -> tuple[int, int, int] | None:
    """(line start of `- `, end of the item's value, end of its last line) for a block item."""
    ls = line_start(text, item.start_mark.index)
    if not re.fullmatch(r"[ \t]*-[ \t]+", text[ls:item.start_mark.index]):
        return None
    end = node_end(item)
    return ls, end, line_end(text, end)


def _render_copies(text: str, start: int, value_end: int, trailing: str,
                   copies: list[list[tuple[Any, int]]]) -> list[str]:
    out = []
    for i, subs in enumerate(copies):
        rel = []
        for node, v in subs:
            ed = number_edit(text, node, v)
            if ed is not None:
                rel.append((ed[0] - start, ed[1] - start, ed[2]))
        body = text[start:value_end]
        for s, e, new in sorted(rel, reverse=True):
            body = body[:s] + new + body[e:]
        out.append(body + (trailing if i == 0 else ""))   # a trailing comment stays on the first copy
    return out


def rewrite_items(fe: FileEdits, seq: Any, changes: dict[int, list[list[tuple[Any, int]]]], why: str,
                  key: Any = None) -> None:
    """Replace each ``seq[i]`` in ``changes`` by one copy of itself per entry of ``changes[i]``
    (each copy: the (scalar node inside the item, new integer) pairs to rewrite). An empty list
    of copies deletes the entry; a list that ends up empty is written ``[]``."""
    text = fe.original
    remaining = sum(len(changes.get(i, [None])) for i in range(len(seq.value)))
    if not is_flow(seq):
        maybe = [_block_item_bounds(text, seq, item) for item in seq.value]
        bounds = [b for b in maybe if b is not None]
        if len(bounds) != len(maybe):
            raise FixError(f"{fe.path}:{seq.start_mark.line + 1}: unusual list layout; edit this list by hand")
        if remaining == 0:
            if key is None:
                raise FixError(f"{fe.path}:{seq.start_mark.line + 1}: every entry of this list would be removed")
            fe.add(key.end_mark.index, bounds[-1][2], ": []", why)
            return
        for i, copies in sorted(changes.items()):
            start, value_end, end = bounds[i]
            if not copies:
                fe.add(start, min(end + 1, len(text)), "", why)
            else:
                fe.add(start, end, "\n".join(_render_copies(text, start, value_end, text[value_end:end], copies)),
                       why)
        return
    if not seq.value:
        return
    first, last = seq.value[0], seq.value[-1]
    if text[line_start(text, first.start_mark.index):first.start_mark.index].strip() == "":
        sep = ",\n" + _indent_of(text, first.start_mark.index)
    else:
        sep = ", "
    items: list[str] = []
    for i, item in enumerate(seq.value):
        s, e = item.start_mark.index, node_end(item)
        if i in changes:
            items.extend(_render_copies(text, s, e, "", changes[i]))
        else:
            items.append(text[s:e])
    if items:
        fe.add(first.start_mark.index, node_end(last), sep.join(items), why)
    else:
        fe.add(seq.start_mark.index + 1, seq.end_mark.index - 1, "", why)


def append_item(fe: FileEdits, seq: Any, entry: str, why: str) -> None:
    """Append ``entry`` (flow text) to a sequence node, in the sequence's own layout."""
    text = fe.original
    if not seq.value:
        if not is_flow(seq):
            raise FixError(f"{fe.path}:{seq.start_mark.line + 1}: cannot append to this empty list")
        fe.add(seq.start_mark.index + 1, seq.start_mark.index + 1, entry, why)
        return
    last = seq.value[-1]
    if not is_flow(seq):
        bounds = _block_item_bounds(text, seq, last)
        if bounds is None:
            raise FixError(f"{fe.path}:{last.start_mark.line + 1}: unusual list layout; add the entry by hand")
        ls, _, le = bounds
        dash = text[ls:last.start_mark.index]
        fe.add(le, le, "\n" + dash + entry, why)
        return
    end = node_end(last)
    if text[line_start(text, last.start_mark.index):last.start_mark.index].strip() == "":
        sep = ",\n" + _indent_of(text, last.start_mark.index)
    else:
        sep = ", "
    fe.add(end, end, sep + entry, why)


def add_key(fe: FileEdits, mapping: Any, key_text: str, value_text: str, why: str) -> None:
    """Add ``key: value`` (already rendered, ``value_text`` a flow value) at the end of a mapping."""
    text = fe.original
    if not mapping.value:
        raise FixError(f"{fe.path}:{mapping.start_mark.line + 1}: cannot extend an empty mapping")
    last_key, last_val = mapping.value[-1]
    end = node_end(last_val)
    if is_flow(mapping):
        if last_key.start_mark.line != mapping.start_mark.line and \
                text[line_start(text, last_key.start_mark.index):last_key.start_mark.index].strip() == "":
            sep = ",\n" + _indent_of(text, last_key.start_mark.index)
        else:
            sep = ", "
        fe.add(end, end, f"{sep}{key_text}: {value_text}", why)
        return
    indent = " " * last_key.start_mark.column
    le = line_end(text, end)
    fe.add(le, le, f"\n{indent}{key_text}: {value_text}", why)
