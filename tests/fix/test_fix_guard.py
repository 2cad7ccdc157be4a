"""`hvcheck fix --strategy guard`: ASSERT()s in the board's linker script, linked for real with the
GNU linkers of three architectures and with LLVM's lld (issue 15)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hvcheck.fix.engine import run_fix
from hvcheck.fix.guard import BEGIN, END, read_guard
from tests.conftest import FIXTURES, require_tool, run_hvcheck

REPO = FIXTURES / "hvisor" / "repo"
CLEAN = "platform/aarch64/clean"
EXTENDED = 0x4200000      # what HV_EXTENDED_SIZE is for the clean board: 4 x 512 KiB + 64 MiB
NEIGHBOUR = 0x50000000    # zone linux2's RAM (and its DTB) start right there

# Our own object in the shape of hvisor's image: an entry, and a .bss whose size we choose.
OBJECT = """\
.section .text.entry, "ax"
.globl arch_entry
arch_entry:
    nop
.bss
.globl bss_start
bss_start:
.space BSS_SIZE
"""

TOOLCHAINS = [("riscv64-linux-gnu-as", "riscv64-linux-gnu-ld"), ("aarch64-linux-gnu-as", "aarch64-linux-gnu-ld"),
              ("as", "ld"), ("aarch64-linux-gnu-as", "ld.lld")]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(REPO, tmp_path / "repo")
    return tmp_path / "repo"


def _guarded(repo: Path) -> str:
    proc = run_hvcheck("fix", str(repo / CLEAN), "--strategy", "guard", "--write")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (repo / CLEAN / "linker.ld").read_text()


def test_one_assert_per_owner_with_its_source_line(repo: Path) -> None:
    result = run_fix(repo / CLEAN, "guard")
    assert not result.refused
    [fe] = result.changed_files
    text = fe.result()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    asserts = read_guard(text)
    owners = [m for _, _, m in asserts]
    assert any("zone linux2 ram [0x50000000, 0x80000000)" in m and "configs/zone1-linux.json:7" in m for m in owners)
    assert any("zone root-linux kernel load address 0xa0400000" in m and "board.rs:21" in m for m in owners)
    assert any("device gicd (gic)" in m for m in owners)
    assert (NEIGHBOUR, 0x80000000) in [(s, e) for s, e, _ in asserts]
    assert "every assert holds for today's layout" in " ".join(result.explanations())
    assert result.diff().startswith("--- a/platform/aarch64/clean/linker.ld")


def test_write_is_atomic_with_backup_and_idempotent(repo: Path) -> None:
    original = (repo / CLEAN / "linker.ld").read_text()
    first = _guarded(repo)
    assert (repo / CLEAN / "linker.ld.orig").read_text() == original
    assert first.startswith(original)             # the script itself is untouched: the block is appended
    again = run_fix(repo / CLEAN, "guard")
    assert again.diff() == "" and not again.refused   # regenerating changes nothing
    # a board edit moves an owner: the block is replaced, not added to
    cfg = repo / CLEAN / "configs/zone1-linux.json"
    cfg.write_text(cfg.read_text().replace('"0x50000000"', '"0x58000000"', 1))
    moved = run_fix(repo / CLEAN, "guard")
    text = moved.changed_files[0].result()
    assert text.count(BEGIN) == 1 and (0x58000000, 0x88000000) in [(s, e) for s, e, _ in read_guard(text)]
    assert "Replace the guard block" in " ".join(moved.explanations())


def test_layout_already_broken_is_said_not_hidden(repo: Path) -> None:
    result = run_fix(repo / "platform/aarch64/stomp", "guard")
    assert not result.refused
    assert "fail(s) for today's layout" in " ".join(result.explanations())


def test_only_for_hvisor_boards(tmp_path: Path) -> None:
    proc = run_hvcheck("fix", str(FIXTURES / "layout" / "seed001-stomp.json"), "--strategy", "guard")
    assert proc.returncode == 1 and "writes an hvisor board's linker script" in proc.stderr


def test_virtual_linker_base_guards_link_addresses(repo: Path) -> None:
    result = run_fix(repo / "platform/x86_64/highhalf", "guard")
    text = result.changed_files[0].result()
    assert "physical + 0xffffff8000000000" in text
    starts = [s for s, _, _ in read_guard(text)]
    assert starts and all(s >= 0xFFFFFF8000000000 for s in starts)


def _link(tools: tuple[str, str], script: Path, tmp: Path, bss: int) -> subprocess.CompletedProcess[str]:
    asm, ld = (require_tool(t) for t in tools)
    src = tmp / "hv.S"
    src.write_text(OBJECT)
    obj = tmp / "hv.o"
    subprocess.run([asm, "--defsym", f"BSS_SIZE={bss}", "-o", str(obj), str(src)], check=True)
    return subprocess.run([ld, "-T", str(script), "--defsym", f"HV_EXTENDED_SIZE={EXTENDED}", "-o",
                           str(tmp / "hv.elf"), str(obj)], capture_output=True, text=True)


def _bss_start(elf: Path) -> int:
    from elftools.elf.elffile import ELFFile

    with elf.open("rb") as fh:
        symtab = ELFFile(fh).get_section_by_name(".symtab")
        return int(symtab.get_symbol_by_name("bss_start")[0]["st_value"])


@pytest.mark.parametrize("tools", TOOLCHAINS, ids=[t[1] for t in TOOLCHAINS])
def test_the_real_linker_enforces_the_guard(repo: Path, tmp_path: Path, tools: tuple[str, str]) -> None:
    """A .bss that keeps __hv_end at the neighbour links; one byte more and the link fails with the
    guard's message naming the neighbour and its source line."""
    _guarded(repo)
    script = repo / CLEAN / "linker.ld"
    small = _link(tools, script, tmp_path, 0x1000)
    assert small.returncode == 0, small.stderr
    # __core_end = ALIGN(bss_start + BSS, 4K); __hv_end = __core_end + HV_EXTENDED_SIZE
    edge = NEIGHBOUR - EXTENDED - _bss_start(tmp_path / "hv.elf")
    assert _link(tools, script, tmp_path, edge).returncode == 0
    crossed = _link(tools, script, tmp_path, edge + 1)
    assert crossed.returncode != 0
    assert "hvcheck guard: hvisor [skernel, __hv_end) reaches zone linux2 ram [0x50000000, 0x80000000)" in \
        crossed.stderr
    assert "configs/zone1-linux.json:7" in crossed.stderr
    # the unguarded script links the same grown image without a word: the invariant was not enforced
    plain = tmp_path / "plain.ld"
    plain.write_text((repo / CLEAN / "linker.ld.orig").read_text())
    assert _link(tools, plain, tmp_path, edge + 1).returncode == 0
