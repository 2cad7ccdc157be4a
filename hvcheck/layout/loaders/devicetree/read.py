"""`read_devicetree`: a `.dts` or `.dtb` file to its facts, cached by content (see the package docstring)."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.layout.loaders.devicetree.dts import digest, parse_dts, read_dt_bytes
from hvcheck.layout.loaders.devicetree.facts import DeviceTreeInfo, facts_of
from hvcheck.layout.loaders.devicetree.fdt import is_fdt, parse_fdt

MAX_CACHED_DEVICE_TREES = 128

_Key = tuple[str, bytes, tuple[str, ...]]
_CACHE: OrderedDict[_Key, tuple[DeviceTreeInfo, list[tuple[Path, bytes | None]]]] = OrderedDict()


def read_devicetree(path: Path, include_dirs: list[Path] | None = None) -> DeviceTreeInfo:
    """Memory-related facts of a `.dts` or `.dtb`."""
    path = Path(path)
    name = str(path)
    raw = read_dt_bytes(path)
    key = (name, digest(raw), tuple(str(d) for d in include_dirs or []))
    hit = _CACHE.get(key)
    if hit is not None and all(_digest_or_none(p) == d for p, d in hit[1]):
        _CACHE.move_to_end(key)
        return _copy(hit[0])
    facts = DeviceTreeInfo(name)
    if is_fdt(raw):
        root, memreserve = parse_fdt(path, raw)
        probes: list[tuple[Path, bytes | None]] = []
    else:
        if path.suffix.lower() == ".dtb":
            raise InputError(name, f"not a DTB: magic {raw[:4].hex()}, expected d00dfeed")
        parser = parse_dts(path, include_dirs, raw)
        for inc in parser.missing_includes:
            facts.unknown.append(f"#include {inc} not found: facts defined only there are unknown")
        facts.unknown.extend(parser.unknown)
        root, memreserve, probes = parser.root, parser.memreserve, parser.probes
    facts_of(root, memreserve, facts)
    _CACHE[key] = (facts, probes)
    if len(_CACHE) > MAX_CACHED_DEVICE_TREES:
        _CACHE.popitem(last=False)
    return _copy(facts)


def _digest_or_none(path: Path) -> bytes | None:
    try:
        if not path.is_file():
            return None
        return digest(read_dt_bytes(path))
    except (OSError, ValueError):
        return None
    except InputError:
        return b"unreadable"


def _copy(facts: DeviceTreeInfo) -> DeviceTreeInfo:
    """A copy whose lists the caller may change without touching the cached facts."""
    return dataclasses.replace(facts, memory=list(facts.memory), reserved=list(facts.reserved),
                               unknown=list(facts.unknown), cpus=list(facts.cpus),
                               interrupt_controllers=list(facts.interrupt_controllers))
