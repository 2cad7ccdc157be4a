"""Turn an hvisor checkout (github syswonder/hvisor) into the layout model (docs/hvisor.md).

Two layouts exist:
- current: ``platform/<arch>/<board>/`` with ``board.rs``, ``linker.ld``, ``configs/*.json``,
  ``image/dts/*.dts``, ``platform.mk``, ``cargo/features``;
- earlier (2024 - early 2025): ``src/platform/<board>_<arch>.rs``, ``scripts/<board>-<arch>.ld``,
  ``images/<arch>/devicetree/*.json|dts``.

One module per job: :mod:`.discovery` (which boards a checkout has), :mod:`.tree` (the
:class:`BoardTree` of one board: its files, features and constants, shared with `hvcheck fix`),
:mod:`.linker` (the linker script), :mod:`.extent` (the hypervisor's range, exact from an ELF or
estimated), :mod:`.board` (board facts), :mod:`.zones` (root zone and zone JSONs),
:mod:`.devicetrees` (which device tree each zone boots with), :mod:`.load` (the assembly).
This module registers the format with :mod:`hvcheck.layout.loaders`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.layout.loaders import LoadOptions, Target
from hvcheck.layout.loaders.hvisor.discovery import (
    ARCHES,
    BoardRef,
    board_of_file,
    discover_boards,
    find_repo_root,
    is_hvisor_tree,
    resolve_board,
)
from hvcheck.layout.loaders.hvisor.extent import DEFAULT_IMAGE_SIZE
from hvcheck.layout.loaders.hvisor.load import load_hvisor_board, load_hvisor_variants
from hvcheck.layout.loaders.hvisor.tree import RUST_CONFIG_FILES, BoardTree, open_board
from hvcheck.layout.model import System

__all__ = ["ARCHES", "DEFAULT_IMAGE_SIZE", "FORMAT", "RUST_CONFIG_FILES", "BoardRef", "BoardTree",
           "board_of_file", "discover_boards", "find_repo_root", "is_hvisor_tree", "load_hvisor_board",
           "load_hvisor_variants", "open_board", "resolve_board"]


class HvisorFormat:
    name = "hvisor"
    description = "an hvisor checkout, board directory (platform/<arch>/<board>) or file inside a board"
    options = frozenset({"elf", "board", "root_dts", "image_size", "cpus"})

    def sniff(self, path: Path) -> int:
        if path.is_dir():
            return 50 if is_hvisor_tree(path) else 0
        if is_hvisor_tree(path):
            return 50
        return 30 if board_of_file(path) is not None else 0

    def load(self, paths: Sequence[Path], options: LoadOptions) -> System:
        if len(paths) != 1:
            raise InputError(str(paths[1]), "an hvisor board is one directory; give one path (or --all)")
        path = paths[0]
        if path.is_file() and not is_hvisor_tree(path):
            board_dir = board_of_file(path)
            assert board_dir is not None  # sniff() claimed it
            path = board_dir
        target = resolve_board(path, options.board) if options.board else path
        if not options.board and path.is_dir() and not (path / "board.rs").is_file():
            boards = discover_boards(path)
            if len(boards) > 1:
                names = ", ".join(b.name for b in boards)
                raise InputError(str(path), f"an hvisor checkout with {len(boards)} boards: give --board NAME or "
                                            f"--all (boards: {names})")
            if boards:
                target = boards[0].path
        return load_hvisor_board(target, elf=options.elf, root_dts=options.root_dts,
                                 image_size=options.image_size or DEFAULT_IMAGE_SIZE, cpus=options.cpus)

    def system_of(self, path: Path) -> Path:
        """A file inside a board belongs to its board directory."""
        if path.is_file() and not is_hvisor_tree(path):
            return board_of_file(path) or path
        return path

    def discover(self, path: Path, options: LoadOptions | None = None) -> list[Target]:
        if path.is_file():
            return []
        # A board directory given alone: its repository root is found by walking up.
        root = None if (path / "board.rs").is_file() else path
        return [Target(b.name, (b.path,), root) for b in discover_boards(path)]

    def load_target(self, target: Target, options: LoadOptions) -> System:
        return load_hvisor_board(target.paths[0], repo_root=target.root,
                                 image_size=options.image_size or DEFAULT_IMAGE_SIZE, cpus=options.cpus)


FORMAT = HvisorFormat()
