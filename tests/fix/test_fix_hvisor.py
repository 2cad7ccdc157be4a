"""`hvcheck fix` on hvisor board directories: board.rs (array/slice, named-const element, one-line
literals, expressions, labels, commented-out entries), zone JSON (tabs, upper-case hex, non-identity
guest), DTS (1 and 2 cells, with and without /reserved-memory), linker.ld and platform.mk."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hvcheck.fix import journal
from hvcheck.fix.engine import run_fix
from hvcheck.fix.safewrite import write_all
from hvcheck.layout.loaders.hvisor import load_hvisor_board
from hvcheck.layout.rules import run_rules
from tests.conftest import FIXTURES, assert_golden, require_tool, run_hvcheck

REPO = FIXTURES / "fix" / "hvrepo"
GOLDEN = FIXTURES / "fix" / "golden"
BOARDS = ["variants", "slice"]
CASES = [(b, s) for b in BOARDS for s in ("punch", "reserve", "relocate", "all")]


def _board(repo: Path, name: str) -> Path:
    return repo / "platform" / "aarch64" / name


@pytest.fixture()
def repo_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "hvisor"
    shutil.copytree(REPO, dst)
    return dst


@pytest.mark.parametrize(("board", "strategy"), CASES)
def test_golden_diff(board: str, strategy: str) -> None:
    result = run_fix(_board(REPO, board), strategy)
    golden = GOLDEN / f"hvisor-{board}-{strategy}.diff"
    assert_golden(golden, result.diff())
    assert not result.refused
    assert result.base.resolve() == REPO.resolve()   # paths relative to the checkout root


@pytest.mark.parametrize(("board", "strategy"), [c for c in CASES if c[1] != "reserve"])
def test_diff_applies_and_rechecks_clean(repo_copy: Path, board: str, strategy: str) -> None:
    git, patch = require_tool("git"), require_tool("patch")
    proc = run_hvcheck("fix", str(_board(repo_copy, board)), "--strategy", strategy)
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1), proc.stderr
    out = repo_copy / "fix.patch"
    out.write_text(proc.stdout)
    subprocess.run([git, "init", "-q"], cwd=repo_copy, check=True)
    check = subprocess.run([git, "apply", "--check", str(out)], cwd=repo_copy, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    dry = subprocess.run([patch, "-p1", "--dry-run", "-i", str(out)], cwd=repo_copy, capture_output=True,
                         text=True)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    subprocess.run([git, "apply", str(out)], cwd=repo_copy, check=True)
    rules = {f.rule for f in run_rules(load_hvisor_board(_board(repo_copy, board)))}
    assert not rules & {"M001", "M002", "M003", "M004"}, rules
    assert run_fix(_board(repo_copy, board), strategy).diff() == ""   # idempotent


def test_edited_device_trees_compile_with_dtc(repo_copy: Path) -> None:
    dtc = require_tool("dtc")
    result = run_fix(_board(repo_copy, "slice"), "all")
    dts = [f for f in result.changed_files if f.path.suffix == ".dts"]
    assert len(dts) == 2
    for f in dts:
        f.path.write_text(f.result())
        proc = subprocess.run([dtc, "-q", "-I", "dts", "-O", "dtb", "-o", "/dev/null", str(f.path)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_board_rs_variants_are_kept() -> None:
    diff = run_fix(_board(REPO, "variants"), "punch").diff()
    # the named const keeps the first piece; the second follows the element, re-indented
    assert "+    size: 0x40_0000, // 160 MiB, written as an expression" in diff
    assert "+        physical_start: 0x4560_0000," in diff
    assert "+        size: 0x4A0_0000," in diff                       # upper-case like the expression
    assert "+pub const ROOT_ZONE_MEMORY_REGIONS: [HvConfigMemoryRegion; 5] = [" in diff
    assert "+    }, // dram" in diff                                   # label kept on the new piece
    # commented-out entries and one-line literals that do not meet hvisor are untouched
    changed = [ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert not [ln for ln in changed if "pl011" in ln or "/* HvConfig" in ln or "virtio-mmio" in ln]


def test_slice_entry_inside_hvisor_is_removed_with_its_line() -> None:
    diff = run_fix(_board(REPO, "slice"), "punch").diff()
    assert "-    HvConfigMemoryRegion { mem_type: MEM_TYPE_RAM, physical_start: 0x80400000" in diff
    assert "+     // early heap" not in diff
    assert '+            "size": "0x00200000"' in diff                 # zero padding kept in JSON
    assert "+            reg = <0x80400000 0x200000>;" in diff          # one-cell DTS


def test_interrupted_write_across_board_files(repo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    board = _board(repo_copy, "slice")
    result = run_fix(board, "all")
    assert len(result.changed_files) >= 3
    before = {p: p.read_bytes() for p in repo_copy.rglob("*") if p.is_file()}

    renamed: list[Path] = []

    def crash(step: str, path: Path) -> None:
        if step == "rename-target":
            renamed.append(path)
            if len(renamed) == 3:
                raise RuntimeError("simulated crash between files")

    monkeypatch.setattr(journal, "_fault", crash)
    with pytest.raises(RuntimeError):
        write_all([(f.path, f.original, f.result()) for f in result.changed_files])
    after = {p: p.read_bytes() for p in repo_copy.rglob("*") if p.is_file()}
    assert after == before


def test_write_board(repo_copy: Path) -> None:
    board = _board(repo_copy, "variants")
    proc = run_hvcheck("fix", str(board), "--write")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (board / "board.rs.orig").exists() and (board / "image" / "dts" / "zone0.dts.orig").exists()
    rules = {f.rule for f in run_rules(load_hvisor_board(board))}
    assert not rules & {"M001", "M002"}


def test_relocate_without_board_memory_is_refused(repo_copy: Path) -> None:
    board = _board(repo_copy, "slice")
    text = (board / "board.rs").read_text()
    start = text.index("#[rustfmt::skip]\npub const BOARD_PHYSMEM_LIST")
    end = text.index("];", start) + 2
    (board / "board.rs").write_text(text[:start] + text[end:])
    proc = run_hvcheck("fix", str(board), "--strategy", "relocate")
    assert proc.returncode == 1
    assert "REFUSED" in proc.stdout and "board's physical memory list is unknown" in proc.stdout


def test_checkout_root_with_board_option() -> None:
    proc = run_hvcheck("fix", str(REPO), "--board", "aarch64/variants", "--strategy", "relocate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "+BASE_ADDRESS = 0x50000000;" in proc.stdout
    assert "firmware" in proc.stdout          # the lowest base comes with a caution
    bad = run_hvcheck("fix", str(REPO), "--board", "nope")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "aarch64/variants" in bad.stderr
