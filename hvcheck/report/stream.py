"""The JSON and SARIF documents written piece by piece, exactly as ``json.dumps(doc, indent=2)``.

A run with 50,000 findings made a 100 MB document: its dicts, the encoder's chunk list and the
joined string were each alive at once (570-885 MB peak). Here the long lists (findings, SARIF
results) are :class:`Lazy`: each member is converted and encoded only when it is written, then
dropped. Indented JSON has no raw newline inside a string (they are escaped), so a member encoded
at depth 0 is the same text at depth d once every newline is followed by d more indents.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

INDENT = "  "
BATCH = 256


@dataclass
class Lazy:
    """A JSON list whose members are ``convert(item)`` for each of ``items``, made when written."""

    items: Sequence[Any]
    convert: Callable[[Any], Any]


def _has_lazy(value: Any) -> bool:
    if isinstance(value, Lazy):
        return True
    if isinstance(value, dict):
        return any(_has_lazy(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_lazy(v) for v in value)
    return False


def _encoded(value: Any, depth: int) -> str:
    text = json.dumps(value, indent=2)
    return text.replace("\n", "\n" + INDENT * depth) if depth else text


def chunks(value: Any, depth: int = 0) -> Iterator[str]:
    """Pieces whose concatenation is ``json.dumps(value, indent=2)`` with every Lazy a list."""
    if not _has_lazy(value):
        yield _encoded(value, depth)
        return
    pad = "\n" + INDENT * (depth + 1)
    if isinstance(value, Lazy):
        if not value.items:
            yield "[]"
            return
        # Members are encoded BATCH at a time: each json.dumps with an indent builds closures that
        # refer to each other, a cycle only the collector frees, and finish() runs with it off.
        # dumps([a, b]) is "[" + "\n  A,\n  B" + "\n]": the middle, shifted to this depth.
        sep = "["
        items = value.items
        for at in range(0, len(items), BATCH):
            batch = [value.convert(item) for item in items[at:at + BATCH]]
            if _has_lazy(batch):  # a member with a long list of its own (one finding, 50,000 places)
                for member in batch:
                    yield sep + pad
                    yield from chunks(member, depth + 1)
                    sep = ","
                continue
            yield sep + _encoded(batch, depth)[1:-(2 + len(INDENT) * depth)]
            sep = ","
        yield "\n" + INDENT * depth + "]"
        return
    if isinstance(value, list):
        yield "["
        sep = pad
        for member in value:
            yield sep
            yield from chunks(member, depth + 1)
            sep = "," + pad
        yield "\n" + INDENT * depth + "]"
        return
    yield "{"
    sep = pad
    for key, member in value.items():
        yield sep + json.dumps(str(key)) + ": "
        yield from chunks(member, depth + 1)
        sep = "," + pad
    yield "\n" + INDENT * depth + "}"
