"""The ELF reader (hvcheck/riscv/elf.py) on bad and unusual input: one `error:` line and exit 2
when nothing is checkable, E001 for a damaged part, a stripped or attribute-less file still checked."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

from rulecheck import clean, fires

from hvcheck.riscv.check import check_path
from hvcheck.riscv.elf import load_image
from tests.conftest import FIXTURES, require_tool, run_hvcheck

RV = FIXTURES / "riscv"


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_not_an_elf(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x13\x00\x00\x00" * 16)
    assert "not an ELF file" in _one_error_line(run_hvcheck("riscv", str(junk)))
    empty = tmp_path / "empty.elf"
    empty.write_bytes(b"")
    assert "not an ELF" in _one_error_line(run_hvcheck("riscv", str(empty)))


def test_non_riscv_elf() -> None:
    line = _one_error_line(run_hvcheck("riscv", str(Path(sys.executable).resolve())))
    assert "not a RISC-V ELF" in line


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert "cannot read" in _one_error_line(run_hvcheck("riscv", str(tmp_path / "nope.elf")))


def test_truncated_header(tmp_path: Path) -> None:
    bad = tmp_path / "trunc.elf"
    bad.write_bytes((RV / "seed_mtvec.elf").read_bytes()[:40])
    assert "truncated ELF header" in _one_error_line(run_hvcheck("riscv", str(bad)))


def _shdr_offset(blob: bytes, name: bytes) -> int:
    e_shoff = struct.unpack_from("<Q", blob, 0x28)[0]
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", blob, 0x3A)
    str_off = struct.unpack_from("<Q", blob, e_shoff + e_shstrndx * e_shentsize + 0x18)[0]
    for i in range(e_shnum):
        off = e_shoff + i * e_shentsize
        sh_name = struct.unpack_from("<I", blob, off)[0]
        if blob[str_off + sh_name:].split(b"\0", 1)[0] == name:
            return off
    raise AssertionError(name)


def test_truncated_code_section_is_exit_2_when_nothing_is_left(tmp_path: Path) -> None:
    blob = bytearray((RV / "seed_mtvec.elf").read_bytes())
    struct.pack_into("<Q", blob, _shdr_offset(bytes(blob), b".text") + 0x20, 0x10_0000)  # sh_size
    bad = tmp_path / "bigtext.elf"
    bad.write_bytes(bytes(blob))
    line = _one_error_line(run_hvcheck("riscv", str(bad)))
    assert "section .text is truncated" in line


def test_one_bad_input_among_several_is_e001(tmp_path: Path) -> None:
    junk = tmp_path / "junk.elf"
    junk.write_bytes(b"garbage")
    proc = run_hvcheck("riscv", str(junk), str(RV / "seed_mtvec.elf"), "--format", "json")
    assert proc.returncode == 1
    findings = json.loads(proc.stdout)["findings"]
    assert sorted(f["rule"] for f in findings) == ["E001", "R002"]
    (e001,) = fires(findings, "E001")
    assert e001["locations"][0]["path"] == str(junk)
    # Every input readable: no E001, and both images are still checked.
    proc = run_hvcheck("riscv", str(RV / "fixed_mtvec_la.elf"), str(RV / "seed_mtvec.elf"), "--format", "json")
    assert proc.returncode == 1
    findings = json.loads(proc.stdout)["findings"]
    clean(findings, "E001")
    fires(findings, "R002")


def test_stripped_binary_still_finds_the_seed_bug(tmp_path: Path) -> None:
    strip = require_tool("riscv64-linux-gnu-strip")
    out = tmp_path / "stripped.elf"
    subprocess.run([strip, "-o", str(out), str(RV / "seed_mtvec.elf")], check=True)
    proc = run_hvcheck("riscv", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "no .symtab (stripped)" in proc.stdout
    assert "0x8000007c is inside the 4-byte nop at 0x8000007a" in proc.stdout


def test_attributes_missing_falls_back_to_e_flags(tmp_path: Path) -> None:
    objcopy = require_tool("riscv64-linux-gnu-objcopy")
    out = tmp_path / "noattr.elf"
    subprocess.run([objcopy, "--remove-section=.riscv.attributes", str(RV / "seed_mtvec.elf"), str(out)],
                   check=True)
    img = load_image(out)
    assert img.isa_string is None and "e_flags" in img.isa_source and img.profile.c




def test_unknown_symbol_type_is_tolerated(tmp_path: Path) -> None:
    """Found by mutation fuzzing: pyelftools gives an int for an unknown st_info type."""
    blob = bytearray((RV / "seed_mtvec.elf").read_bytes())
    symtab = _shdr_offset(bytes(blob), b".symtab")
    sym_off = struct.unpack_from("<Q", blob, symtab + 0x18)[0]
    for i in range(1, 8):                       # every Elf64_Sym is 24 bytes; st_info at +4
        blob[sym_off + 24 * i + 4] = (blob[sym_off + 24 * i + 4] & 0xF0) | 0x0B
    bad = tmp_path / "symtype.elf"
    bad.write_bytes(bytes(blob))
    report = check_path(str(bad))
    assert [f.rule for f in report.findings] == ["R002"]
