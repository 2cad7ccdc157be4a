"""An hvisor board as the layout model: board facts, the hypervisor's extent, the root zone and
the zone configs, assembled into one :class:`System` per combination of alternative configs."""

from __future__ import annotations

from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.findings import Location
from hvcheck.layout.loaders.hvisor.board import read_board
from hvcheck.layout.loaders.hvisor.extent import DEFAULT_IMAGE_SIZE, hypervisor_extent
from hvcheck.layout.loaders.hvisor.tree import open_board
from hvcheck.layout.loaders.hvisor.zones import root_zone, zone_configs
from hvcheck.layout.model import System, Zone


def load_hvisor_board(board_dir: Path, *, repo_root: Path | None = None, elf: Path | None = None,
                      root_dts: Path | None = None,
                      image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> System:
    """One hvisor board as a :class:`System` (the primary zone configs; see :func:`load_hvisor_variants`)."""
    return load_hvisor_variants(board_dir, repo_root=repo_root, elf=elf, root_dts=root_dts,
                                image_size=image_size, all_variants=False)[0]


def load_hvisor_variants(board_dir: Path, *, repo_root: Path | None = None, elf: Path | None = None,
                         root_dts: Path | None = None, image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
                         all_variants: bool = True) -> list[System]:
    """Zone JSONs with the same zone_id are alternatives (e.g. zone1-linux.json / zone1-ruxos.json):
    only one runs at a time, so each combination is its own System. The first is the primary
    (shortest file name per zone id)."""
    tree = open_board(Path(board_dir), repo_root)
    if image_size[0] <= 0 or image_size[1] < image_size[0]:
        raise InputError(None, f"--image-size {image_size[0]:#x}:{image_size[1]:#x}: need 0 < MIN <= MAX")
    ns, board_rs = tree.namespace()
    for line, message, _bad in board_rs.syntax_errors:
        tree.notes.append(f"{board_rs.path}:{line}: {message} (outside every constant the layout uses; ignored)")

    board = read_board(tree, ns, board_rs)
    hv = hypervisor_extent(tree, ns, elf, image_size)
    root = root_zone(tree, ns, board_rs, root_dts)
    groups = zone_configs(tree, board)
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
        systems.append(System(name, Location(str(tree.board_file), None), hv, board, [root, *combo], notes))
    return systems
