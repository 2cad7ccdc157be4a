"""ACRN hypervisor crash dumps (acrn.py): unhandled exceptions with host registers, assertions."""

from __future__ import annotations

from triage_helpers import only, write

from hvcheck.triage.scan import scan

# Our own dump in the shape of hypervisor/arch/x86/guest/... dump_exception() (values made up), as a serial
# capture with the log prefix of the ACRN console.
GP = """\
[31405us][cpu=1][vm0:vcpu1][sev=1][seq=812]:
================================================================================
= Unhandled exception: 13 (General Protection)
Host Registers:
=  Vector=0x000000000000000D  RIP=0x00000000A0012C4E
=     RAX=0x0000000000000000  RBX=0x0000000000000001  RCX=0x00000000000001C4
= ERRCODE=0x0000000000000000   CS=0x0000000000000008   SS=0x0000000000000000
= CR2=0x0000000000000000  CR3=0x000000000A23B000  CR4=0x00000000003626E0
================================================================================
Host Stack: CPU_ID = 1
"""

ASSERT = """\
ACRN Hypervisor
[2361017us][cpu=0][(null)][sev=2][seq=6]:Assertion failed in file arch/x86/guest/vcpu.c,line 744 : fatal error
[2363173us][cpu=0][(null)][sev=2][seq=8]:
Host Stack: CPU_ID = 0
"""


def test_unhandled_exception(tmp_path) -> None:
    fault = only(scan(write(tmp_path, GP)))
    assert fault.kind == "acrn-exception" and fault.arch == "x86_64" and fault.cpu == 1
    assert fault.facts["vector"] == 13 and fault.facts["exception"] == "General Protection"
    assert fault.addresses["pc"].value == 0xA0012C4E and fault.registers["RCX"] == 0x1C4
    assert fault.facts["error_code"] == 0


def test_assertion(tmp_path) -> None:
    fault = only(scan(write(tmp_path, ASSERT)))
    assert fault.kind == "acrn-assertion" and fault.facts["assertion"] == "arch/x86/guest/vcpu.c:744"


def test_vim_paste_with_line_numbers_and_cr(tmp_path) -> None:
    pasted = "".join(f"{n:3d} ^M{line}^M\n" for n, line in zip(range(9, 0, -1), GP.splitlines()[1:], strict=False))
    fault = only(scan(write(tmp_path, pasted)))
    assert fault.facts["vector"] == 13 and fault.addresses["pc"].value == 0xA0012C4E
