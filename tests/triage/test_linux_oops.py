"""Linux oops reader (linux_oops.py): x86-64, arm64 and RISC-V forms across kernel versions."""

from __future__ import annotations

from triage_helpers import DEMO, FIX, only, scan_fixture, write

from hvcheck.triage.scan import scan


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


def test_code_line_without_marker_or_junk(tmp_path) -> None:
    text = ("general protection fault: 0000 [#1] SMP\nRIP: 0010:foo+0x1/0x2\nCode: Bad RIP value.\n"
            "RAX: 0000000000000001 RBX: zzzz\n")
    fault = only(scan(write(tmp_path, text)))
    assert "instruction" not in fault.facts and fault.registers["RAX"] == 1


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


def test_arm32_oops_is_arm_not_aarch64() -> None:
    fault = only(scan_fixture("arm32-oops-5.4.log"))
    assert fault.kind == "arm-kernel-fault" and fault.arch == "arm"
    assert fault.addresses["fault"].value == 0xE0A80010 and fault.addresses["pc"].value == 0xC04A2B3C
    # "Oops: 807": short-descriptor FSR, WnR (bit 11) set, FS=7 page translation fault
    assert fault.facts["fsr"] == 0x807 and fault.facts["is_write"] is True
    assert fault.facts["fsr_status"] == "page translation fault"
    assert fault.facts["cpu_mode"] == "SVC" and fault.facts["isa"] == "ARM" and fault.cpu == 1
    assert fault.facts["function"] == "mydrv_write"


def test_x86_null_pointer_header_of_5_2_and_later(tmp_path) -> None:
    text = ("BUG: kernel NULL pointer dereference, address: 0000000000000010\n"
            "#PF: supervisor read access in kernel mode\n#PF: error_code(0x0000) - not-present page\n"
            "CPU: 0 PID: 1 Comm: init Not tainted 6.1.0 #1\nRIP: 0010:foo+0x1/0x2\n")
    fault = only(scan(write(tmp_path, text)))
    assert fault.arch == "x86_64" and fault.addresses["fault"].value == 0x10 and fault.facts["error_code"] == 0


def test_no_architecture_evidence_is_unknown(tmp_path) -> None:
    text = ("Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n"
            "CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1\nCall Trace:\n mount_root+0x1/0x2\n")
    fault = only(scan(write(tmp_path, text)))
    assert fault.arch == "unknown" and fault.facts["comm"] == "swapper/0"


def test_conflicting_evidence_is_unknown_and_said(tmp_path) -> None:
    text = ("Internal error: Oops: 96000005 [#1] SMP\n"       # arm64: an ESR in the header
            "CPU: 0 PID: 1 Comm: init Not tainted 6.1.0 #1\n"
            "RIP: 0010:foo+0x1/0x2\n")                         # x86: a RIP line
    fault = only(scan(write(tmp_path, text)))
    assert fault.arch == "unknown" and "conflicting evidence" in fault.facts["arch_evidence"][0]


def test_registers_of_another_architecture_end_a_cut_off_record(tmp_path) -> None:
    riscv = (FIX / "real" / "riscvlinux15.log").read_text()       # a RISC-V user fault cut after a7
    arm64 = ("x11: 0000000000000040 x10: ffff8001006ead20 x9 : ffffd0008477c8d4\n"
             "x2 : 0000000000000000 x1 : 0000000000000000 x0 : 0000000000000000\n")
    result = scan(write(tmp_path, riscv + arm64))
    fault = only(result)
    assert fault.arch == "riscv64" and "x11" not in fault.registers and "x0" not in fault.registers


def test_panic_after_an_oops_is_folded_into_it_and_its_end_line_starts_nothing(tmp_path) -> None:
    oops = (FIX / "arm32-oops-5.4.log").read_text()
    text = oops + ("[   12.346000] Kernel panic - not syncing: Fatal exception\n"
                   "[   12.346100] ---[ end Kernel panic - not syncing: Fatal exception ]---\n")
    fault = only(scan(write(tmp_path, text)))
    assert fault.facts["panic"] == "Fatal exception" and fault.kind == "arm-kernel-fault"


def test_panics_on_other_cpus_are_not_folded_as_repeats(tmp_path) -> None:
    def panic(cpu: int, comm: str) -> str:
        return (f"Kernel panic - not syncing: Asynchronous SError Interrupt\n"
                f"CPU: {cpu} PID: 1 Comm: {comm} Not tainted 6.6.22 #1\nCall trace:\n"
                " dump_backtrace+0x9c/0x100\n arm64_serror_panic+0x78/0x90\n do_serror+0x3c/0x70\n")
    result = scan(write(tmp_path, panic(3, "swapper/0") + "\n" * 30 + panic(6, "weston")))
    assert sorted((f.cpu, f.facts["comm"]) for f in result.faults) == [(3, "swapper/0"), (6, "weston")]
    assert {f.arch for f in result.faults} == {"aarch64"}
