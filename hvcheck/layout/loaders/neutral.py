"""The hypervisor-neutral layout file (YAML or JSON), documented in docs/layout-format.md with
its JSON Schema in docs/layout.schema.json. Every error names file:line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from hvcheck.errors import InputError, LimitExceeded
from hvcheck.findings import Location
from hvcheck.inputs import read_head
from hvcheck.layout.loaders import LoadOptions, Target
from hvcheck.layout.loaders.located import Node, read_located
from hvcheck.layout.model import (
    Board,
    Device,
    DeviceTreeFacts,
    Estimate,
    Hypervisor,
    HypervisorPart,
    ImageKind,
    LoadImage,
    Numbered,
    Region,
    RegionKind,
    ReservedRange,
    Span,
    System,
    Zone,
)
from hvcheck.units import U64_LIMIT, parse_size

FORMAT_KEY = "hvcheck-layout"
FORMAT_VERSION = 1
MAX_ITEMS = 100_000  # regions, devices, CPUs or IRQs in one list

REGION_KINDS = {
    "ram": RegionKind.RAM, "io": RegionKind.IO, "emulated": RegionKind.EMULATED,
    "virtio": RegionKind.EMULATED, "shared": RegionKind.SHARED, "reserved": RegionKind.RESERVED,
    "rom": RegionKind.ROM,
}


# ---------------------------------------------------------------- field readers


def _mapping(node: Node, what: str, allowed: set[str], required: frozenset[str] | set[str] = frozenset()) -> dict[str, Node]:
    if not isinstance(node.value, dict):
        raise node.fail(f"{what} must be a mapping, got {_kind(node)}")
    for key, child in node.value.items():
        if key not in allowed:
            hint = ", ".join(sorted(allowed))
            raise child.fail(f"unknown key {key!r} in {what} (expected one of: {hint})")
    for key in sorted(required):
        if key not in node.value:
            raise node.fail(f"{what} is missing required key {key!r}")
    return node.value


def _list(node: Node, what: str) -> list[Node]:
    if not isinstance(node.value, list):
        raise node.fail(f"{what} must be a list, got {_kind(node)}")
    if len(node.value) > MAX_ITEMS:
        raise LimitExceeded(node.path, f"{what} has {len(node.value)} entries; the limit is {MAX_ITEMS}", node.line)
    return node.value


def _kind(node: Node) -> str:
    v = node.value
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    return f"{v!r}"


def _int(node: Node, what: str, *, allow_zero: bool = True) -> int:
    v = node.value
    if isinstance(v, bool) or not isinstance(v, str):
        raise node.fail(f"{what} must be a number, got {_kind(node)}")
    try:
        n = parse_size(v)
    except ValueError:
        raise node.fail(f"{what}: {v!r} is not a number (use 0x-hex, decimal, or a size like 8M)") from None
    if n < 0:
        raise node.fail(f"{what} is negative ({v})")
    if n >= U64_LIMIT:
        raise node.fail(f"{what} {v} does not fit in 64 bits")
    if not allow_zero and n == 0:
        raise node.fail(f"{what} must not be zero")
    return n


def _str(node: Node, what: str) -> str:
    if not isinstance(node.value, str):
        raise node.fail(f"{what} must be a string, got {_kind(node)}")
    return node.value


def _bool(node: Node, what: str) -> bool:
    if not isinstance(node.value, bool):
        raise node.fail(f"{what} must be true or false, got {_kind(node)}")
    return node.value


def _range(m: dict[str, Node], node: Node, what: str, start_key: str = "start") -> tuple[int, int]:
    """start + size or start + end; end > 2^64 and size 0 are errors."""
    if start_key not in m:
        raise node.fail(f"{what} is missing {start_key!r}")
    start = _int(m[start_key], f"{what} {start_key}")
    if ("size" in m) == ("end" in m):
        raise node.fail(f"{what} needs exactly one of 'size' or 'end'")
    if "size" in m:
        size = _int(m["size"], f"{what} size", allow_zero=False)
        end = start + size
        if end > U64_LIMIT:
            raise m["size"].fail(f"{what} ends at {end:#x}, beyond the 64-bit address space")
    else:
        end = _int(m["end"], f"{what} end")
        if end <= start:
            raise m["end"].fail(f"{what} end {end:#x} is not above its start {start:#x}")
    return start, end


# ---------------------------------------------------------------- sections


def load_neutral(path: Path, *, elf: Path | None = None) -> System:
    root = read_located(path)
    top = _mapping(root, "layout file", {FORMAT_KEY, "name", "hypervisor", "board", "zones"},
                   {FORMAT_KEY, "zones"})
    version = _int(top[FORMAT_KEY], FORMAT_KEY)
    if version != FORMAT_VERSION:
        raise top[FORMAT_KEY].fail(f"unsupported {FORMAT_KEY} version {version} (this hvcheck reads {FORMAT_VERSION})")
    name = _str(top["name"], "name") if "name" in top else path.stem
    board = _board(top["board"], name) if "board" in top else Board(name=name)
    hv = _hypervisor(top["hypervisor"], path.parent, elf) if "hypervisor" in top else None
    zones = [_zone(z, path.parent) for z in _list(top["zones"], "zones")]
    seen: dict[str, Node] = {}
    for znode, zone in zip(_list(top["zones"], "zones"), zones, strict=True):
        if zone.name in seen:
            raise znode.fail(f"zone name {zone.name!r} already used at line {seen[zone.name].line}")
        seen[zone.name] = znode
    roots = [(znode, z) for znode, z in zip(_list(top["zones"], "zones"), zones, strict=True) if z.root]
    if len(roots) > 1:
        raise roots[1][0].fail(f"more than one zone is marked root: true (also {roots[0][1].name!r})")
    return System(name=name, source=root.loc(), hypervisor=hv, board=board, zones=zones)


def _board(node: Node, default_name: str) -> Board:
    m = _mapping(node, "board", {"name", "granule", "cpus", "memory", "io", "devices"})
    board = Board(name=_str(m["name"], "board name") if "name" in m else default_name)
    if "granule" in m:
        board.granule = _int(m["granule"], "board granule", allow_zero=False)
        if board.granule & (board.granule - 1):
            raise m["granule"].fail(f"granule {board.granule:#x} is not a power of two")
    if "cpus" in m:
        board.cpu_count = Numbered(_int(m["cpus"], "board cpus"), m["cpus"].loc())
    for key, target in (("memory", board.memory), ("io", board.io)):
        for item in _list(m[key], f"board {key}") if key in m else []:
            im = _mapping(item, f"board {key} entry", {"start", "size", "end", "label"})
            s, e = _range(im, item, f"board {key} entry")
            target.append(Span(s, e, item.loc()))
    for item in _list(m["devices"], "board devices") if "devices" in m else []:
        dm = _mapping(item, "device", {"name", "kind", "start", "size", "end"}, {"name"})
        s, e = _range(dm, item, "device")
        kind = _str(dm["kind"], "device kind") if "kind" in dm else "device"
        board.devices.append(Device(_str(dm["name"], "device name"), kind, s, e, item.loc()))
    return board


def _hypervisor(node: Node, base_dir: Path, elf_override: Path | None) -> Hypervisor:
    m = _mapping(node, "hypervisor", {"name", "start", "end", "size", "elf", "estimate", "parts", "base_alignment"})
    name = _str(m["name"], "hypervisor name") if "name" in m else "hypervisor"
    elf_path = elf_override
    if elf_path is None and "elf" in m:
        elf_path = base_dir / _str(m["elf"], "hypervisor elf")
    if elf_path is not None:
        hv = _hypervisor_from_elf(elf_path, name)
    else:
        if "start" not in m:
            raise node.fail("hypervisor needs 'start' (and 'end', 'size' or 'estimate'), or 'elf'")
        start = _int(m["start"], "hypervisor start")
        given = [k for k in ("end", "size", "estimate") if k in m]
        if len(given) != 1:
            raise node.fail("hypervisor needs exactly one of 'end', 'size' or 'estimate' (or an 'elf')")
        if "estimate" in m:
            hv = _estimated(m["estimate"], name, start, m["start"].loc())
        else:
            s, e = _range(m, node, "hypervisor")
            key = "end" if "end" in m else "size"
            hv = Hypervisor(name, s, e, m["start"].loc(), m[key].loc())
    for item in _list(m["parts"], "hypervisor parts") if "parts" in m else []:
        pm = _mapping(item, "hypervisor part", {"name", "start", "size", "end"}, {"name"})
        s, e = _range(pm, item, "hypervisor part")
        hv.parts.append(HypervisorPart(_str(pm["name"], "part name"), s, e, item.loc()))
    if "base_alignment" in m:
        hv.base_alignment = _int(m["base_alignment"], "hypervisor base_alignment", allow_zero=False)
        hv.base_alignment_source = m["base_alignment"].loc()
    return hv


def _estimated(node: Node, name: str, start: int, start_loc: Location) -> Hypervisor:
    m = _mapping(node, "hypervisor estimate", {"image", "extended"}, {"image", "extended"})
    bounds = _list(m["image"], "estimate image bounds")
    if len(bounds) != 2:
        raise m["image"].fail("estimate image must be [min, max], e.g. [2M, 8M]")
    lo, hi = _int(bounds[0], "image min"), _int(bounds[1], "image max")
    if lo > hi:
        raise m["image"].fail(f"image min {lo:#x} is above image max {hi:#x}")
    extended = _int(m["extended"], "estimate extended")
    end_min, end_max = start + lo + extended, start + hi + extended
    if end_max > U64_LIMIT:
        raise node.fail("estimated hypervisor end is beyond the 64-bit address space")
    formula = "end = start + image + extended (per-CPU areas + memory pool)"
    est = Estimate(formula, end_min, end_max,
                   f"image between {lo:#x} and {hi:#x} bytes, extended {extended:#x} bytes",
                   image_size=(lo, hi), fixed=start + extended)
    detail = f"estimated: {formula}; {est.assumption}; the checks use the largest end"
    hv = Hypervisor(name, start, end_max, start_loc, Location(node.path, node.line, detail=detail), estimate=est)
    hv.parts = [
        HypervisorPart("image (estimated)", start, start + hi, Location(node.path, node.line, detail="estimated")),
        HypervisorPart("per-CPU areas + pool (estimated)", start + hi, end_max,
                       Location(node.path, node.line, detail="estimated")),
    ]
    return hv


def _hypervisor_from_elf(path: Path, name: str) -> Hypervisor:
    from hvcheck.layout.loaders.elf import read_hv_extent

    extent = read_hv_extent(path)
    start, end = extent.start.value, extent.end.value
    src = extent.start.loc
    hv = Hypervisor(name, start, end, src, extent.end.loc)
    if extent.core_end is not None:
        core_end = extent.core_end.value
        hv.parts = [HypervisorPart("image", start, core_end, src),
                    HypervisorPart("per-CPU areas + pool", core_end, end, extent.core_end.loc)]
    return hv


def _zone(node: Node, base_dir: Path) -> Zone:
    m = _mapping(node, "zone", {"name", "id", "root", "cpus", "irqs", "regions", "images", "devicetree"}, {"name"})
    zone = Zone(
        name=_str(m["name"], "zone name"),
        zone_id=_int(m["id"], "zone id") if "id" in m else None,
        root=_bool(m["root"], "zone root") if "root" in m else False,
        source=node.loc(),
    )
    for key, target in (("cpus", zone.cpus), ("irqs", zone.irqs)):
        for item in _list(m[key], f"zone {key}") if key in m else []:
            target.append(Numbered(_int(item, f"zone {key} entry"), item.loc()))
    for item in _list(m["regions"], "zone regions") if "regions" in m else []:
        rm = _mapping(item, "region", {"kind", "start", "size", "end", "guest", "label"}, {"kind"})
        kind_text = _str(rm["kind"], "region kind").lower()
        if kind_text not in REGION_KINDS:
            raise rm["kind"].fail(f"unknown region kind {kind_text!r} (one of: {', '.join(REGION_KINDS)})")
        s, e = _range(rm, item, "region")
        guest = _int(rm["guest"], "region guest") if "guest" in rm else None
        if guest is not None and guest + (e - s) > U64_LIMIT:
            raise rm["guest"].fail("guest range ends beyond the 64-bit address space")
        label = _str(rm["label"], "region label") if "label" in rm else None
        zone.add_region(Region(REGION_KINDS[kind_text], s, e - s, item.loc(), guest, label))
    for item in _list(m["images"], "zone images") if "images" in m else []:
        im = _mapping(item, "image", {"kind", "address", "size"}, {"kind", "address"})
        kind_text = _str(im["kind"], "image kind").lower()
        try:
            kind = ImageKind(kind_text)
        except ValueError:
            raise im["kind"].fail(f"unknown image kind {kind_text!r} (kernel, dtb or initrd)") from None
        addr = _int(im["address"], "image address")
        size = _int(im["size"], "image size", allow_zero=False) if "size" in im else None
        zone.images.append(LoadImage(kind, addr, size, item.loc()))
    if "devicetree" in m:
        zone.devicetree = _devicetree(m["devicetree"], base_dir)
    return zone


def _devicetree(node: Node, base_dir: Path) -> DeviceTreeFacts:
    from hvcheck.layout.dtfacts import mem_limit_from_bootargs

    if isinstance(node.value, str):
        return _devicetree_file(base_dir / node.value, node)
    m = _mapping(node, "devicetree", {"path", "memory", "reserved", "memreserve", "bootargs"})
    if "path" in m:
        if len(m) > 1:
            raise node.fail("devicetree: give either 'path' or inline facts, not both")
        return _devicetree_file(base_dir / _str(m["path"], "devicetree path"), m["path"])
    dt = DeviceTreeFacts(path=f"{node.path}:{node.line}")
    for item in _list(m["memory"], "devicetree memory") if "memory" in m else []:
        mm = _mapping(item, "memory entry", {"start", "size", "end"})
        s, e = _range(mm, item, "memory entry")
        dt.memory.append(Span(s, e, item.loc()))
    for item in _list(m["reserved"], "devicetree reserved") if "reserved" in m else []:
        rm = _mapping(item, "reserved entry", {"start", "size", "end", "no-map", "name"})
        s, e = _range(rm, item, "reserved entry")
        no_map = _bool(rm["no-map"], "no-map") if "no-map" in rm else False
        name = _str(rm["name"], "reserved name") if "name" in rm else ""
        dt.reserved.append(ReservedRange(s, e, item.loc(), no_map, name))
    for item in _list(m["memreserve"], "devicetree memreserve") if "memreserve" in m else []:
        mm = _mapping(item, "memreserve entry", {"start", "size", "end"})
        s, e = _range(mm, item, "memreserve entry")
        dt.reserved.append(ReservedRange(s, e, item.loc(), False, "/memreserve/", memreserve=True))
    if "bootargs" in m:
        dt.bootargs = _str(m["bootargs"], "bootargs")
        try:
            limit = mem_limit_from_bootargs(dt.bootargs)
        except ValueError:
            raise m["bootargs"].fail("bootargs has a malformed mem= value") from None
        if limit is not None:
            dt.mem_limit = Numbered(limit, m["bootargs"].loc())
    return dt


def _devicetree_file(path: Path, node: Node) -> DeviceTreeFacts:
    try:
        from hvcheck.layout.loaders.devicetree import read_devicetree
    except ImportError:
        raise node.fail("device tree files need hvcheck.layout.loaders.devicetree (not in this build)") from None
    if not path.is_file():
        raise node.fail(f"device tree {path} not found")
    facts: DeviceTreeFacts = read_devicetree(path)
    return facts


# ---------------------------------------------------------------- registration (hvcheck.layout.loaders)


# The format key as a mapping key (YAML `hvcheck-layout: 1`, JSON `"hvcheck-layout": 1`), not just
# the words in a comment or a description.
_FORMAT_KEY_LINE = re.compile(rb'(?m)^\s*["\']?' + re.escape(FORMAT_KEY.encode()) + rb'["\']?\s*:')


class NeutralFormat:
    name = "neutral"
    description = "a neutral layout file (.yaml/.yml/.json with an 'hvcheck-layout' key: `hvcheck docs layout-format`)"
    options = frozenset({"elf"})

    def sniff(self, path: Path) -> int:
        if not path.is_file() or path.suffix.lower() not in (".yaml", ".yml", ".json"):
            return 0
        head = read_head(path, 4096)
        if head is None:
            return 10  # let load() report why it cannot be read
        # The format key near the top makes it certain; a bare suffix is a weak claim that other
        # formats (an hvisor zone JSON inside a board) outrank.
        return 60 if _FORMAT_KEY_LINE.search(head) else 10

    def load(self, paths: Sequence[Path], options: LoadOptions) -> System:
        if len(paths) != 1:
            raise InputError(str(paths[1]), "a neutral layout is one file; give one path")
        return load_neutral(paths[0], elf=options.elf)

    def discover(self, path: Path, options: LoadOptions | None = None) -> list[Target]:
        return []

    def load_target(self, target: Target, options: LoadOptions) -> System:
        return self.load(target.paths, options)


FORMAT = NeutralFormat()
