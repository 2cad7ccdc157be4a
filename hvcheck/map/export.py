"""The layout model as JSON: every owner, region, device, device-tree fact and load image with
its ``[start, end)`` and the source it came from (docs/layout-model.md, layout-model.schema.json).

Integers are plain Python ints here; the JSON reporter writes them as 0x-hex strings (DESIGN.md
§3) except line numbers, which stay integers. ``MODEL_VERSION`` changes only when a field is
renamed or removed (never, by the contract: fields are added).
"""

from __future__ import annotations

from typing import Any

from hvcheck.findings import Location
from hvcheck.layout.model import (
    Board,
    DeviceTreeFacts,
    Hypervisor,
    HypervisorPart,
    LoadImage,
    Numbered,
    Region,
    Span,
    System,
    Zone,
)

MODEL_VERSION = 1


def part_is_estimated(hv: Hypervisor, part: HypervisorPart) -> bool:
    """A part whose bounds rest on an assumed image size (no ELF): drawn as a range, not solid."""
    return hv.estimate is not None or (part.source.detail or "").startswith("estimated")


def _loc(loc: Location) -> dict[str, Any]:
    return loc.to_json()


def _span(span: Span) -> dict[str, Any]:
    return {"start": span.start, "end": span.end, "source": _loc(span.source)}


def _numbered(n: Numbered) -> dict[str, Any]:
    return {"number": n.number, "source": _loc(n.source)}


def _hypervisor(hv: Hypervisor) -> dict[str, Any]:
    est = hv.estimate
    return {
        "name": hv.name,
        "start": hv.start,
        "end": hv.end,
        "source": _loc(hv.source),
        "end_source": _loc(hv.end_source),
        "estimated": est is not None,
        "estimate": None if est is None else {
            "formula": est.formula, "end_min": est.end_min, "end_max": est.end_max, "assumption": est.assumption},
        "base_alignment": hv.base_alignment,
        "parts": [{"name": p.name, "start": p.start, "end": p.end, "estimated": part_is_estimated(hv, p),
                   "source": _loc(p.source)} for p in hv.parts],
    }


def _board(board: Board) -> dict[str, Any]:
    return {
        "name": board.name,
        "granule": board.granule,
        "cpu_count": None if board.cpu_count is None else _numbered(board.cpu_count),
        "memory": [_span(s) for s in board.memory],
        "io": [_span(s) for s in board.io],
        "devices": [{"name": d.name, "kind": d.kind, "start": d.start, "end": d.end, "source": _loc(d.source)}
                    for d in board.devices],
    }


def _region(r: Region) -> dict[str, Any]:
    return {"kind": r.kind.value, "start": r.start, "end": r.end, "size": r.size, "guest_start": r.gstart,
            "label": r.label, "source": _loc(r.source)}


def _image(img: LoadImage) -> dict[str, Any]:
    return {"kind": img.kind.value, "address": img.address, "size": img.size, "source": _loc(img.source)}


def _devicetree(dt: DeviceTreeFacts) -> dict[str, Any]:
    return {
        "path": dt.path,
        "memory": [_span(s) for s in dt.memory],
        "reserved": [{"name": r.name, "start": r.start, "end": r.end, "no_map": r.no_map,
                      "memreserve": r.memreserve, "source": _loc(r.source)} for r in dt.reserved],
        "mem_limit": None if dt.mem_limit is None else _numbered(dt.mem_limit),
        "bootargs": dt.bootargs,
        "unknown": list(dt.unknown),
    }


def _zone(z: Zone) -> dict[str, Any]:
    return {
        "name": z.name,
        "id": z.zone_id,
        "root": z.root,
        "source": _loc(z.source),
        "cpus": [_numbered(n) for n in z.cpus],
        "irqs": [_numbered(n) for n in z.irqs],
        "regions": [_region(r) for r in z.regions],
        "images": [_image(i) for i in z.images],
        "devicetree": None if z.devicetree is None else _devicetree(z.devicetree),
    }


def export_system(system: System) -> dict[str, Any]:
    """The whole model of one system, JSON-ready except that integers are still ints."""
    return {
        "model_version": MODEL_VERSION,
        "name": system.name,
        "source": _loc(system.source),
        "hypervisor": None if system.hypervisor is None else _hypervisor(system.hypervisor),
        "board": _board(system.board),
        "zones": [_zone(z) for z in system.zones],
        "notes": list(system.notes),
    }
