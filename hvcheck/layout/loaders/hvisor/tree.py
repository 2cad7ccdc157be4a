"""One hvisor board and the files it is built from: the public object the loader and `hvcheck fix`
share (which board.rs, which constants files, which features, where its device trees live).

Parsed Rust files are cached by content (path + blake2b of the bytes + cfg), so under `--all`
the shared files are parsed once, and a walk over hvisor's history re-parses a file only when
its blob changed.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.inputs import read_capped
from hvcheck.layout.loaders.boardrs import (
    Namespace,
    RustFile,
    cfg_evaluator,
    read_rust_bytes,
    rust_from_bytes,
)
from hvcheck.layout.loaders.hvisor.discovery import (
    ARCHES,
    board_dirs,
    discover_boards,
    find_repo_root,
    old_board_files,
    split_old_name,
)
from hvcheck.layout.model import InputProblem

HV_MEM_TYPES = {"MEM_TYPE_RAM": 0, "MEM_TYPE_IO": 1, "MEM_TYPE_VIRTIO": 2}  # src/config.rs
# The Rust files besides board.rs whose consts a board's layout uses, relative to the repository
# root ("{arch}" is the board's architecture). The loader and `hvcheck fix` both read this list.
RUST_CONFIG_FILES = ("src/consts.rs", "src/arch/{arch}/consts.rs", "src/config.rs")
MAX_CACHED_RUST_FILES = 256
MAX_BUILD_FILE_BYTES = 1 << 20   # features, *.mk, Makefile, .cargo/config

_RustKey = tuple[str, bytes, frozenset[str], str | None]
_RUST_CACHE: OrderedDict[_RustKey, RustFile] = OrderedDict()


def rust_file(path: Path, features: frozenset[str], arch: str | None) -> RustFile:
    """``path`` parsed with the cfg of this board (cached by content)."""
    raw = read_rust_bytes(path)
    key = (str(path), hashlib.blake2b(raw, digest_size=16).digest(), features, arch)
    hit = _RUST_CACHE.get(key)
    if hit is not None:
        _RUST_CACHE.move_to_end(key)
        return hit
    parsed = rust_from_bytes(path, raw, cfg_evaluator(set(features), arch))
    _RUST_CACHE[key] = parsed
    if len(_RUST_CACHE) > MAX_CACHED_RUST_FILES:
        _RUST_CACHE.popitem(last=False)
    return parsed


@dataclass
class BoardTree:
    """A board of an hvisor checkout and where its inputs are."""

    board_file: Path              # board.rs, or src/platform/<board>_<arch>.rs in the earlier layout
    name: str                     # the board's name (directory or file-name stem)
    arch: str
    era: str                      # "platform" or "src-platform"
    repo: Path | None             # the repository root (holds src/consts.rs), when found
    board_dir: Path | None        # platform/<arch>/<board>/ (current layout only)
    features: frozenset[str]      # cargo features the board builds with (cfg selection)
    notes: list[str] = field(default_factory=list)   # how the inputs were interpreted
    problems: list[InputProblem] = field(default_factory=list)   # inputs that could not be read (E001)

    def problem(self, exc: InputError, checks: str, subject: str) -> None:
        """Record an unreadable input; the loader leaves out what depended on it and goes on."""
        self.problems.append(InputProblem(exc.path, exc.line, exc.message, checks, subject))

    def rust_config_paths(self) -> list[Path]:
        """board.rs, then every file of :data:`RUST_CONFIG_FILES` present in this checkout."""
        paths = [self.board_file]
        if self.repo is not None:
            for rel in RUST_CONFIG_FILES:
                p = self.repo / rel.format(arch=self.arch)
                if p.is_file():
                    paths.append(p)
        return paths

    def rust_files(self) -> list[RustFile]:
        return [rust_file(p, self.features, self.arch) for p in self.rust_config_paths()]

    def namespace(self) -> tuple[Namespace, RustFile]:
        """The consts of board.rs and the constants files, looked up in that order; and board.rs."""
        files = self.rust_files()
        return Namespace(files, HV_MEM_TYPES), files[0]

    def dt_dirs(self) -> list[Path]:
        """Where this board's device trees and (earlier layout) zone configs are."""
        if self.board_dir is not None:
            d = self.board_dir
            dirs = [d / "image" / "dts", d / "image", d / "dts", d / "configs"]
        else:
            base = self.repo if self.repo is not None else self.board_file.parent.parent.parent
            dirs = [base / "images" / self.arch / "devicetree"]
        return [d for d in dirs if d.is_dir()]


def open_board(board: Path, repo_root: Path | None = None) -> BoardTree:
    """The :class:`BoardTree` of a board directory or an earlier-layout board file."""
    board = Path(board)
    if board.is_dir() and not (board / "board.rs").is_file() and (board_dirs(board) or old_board_files(board)):
        names = ", ".join(b.name for b in discover_boards(board))
        raise InputError(str(board), f"an hvisor checkout: give --board NAME or --all (boards: {names})")
    if board.is_dir():
        board_file = board / "board.rs"
        if not board_file.is_file():
            raise InputError(str(board), "not an hvisor board directory (no board.rs)")
        arch = board.parent.name
        if arch not in ARCHES:
            arch = _guess_arch(board)
        repo = repo_root or find_repo_root(board)
        feats = _features(board / "cargo" / "features")
        return BoardTree(board_file, board.name, arch, "platform", repo, board, feats)
    split = split_old_name(board) if board.is_file() else None
    if split is not None:
        name, arch = split
        repo = repo_root or find_repo_root(board.parent)
        return BoardTree(board, name, arch, "src-platform", repo, None, frozenset({f"platform_{name}"}))
    if not board.exists():
        raise InputError(str(board), "no such file or directory")
    raise InputError(str(board), "not an hvisor board: expected platform/<arch>/<board>/ (with board.rs) "
                                 "or src/platform/<board>_<arch>.rs")


def read_small_text(path: Path) -> str | None:
    """A build or config file (features, *.mk, Makefile, .cargo/config) as text, stray bytes
    replaced; None when absent or unreadable, so callers fall back to their defaults."""
    try:
        return read_capped(path, MAX_BUILD_FILE_BYTES, "hvisor build files").decode("utf-8", "replace")
    except InputError:
        return None


def _guess_arch(board_dir: Path) -> str:
    text = read_small_text(board_dir / "board.rs") or ""
    for arch, hint in (("aarch64", "Gic"), ("riscv64", "plic"), ("loongarch64", "loongarch"), ("x86_64", "ioapic")):
        if hint in text:
            return arch
    return "aarch64"


def _features(path: Path) -> frozenset[str]:
    text = read_small_text(path)
    if text is None:
        return frozenset()
    return frozenset(w for w in re.split(r"[\s,\"']+", text) if w)
