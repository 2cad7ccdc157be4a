"""arm64/riscv Linux oops, OpenSBI, KVM internal error and QEMU trace readers."""

from __future__ import annotations

from triage_helpers import DEMO, only, scan_fixture, write

from hvcheck.triage.scan import scan
from hvcheck.triage.syndrome import decode_esr


def test_decode_esr_dabt_fields() -> None:
    esr = decode_esr(0x93C08006)   # DABT lower EL, ISV=1, SAS=3 (8 bytes), SRT=0, WnR=0, FSC=6
    assert esr["ec"] == 0x24 and esr["isv"] == 1 and esr["access_size"] == 8 and esr["fsc"] == 6
    assert esr["fsc_name"] == "level 2 translation fault"
    sea = decode_esr(0x96000210)
    assert sea["ea"] == 1 and sea["fsc_name"] == "synchronous external abort" and sea["isv"] == 0
    assert decode_esr(0x96000050)["wnr"] == 1


def test_arm64_sea_new_kernel_with_pte() -> None:
    fault = only(scan_fixture("arm64-sea-6.x.log"))
    assert fault.registers["esr"] == 0x96000010 and fault.facts["fsc"] == 0x10
    assert fault.facts["external_abort"] is True
    assert fault.addresses["fault_pa"].value == 0x80A71000
    assert fault.facts["function"] == "readl_relaxed_poll" and fault.cpu == 1


def test_arm64_old_kernel_translation_fault() -> None:
    fault = only(scan_fixture("arm64-translation-4.19.log"))
    assert fault.registers["esr"] == 0x96000004
    assert fault.facts["fsc_name"] == "level 0 translation fault"
    assert "external_abort" not in fault.facts
    assert fault.addresses["fault"].value == 8


def test_arm64_unhandled_fault_line() -> None:
    fault = only(scan_fixture("arm64-unhandled-sea.log"))
    assert fault.facts["external_abort"] is True
    assert fault.addresses["fault"].value == 0xFFFF000010A3C004


def test_riscv_linux_oops() -> None:
    fault = only(scan_fixture("riscv-linux-illegal.log"))
    assert fault.arch == "riscv64" and fault.facts["reason"] == "illegal instruction"
    assert fault.addresses["pc"].value == 0xFFFFFFE0002B8F70
    assert fault.registers["cause"] == 2
    assert fault.facts["function"] == "raid6_int2_xor_syndrome"


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


def test_kvm_suberror3_ept_misconfig() -> None:
    fault = only(scan_fixture("kvm-suberror3-ept-misconfig.log"))
    assert fault.facts["suberror"] == 3
    assert fault.facts["vectoring"] == "hardware exception vector 0xe (#PF) with error code"
    assert fault.facts["exit_reason"] == 49 and fault.facts["exit_reason_name"] == "EPT_MISCONFIG"
    assert fault.addresses["fault"].value == 0xFEE00340
    assert fault.facts["cpu_mode"] == "64-bit" and fault.registers["CPL"] == 0


def test_kvm_emulation_failure_and_old_format() -> None:
    fault = only(scan_fixture("kvm-emulation-failure-realmode.log"))
    assert fault.facts["emulation_failure"] and fault.facts["instruction"] == "xsetbv"
    assert fault.facts["cpu_mode"] == "real" and fault.facts["cpu_mode_basis"] == "CR0.PE=0"
    old = only(scan_fixture("kvm-old-qemu-kvm.log"))
    # no segment lines in this dump: the fetch address (CS.base + EIP) cannot be computed, so no region
    assert old.registers["RIP"] == 0xFE05B and "CS base not in the dump" in old.facts["linear_pc_unknown"]
    assert old.facts["cpu_mode"] == "real" and "region" not in old.facts


def test_qemu_riscv_storm_collapsed() -> None:
    result = scan(str(DEMO / "seed002-qemu-int.log"))
    storm = only(result, "qemu-trap-storm")
    assert storm.count == 400 and storm.facts["longest_back_to_back_run"] == 400
    assert storm.addresses["pc"].value == 0x8000007C and storm.facts["instruction_bits"] == 0
    assert result.stats.trace_records == 404
    assert [f.kind for f in result.faults] == ["qemu-trap-storm"]    # ecalls, page faults, timers: normal


def test_qemu_x86_and_arm_traces() -> None:
    x86 = scan_fixture("qemu-x86-int.log")
    assert sorted(f.facts["cause_name"] for f in x86.faults) == ["#DF error code 0000", "#GP error code 0000"]
    arm = scan_fixture("qemu-arm-int.log")
    names = sorted(str(f.facts["cause_name"]) for f in arm.faults)
    assert names == ["invalid read (no device or RAM at the address)", "pl061: unimplemented device read"]
    pats = {p.name: p for p in arm.qemu.patterns.values()}
    assert pats["Data Abort (ESR 0x96000010)"].pc == 0xFFFF800080733A1C
    assert pats["Data Abort (ESR 0x96000010)"].tval == 0xFFFF80000A7D3000
