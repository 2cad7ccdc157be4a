"""YAML/JSON documents whose every value knows its line, so errors can say file:line.

JSON is parsed first with :mod:`json` for its exact error messages, then (like YAML) composed
with PyYAML's node API, which records the start line of every node.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvcheck.errors import InputError, LimitExceeded
from hvcheck.findings import Location
from hvcheck.textio import read_text

MAX_LAYOUT_BYTES = 8 << 20  # a layout description larger than this is not a layout description
MAX_NESTING = 64
# YAML aliases (`*name`) repeat a node without repeating its text: "billion laughs" documents of
# a few hundred bytes expand to billions of values. Expanded values are bounded by the text's
# length (a value takes at least one character to write) plus this allowance for small files.
MAX_ALIAS_EXPANSION = 10_000


@dataclass
class Node:
    """A value with its position. ``value`` is a dict[str, Node], list[Node] or a scalar."""

    value: Any
    path: str
    line: int

    def loc(self) -> Location:
        return Location(self.path, self.line)

    def fail(self, message: str) -> InputError:
        return InputError(self.path, message, self.line)


def read_located(path: Path) -> Node:
    import yaml  # lazy: PyYAML is only needed for layout files

    name = str(path)
    text = read_text(path, MAX_LAYOUT_BYTES, "layout files", expected="a layout file")
    if path.suffix.lower() == ".json":
        try:
            json.loads(text, parse_int=str, parse_float=str)  # syntax only: no 10^6-digit int()
        except json.JSONDecodeError as exc:
            raise InputError(name, f"invalid JSON: {exc.msg}", exc.lineno) from None
        except RecursionError:
            raise InputError(name, "JSON nested too deeply") from None
    try:
        # libyaml's composer when present: the pure-Python one takes minutes on a 1 MB line.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise InputError(name, f"invalid YAML: {exc.problem or exc.context}", line) from None
    except yaml.YAMLError as exc:
        raise InputError(name, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise InputError(name, "document nested too deeply") from None
    if root is None:
        raise InputError(name, "empty document", 1)
    return _Converter(name, len(text) + MAX_ALIAS_EXPANSION).convert(root, 0)


class _Converter:
    def __init__(self, path: str, budget: int) -> None:
        self.path = path
        self.left = budget

    def convert(self, node: Any, depth: int) -> Node:
        self.left -= 1
        if self.left < 0:
            raise LimitExceeded(self.path, "YAML aliases expand to more values than the document has characters "
                                           "(an alias bomb?); write the values out", node.start_mark.line + 1)
        return _convert(node, self.path, depth, self)


def _convert(node: Any, path: str, depth: int, conv: _Converter) -> Node:
    import yaml

    line = node.start_mark.line + 1
    if depth > MAX_NESTING:
        raise LimitExceeded(path, f"nesting deeper than {MAX_NESTING} levels", line)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise InputError(path, "mapping keys must be plain strings", key_node.start_mark.line + 1)
            key = key_node.value
            if key in out:
                raise InputError(path, f"duplicate key {key!r}", key_node.start_mark.line + 1)
            out[key] = conv.convert(value_node, depth + 1)
        return Node(out, path, line)
    if isinstance(node, yaml.SequenceNode):
        return Node([conv.convert(v, depth + 1) for v in node.value], path, line)
    # Scalars: booleans and null resolve; everything else stays as written, because numbers are
    # interpreted by the field that reads them (hex, `_` separators, size suffixes, and no
    # YAML 1.1 surprises such as 010 meaning 8).
    tag = node.tag
    text = node.value
    if tag.endswith(":bool"):
        return Node(text.lower() in ("true", "yes", "on", "y"), path, line)
    if tag.endswith(":null"):
        return Node(None, path, line)
    return Node(text, path, line)
