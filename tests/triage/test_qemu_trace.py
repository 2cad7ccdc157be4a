"""QEMU -d int traces (qemu_trace.py)."""

from __future__ import annotations

from triage_helpers import DEMO, only, scan_fixture

from hvcheck.triage.scan import scan


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
