"""Finding Jailhouse configuration sets in a tree (`hvcheck layout JAILHOUSE_TREE --all`).

A set is a system config and the cell configs that go with it. Jailhouse names them after the
board: a cell goes with the system config whose name is the longest prefix of the cell's name
(``qemu-arm64-inmate-demo`` → ``qemu-arm64``), looking only in the cell's own architecture
directory. A cell without such a prefix goes with the one system that shares the most leading
name parts with it, at least two (``k3-am654-inmate-demo`` → ``k3-am654-idk``); otherwise it is
reported unpaired (a scenario file's ``pair`` lines place it explicitly).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_TREE_CONFIGS = 10000   # config files considered in one tree

SUFFIXES = (".c", ".cell")


@dataclass
class ConfigRef:
    stem: str
    path: Path
    kind: str            # "system" or "cell"


@dataclass
class ConfigSet:
    arch_dir: Path
    system: ConfigRef
    cells: list[ConfigRef] = field(default_factory=list)
    how: dict[str, str] = field(default_factory=dict)   # cell stem -> why it is in this set


_QUOTED_INCLUDE = re.compile(rb'^\s*#\s*include\s+"([^"]+)"', re.M)
MAX_WRAPPER_DEPTH = 4   # `#include "other.c"` wrappers followed when telling a .c config's kind


def config_kind(path: Path, depth: int = 0) -> str | None:
    """'system' / 'cell' for a Jailhouse config file, None for anything else (cheap: no build). A
    .c wrapper that includes another config (imx8dxl-inmate-demo-aarch32.c) has that one's kind."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64 << 10 if path.suffix == ".c" else 8)
    except OSError:
        return None
    if path.suffix == ".c":
        if b"struct jailhouse_system" in head:
            return "system"
        if b"struct jailhouse_cell_desc" in head:
            return "cell"
        if depth < MAX_WRAPPER_DEPTH:
            for m in _QUOTED_INCLUDE.finditer(head):
                inner = path.parent / m.group(1).decode("utf-8", "replace")
                kind = config_kind(inner, depth + 1) if inner.suffix == ".c" and inner.is_file() else None
                if kind is not None:
                    return kind
        return None
    if head[:5] == b"JHSYS":
        return "system"
    if head[:5] == b"JHCLL" or head[:6] == b"JHCELL":
        return "cell"
    return None


def config_dirs(path: Path) -> list[Path]:
    """Directories that hold configs: configs/<arch> of a Jailhouse tree (or of a copy of its
    configs/), else the directory and its immediate subdirectories."""
    base = path / "configs" if (path / "configs").is_dir() else path
    try:
        subdirs = sorted(d for d in base.iterdir() if d.is_dir() and not d.name.startswith("."))
    except OSError:
        return []
    return subdirs if base is not path else [path, *subdirs]


def has_configs(path: Path) -> bool:
    """Whether a directory holds Jailhouse configs where --all would look (cheap: signatures only)."""
    seen = 0
    for directory in config_dirs(path):
        try:
            entries = sorted(directory.iterdir())
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_TREE_CONFIGS:
                return False
            if entry.suffix in SUFFIXES and entry.is_file() and config_kind(entry) is not None:
                return True
    return False


def scan(directory: Path, prefer_source: bool) -> list[ConfigRef]:
    """The configs of one directory; for a stem with both a .c and a .cell, the .c when it can be
    built (it gives source lines), else the .cell."""
    found: dict[str, dict[str, Path]] = {}
    for entry in sorted(directory.iterdir()):
        if entry.suffix in SUFFIXES and entry.is_file():
            found.setdefault(entry.stem, {})[entry.suffix] = entry
    out = []
    for stem, by_suffix in sorted(found.items()):
        order = (".c", ".cell") if prefer_source else (".cell", ".c")
        for suffix in order:
            p = by_suffix.get(suffix)
            if p is None:
                continue
            kind = config_kind(p)
            if kind is not None:
                out.append(ConfigRef(stem, p, kind))
                break
    return out


def _common_parts(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("-"), b.split("-"), strict=False):
        if x != y:
            break
        n += 1
    return n


def pair(configs: list[ConfigRef], arch_dir: Path,
         explicit: dict[str, list[str]] | None = None) -> tuple[list[ConfigSet], list[ConfigRef]]:
    """Sets of one architecture directory, and the cells left unpaired."""
    systems = [c for c in configs if c.kind == "system"]
    sets = {s.stem: ConfigSet(arch_dir, s) for s in systems}
    placed: set[str] = set()
    for system_stem, cell_stems in (explicit or {}).items():
        target = sets.get(system_stem)
        if target is None:
            continue
        for stem in cell_stems:
            cell = next((c for c in configs if c.kind == "cell" and c.stem == stem), None)
            if cell is not None and cell not in target.cells:
                target.cells.append(cell)
                target.how[cell.stem] = "scenario file"
                placed.add(stem)
    unpaired = []
    for cell in (c for c in configs if c.kind == "cell"):
        if cell.stem in placed:
            continue
        prefixed = [s for s in systems if (cell.stem + "-").startswith(s.stem + "-")]
        if prefixed:
            best = max(prefixed, key=lambda s: len(s.stem))
            sets[best.stem].cells.append(cell)
            sets[best.stem].how[cell.stem] = "name prefix"
            continue
        scored = sorted(((_common_parts(cell.stem, s.stem), s.stem) for s in systems), reverse=True)
        if scored and scored[0][0] >= 2 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
            sets[scored[0][1]].cells.append(cell)
            sets[scored[0][1]].how[cell.stem] = f"shares '{'-'.join(cell.stem.split('-')[:scored[0][0]])}'"
            continue
        unpaired.append(cell)
    return [sets[s.stem] for s in systems], unpaired
