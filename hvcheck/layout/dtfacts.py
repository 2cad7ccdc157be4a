"""What a zone's kernel does with the memory its device tree describes.

Linux (arm64, riscv) semantics used here:
- `/memory` ranges are the RAM the kernel knows about.
- `/reserved-memory` children with `no-map` are removed from the linear map and never allocated.
- children without `no-map`, and `/memreserve/` entries, are never allocated but stay mapped.
- `mem=SIZE` in `chosen/bootargs` keeps only the first SIZE bytes of memory, counted from the
  lowest address upwards (memblock_enforce_memory_limit); the rest is ignored.
All addresses are guest-physical.
"""

from __future__ import annotations

import re

from hvcheck.layout.intervals import Range, intersect, subtract, union
from hvcheck.layout.model import DeviceTreeFacts
from hvcheck.units import parse_size

_MEM_ARG = re.compile(r"(?:^|\s)mem=(\S+)")


def mem_limit_from_bootargs(bootargs: str) -> int | None:
    """The byte limit of the last `mem=` in a command line, or None; ValueError if malformed."""
    matches = _MEM_ARG.findall(bootargs)
    if not matches:
        return None
    value = matches[-1].split("@", 1)[0].split("$", 1)[0]  # mem=size@start forms: size part
    return parse_size(value)


def _apply_mem_limit(ranges: list[Range], limit: int | None) -> list[Range]:
    if limit is None:
        return ranges
    out: list[Range] = []
    left = limit
    for s, e in ranges:
        if left <= 0:
            break
        take = min(e - s, left)
        out.append((s, s + take))
        left -= take
    return out


def known_memory(dt: DeviceTreeFacts) -> list[Range]:
    """RAM the kernel uses at all: /memory cut by mem=."""
    limit = dt.mem_limit.number if dt.mem_limit else None
    return _apply_mem_limit(union((m.start, m.end) for m in dt.memory), limit)


def mapped_by_kernel(dt: DeviceTreeFacts) -> list[Range]:
    """Memory the kernel maps in its linear map (and so may touch): known memory minus no-map."""
    no_map = [(r.start, r.end) for r in dt.reserved if r.no_map and not r.memreserve]
    return subtract(known_memory(dt), no_map)


def allocatable(dt: DeviceTreeFacts) -> list[Range]:
    """Memory the kernel's page allocator may hand out: known memory minus every reservation."""
    return subtract(known_memory(dt), [(r.start, r.end) for r in dt.reserved])


def reserved_without_no_map(dt: DeviceTreeFacts) -> list[Range]:
    return union((r.start, r.end) for r in dt.reserved if not r.no_map)


def covered(ranges: list[Range], target: Range) -> list[Range]:
    return intersect(ranges, [target])
