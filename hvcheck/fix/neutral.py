"""Edits to a neutral layout file (YAML or JSON, docs/layout-format.md): split zone regions,
add or widen inline device-tree reservations, move the hypervisor's start/end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hvcheck.fix import yamltext as yt
from hvcheck.fix.numfmt import format_like
from hvcheck.fix.plan import Plan, Reservation
from hvcheck.fix.textedit import FileEdits, FixError
from hvcheck.units import hex_range, parse_size


def _int(node: Any) -> int | None:
    try:
        return parse_size(str(node.value))
    except (ValueError, AttributeError):
        return None


def _zone_node(root: Any, name: str) -> Any:
    zones = yt.value(root, "zones")
    for z in zones.value if zones is not None else []:
        n = yt.value(z, "name")
        if n is not None and n.value == name:
            return z
    raise FixError(f"zone {name!r} not found in the layout file")


def _range_subs(item: Any, start: int, end: int, guest: int | None = None) -> list[tuple[Any, int]]:
    subs: list[tuple[Any, int]] = []
    if (n := yt.value(item, "start")) is not None:
        subs.append((n, start))
    if (n := yt.value(item, "size")) is not None:
        subs.append((n, end - start))
    if (n := yt.value(item, "end")) is not None:
        subs.append((n, end))
    if guest is not None and (n := yt.value(item, "guest")) is not None:
        subs.append((n, guest))
    return subs


def neutral_edits(path: Path, text: str, plan: Plan, *, devicetree_files: dict[str, Any] | None = None) -> FileEdits:
    """Edits of the layout file itself. Reservations of zones whose device tree is a separate
    file are left to the DTS editor (``devicetree_files`` names those zones)."""
    fe = FileEdits(path, text)
    root = yt.compose(text, str(path))
    json_style = path.suffix.lower() == ".json"
    by_zone: dict[str, list] = {}
    for split in plan.splits:
        by_zone.setdefault(split.zone, []).append(split)
    for zone_name, splits in by_zone.items():
        zone = _zone_node(root, zone_name)
        got = yt.get(zone, "regions")
        if got is None:
            raise FixError(f"{path}: zone {zone_name} has no regions list")
        key, regions = got
        changes = {}
        for split in splits:
            item = regions.value[split.index]
            r = split.region
            changes[split.index] = [
                _range_subs(item, s, e, None if r.guest_start is None else r.guest_start + (s - r.start))
                for s, e in split.pieces]
            fe.explain(split.why + ".")
        yt.rewrite_items(fe, regions, changes, splits[0].why, key)
    new_entries: dict[str, list[Reservation]] = {}
    for res in plan.reservations:
        if devicetree_files and res.zone in devicetree_files:
            continue
        if not _widen(fe, root, res, json_style) and not _shrink(fe, root, res):
            new_entries.setdefault(res.zone, []).append(res)
    for zone_name, entries in new_entries.items():
        _add_reservations(fe, root, zone_name, entries, json_style)
    if plan.relocation is not None:
        _relocate(fe, root, plan)
    return fe


def _sample_number(zone: Any, dt: Any) -> str:
    for container, key in ((dt, "memory"), (zone, "regions")):
        seq = yt.value(container, key)
        for item in seq.value if seq is not None else []:
            n = yt.value(item, "start")
            if n is not None and str(n.value).lower().startswith("0x"):
                return str(n.value)
    return "0x0"


def _dt_node(root: Any, zone_name: str) -> tuple[Any, Any]:
    zone = _zone_node(root, zone_name)
    dt = yt.value(zone, "devicetree")
    if dt is None or not isinstance(dt.value, list):
        raise FixError(f"zone {zone_name}: its device tree is not given inline; cannot add a reservation here")
    return zone, dt


def _widen(fe: FileEdits, root: Any, res: Reservation, json_style: bool) -> bool:
    """Widen the existing reservation ``res.widen`` in place; False when there is none."""
    if res.widen is None:
        return False
    text = fe.original
    _, dt = _dt_node(root, res.zone)
    reserved = yt.value(dt, "reserved")
    for item in reserved.value if reserved is not None else []:
        s, size, e = (_int(yt.value(item, k)) if yt.value(item, k) is not None else None
                      for k in ("start", "size", "end"))
        end = e if e is not None else (s + size if s is not None and size is not None else None)
        if s != res.widen.start or end != res.widen.end:
            continue
        for node, v in _range_subs(item, res.start, res.end):
            ed = yt.number_edit(text, node, v)
            if ed:
                fe.add(*ed, why=res.why)
        nm = yt.value(item, "no-map")
        if nm is None:
            yt.add_key(fe, item, '"no-map"' if json_style else "no-map", "true", res.why)
        elif str(nm.value).lower() not in ("true", "yes", "on", "y"):
            fe.add(nm.start_mark.index, nm.end_mark.index, "true", res.why)
        fe.explain(res.why + f"; the existing reservation {hex_range(res.widen.start, res.widen.end)} is "
                   f"widened to {hex_range(res.start, res.end)} with no-map.")
        return True
    return False


def _shrink(fe: FileEdits, root: Any, res: Reservation) -> bool:
    """Shrink the /memory entry whose head or tail is the range (see Reservation.memory)."""
    if res.memory is None:
        return False
    _, dt = _dt_node(root, res.zone)
    memory = yt.value(dt, "memory")
    for item in memory.value if memory is not None else []:
        s, size, e = (_int(yt.value(item, k)) if yt.value(item, k) is not None else None
                      for k in ("start", "size", "end"))
        end = e if e is not None else (s + size if s is not None and size is not None else None)
        if s is None or end is None or (s, end) != (res.memory.start, res.memory.end):
            continue
        ns, ne = res.remainder()
        for node, v in _range_subs(item, ns, ne):
            ed = yt.number_edit(fe.original, node, v)
            if ed:
                fe.add(*ed, why=res.why)
        res.shrunk = True
        fe.explain(res.why + f"; the range is the {'head' if res.start == s else 'tail'} of the /memory entry "
                   f"{hex_range(s, end)}, so that entry shrinks to {hex_range(ns, ne)} — cleaner than a "
                   "reservation: the kernel never sees the range at all.")
        return True
    return False


def _add_reservations(fe: FileEdits, root: Any, zone_name: str, entries: list[Reservation],
                      json_style: bool) -> None:
    zone, dt = _dt_node(root, zone_name)
    sample = _sample_number(zone, dt)
    texts = []
    for res in entries:
        a, b = format_like(sample, res.start), format_like(sample, res.end)
        if json_style:
            texts.append(f'{{"name": "{res.name}", "start": "{a}", "end": "{b}", "no-map": true}}')
        else:
            texts.append(f"{{name: {res.name}, start: {a}, end: {b}, no-map: true}}")
    reserved = yt.value(dt, "reserved")
    why = entries[0].why
    if reserved is not None:
        for t in texts:
            yt.append_item(fe, reserved, t, why)
    else:
        yt.add_key(fe, dt, '"reserved"' if json_style else "reserved", "[" + ", ".join(texts) + "]", why)
    for res in entries:
        fe.explain(res.why + f"; added reservation {hex_range(res.start, res.end)} with no-map (chosen over "
                   "shrinking /memory so the hole stays visible in the device tree).")


def _relocate(fe: FileEdits, root: Any, plan: Plan) -> None:
    rel = plan.relocation
    assert rel is not None
    text = fe.original
    hv = yt.value(root, "hypervisor")
    if hv is None:
        raise FixError("the layout file has no hypervisor section to relocate")
    if yt.value(hv, "elf") is not None:
        raise FixError("the hypervisor's extent comes from its ELF: change BASE_ADDRESS in the linker script, "
                       "relink, and point the layout at the new ELF")
    d = rel.delta
    for key in ("start", "end"):
        n = yt.value(hv, key)
        old = _int(n) if n is not None else None
        if n is not None and old is not None:
            ed = yt.number_edit(text, n, old + d)
            if ed:
                fe.add(*ed, why=rel.why)
    parts = yt.value(hv, "parts")
    for item in parts.value if parts is not None else []:
        s = _int(yt.value(item, "start"))
        for key in ("start", "end"):
            n = yt.value(item, key)
            old = _int(n) if n is not None else None
            if n is not None and s is not None and old is not None:
                ed = yt.number_edit(text, n, old + d)
                if ed:
                    fe.add(*ed, why=rel.why)
    fe.explain(f"Move the hypervisor from {rel.old_start:#x} to {rel.new_start:#x}: {rel.why}.")
