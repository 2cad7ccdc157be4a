"""Xen crash reports (xen.py): x86 and Arm register dumps, call traces, the panic box."""

from __future__ import annotations

from triage_helpers import only, write

from hvcheck.triage.scan import scan

# Our own dump in the shape of xen/arch/x86/traps.c show_execution_state() (values made up).
X86_EFI = """\
(XEN) ----[ Xen-4.19.1  x86_64  debug=y  Not tainted ]----
(XEN) CPU:    2
(XEN) RIP:    e008:[<000000007a81c2f0>] 000000007a81c2f0
(XEN) RFLAGS: 0000000000010206   CONTEXT: hypervisor (d0v2)
(XEN) rax: 0000000000000000   rbx: ffff83083ffd7e48   rcx: 0000000000000001
(XEN) cr3: 000000083fe6a000   cr2: 000000007a9f0010
(XEN) Xen call trace:
(XEN)    [<000000007a81c2f0>] R 000000007a81c2f0
(XEN)    [<ffff82d04024b1a6>] S efi_runtime_call+0x806/0xb40
(XEN)    [<ffff82d0402d44c7>] S do_platform_op+0x1d37/0x2b80
(XEN)
(XEN) Pagetable walk from 000000007a9f0010:
(XEN) ****************************************
(XEN) Panic on CPU 2:
(XEN) FATAL PAGE FAULT
(XEN) [error_code=0002]
(XEN) Faulting linear address: 000000007a9f0010
(XEN) ****************************************
(XEN)
(XEN) Reboot in five seconds...
"""

ARM64 = """\
(XEN) ----[ Xen-4.18.1  arm64  debug=y  Not tainted ]----
(XEN) CPU:    1
(XEN) PC:     00000a0000253c2c vgic_v3_emulate_reg+0x1c/0x140
(XEN) LR:     00000a0000253c18
(XEN) CPSR:   0000000080000249 MODE:64-bit EL2h (Hypervisor, handler)
(XEN)      X0: 0000000000000000  X1: 00008003fff8fea0  X2: 0000000000000001
(XEN)   ESR_EL2: 0000000096000005
(XEN)    FAR_EL2: 0000000000000010
(XEN) Xen call trace:
(XEN)    [<00000a0000253c2c>] vgic_v3_emulate_reg+0x1c/0x140 (PC)
(XEN)    [<00000a0000261a34>] do_trap_guest_sync+0x2d4/0x6a0
(XEN)
(XEN) ****************************************
(XEN) Panic on CPU 1:
(XEN) CPU1: Unexpected Trap: Data Abort
(XEN) ****************************************
"""


def test_x86_fatal_page_fault_in_firmware_called_by_xen(tmp_path) -> None:
    fault = only(scan(write(tmp_path, X86_EFI)))
    assert fault.reader == "xen" and fault.arch == "x86_64" and fault.cpu == 2
    assert fault.facts["xen_version"] == "4.19.1" and fault.facts["debug"] is True
    assert fault.facts["context"] == "hypervisor" and fault.facts["vcpu"] == "d0v2"
    assert fault.facts["panic"] == "FATAL PAGE FAULT" and fault.facts["error_code"] == 2
    assert fault.addresses["fault"].value == 0x7A9F0010 and fault.facts["cr2"] == 0x7A9F0010
    # the RIP is not Xen's own text (0xffff82d0...) while Xen runs: firmware it called (EFI runtime)
    assert fault.addresses["pc"].value == 0x7A81C2F0 and fault.facts["outside_xen_text"] is True
    assert "EFI runtime" in fault.facts["pc_owner"]
    assert fault.facts["call_trace"] == ["efi_runtime_call", "do_platform_op"]    # the bare address: no symbol


def test_x86_rip_inside_xen_text_is_xens_own(tmp_path) -> None:
    text = X86_EFI.replace("000000007a81c2f0>] 000000007a81c2f0\n(XEN) RFLAGS",
                           "ffff82d04023a355>] credit2.c#csched2_free_domdata+0x65/0xd0\n(XEN) RFLAGS")
    fault = only(scan(write(tmp_path, text)))
    assert fault.facts["outside_xen_text"] is False and "pc_owner" not in fault.facts
    assert fault.facts["function"] == "credit2.c#csched2_free_domdata"


def test_arm64_trap_in_xen_decodes_esr_el2(tmp_path) -> None:
    fault = only(scan(write(tmp_path, ARM64)))
    assert fault.arch == "aarch64" and fault.cpu == 1
    assert fault.facts["panic"] == "CPU1: Unexpected Trap: Data Abort"
    assert fault.facts["ec"] == 0x25 and fault.facts["fsc_name"] == "level 1 translation fault"
    assert fault.facts["lower_el"] is False             # Xen itself took the abort, at EL2
    assert fault.addresses["fault"].value == 0x10 and fault.addresses["pc"].value == 0xA0000253C2C


def test_timestamped_and_plain_captures_are_two_dumps(tmp_path) -> None:
    stamped = "".join(line.replace("(XEN) ", "(XEN) [   12.449137] ", 1) + "\n"
                      for line in X86_EFI.splitlines()[:6])
    fault_lines = ARM64
    result = scan(write(tmp_path, stamped + fault_lines))
    assert [f.arch for f in result.faults] == ["x86_64", "aarch64"]
    assert "panic" not in result.faults[0].facts


def test_a_log_without_xen_lines_has_no_xen_record(tmp_path) -> None:
    text = "XEN) not a prefix\nxen: booting\n(XEN)\n"
    assert not [f for f in scan(write(tmp_path, text)).faults if f.reader == "xen"]
