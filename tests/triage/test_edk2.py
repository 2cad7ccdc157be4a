"""EDK2/UEFI exception dumps (edk2.py): X64/IA32 CpuExceptionHandlerLib and ArmPkg DefaultExceptionHandler."""

from __future__ import annotations

from triage_helpers import only, write

from hvcheck.triage.scan import scan

# Our own dumps in the shapes of UefiCpuPkg CpuExceptionHandlerLib and ArmPkg DefaultExceptionHandlerLib.
IA32_PF = """\
!!!! IA32 Exception Type - 0E(#PF - Page-Fault)  CPU Apic ID - 00000001 !!!!
ExceptionData - 00000002  I:0 R:0 U:0 W:1 P:0 PK:0 SS:0 SGX:0
EIP  - 7F8A1C34, CS  - 00000010, EFLAGS - 00010206
EAX  - 00000000, ECX - 7F8B0000, EDX - 00000001, EBX - 00000000
CR0  - 00000033, CR2 - DEADBEEF, CR3 - 00000000, CR4 - 00000640
!!!! Find image based on IP(0x7F8A1C34) /b/Build/OvmfIa32/DEBUG_GCC5/IA32/DxeCore.dll (ImageBase=000000007F89F000, EntryPoint=000000007F8A0240) !!!!
"""

X64_UD_IN_VGA = """\
!!!! X64 Exception Type - 06(#UD - Invalid Opcode)  CPU Apic ID - 00000000 !!!!
RIP  - 00000000000A8000, CS  - 0000000000000038, RFLAGS - 0000000000000246
RAX  - 0000000000000000, RCX - 0000000000000000, RDX - 0000000000000000
CR0  - 0000000080010033, CR2 - 0000000000000000, CR3 - 0000000007C01000
!!!! Can't find image information. !!!!
"""

AARCH64 = """\
Synchronous Exception at 0x00000000BFF2A6C4
PC 0x0000BFF2A6C4 (0x0000BFF1F000+0x0000B6C4) [ 1] DxeCore.dll
  X0 0x0000000000000000  X1 0x00000000BFF80010  X2 0x0000000000000002  X3 0x0000000000000000
  SP 0x00000000BFFFEB50  ELR 0x00000000BFF2A6C4  SPSR 0x60000209  FPSR 0x00000000
  ESR 0x96000004          FAR 0x0000000000000008

  ESR : EC 0x25  IL 0x1  ISS 0x00000004

Data abort: Translation fault, zeroth level
"""


def test_ia32_page_fault_with_image(tmp_path) -> None:
    fault = only(scan(write(tmp_path, IA32_PF)))
    assert fault.kind == "edk2-x86-exception" and fault.arch == "x86_64" and fault.facts["firmware"] == "IA32"
    assert fault.facts["vector"] == 14 and fault.facts["error_code"] == 2 and fault.cpu == 1
    assert fault.addresses["pc"].value == 0x7F8A1C34 and fault.addresses["fault"].value == 0xDEADBEEF
    assert fault.facts["image"].endswith("DxeCore.dll")


def test_x64_invalid_opcode_in_the_vga_window(tmp_path) -> None:
    fault = only(scan(write(tmp_path, X64_UD_IN_VGA)))
    assert fault.facts["vector"] == 6 and fault.addresses["pc"].value == 0xA8000
    assert fault.facts["region"] == "VGA" and "not code" in fault.facts["rip_region"]
    assert fault.facts["image"].startswith("none")


def test_aarch64_synchronous_exception_decodes_esr(tmp_path) -> None:
    fault = only(scan(write(tmp_path, AARCH64)))
    assert fault.kind == "edk2-arm-exception" and fault.arch == "aarch64"
    assert fault.addresses["pc"].value == 0xBFF2A6C4 and fault.addresses["fault"].value == 0x8
    assert fault.facts["ec"] == 0x25 and fault.facts["fsc_name"] == "level 0 translation fault"
    assert fault.facts["is_write"] is False
    assert fault.facts["firmware_says"] == "Data abort: Translation fault, zeroth level"


def test_not_an_exception_dump(tmp_path) -> None:
    text = "!!!! some banner !!!!\nRIP  - 0000000000001000\nSynchronous Exception handling is enabled\n"
    assert not [f for f in scan(write(tmp_path, text)).faults if f.reader == "edk2"]
