"""What a device tree says about memory, CPUs and interrupt controllers (the semantic layer, like
Zephyr's edtlib over dtlib), from either reader's :class:`~.node.DtNode` tree.

Addresses are decoded with the parent's `#address-cells`/`#size-cells` (DTSpec defaults 2 and 1),
every tuple of a multi-tuple `reg`; interrupt-controller windows are translated to the root's
address space through each bus's `ranges`. What Linux then does with these facts (no-map,
/memreserve/, `mem=`) is :mod:`hvcheck.layout.dtfacts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hvcheck.layout.loaders.devicetree.node import DtNode, MemReserve, Prop, Unknown
from hvcheck.layout.model import Device, DeviceTreeFacts, Numbered, ReservedRange, Span
from hvcheck.units import parse_size


@dataclass
class DeviceTreeInfo(DeviceTreeFacts):
    """DeviceTreeFacts plus what the DT says about CPUs and interrupt controllers."""

    cpus: list[Numbered] = field(default_factory=list)
    interrupt_controllers: list[Device] = field(default_factory=list)
    model: str | None = None


def facts_of(root: DtNode, memreserve: list[MemReserve], facts: DeviceTreeInfo) -> None:
    """Fill ``facts`` from the tree at ``root`` and the /memreserve/ entries."""
    model = root.props.get("model")
    facts.model = model.string() if model is not None else None
    _memory(root, facts)
    _reserved(root, memreserve, facts)
    _bootargs(root, facts)
    _cpus(root, facts)
    _interrupt_controllers(root, facts)


def _memory(root: DtNode, facts: DeviceTreeInfo) -> None:
    for child in root.children.values():
        dtype = child.props.get("device_type")
        if dtype is not None and dtype.string() == "memory" and not _disabled(child):
            prop = child.props.get("linux,usable-memory") or child.props.get("reg")
            if prop is None:
                facts.unknown.append(f"memory node {child.path()} at {child.loc} has no reg")
                continue
            for start, size in decode_reg(child, prop, facts, "memory node") or []:
                if size:
                    facts.memory.append(Span(start, start + size, prop.loc))
        elif child.name.split("@")[0] == "memory" and dtype is None and "reg" in child.props:
            facts.unknown.append(f"node {child.path()} at {child.loc} has reg but no device_type = \"memory\": "
                                 "Linux ignores it")


def _reserved(root: DtNode, memreserve: list[MemReserve], facts: DeviceTreeInfo) -> None:
    resv = root.children.get("reserved-memory")
    if resv is not None:
        for child in resv.children.values():
            if _disabled(child):
                continue
            prop = child.props.get("reg")
            if prop is None:
                continue  # dynamically placed (size/alloc-ranges): not a fixed range
            for start, size in decode_reg(child, prop, facts, "reserved-memory") or []:
                if size:
                    facts.reserved.append(ReservedRange(start, start + size, prop.loc, "no-map" in child.props,
                                                        child.name))
    for entry in memreserve:
        address, length = entry.address, entry.size
        if isinstance(address, Unknown):
            facts.unknown.append(f"/memreserve/ at {entry.loc}: uses {address.why}")
            continue
        if isinstance(length, Unknown):
            facts.unknown.append(f"/memreserve/ at {entry.loc}: uses {length.why}")
            continue
        if length:
            facts.reserved.append(ReservedRange(address, address + length, entry.loc, False, "/memreserve/",
                                                memreserve=True))


def _bootargs(root: DtNode, facts: DeviceTreeInfo) -> None:
    chosen = root.children.get("chosen")
    if chosen is None or "bootargs" not in chosen.props:
        return
    prop = chosen.props["bootargs"]
    args = prop.string()
    facts.bootargs = args
    if args is None:
        facts.unknown.append(f"chosen/bootargs at {prop.loc} is not a string (macro from a missing header?)")
        return
    limits = re.findall(r"(?:^|\s)mem=(\S+)", args)
    if limits:
        value = limits[-1].split("@", 1)[0].split("$", 1)[0]
        try:
            facts.mem_limit = Numbered(parse_size(value), prop.loc)
        except ValueError:
            facts.unknown.append(f"chosen/bootargs at {prop.loc}: cannot read mem={limits[-1]}")


def _cpus(root: DtNode, facts: DeviceTreeInfo) -> None:
    cpus = root.children.get("cpus")
    if cpus is None:
        return
    for child in cpus.children.values():
        dtype = child.props.get("device_type")
        if dtype is None or dtype.string() != "cpu" or _disabled(child):
            continue
        reg = child.props.get("reg")
        cells = reg.cells() if reg is not None else []
        number = 0
        ints = [c for c in cells if isinstance(c, int)]
        if cells and len(ints) == len(cells):
            for c in ints:
                number = (number << 32) | c
        else:
            number = len(facts.cpus)
        facts.cpus.append(Numbered(number, (reg or dtype).loc))


def _interrupt_controllers(root: DtNode, facts: DeviceTreeInfo) -> None:
    for node in root.walk():
        if "interrupt-controller" not in node.props or _disabled(node) or node.parent is None:
            continue
        reg = node.props.get("reg")
        if reg is None:
            continue
        tuples = decode_reg(node, reg, facts, "interrupt controller")
        compat = node.props.get("compatible")
        kind = (compat.strings()[0] if compat is not None and compat.strings() else "interrupt-controller")
        for start, size in translate(node, tuples or []):
            if size:
                facts.interrupt_controllers.append(Device(node.path(), kind, start, start + size, reg.loc))


def cells_of(node: DtNode | None, prop: str, default: int) -> int:
    """`#address-cells` / `#size-cells` of ``node`` (DTSpec default when absent or odd)."""
    if node is None:
        return default
    p = node.props.get(prop)
    if p is None:
        return default
    cells = p.cells()
    if len(cells) != 1 or not isinstance(cells[0], int) or not 0 <= cells[0] <= 4:
        return default
    return cells[0]


def _number(cells: list[int]) -> int:
    value = 0
    for c in cells:
        value = (value << 32) | (c & 0xFFFFFFFF)
    return value


def decode_reg(node: DtNode, prop: Prop, facts: DeviceTreeInfo, what: str) -> list[tuple[int, int]] | None:
    """(start, size) tuples of a reg-like property, using the parent's cell sizes; None (and the
    reason in ``facts.unknown``) when a cell is unknown or the count does not fit the cell sizes."""
    ac = cells_of(node.parent, "#address-cells", 2)
    sc = cells_of(node.parent, "#size-cells", 1)
    cells = prop.cells()
    ints: list[int] = []
    for c in cells:
        if isinstance(c, Unknown):
            facts.unknown.append(f"{what} {node.path()} `{prop.name}` at {prop.loc}: uses {c.why}")
            return None
        ints.append(c)
    step = ac + sc
    if step == 0 or len(ints) % step != 0:
        facts.unknown.append(f"{what} {node.path()} `{prop.name}` at {prop.loc}: {len(ints)} cells is not a "
                             f"multiple of #address-cells {ac} + #size-cells {sc}")
        return None
    return [(_number(ints[i:i + ac]), _number(ints[i + ac:i + step])) for i in range(0, len(ints), step)]


def _disabled(node: DtNode) -> bool:
    status = node.props.get("status")
    return status is not None and (status.string() or "okay") not in ("okay", "ok")


def translate(node: DtNode, tuples: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Child bus addresses to the root's address space through each ancestor's `ranges`
    (empty ranges = identity; absent = not translatable, dropped)."""
    out = list(tuples)
    bus = node.parent
    while bus is not None and bus.parent is not None:
        ranges = bus.props.get("ranges")
        if ranges is None:
            return []
        cells = ranges.cells()
        ints = [c for c in cells if isinstance(c, int)]
        if cells and len(ints) == len(cells):
            cac = cells_of(bus, "#address-cells", 2)
            pac = cells_of(bus.parent, "#address-cells", 2)
            csc = cells_of(bus, "#size-cells", 1)
            step = cac + pac + csc
            maps = [(_plain(ints[i:i + cac]), _plain(ints[i + cac:i + cac + pac]), _plain(ints[i + cac + pac:i + step]))
                    for i in range(0, len(ints) - step + 1, step)]
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


def _plain(cells: list[int]) -> int:
    """Cells to a number without masking (as `ranges` were always decoded)."""
    value = 0
    for c in cells:
        value = (value << 32) | c
    return value
