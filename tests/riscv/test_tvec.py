"""Trap-vector value recovery and checks (hvcheck/riscv/tvec.py) on our own fixtures in the
shapes real firmware uses: riscv-pk's temporary vector (R006, not R003) and vectors computed
from a link register."""

from __future__ import annotations

from rulecheck import clean, fires

from hvcheck.riscv.check import check_path
from tests.conftest import FIXTURES

RV = FIXTURES / "riscv"


def test_riscv_pk_temporary_vector_is_a_note_not_r003() -> None:
    report = check_path(str(RV / "temp_vector_pk.elf"))
    notes = fires(report.findings, "R006")
    clean(report.findings, "R003")
    assert {f.sev.label for f in report.findings} == {"note"}
    restore, skip = sorted(notes, key=lambda f: f.data["write_pc"])
    assert "restores it (csrw mtvec, t0)" in restore.message and "keeps the old mtvec in t0" in restore.message
    assert "skips the faulting instruction" in skip.message and "in t1" in skip.message
    for f in notes:
        assert "probably" not in f.message


def test_a_swap_whose_target_does_not_restore_is_r003_without_a_guess() -> None:
    report = check_path(str(RV / "temp_vector_lost.elf"))
    clean(report.findings, "R006")
    (f,) = fires(report.findings, "R003")
    assert f.data["base"] == 0x80000030 and "intended" not in f.message
    assert [x.rule for x in report.findings] == ["R003"]


def test_vectors_from_a_link_register_resolve() -> None:
    report = check_path(str(RV / "link_vector.elf"))
    clean(report.findings, "R002")
    values = {w.csr_name: [v.v for v in w.values] for w in report.writes}
    assert values == {"mtvec": [0x80000040], "stvec": [0x80000040]}
    chain = next(w for w in report.writes if w.csr_name == "mtvec").values[0].chain
    assert chain[0].endswith("jal t0, 4") or "jal" in chain[0]


def test_a_link_relative_vector_off_by_four_is_found() -> None:
    report = check_path(str(RV / "link_vector_off.elf"))
    (f,) = fires(report.findings, "R002")
    assert f.data["value"] == 0x80000044 and "inside the 4-byte csrr t1, mcause" in f.message


def test_linux_head_shape_park_loops_and_run_time_offsets_are_notes() -> None:
    report = check_path(str(RV / "head_shape.elf"))
    parks = fires(report.findings, "R007")
    assert len(parks) == 3 and all(f.data["base"] == 0x800000B4 for f in parks)
    clean(report.findings, "R003")
    (note,) = fires(report.findings, "R002")
    # stvec = 1f + (kernel_map.virt_addr - _start): kernel_map is written at run time
    assert note.sev.label == "note" and note.data["unverified"] == "R002"
    assert "initial value of writable data" in note.message and "not checked" in note.message
    # `la a1, kernel_map` was relaxed to gp-relative: gp is __global_pointer$
    assert any("__global_pointer$" in step for step in note.data["chain"])
    handler = [w for w in report.writes if w.pc == 0x800000AA]
    assert handler and handler[0].values[0].v == 0x800000F8  # setup_trap_vector: la a0, handle_exception


def test_a_vector_that_is_not_a_park_loop_stays_r003() -> None:
    report = check_path(str(RV / "direct_unnamed_base.elf"))
    fires(report.findings, "R003")
    clean(report.findings, "R007")


def test_vstvec_holds_guest_addresses_only_mode_is_checked() -> None:
    report = check_path(str(RV / "guest_vstvec.elf"))
    (f,) = fires(report.findings, "R001")
    assert f.data["csr_name"] == "vstvec" and f.data["value"] == 0x80200002
    clean(report.findings, "R002")  # vstvec <- 0 (reset) is not "BASE outside the image"
    guest = [w for w in report.writes if w.csr_name == "vstvec"]
    assert len(guest) == 3 and [v.v for v in guest[0].values] == [0]
