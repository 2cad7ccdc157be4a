"""A flattened device tree (DTB) into a :class:`~.node.DtNode` tree: header, memory reservation
block, structure and strings blocks, every offset and length validated against the blob.

Our own reader (about 80 lines) rather than pylibfdt, which is sdist-only on PyPI (swig and a C
toolchain at install time). Only the properties the facts read are kept (:data:`NEEDED_PROPS`),
and what is kept is bounded by :data:`~.node.MAX_DT_ITEMS`.
"""

from __future__ import annotations

import struct
from pathlib import Path

from hvcheck.errors import InputError, LimitExceeded
from hvcheck.findings import Location
from hvcheck.layout.loaders.devicetree.dts import MAX_DT_MEMRESERVE, MAX_NODE_DEPTH, NEEDED_PROPS
from hvcheck.layout.loaders.devicetree.node import Budget, DtNode, MemReserve, Prop

FDT_MAGIC = 0xD00DFEED
_BEGIN_NODE, _END_NODE, _PROP, _NOP, _END = 1, 2, 3, 4, 9


def is_fdt(head: bytes) -> bool:
    return head[:4] == struct.pack(">I", FDT_MAGIC)


def parse_fdt(path: Path, data: bytes) -> tuple[DtNode, list[MemReserve]]:
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
    budget = Budget(name)
    strings = data[off_strings:off_strings + size_strings]
    memreserve: list[MemReserve] = []
    pos = off_rsvmap
    while True:
        if pos + 16 > total:
            raise InputError(name, "corrupt DTB: memory reservation block not terminated")
        addr, size = struct.unpack(">QQ", data[pos:pos + 16])
        pos += 16
        if addr == 0 and size == 0:
            break
        if len(memreserve) >= MAX_DT_MEMRESERVE:
            raise LimitExceeded(name, f"more than {MAX_DT_MEMRESERVE} /memreserve/ entries (MAX_DT_MEMRESERVE, "
                                      "`hvcheck docs limits`)")
        budget.take()
        memreserve.append(MemReserve(addr, size, Location(name, None, detail=f"/memreserve/ entry {len(memreserve)}")))
    pos = off_struct
    end = off_struct + size_struct
    root: DtNode | None = None
    stack: list[DtNode] = []
    while True:
        if pos + 4 > end:
            raise InputError(name, "corrupt DTB: structure block ends without FDT_END")
        (token,) = struct.unpack(">I", data[pos:pos + 4])
        pos += 4
        if token == _BEGIN_NODE:
            nul = data.find(b"\0", pos, end)
            if nul < 0:
                raise InputError(name, "corrupt DTB: unterminated node name")
            nname = data[pos:nul].decode("utf-8", "replace") or "/"
            pos = (nul + 4) & ~3
            if len(stack) > MAX_NODE_DEPTH:
                raise InputError(name, f"corrupt DTB: nodes nested deeper than {MAX_NODE_DEPTH}")
            budget.take()
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
        elif token == _END_NODE:
            if not stack:
                raise InputError(name, "corrupt DTB: unbalanced FDT_END_NODE")
            stack.pop()
        elif token == _PROP:
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
            if pname in NEEDED_PROPS:
                budget.take()
                node = stack[-1]
                node.props[pname] = Prop(pname, [], Location(name, None, detail=f"{node.path()} {pname}"),
                                         raw=data[pos:pos + length])
            pos = (pos + length + 3) & ~3
        elif token == _NOP:
            continue
        elif token == _END:
            break
        else:
            raise InputError(name, f"corrupt DTB: unknown token {token:#x} at offset {pos - 4:#x}")
    if root is None or stack:
        raise InputError(name, "corrupt DTB: no complete root node")
    return root, memreserve
