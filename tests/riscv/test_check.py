"""`hvcheck riscv` (hvcheck/riscv/check.py) on our own fixtures (tests/fixtures/riscv/*.S): each
produces exactly the intended findings (bad input: tests/riscv/test_elf.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from rulecheck import clean, fires

from hvcheck.riscv.check import check_path
from hvcheck.riscv.image import load_image
from tests.conftest import FIXTURES, require_tool, run_hvcheck

RV = FIXTURES / "riscv"

EXPECTED = {
    "seed_mtvec": [("R002", "error")],
    "fixed_mtvec_la": [],
    "vectored_mode3": [("R001", "error")],
    "vectored_base_not64": [("R004", "warning")],
    "vectored_aligned": [],
    "direct_unnamed_base": [("R003", "warning")],
    "vectored_rvc_table": [("R004", "error")],
    "reserved_straightline": [("R005", "error")] * 11,
    "reserved_rv32": [("R005", "error")] * 4,
    "temp_vector_pk": [("R006", "note")] * 2,
    "temp_vector_lost": [("R003", "warning")],
    "after_call_returns": [("R005", "error")] * 5,
    "after_call_noreturn": [],
    "link_vector": [],
    "link_vector_off": [("R002", "error")],
    "head_shape": [("R002", "note"), ("R007", "note"), ("R007", "note"), ("R007", "note")],
    "guest_vstvec": [("R001", "error")],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_produces_exactly_the_intended_findings(name: str) -> None:
    report = check_path(str(RV / f"{name}.elf"))
    assert sorted((f.rule, f.sev.label) for f in report.findings) == sorted(EXPECTED[name])


def test_seed_layout_is_the_incident_layout() -> None:
    img = load_image(RV / "seed_mtvec.elf")
    expect = {0x8000006A: "auipc", 0x8000006E: "c.addi", 0x80000070: "csrrw", 0x80000074: "c.j",
              0x80000076: "addi", 0x8000007A: "addi", 0x8000007E: "c.nop"}
    for addr, name in expect.items():
        assert img.decode(addr).name == name, hex(addr)
    assert img.decode(0x8000006E).imm == 18
    assert next(s.addr for s in img.symbols if s.name == "mtrap_entry") == 0x80000080


def test_seed_finding_explains_the_trap_loop() -> None:
    (f,) = fires(check_path(str(RV / "seed_mtvec.elf")).findings, "R002")
    assert f.data["value"] == 0x8000007C and f.data["csr_name"] == "mtvec" and f.data["write_pc"] == 0x80000070
    assert "0x8000007c is inside the 4-byte nop at 0x8000007a" in f.message
    assert "the hart reads 0x0000" in f.message and "illegal instruction" in f.message
    assert "will trap to the same address forever" in f.message
    assert "mtrap_entry starts 4 bytes further" in f.message
    assert [c.split()[0] for c in f.data["chain"]] == ["0x8000006a", "0x8000006e", "0x80000070"]
    assert f.data["trap_loop"] is True


def test_fixed_variant_resolves_to_the_handler() -> None:
    report = check_path(str(RV / "fixed_mtvec_la.elf"))
    (w,) = report.writes
    assert w.values[0].v == 0x80000080
    assert report.image.symbol_at(0x80000080).name == "mtrap_entry"
    clean(report.findings, "R001")  # MODE 0 (Direct)
    clean(report.findings, "R002")  # BASE is an instruction start ...
    clean(report.findings, "R003")  # ... named by a symbol
    clean(report.findings, "R005")  # every reachable halfword decodes to a defined instruction


def test_hand_computed_base_on_an_unlabelled_instruction() -> None:
    """direct_unnamed_base.S: `la t0, mtrap_entry; addi t0, t0, 4` decodes fine (not R002) but
    skips the handler's first instruction, and no symbol names the target."""
    report = check_path(str(RV / "direct_unnamed_base.elf"))
    clean(report.findings, "R002")
    (f,) = fires(report.findings, "R003")
    assert f.sev.label == "warning" and f.data["value"] == 0x80000024
    assert "csrr t0, mcause" in f.message and "mtrap_entry+0x4" in f.message


def test_aligned_vectored_table_of_4_byte_jumps_is_clean() -> None:
    report = check_path(str(RV / "vectored_aligned.elf"))
    (w,) = report.writes
    assert w.values[0].v == 0x80000041  # vec_table (64-byte aligned) | MODE 1
    clean(report.findings, "R001")
    clean(report.findings, "R004")


def test_mode3_names_the_misaligned_table() -> None:
    (f,) = fires(check_path(str(RV / "vectored_mode3.elf")).findings, "R001")
    assert f.data["mode"] == 3 and f.data["symbol_below"] == "vec_table"


def test_rvc_table_lists_every_checked_cause() -> None:
    (f,) = fires(check_path(str(RV / "vectored_rvc_table.elf")).findings, "R004")
    assert [e.split()[1] for e in f.data["entries"]] == ["0", "1", "3", "5", "7", "9", "11"]


def test_hints_in_straight_line_code_are_not_reported() -> None:
    report = check_path(str(RV / "reserved_straightline.elf"))
    halfwords = {f.data["halfword"] for f in fires(report.findings, "R005")}
    assert 0x0005 not in halfwords and 0x4001 not in halfwords
    assert halfwords == {0x0000, 0x0004, 0x8000, 0x6101, 0x6281, 0x6001, 0x9C41, 0x4002, 0x8002, 0x2001, 0x6002}


def test_describe_address_for_triage() -> None:
    img = load_image(RV / "seed_mtvec.elf")
    text = img.describe_address(0x8000007C)
    assert text.startswith("0x8000007c is inside the 4-byte nop at 0x8000007a")
    assert "0x0000 (c.unimp), an illegal instruction" in text
    assert "instruction start (linear decode)" in img.describe_address(0x80000070)  # bytes and symbols only
    assert "reachable instruction start" in check_path(str(RV / "seed_mtvec.elf")).describe_address(0x80000070)
    assert "mtrap_entry" in img.describe_address(0x80000080)
    assert "not in any executable section" in img.describe_address(0x1000)
    info = img.inspect(0x8000007C)
    assert info.mid_instruction and info.insn_start == 0x8000007A and info.reads_class == "illegal"


def test_cli_json_contract() -> None:
    proc = run_hvcheck("riscv", str(RV / "seed_mtvec.elf"), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    (f,) = doc["findings"]
    assert f["rule"] == "R002" and f["data"]["value"] == "0x8000007c"
    (w,) = doc["images"][0]["trap_vector_writes"]
    assert w["status"] == "resolved" and w["csr"] == "mtvec"
    ok = run_hvcheck("riscv", str(RV / "fixed_mtvec_la.elf"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "csrw mtvec, t0 -> 0x80000080" in ok.stdout


def test_fixtures_rebuild_identically(tmp_path: Path) -> None:
    require_tool("riscv64-linux-gnu-as")
    require_tool("riscv64-linux-gnu-ld")
    for p in RV.iterdir():
        if p.suffix in (".S", ".ld", ".sh"):
            shutil.copy(p, tmp_path / p.name)
    subprocess.run(["sh", str(tmp_path / "build.sh")], check=True, capture_output=True, timeout=120)
    for elf in RV.glob("*.elf"):
        assert (tmp_path / elf.name).read_bytes() == elf.read_bytes(), f"{elf.name} differs from its source"


def test_demo_examples_are_the_fixtures_and_the_demo_reproduces() -> None:
    from hvcheck.demo import EXAMPLES, scenario_riscv

    for name in ("seed_mtvec.S", "seed_mtvec.elf", "fixed_mtvec_la.S", "fixed_mtvec_la.elf", "link.ld"):
        assert (EXAMPLES / "riscv" / name).read_bytes() == (RV / name).read_bytes(), name
    for step in scenario_riscv.steps():
        assert {f.rule for f in step.run()} == step.expect
    seed_step = scenario_riscv.steps()[0]
    assert "will trap to the same address forever" in seed_step.run()[0].message
    assert "csrw mtvec, t0 -> 0x8000007c" in seed_step.preamble()


def test_isa_from_attributes_decides_reserved_space(tmp_path: Path) -> None:
    """Binutils 2.40 cannot assemble Zcb/Zcmop, so the test rewrites the ELF's Tag_RISCV_arch
    (same length, '_' padding) to claim them: c.lbu, c.mul and c.mop.5 become valid code."""
    blob = (RV / "reserved_straightline.elf").read_bytes()
    old = load_image(RV / "reserved_straightline.elf").isa_string.encode()
    new = b"rv64imafdc_zcb1p0_zcmop1p0"
    assert blob.count(old) >= 1 and len(new) <= len(old)  # attributes (and the $x mapping symbol)
    patched = tmp_path / "zcb.elf"
    patched.write_bytes(blob.replace(old, new + b"_" * (len(old) - len(new))))
    report = check_path(str(patched))
    assert report.image.profile.zcb and report.image.profile.zcmop
    halfwords = {f.data["halfword"] for f in report.findings}
    assert halfwords == {0x0000, 0x0004, 0x6101, 0x6001, 0x4002, 0x8002, 0x2001, 0x6002}
    assert {f.rule for f in report.findings} == {"R005"}


def test_rv32_classes_come_from_the_elf() -> None:
    report = check_path(str(RV / "reserved_rv32.elf"))
    assert report.image.xlen == 32 and report.image.profile.xlen == 32
    assert sorted(f.data["halfword"] for f in report.findings) == [0x1082, 0x9005, 0x9405, 0x9C05]
    assert report.image.decode(0x80000012).name == "c.flwsp"



def test_a_check_builds_no_whole_65536_entry_table() -> None:
    """Start-up cost regression: building the class or kind table of all 65536 halfwords costs
    ~0.1 s (decode16 on 49152 encodings), more than the whole check of a firmware image. A check
    decodes only the halfwords the image uses, so neither table may be built on its path."""
    from hvcheck.riscv import rvc, walker

    rvc.class_table.cache_clear()
    walker.kind_table.cache_clear()
    report = check_path(RV / "reserved_straightline.elf")
    assert [f.rule for f in report.findings] == ["R005"] * 11
    assert rvc.class_table.cache_info().misses == 0
    assert walker.kind_table.cache_info().misses == 0
