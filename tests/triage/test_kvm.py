"""QEMU 'KVM internal error' dumps (kvm.py)."""

from __future__ import annotations

from triage_helpers import FIX, only, scan_fixture, write

from hvcheck.triage.scan import scan


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


def test_fetch_address_is_cs_base_plus_eip() -> None:
    fault = only(scan_fixture("kvm-real-mode-cs-base.log"))
    assert fault.facts["cpu_mode"] == "real" and fault.facts["cs_base"] == 0xF0000
    assert fault.addresses["pc"].value == 0x10 and fault.facts["linear_pc"] == 0xF0010
    assert fault.addresses["fetch"].value == 0xF0010 and fault.facts["region"] == "BIOS"


def test_sixteen_bit_protected_mode_is_not_real_mode(tmp_path) -> None:
    text = (FIX / "kvm-real-mode-cs-base.log").read_text().replace("CR0=60000010", "CR0=00000033")
    fault = only(scan(write(tmp_path, text)))
    assert fault.facts["cpu_mode"] == "protected" and fault.facts["linear_pc"] == 0xF0010


def test_repeated_headers_before_the_dump_are_one_failure(tmp_path) -> None:
    dump = (FIX / "kvm-real-mode-cs-base.log").read_text()
    head = "KVM internal error. Suberror: 1\nemulation failure\n"
    fault = only(scan(write(tmp_path, head * 3 + dump)))
    assert fault.count == 4 and fault.facts["linear_pc"] == 0xF0010


def test_a_header_after_other_output_is_a_new_failure(tmp_path) -> None:
    dump = (FIX / "kvm-real-mode-cs-base.log").read_text()
    other = dump.replace("EIP=00000010", "EIP=00000020")
    result = scan(write(tmp_path, dump.splitlines()[0] + "\nBooting from Hard Disk...\n" + other))
    # the first header had no dump of its own before other output came: two failures, not one merged
    assert sorted(f.registers.get("EIP", -1) for f in result.faults) == [-1, 0x20]


VM_LAYOUT = """hvcheck-layout: 1
name: qemu-pc
board:
  name: pc
  memory:
    - {start: 0x0, size: 0xa0000}
    - {start: 0x100000, size: 0x3ff00000}
zones:
  - name: guest
    root: true
    regions:
      - {kind: ram, start: 0x0, size: 0xa0000, label: low RAM}
      - {kind: io, start: 0xa0000, size: 0x20000, label: VGA window}
      - {kind: ram, start: 0x100000, size: 0x3ff00000, label: RAM}
"""


def test_with_a_layout_the_fetch_gpa_gets_its_owner(tmp_path) -> None:
    from rulecheck import fires

    from hvcheck.triage.context import load_context
    from hvcheck.triage.diagnose import diagnose

    layout = write(tmp_path, VM_LAYOUT, "vm.yaml")
    # real-mode-style CS base 0x9f000 + EIP 0x1000 = 0xa0000: the VGA window, not RAM (edk2 issue 23's shape)
    text = (FIX / "kvm-real-mode-cs-base.log").read_text().replace("CS =f000 000f0000", "CS =9f00 0009f000") \
        .replace("EIP=00000010", "EIP=00001000")
    log = write(tmp_path, text)
    (t5,) = fires(diagnose([scan(log)], load_context(layout=layout)), "T005")
    assert t5.data["owners"]["fetch"] == ["zone guest io 'VGA window' [0xa0000, 0xc0000) 128 KiB"]
    assert "0xa0000 belongs to: zone guest io 'VGA window'" in t5.message
    (bare,) = fires(diagnose([scan(log)], load_context()), "T005")
    assert "owners" not in bare.data and "no --layout given" in bare.message
    # a 64-bit dump's RIP is a virtual address: it is never looked up in the physical layout
    (long_mode,) = fires(diagnose([scan(str(FIX / "real" / "oscar1.log"))], load_context(layout=layout)), "T005")
    assert "fetch" not in long_mode.data.get("owners", {})
