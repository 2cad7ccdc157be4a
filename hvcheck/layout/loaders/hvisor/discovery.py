"""Where the boards of an hvisor checkout are (docs/hvisor.md, "Discovery").

Two layouts exist:
- current (March 2025 on): ``platform/<arch>/<board>/`` with ``board.rs``;
- earlier (2024 - early 2025): ``src/platform/<board>_<arch>.rs``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hvcheck.errors import InputError

ARCHES = ("aarch64", "riscv64", "loongarch64", "x86_64")
# Files a user (or pre-commit, which passes changed file names) may give that belong to one board.
BOARD_FILE_DEPTH = 3
MAX_MOD_RS_BYTES = 1 << 20


@dataclass(frozen=True)
class BoardRef:
    name: str          # "<arch>/<board>" (unique within a checkout)
    path: Path         # what to pass to load_hvisor_board: a board dir or an old-layout .rs file
    arch: str
    board: str
    era: str           # "platform" (platform/<arch>/<board>/) or "src-platform" (src/platform/*.rs)


def board_dirs(repo: Path) -> list[Path]:
    plat = repo / "platform"
    if not plat.is_dir():
        return []
    return sorted(p.parent for p in plat.glob("*/*/board.rs") if p.parent.parent.name in ARCHES)


def old_board_files(repo: Path) -> list[Path]:
    """`src/platform/<board>_<arch>.rs` files the build compiles: when src/platform/mod.rs exists,
    only those it declares as modules (after the move to platform/<arch>/<board>/ a leftover file
    is not a board)."""
    plat = repo / "src" / "platform"
    if not plat.is_dir():
        return []
    files = sorted(p for p in plat.glob("*_*.rs") if split_old_name(p) is not None)
    try:
        mod = (plat / "mod.rs").read_bytes()[:MAX_MOD_RS_BYTES].decode("utf-8", "replace")
    except OSError:
        return files
    declared = set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z0-9_]+)\s*;", mod, re.M))
    return [p for p in files if p.stem in declared]


def split_old_name(path: Path) -> tuple[str, str] | None:
    """`qemu_aarch64.rs` -> ("qemu", "aarch64"); None when the name ends in no known arch."""
    stem = path.stem
    for arch in ARCHES:
        if stem.endswith("_" + arch) and len(stem) > len(arch) + 1:
            return stem[: -len(arch) - 1], arch
    return None


def is_hvisor_tree(path: Path) -> bool:
    """A repository root with hvisor boards, a board directory, or an old-layout board file."""
    path = Path(path)
    if path.is_file():
        return path.suffix == ".rs" and split_old_name(path) is not None and path.parent.name == "platform"
    if (path / "board.rs").is_file():
        return True
    return bool(board_dirs(path) or old_board_files(path))


def discover_boards(repo: Path) -> list[BoardRef]:
    """Every board of the checkout: platform/<arch>/<board>/ first, then src/platform/<board>_<arch>.rs."""
    repo = Path(repo)
    if (repo / "board.rs").is_file():  # a single board directory
        return [BoardRef(f"{repo.parent.name}/{repo.name}", repo, repo.parent.name, repo.name, "platform")]
    out = [BoardRef(f"{d.parent.name}/{d.name}", d, d.parent.name, d.name, "platform") for d in board_dirs(repo)]
    for f in old_board_files(repo):
        split = split_old_name(f)
        assert split is not None  # old_board_files() keeps only names that split
        board, arch = split
        out.append(BoardRef(f"{arch}/{board} (src/platform)", f, arch, board, "src-platform"))
    return out


def resolve_board(repo: Path, name: str) -> Path:
    """`--board NAME`: `rk3568`, `aarch64/rk3568`, `platform/aarch64/rk3568` or `qemu_aarch64`."""
    boards = discover_boards(repo)
    want = name.strip().strip("/")
    if want.startswith("platform/"):
        want = want[len("platform/"):]
    matches = [b for b in boards if want in (b.name, b.board, f"{b.arch}/{b.board}", f"{b.board}_{b.arch}")]
    if len(matches) > 1:
        matches = [b for b in matches if b.era == "platform"] or matches
    if len(matches) == 1:
        return matches[0].path
    known = ", ".join(b.name for b in boards) or "none"
    if not matches:
        raise InputError(str(repo), f"unknown board {name!r}; boards in this checkout: {known}")
    raise InputError(str(repo), f"board {name!r} is ambiguous ({', '.join(b.name for b in matches)}); "
                                "give <arch>/<board>")


def find_repo_root(start: Path) -> Path | None:
    """Walk up from a board directory to the directory holding src/consts.rs."""
    p = Path(start)
    # Unresolved first, so locations keep the spelling the user gave; then the real path.
    for cand in [p, *p.parents, *p.resolve().parents]:
        if (cand / "src" / "consts.rs").is_file():
            return cand
    return None


def board_of_file(path: Path) -> Path | None:
    """The board directory that ``path`` (board.rs, linker.ld, configs/zone1.json, image/dts/x.dts,
    platform.mk, ...) belongs to, or None."""
    for cand in list(Path(path).parents)[:BOARD_FILE_DEPTH]:
        if (cand / "board.rs").is_file() and cand.parent.name in ARCHES:
            return cand
    return None
