"""The loader registry: every input format that becomes a :class:`hvcheck.layout.model.System`.

A format is a module (or package) in this package that defines ``FORMAT``, an object with:

- ``name`` and ``description`` (for messages and `--help`);
- ``options``: the :class:`LoadOptions` fields it understands (others given by the user are refused
  with a message naming the format);
- ``sniff(path) -> int``: how sure it is that ``path`` is its input (0 = not mine; a file *inside* a
  tree the format owns may score higher than a bare suffix match);
- ``load(paths, options) -> System``: the model (raises ``InputError`` for bad input);
- ``discover(path, options) -> list[Target]``: for `--all`, the independent systems under a tree
  (boards, board sets); ``[]`` when the path is not such a tree.

Formats are found by scanning this package, so a new format is one new module or subpackage here
(plus its fixtures and tests): the rules, fix planning, reporters and the map never change.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Protocol

from hvcheck.errors import InputError
from hvcheck.inputs import refuse_special, special_kind
from hvcheck.layout.model import System


@dataclass(frozen=True)
class LoadOptions:
    """What the user may tell a loader beyond the paths (each format declares which it accepts)."""

    elf: Path | None = None                      # linked hypervisor ELF: exact extent
    board: str | None = None                     # pick one board of a tree
    root_dts: Path | None = None                 # override the root zone's device tree
    image_size: tuple[int, int] | None = None    # bounds for an estimated image size
    cpus: int | None = None                      # CPU count where the layout depends on it
    jailhouse_src: Path | None = None            # Jailhouse source tree to build .c configs against
    together: tuple[str, ...] | None = None      # groups of cells that run at the same time ("A,B,C")
    scenario: Path | None = None                 # scenario file: which cells run together / go with a system

    def given(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


@dataclass(frozen=True)
class Target:
    """One independently checkable system found under a tree by ``discover`` (a board, a set)."""

    name: str
    paths: tuple[Path, ...]
    root: Path | None = None   # the tree it was found in (some formats resolve shared files from it)
    notes: tuple[str, ...] = ()  # how discovery put it together (pairing), reported with its results


class LayoutFormat(Protocol):
    name: str
    description: str
    options: frozenset[str]

    def sniff(self, path: Path) -> int: ...

    def load(self, paths: Sequence[Path], options: LoadOptions) -> System: ...

    def discover(self, path: Path, options: LoadOptions | None = None) -> list[Target]: ...

    def load_target(self, target: Target, options: LoadOptions) -> System: ...


OPTION_FLAGS = {"elf": "--elf", "board": "--board", "root_dts": "--root-dts", "image_size": "--image-size",
                "cpus": "--cpus", "jailhouse_src": "--jailhouse-src", "together": "--together",
                "scenario": "--scenario"}

_FORMATS: list[LayoutFormat] | None = None


def formats() -> list[LayoutFormat]:
    """Every registered format (modules of this package that define FORMAT), in name order."""
    global _FORMATS
    if _FORMATS is None:
        found: list[LayoutFormat] = []
        for info in pkgutil.iter_modules(__path__):
            module = importlib.import_module(f"{__name__}.{info.name}")
            fmt = getattr(module, "FORMAT", None)
            if fmt is not None:
                found.append(fmt)
        _FORMATS = sorted(found, key=lambda f: f.name)
    return _FORMATS


def format_named(name: str) -> LayoutFormat:
    for fmt in formats():
        if fmt.name == name:
            return fmt
    raise KeyError(name)


# A claim at least this sure means "this file is certainly mine" (a format key, a file inside a
# board); below it a format only guesses from a suffix.
SURE = 20


def recognise(path: Path, min_score: int = 1) -> LayoutFormat:
    """The format that claims ``path`` most surely, or an InputError that lists what is accepted."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "no such file or directory")
    best: tuple[int, LayoutFormat] | None = None
    for fmt in formats():
        score = fmt.sniff(path)
        if score >= min_score and (best is None or score > best[0]):
            best = (score, fmt)
    if best is None:
        kind = special_kind(path.stat().st_mode)
        if kind is not None and kind != "a directory":
            refuse_special(str(path), path.stat())
        accepted = "; ".join(f"{f.description}" for f in formats())
        raise InputError(str(path), f"not a layout this hvcheck reads (accepted: {accepted})")
    return best[1]


def check_options(fmt: LayoutFormat, path: Path, options: LoadOptions) -> None:
    extra = [name for name in options.given() if name not in fmt.options]
    if extra:
        flags = ", ".join(OPTION_FLAGS.get(n, n) for n in extra)
        raise InputError(str(path), f"{flags} do(es) not apply to {fmt.description}")


def load_paths(paths: Sequence[Path], options: LoadOptions = LoadOptions()) -> System:
    """Load one system from one or more paths (the first decides the format)."""
    if not paths:
        raise InputError(None, "no layout given")
    fmt = recognise(paths[0])
    check_options(fmt, paths[0], options)
    return fmt.load([Path(p) for p in paths], options)


def system_of(path: Path) -> tuple[LayoutFormat, Path] | None:
    """For a changed file: the format and the system (layout file, board directory, ...) it belongs
    to, or None when no format claims it. A format may define ``system_of(path)``; by default a
    path is its own system."""
    try:
        fmt = recognise(path, SURE)
    except InputError:
        return None
    finder = getattr(fmt, "system_of", None)
    return fmt, (finder(path) if finder is not None else path)


def discover(path: Path, options: LoadOptions = LoadOptions()) -> tuple[LayoutFormat, list[Target]]:
    """For `--all`: the format of the tree at ``path`` and every system under it."""
    fmt = recognise(path)
    check_options(fmt, path, options)
    targets = fmt.discover(Path(path), options)
    if not targets:
        raise InputError(str(path), f"--all needs a tree with several systems; {fmt.description} has none here")
    return fmt, targets


def load_layout(
    path: Path,
    *,
    elf: Path | None = None,
    board: str | None = None,
    root_dts: Path | None = None,
    image_size: tuple[int, int] | None = None,
    cpus: int | None = None,
) -> System:
    """One system from ``path`` in whichever registered format recognises it."""
    return load_paths([Path(path)], LoadOptions(elf=elf, board=board, root_dts=root_dts, image_size=image_size,
                                                cpus=cpus))
