"""OpenSBI sbi_trap_error dumps (opensbi.py)."""

from __future__ import annotations

from triage_helpers import only, scan_fixture, write

from hvcheck.triage.scan import scan


def test_opensbi_new_with_depth_and_mtval2() -> None:
    fault = only(scan_fixture("opensbi-1.3-hext.log"))
    assert fault.cpu == 2 and fault.facts["trap_depth"] == 0
    assert fault.facts["cause_name"] == "illegal instruction" and fault.facts["error_name"] == "SBI_ERR_NOT_SUPPORTED"
    assert fault.addresses["pc"].value == 0x8000007C and fault.facts["mpp"] == "M"
    assert fault.registers["mtval2"] == 0 and fault.facts["instruction_bits"] == 0


def test_opensbi_old_mprv() -> None:
    fault = only(scan_fixture("opensbi-0.9-old.log"))
    assert fault.facts["cause_name"] == "load access fault"
    assert fault.facts["mprv"] == 1 and fault.facts["mpp"] == "M"


def test_opensbi_guest_page_fault_gpa() -> None:
    fault = only(scan_fixture("opensbi-guest-page-fault.log"))
    assert fault.addresses["fault_gpa"].value == (0x20000401 << 2) | (0xFFFFFFC0001F2006 & 3)
    assert fault.facts["mpv"] == 1 and fault.facts["mpp"] == "S"


def test_opensbi_cheri_annotations_ignored(tmp_path) -> None:
    text = ("sbi_trap_error: hart0: trap0: trap handler failed (error -1)\n"
            "sbi_trap_error: hart0: trap0: mcause=0x000000000000001c [V:1111:C:R-XCAL--] mtval=0x0000000000000011\n"
            "sbi_trap_error: hart0: trap0: mepc=0x0000000080001234 [V:1111] mstatus=0x0000000000001800\n")
    fault = only(scan(write(tmp_path, text)))
    assert fault.facts["cause_name"] == "custom exception 28" and fault.addresses["pc"].value == 0x80001234
