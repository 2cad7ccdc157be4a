"""The board's linker script: where it is and what it says about the hypervisor's placement
(`BASE_ADDRESS`, the `__hv_end = ...` line, `CPU_NUM`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hvcheck.errors import InputError
from hvcheck.intexpr import ExprError, evaluate, size_suffix
from hvcheck.layout.loaders.hvisor.tree import BoardTree, read_small_text
from hvcheck.textio import read_text

MAX_LINKER_BYTES = 1 << 20


@dataclass
class LinkerScript:
    path: str
    base: int                    # BASE_ADDRESS (as linked: may be virtual)
    base_line: int
    hv_end_line: int | None      # the `__hv_end = ...;` line, when the script defines it
    cpu_num: int | None          # `CPU_NUM = N;` (sizes the .percpu section in some scripts)
    text: str = ""               # the script as read (the guard strategy edits it)


def linker_script_path(tree: BoardTree) -> Path:
    """platform/<arch>/<board>/linker.ld; earlier layout: scripts/<board>-<arch>.ld, else the script
    `.cargo/config` names with -T for the target, else one matched by name, else the only one."""
    if tree.board_dir is not None:
        p = tree.board_dir / "linker.ld"
        if p.is_file():
            return p
        raise InputError(str(tree.board_dir), "no linker.ld in the board directory (BASE_ADDRESS unknown)")
    scripts = tree.repo / "scripts" if tree.repo is not None else tree.board_file.parent.parent.parent / "scripts"
    cands = sorted(scripts.glob(f"*-{tree.arch}.ld")) if scripts.is_dir() else []
    exact = [c for c in cands if c.stem == f"{tree.name}-{tree.arch}"]
    cargo = _cargo_config_script(tree)
    partial = [c for c in cands if c.stem.split("-")[0] in tree.name or tree.name in c.stem]
    for group, how in ((exact, ""), (cargo, "named by -T in .cargo/config for this target"),
                       (partial, "matched by name"),
                       (cands if len(cands) == 1 else [], f"the only *-{tree.arch}.ld script")):
        if group:
            if how:
                tree.notes.append(f"linker script for {tree.name}_{tree.arch}: using {group[0]} ({how})")
            return group[0]
    raise InputError(str(tree.board_file), f"no linker script scripts/{tree.name}-{tree.arch}.ld found "
                                           "(BASE_ADDRESS unknown)")


def _cargo_config_script(tree: BoardTree) -> list[Path]:
    """Earlier layout: `.cargo/config` names the linker script per target (`-Clink-arg=-T<script>`)."""
    if tree.repo is None:
        return []
    for name in (".cargo/config", ".cargo/config.toml"):
        text = read_small_text(tree.repo / name)
        if text is None:
            continue
        for section in re.split(r"^\s*\[", text, flags=re.M):
            if not section.startswith("target.") or not section[len("target."):].startswith(tree.arch[:5]):
                continue
            m = re.search(r"-T\s*([\w./-]+\.ld)", section)
            if m and (tree.repo / m.group(1)).is_file():
                return [tree.repo / m.group(1)]
    return []


def read_linker_script(path: Path) -> LinkerScript:
    text = read_text(path, MAX_LINKER_BYTES, "linker scripts", expected="linker script")
    clean = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    base = base_line = hv_end_line = cpu_num = None
    for no, line in enumerate(clean.splitlines(), 1):
        m = re.match(r"\s*BASE_ADDRESS\s*=\s*([^;]+);", line)
        if m and base is None:
            base, base_line = _ld_int(path, m.group(1), no), no
            continue
        if re.match(r"\s*__hv_end\s*=", line):
            hv_end_line = no
        m = re.match(r"\s*CPU_NUM\s*=\s*([^;]+);", line)
        if m:
            cpu_num = _ld_int(path, m.group(1), no)
    if base is None:
        for no, line in enumerate(clean.splitlines(), 1):
            m = re.match(r"\s*\.\s*=\s*(0[xX][0-9a-fA-F_]+|\d+)\s*;", line)
            if m:
                base, base_line = _ld_int(path, m.group(1), no), no
                break
    if base is None or base_line is None:
        raise InputError(str(path), "no BASE_ADDRESS (nor a literal `. = ADDRESS;`) in the linker script")
    return LinkerScript(str(path), base, base_line, hv_end_line, cpu_num, text)


def _ld_int(path: Path, expr: str, line: int) -> int:
    """A linker-script constant expression (`0x80000000 + 2M`), bounded (hvcheck.intexpr)."""
    try:
        return evaluate(expr, size_suffix)
    except ExprError as exc:
        raise InputError(str(path), f"cannot evaluate `{expr.strip()[:80]}` in the linker script: {exc}", line) from None
