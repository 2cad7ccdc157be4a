"""Linux x86 oops reader and the Code-bytes decoder, across kernel-version variants."""

from __future__ import annotations

import pytest
from triage_helpers import DEMO, only, scan_fixture, write

from hvcheck.triage.scan import scan
from hvcheck.triage.x86_insn import decode, decode_at, parse_code


def test_seed000_xsetbv_gp_5_10() -> None:
    fault = only(scan(str(DEMO / "seed000-guest-console.log")))
    assert fault.kind == "x86-gp"
    assert fault.facts["instruction"] == "xsetbv"
    assert fault.facts["function"] == "fpu__init_cpu_xstate"
    assert fault.facts["kernel_release"] == "5.10.0-46.31.uelc20.x86_64"
    assert fault.registers["RAX"] == 0x202E7 and fault.registers["RDX"] == 0 and fault.registers["RCX"] == 0
    assert fault.registers["CR0"] == 0x80050033 and fault.registers["CR4"] == 0x606B0
    assert fault.facts["edx_eax"] == 0x202E7 and fault.facts["xcr_index"] == 0
    assert fault.facts["panic"] == "Attempted to kill the idle task!"
    assert fault.facts["call_trace"][:2] == ["fpu__init_cpu", "fpu__init_system"]


def test_oops_prefix_6_9_non_canonical() -> None:
    fault = only(scan_fixture("x86-gp-noncanonical-6.9.log"))
    assert fault.kind == "x86-gp"
    assert fault.addresses["fault"].value == 0xDEAD000000000122
    assert fault.cpu == 3 and fault.facts["kernel_release"] == "6.10.0-rc3"
    assert fault.registers["PKRU"] == 0x55555554
    assert fault.facts["instruction"] == "mov"
    assert fault.facts["call_trace"] == ["process_one_work", "worker_thread"]   # '? ' frames dropped


def test_page_fault_mail_wrapped_and_journald() -> None:
    fault = only(scan_fixture("x86-pf-mail-wrapped.log"))
    assert fault.kind == "x86-pf"
    assert fault.addresses["fault"].value == 0xFFFFC90000A0F000
    assert fault.facts["error_code"] == 2 and "W (write)" in fault.facts["error_code_bits"]
    assert fault.facts["oops_number"] == 1
    assert fault.registers["RCX"] == 0x1000            # value wrapped onto the next line
    assert fault.facts["instruction"] == "rep stosb"   # `<f3>` then the wrapped ` aa ...`
    assert fault.facts["kernel_release"] == "5.13.0-rc4+"


def test_wrmsr_xfd_gp() -> None:
    fault = only(scan_fixture("x86-gp-wrmsr-xfd.log"))
    assert fault.facts["instruction"] == "wrmsr"
    assert fault.facts["msr"] == 0x1C4 and fault.facts["msr_name"] == "IA32_XFD"
    assert fault.addresses["fault"].value == 0


def test_4x_paging_request_with_oops_line() -> None:
    fault = only(scan_fixture("x86-4x-paging-request.log"))
    assert fault.kind == "x86-pf" and fault.facts["oops_number"] == 1
    assert fault.addresses["pc"].value == 0xFFFFFFFF813B6A1C
    assert fault.facts["rip_symbol"] == "memcpy_erms+0xc/0x10"


def test_user_space_gp_one_liner(tmp_path) -> None:
    text = "traps: qemu-system-x86[4242] general protection fault ip:7f3a1c2b3d4e sp:7ffd0a0b0c00 error:0 in libc.so.6[7f3a1c200000+195000]\n"
    fault = only(scan(write(tmp_path, text)))
    assert fault.kind == "x86-user-gp" and fault.addresses["pc"].value == 0x7F3A1C2B3D4E


def test_cascade_counts_first_record(tmp_path) -> None:
    text = (DEMO / "seed000-guest-console.log").read_text()
    lines = text.splitlines(keepends=True)
    start = next(i for i, x in enumerate(lines) if "[#1]" in x)
    end = next(i for i, x in enumerate(lines) if "end trace" in x)
    cascade = "".join(lines[start:end + 1]).replace("[#1]", "[#2]")     # same boot, no banner in between
    result = scan(write(tmp_path, text + cascade))
    assert [f.facts["oops_number"] for f in result.faults] == [1]
    assert result.faults[0].count == 2


@pytest.mark.parametrize("code, mnemonic", [
    ("31 c9 <0f> 01 d1", "xsetbv"), ("<0f> 01 d0", "xgetbv"), ("<0f> 30", "wrmsr"), ("<0f> 32", "rdmsr"),
    ("<0f> ae 2f", "xrstor"), ("<48> 0f ae 2f", "xrstor64"), ("<48> 0f c7 1f", "xrstors64"),
    ("<0f> ae 27", "xsave"), ("<0f> 0b", "ud2"), ("<0f> a2", "cpuid"), ("<0f> 22 e0", "mov"),
    ("<0f> 01 c1", "vmcall"), ("<f4>", "hlt"), ("(0f) 01 d1", "xsetbv"), ("<c3>", "unknown"),
])
def test_decode_marker(code: str, mnemonic: str) -> None:
    parsed = parse_code(code)
    assert parsed is not None
    insn = decode_at(parsed)
    assert insn is not None and insn.mnemonic == mnemonic


def test_decode_agrees_with_capstone() -> None:
    capstone = pytest.importorskip("capstone")
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    for raw in ("0f01d1", "0f01d0", "0f30", "0f32", "0fae2f", "480fae2f", "480fc71f", "0fae27", "0f0b",
                "0fa2", "0f01c1", "f3aa", "f3a4", "0fae6c2408"):
        ours = decode(bytes.fromhex(raw))
        theirs = next(md.disasm(bytes.fromhex(raw), 0))
        assert ours.length == theirs.size, raw
        assert theirs.mnemonic.replace("rep ", "").startswith(ours.mnemonic.replace("rep ", "")[:4]), (raw, theirs.mnemonic)


def test_code_line_without_marker_or_junk(tmp_path) -> None:
    text = ("general protection fault: 0000 [#1] SMP\nRIP: 0010:foo+0x1/0x2\nCode: Bad RIP value.\n"
            "RAX: 0000000000000001 RBX: zzzz\n")
    fault = only(scan(write(tmp_path, text)))
    assert "instruction" not in fault.facts and fault.registers["RAX"] == 1
