"""hvisor console reader: framing, multi-line structs, each architecture's fault lines."""

from __future__ import annotations

from triage_helpers import DEMO, only, scan_fixture, write

from hvcheck.triage.scan import scan


def test_aarch64_unhandled_mmio_joined_across_interleaved_guest_line() -> None:
    result = scan(str(DEMO / "seed001-hvisor-console.log"))   # ANSI colours, CRLF, a guest line inside
    fault = only(result)
    assert fault.kind == "hvisor-unhandled-mmio"
    assert fault.addresses["fault"].value == 0x41A3F040
    assert fault.addresses["fault"].space == "GPA"
    assert fault.zone_id == 0 and fault.cpu == 2
    assert fault.facts["is_write"] is True and fault.facts["size"] == 8
    assert fault.facts["mmio_handle_access_error"].endswith("Invalid argument")
    assert fault.facts["panic_message"] == "root zone has some error"
    assert fault.facts["panic_location"] == "src/zone.rs:411"
    assert result.stats.hvisor_records == 8
    lines = {e.line for e in fault.evidence}
    assert {14, 15, 21, 22, 25} <= lines and 16 not in lines     # 16 is the interleaved guest line


def test_fault_in_hv_memory_diagnostic_with_timestamps() -> None:
    fault = only(scan_fixture("hvisor-aarch64-fault-in-hv-mem.log"))
    assert fault.kind == "hvisor-fault-in-hv-memory"
    assert fault.addresses["fault"].value == 0x40C12000
    assert fault.facts["hv_range_reported"] == (0x40400000, 0x44C00000)
    assert fault.facts["panic_message"] == "root zone has some error"


def test_fault_in_hv_memory_matched_loosely(tmp_path) -> None:
    text = ("hvisor range [0x80000000, 0x84000000)\n"
            "[ERROR 0] (hvisor::arch::aarch64::trap:99) Fault address is within HVISOR physical memory:\n"
            "    addr=0x80200000 hv=[0x80000000, 0x84000000)\n")
    fault = only(scan(write(tmp_path, text)))
    assert fault.addresses["fault"].value == 0x80200000
    assert fault.facts["hv_range_reported"] == (0x80000000, 0x84000000)


def test_riscv_guest_page_fault_address_from_htval_and_stval() -> None:
    fault = only(scan_fixture("hvisor-riscv64-guest-page-fault.log"))
    assert fault.arch == "riscv64"
    assert fault.addresses["fault"].value == (0x4000C01 << 2) | (0x10003006 & 3)
    assert fault.addresses["pc"].value == 0xFFFFFFFF80A1B2C4
    assert fault.facts["cause"] == "Store/AMO guest-page fault"
    assert fault.facts["panic_message"] == "Unhandled sync exception"


def test_riscv_mmio_panic_links_to_fault() -> None:
    fault = only(scan_fixture("hvisor-riscv64-mmio-panic.log"))
    assert fault.zone_id == 1 and fault.addresses["fault"].value == 0x10001000
    assert fault.facts["panicked"] is True
    assert "mmio_handle_access" in fault.facts["panic_message"]


def test_loongarch_unhandled_exception() -> None:
    fault = only(scan_fixture("hvisor-loongarch64.log"), "hvisor-loongarch-exception")
    assert fault.arch == "loongarch64"
    assert fault.facts["exception"] == "PIS"
    assert fault.addresses["fault"].value == 0x1FE001E0
    assert fault.addresses["pc"].value == 0x9000000000E3C5D4
    assert fault.registers["badi"] == 0x29C0018C


def test_el2_abort_println() -> None:
    fault = only(scan_fixture("hvisor-el2-abort.log"))
    assert fault.kind == "hvisor-el2-abort"
    assert fault.addresses["fault"].value == 0x40C3F000
    assert fault.registers["ESR_EL2"] == 0x96000006


def test_truncated_struct_keeps_what_it_has() -> None:
    fault = only(scan_fixture("hvisor-truncated.log"))
    assert fault.truncated
    assert fault.addresses["fault"].value == 0x80001000      # `0x8000_1000` with separators


def test_no_hvisor_lines_counted() -> None:
    result = scan_fixture("linux-only-silent.log")
    assert result.faults == [] and result.stats.hvisor_records == 0


def test_repeated_faults_are_counted_not_duplicated(tmp_path) -> None:
    rec = ("[WARN  1] (hvisor::memory::mmio:109) Zone 1 unhandled mmio fault MMIOAccess {\n"
           "    address: 0x9000000,\n    size: 0x4,\n    is_write: false,\n    value: 0x0,\n}\n")
    fault = only(scan(write(tmp_path, rec * 50)))
    assert fault.count == 50


def test_sibling_hypervisors(tmp_path) -> None:
    text = ("Unhandled data write at 0x9000000(4)\n"
            "BAO ERROR: no emulation handler for abort(0x8010000 at 0x40080a3c)\n")
    result = scan(write(tmp_path, text))
    assert sorted(f.addresses["fault"].value for f in result.faults) == [0x8010000, 0x9000000]


def test_one_line_struct_and_mail_quoting(tmp_path) -> None:
    text = ("> [WARN  0] (hvisor::memory::mmio:109) Zone 0 unhandled mmio fault MMIOAccess { address: 0xfe000000, "
            "size: 0x4, is_write: false, value: 0x0 }\n")
    fault = only(scan(write(tmp_path, text)))
    assert fault.addresses["fault"].value == 0xFE000000 and fault.facts["is_write"] is False


def test_bare_cr_line_endings(tmp_path) -> None:
    data = (DEMO / "seed001-hvisor-console.log").read_bytes().replace(b"\r\n", b"\r")
    assert b"\n" not in data
    path = tmp_path / "cr.log"
    path.write_bytes(data)
    fault = only(scan(str(path)))
    assert fault.addresses["fault"].value == 0x41A3F040 and fault.evidence[0].line == 14


def test_trap_cause_without_sync_exception_line(tmp_path) -> None:
    text = "[WARN  0] (hvisor::arch::riscv64::trap:212) Trap Cause: Illegal instruction\n"
    fault = only(scan(write(tmp_path, text)))
    assert fault.facts["cause"] == "Illegal instruction"


def test_binary_junk_between_records(tmp_path) -> None:
    import random

    rnd = random.Random(7)
    lines = (DEMO / "seed001-hvisor-console.log").read_bytes().split(b"\r\n")
    junk = bytes(rnd.randrange(256) for _ in range(300)).replace(b"\n", b"").replace(b"\r", b"")
    lines.insert(10, junk)          # a burst of line noise on the serial port, before the fault
    path = tmp_path / "noisy.log"
    path.write_bytes(b"\r\n".join(lines))
    fault = only(scan(str(path)))
    assert fault.addresses["fault"].value == 0x41A3F040 and fault.evidence[0].line == 15


def test_riscv_aia_unmapped_memory_panic_and_old_cause_code(tmp_path) -> None:
    text = ("[ERROR 1] (hvisor::panic:24) panic occurred: PanicInfo { message: CPU 1 unmaped memmory at 0x28000000, "
            "location: Location { file: \"src/arch/riscv64/trap.rs\", line: 470, col: 21 }, can_unwind: true }\n"
            "[WARN  0] (hvisor::arch::riscv64::trap:199) CPU 0 sync exception, sepc: 0x80200abc\n"
            "[WARN  0] (hvisor::arch::riscv64::trap:200) Trap cause code: 2\n")
    result = scan(write(tmp_path, text))
    mmio = only(result, "hvisor-unhandled-mmio")
    assert mmio.addresses["fault"].value == 0x28000000 and mmio.cpu == 1
    trap = only(result, "hvisor-riscv-sync-exception")
    assert trap.facts["cause"] == "Illegal instruction"


def test_other_cpu_record_inside_open_struct(tmp_path) -> None:
    text = ("[WARN  2] (hvisor::memory::mmio:109) Zone 0 unhandled mmio fault MMIOAccess {\n"
            "    address: 0x41a3f040,\n"
            "[INFO  3] (hvisor::arch::aarch64::trap:88) handle hvc, code 0x4\n"
            "    size: 0x8,\n    is_write: true,\n    value: 0x0,\n}\n"
            "[WARN  1] (hvisor::memory::mmio:109) Zone 1 unhandled mmio fault MMIOAccess {\n"
            "    address: 0x9000000,\n")
    result = scan(write(tmp_path, text))
    first, second = result.faults
    assert first.addresses["fault"].value == 0x41A3F040 and first.facts["is_write"] is True and not first.truncated
    assert second.zone_id == 1 and second.truncated and second.addresses["fault"].value == 0x9000000


def test_2023_record_format_and_messages(tmp_path) -> None:
    # hvisor before 2024-04 (src/logging.rs "[{level} {cpu}] {target}:{line}] {msg}", "Cell" not "Zone"; the
    # aarch64 data-abort path panicked on an unclaimed MMIO access, its iabt path printed "error ins access")
    text = ("[WARN  1] hvisor::memory::mmio:74] Cell 1 unhandled mmio fault MMIOAccess {\n"
            "    address: 0x9000000,\n    size: 0x4,\n    is_write: true,\n    value: 0x41,\n}\n"
            "[ERROR 1] hvisor::panic:6] panic occurred: PanicInfo {\n    payload: Any { .. },\n"
            "    message: Some(\n        mmio_handle_access: EINVAL,\n    ),\n    location: Location {\n"
            "        file: \"src/arch/aarch64/exception.rs\",\n        line: 170,\n        col: 13,\n    },\n}\n"
            "[ERROR 2] hvisor::arch::aarch64::exception:132] error ins access 1 at 0x40000000!\n"
            "[ERROR 2] hvisor::arch::aarch64::exception:133] esr_el2: iss 0x1f\n")
    result = scan(write(tmp_path, text))
    mmio = only(result, "hvisor-unhandled-mmio")
    assert mmio.zone_id == 1 and mmio.addresses["fault"].value == 0x9000000 and mmio.facts["is_write"] is True
    assert mmio.arch == "aarch64" and mmio.facts["panic_location"] == "src/arch/aarch64/exception.rs:170"
    assert "riscv64" not in mmio.facts["panic_class"]       # the same panic text was aarch64's in 2023
    iabt = only(result, "hvisor-iabt")
    assert iabt.addresses["fault"].value == 0x40000000 and "pc" not in iabt.addresses and iabt.cpu == 2
