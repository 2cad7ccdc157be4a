"""An hvisor board as the layout model: board facts, the hypervisor's extent, the root zone and
the zone configs, assembled into one :class:`System` per combination of alternative configs."""

from __future__ import annotations

from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.findings import Location
from hvcheck.layout.loaders.boardrs import Namespace
from hvcheck.layout.loaders.devicetree import DeviceTreeInfo
from hvcheck.layout.loaders.hvisor.board import read_board
from hvcheck.layout.loaders.hvisor.build import MakeVars, board_make_vars, qemu_smp
from hvcheck.layout.loaders.hvisor.extent import DEFAULT_IMAGE_SIZE, cpu_count, hypervisor_extent, int_const
from hvcheck.layout.loaders.hvisor.tree import BoardTree, open_board
from hvcheck.layout.loaders.hvisor.zones import root_zone, zone_configs
from hvcheck.layout.model import Hypervisor, System, Zone


def load_hvisor_board(board_dir: Path, *, repo_root: Path | None = None, elf: Path | None = None,
                      root_dts: Path | None = None,
                      image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE, cpus: int | None = None) -> System:
    """One hvisor board as a :class:`System` (the primary zone configs; see :func:`load_hvisor_variants`)."""
    return load_hvisor_variants(board_dir, repo_root=repo_root, elf=elf, root_dts=root_dts,
                                image_size=image_size, cpus=cpus, all_variants=False)[0]


def load_hvisor_variants(board_dir: Path, *, repo_root: Path | None = None, elf: Path | None = None,
                         root_dts: Path | None = None, image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
                         cpus: int | None = None, all_variants: bool = True) -> list[System]:
    """Zone JSONs with the same zone_id are alternatives (e.g. zone1-linux.json / zone1-ruxos.json):
    only one runs at a time, so each combination is its own System. The first is the primary
    (shortest file name per zone id).

    An input that cannot be read (a zone config, a device tree, the constants the extent needs)
    is recorded as an input problem (E001) and what depends on it is left out; everything else
    is still checked. board.rs itself is the one input without which there is no board."""
    tree = open_board(Path(board_dir), repo_root)
    if image_size[0] <= 0 or image_size[1] < image_size[0]:
        raise InputError(None, f"--image-size {image_size[0]:#x}:{image_size[1]:#x}: need 0 < MIN <= MAX")
    if cpus is not None and cpus <= 0:
        raise InputError(None, f"--cpus {cpus}: need at least one CPU")
    ns, board_rs = tree.namespace()
    for line, message, _bad in board_rs.syntax_errors:
        tree.notes.append(f"{board_rs.path}:{line}: {message} (outside every constant the layout uses; ignored)")

    board = read_board(tree, ns, board_rs)
    make = board_make_vars(tree)
    extent_notes_at = len(tree.notes)   # the extent's notes go here, as when it was read first
    root = root_zone(tree, ns, board_rs, root_dts, make)
    groups = zone_configs(tree, board)
    zone_notes = tree.notes[extent_notes_at:]
    del tree.notes[extent_notes_at:]
    hv = _extent(tree, ns, elf, image_size, cpus, make, [root, *(z for g in groups.values() for z in g)])
    tree.notes.extend(zone_notes)
    combos: list[list[Zone]] = [[]]
    for _zid, alternatives in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        if all_variants:
            combos = [c + [z] for c in combos for z in alternatives]
        else:
            combos = [c + [alternatives[0]] for c in combos]
    systems = []
    for combo in combos:
        notes = list(tree.notes)
        for _zid, alternatives in groups.items():
            if len(alternatives) > 1:
                chosen = next(z for z in combo if z in alternatives)
                others = ", ".join(z.source.path or z.name for z in alternatives if z is not chosen)
                notes.append(f"zone id {chosen.zone_id}: {chosen.source.path} is checked here; the alternative "
                             f"config(s) {others} use the same zone id (only one runs at a time)")
        name = f"{tree.arch}/{tree.name}"
        if len(combos) > 1 and combo is not combos[0]:
            name += " [" + ", ".join(Path(z.source.path or "").name for z in combo) + "]"
        systems.append(System(name, Location(str(tree.board_file), None), hv, board, [root, *combo], notes,
                              list(tree.problems)))
    return systems


def _extent(tree: BoardTree, ns: Namespace, elf: Path | None, image_size: tuple[int, int], cpus: int | None,
            make: MakeVars | None, zones: list[Zone]) -> Hypervisor | None:
    """The hypervisor's extent, with the per-CPU areas counted as this commit's code counts them.
    Constants or a linker script that cannot be read hide the extent (E001), not the board."""
    try:
        max_cpus = int_const(ns, "MAX_CPU_NUM")
        model = None
        if max_cpus is not None and elf is None:
            root_dt = zones[0].devicetree
            dt_cpus = len(root_dt.cpus) if isinstance(root_dt, DeviceTreeInfo) else None
            used = max((n.number + 1 for z in zones for n in z.cpus), default=1)
            model = cpu_count(tree, ns, max_cpus[0], max_cpus[1], cpus_option=cpus, used_cpus=used,
                              dt_cpus=dt_cpus, smp=qemu_smp(make) if make is not None else None)
        return hypervisor_extent(tree, ns, elf, image_size, model)
    except InputError as exc:
        if elf is not None and exc.path == str(elf):
            raise   # the ELF the user named is unreadable: that is the command's input
        missing = "" if tree.repo is None or (tree.repo / "src" / "arch" / tree.arch).is_dir() else \
            f" (this commit has no src/arch/{tree.arch}: hvisor does not build for this board here)"
        tree.problem(InputError(exc.path, exc.message + missing, exc.line),
                     "the hypervisor's extent: M001, M002, M006 (hypervisor), M008 (hypervisor), M013, M014",
                     "hypervisor")
        return None
