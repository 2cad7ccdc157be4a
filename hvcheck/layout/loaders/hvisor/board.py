"""Board facts from board.rs: CPU count, physical memory list, UART, interrupt controllers and PCI
windows (zones.py adds those a zone JSON's `arch_config` / `pci_config` name)."""

from __future__ import annotations

from hvcheck.findings import Location
from hvcheck.layout.loaders.boardrs import Namespace, ParsedStruct, RustFile, Sym
from hvcheck.layout.loaders.hvisor.extent import int_const
from hvcheck.layout.loaders.hvisor.tree import BoardTree
from hvcheck.layout.model import Board, Device, Numbered, Span
from hvcheck.units import human_size

UART_ASSUMED_SIZE = 0x1000

_DEVICE_KINDS = (("gicd", "gic"), ("gicr", "gic"), ("gits", "gic"), ("gicc", "gic"), ("gich", "gic"),
                 ("gicv", "gic"), ("plic", "plic"), ("aplic", "aia"), ("imsic", "aia"), ("ioapic", "ioapic"),
                 ("clint", "clint"))


def read_board(tree: BoardTree, ns: Namespace, board_rs: RustFile) -> Board:
    board = Board(tree.name)
    ncpus = int_const(ns, "BOARD_NCPUS")
    if ncpus is not None:
        board.cpu_count = Numbered(ncpus[0], ncpus[1])
    physmem = ns.lookup("BOARD_PHYSMEM_LIST")
    if physmem is not None:
        for elem, value in ns.items(physmem):
            if not (isinstance(value, tuple) and len(value) == 3 and all(isinstance(v, int) for v in value[:2])):
                raise physmem.file.fail(elem, "BOARD_PHYSMEM_LIST: expected (start, end, MemoryType) tuples")
            start, end, mtype = value
            loc = Location(physmem.file.path, elem.start_point[0] + 1, detail="BOARD_PHYSMEM_LIST (start, end)")
            if end < start:
                raise physmem.file.fail(elem, f"BOARD_PHYSMEM_LIST: end {end:#x} below start {start:#x} "
                                              "(this list holds (start, end, type), not sizes)")
            tname = mtype.name if isinstance(mtype, Sym) else str(mtype)
            if tname.endswith("Normal"):
                board.memory.append(Span(start, end, loc))
            else:
                board.io.append(Span(start, end, loc))
    else:
        tree.notes.append(f"{board_rs.path}: no BOARD_PHYSMEM_LIST; regions are not checked against the board's "
                          "physical memory (M012)")
    uart = int_const(ns, "BOARD_UART_BASE")
    if uart is not None and uart[0]:
        board.devices.append(Device("uart", "uart", uart[0], uart[0] + UART_ASSUMED_SIZE,
                                    Location(uart[1].path, uart[1].line,
                                             detail=f"BOARD_UART_BASE; size assumed {human_size(UART_ASSUMED_SIZE)}")))
    arch_cfg = ns.lookup("ROOT_ARCH_ZONE_CONFIG")
    if arch_cfg is not None:
        value = ns.eval(arch_cfg.file, arch_cfg.value, "ROOT_ARCH_ZONE_CONFIG")
        if isinstance(value, ParsedStruct):
            _devices_from_struct(board, value)
    pci = ns.lookup("ROOT_PCI_CONFIG")
    if pci is not None:
        value = ns.eval(pci.file, pci.value, "ROOT_PCI_CONFIG")
        for i, cfg in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(cfg, ParsedStruct):
                _pci_devices(board, cfg, f"pci{i}" if isinstance(value, list) and len(value) > 1 else "pci")
    return board


def device_kind(prefix: str) -> str | None:
    for p, kind in _DEVICE_KINDS:
        if prefix.startswith(p):
            return kind
    return None


def add_device(board: Board, dev: Device) -> None:
    if not any(d.start == dev.start and d.end == dev.end and d.name == dev.name for d in board.devices):
        board.devices.append(dev)


def _devices_from_struct(board: Board, st: ParsedStruct) -> None:
    """`<x>_base`/`<x>_size` pairs of an arch config (flat, or nested GicConfig::Gicv3(Gicv3Config{..}))."""
    for key, value in st.fields.items():
        if isinstance(value, ParsedStruct):
            _devices_from_struct(board, value)
        elif isinstance(value, tuple) and value and isinstance(value[0], Sym):
            for arg in value[1:]:
                if isinstance(arg, ParsedStruct):
                    _devices_from_struct(board, arg)
        elif key.endswith("_base") and isinstance(value, int):
            dev = key[: -len("_base")]
            kind = device_kind(dev)
            size = st.fields.get(f"{dev}_size")
            if kind is None or not isinstance(size, int) or size <= 0 or value == 0 and kind != "gic":
                continue
            add_device(board, Device(dev, kind, value, value + size,
                                     Location(st.path, st.lines.get(key), detail=f"{st.type_name}.{key}")))


def _pci_devices(board: Board, st: ParsedStruct, name: str) -> None:
    for window, kind in (("ecam", "pci-ecam"), ("mem32", "pci-mem32"), ("mem64", "pci-mem64"), ("io", "pci-io")):
        base, size = st.fields.get(f"{window}_base"), st.fields.get(f"{window}_size")
        if isinstance(base, int) and isinstance(size, int) and size > 0:
            add_device(board, Device(f"{name} {window}", kind, base, base + size,
                                     Location(st.path, st.lines.get(f"{window}_base"),
                                              detail=f"{st.type_name}.{window}_base/{window}_size")))
