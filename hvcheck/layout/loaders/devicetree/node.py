"""The device tree both readers produce (dtlib's level): nodes, properties and their values, with
where each was defined. No meaning is attached here; :mod:`.facts` reads the memory semantics."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from hvcheck.errors import LimitExceeded
from hvcheck.findings import Location

# Nodes, stored properties, cells, strings, labels, macros and /memreserve/ entries one device tree
# may hold: memory stays a small multiple of the input even for a 32 MiB file of tiny items.
MAX_DT_ITEMS = 200_000


@dataclass(slots=True)
class Unknown:
    """A cell value that could not be computed (an undefined macro, usually from a missing header)."""

    why: str


@dataclass(slots=True)
class Cells:
    values: list[int | Unknown]
    bits: int = 32


@dataclass(slots=True)
class Str:
    text: str


@dataclass(slots=True)
class Bytes:
    data: bytes


@dataclass(slots=True)
class Ref:
    label: str


Piece = Cells | Str | Bytes | Ref


@dataclass(slots=True)
class Prop:
    name: str
    pieces: list[Piece]
    loc: Location
    raw: bytes | None = None   # DTB: the property value as stored

    def cells(self) -> list[int | Unknown]:
        if self.raw is not None:
            n = len(self.raw) // 4
            return list(struct.unpack(f">{n}I", self.raw[: n * 4]))
        out: list[int | Unknown] = []
        for piece in self.pieces:
            if isinstance(piece, Cells) and piece.bits == 32:
                out.extend(piece.values)
            elif isinstance(piece, Ref):
                out.append(Unknown(f"reference &{piece.label}"))
        return out

    def string(self) -> str | None:
        if self.raw is not None:
            return self.raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        for piece in self.pieces:
            if isinstance(piece, Str):
                return piece.text
        return None

    def strings(self) -> list[str]:
        if self.raw is not None:
            return [s.decode("utf-8", "replace") for s in self.raw.split(b"\0")[:-1]]
        return [p.text for p in self.pieces if isinstance(p, Str)]


@dataclass(slots=True)
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

    def walk(self) -> Iterator[DtNode]:
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children.values()))


@dataclass(slots=True)
class MemReserve:
    """A `/memreserve/` entry (address and size may be unknown in a DTS that uses missing macros)."""

    address: int | Unknown
    size: int | Unknown
    loc: Location


class Budget:
    """Counts what a reader keeps, and stops it at :data:`MAX_DT_ITEMS`."""

    def __init__(self, path: str, limit: int = MAX_DT_ITEMS) -> None:
        self.path = path
        self.limit = limit
        self.used = 0

    def take(self, n: int = 1, line: int | None = None) -> None:
        self.used += n
        if self.used > self.limit:
            raise LimitExceeded(self.path, f"more than {self.limit} nodes, properties, cells and labels: over the "
                                           "limit for one device tree (MAX_DT_ITEMS, `hvcheck docs limits`)", line)
