"""`hvcheck riscv` on firmware nobody here wrote: Debian's OpenSBI and U-Boot RISC-V builds
(docs/riscv-real-firmware.md). Zero errors and warnings expected; every trap-vector write is
resolved, a restore of a saved value, or reported as a note (never dropped)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rulecheck import clean

from hvcheck.riscv.check import check_path
from hvcheck.riscv.tvec import OldCsr

FIRMWARE = [
    "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf",
    "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.elf",
    "/usr/lib/u-boot/qemu-riscv64/uboot.elf",
    "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf",
]


def require_file(path: str) -> Path:
    """Like conftest.require_tool, for files a Debian package installs (.ci/run installs them)."""
    p = Path(path)
    if not p.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is required in CI (.ci/run installs opensbi and u-boot-qemu)")
        pytest.skip(f"{path} not installed")
    return p


@pytest.mark.parametrize("path", FIRMWARE, ids=lambda p: p.split("/")[-2] + "/" + p.split("/")[-1])
def test_real_firmware_has_no_errors_and_no_dropped_writes(path: str) -> None:
    report = check_path(str(require_file(path)))
    assert [f for f in report.findings if f.sev.label != "note"] == []
    clean(report.findings, "R001")  # R002 alone may note an unresolved write
    clean(report.findings, "R003")
    clean(report.findings, "R004")
    clean(report.findings, "R005")
    unresolved = sum(1 for w in report.writes for v in w.values if v.v is None)
    notes = [f for f in report.findings if f.rule == "R002" and f.sev.label == "note"]
    assert len(notes) == unresolved  # every unresolved write is a note
    resolved = [v.v for w in report.writes for v in w.values if isinstance(v.v, int)]
    assert resolved, "at least the boot-time vector must resolve"
    for value in resolved:  # every resolved vector is a direct-mode handler inside the image's code
        assert value & 3 == 0 and report.image.region_of(value) is not None
    assert report.image.profile.xlen == 64 and report.image.profile.c


def test_opensbi_boot_vector_and_save_restore_idiom() -> None:
    report = check_path(str(require_file(FIRMWARE[0])))
    by_pc = {w.pc: w for w in report.writes}
    # fw_base.S: `lla s4, _start_hang; csrw mtvec, s4` right after the entry point
    first = min(by_pc)
    assert by_pc[first].csr_name == "mtvec" and isinstance(by_pc[first].values[0].v, int)
    # csr_read_allowed(): csrrw saves mtvec, a later csrw restores it -> recognised as a restore
    restores = [w for w in report.writes if any(isinstance(v.v, OldCsr) for v in w.values)]
    assert len(restores) > 100
    # the swaps (csrrw) all install the same expected-trap handler, found through the switch's cases
    swaps = {v.v for w in report.writes if w.insn_text.startswith("csrrw") for v in w.values}
    assert len(swaps) == 1 and isinstance(next(iter(swaps)), int)
    unresolved = [w for w in report.writes for v in w.values if v.v is None]
    assert len(unresolved) <= 2   # docs/riscv-real-firmware.md: only the run-time next_addr stvec
    assert any(not w.reached for w in report.writes)  # the linear sweep found writes the walk missed


def test_uboot_trap_vector_comes_from_a_literal_load() -> None:
    report = check_path(str(require_file(FIRMWARE[3])))
    stvec = [v for w in report.writes if w.csr_name == "stvec" for v in w.values if isinstance(v.v, int)]
    assert stvec and any("ld t0" in step for step in stvec[0].chain)


def test_check_memory_stays_a_small_multiple_of_the_code() -> None:
    """Per-instruction facts live in one byte per code byte (walker.StartMarks), not a dict entry
    per instruction: checking U-Boot (370 KB of code, 27k reachable instructions, the rest swept)
    allocated 10.1x its code at peak with the dict, 5.4x without it. 8x catches a return to per-instruction Python objects."""
    import tracemalloc

    from hvcheck.riscv.check import check_image
    from hvcheck.riscv.elf import load_image

    img = load_image(str(require_file("/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf")))
    code = sum(len(r.data) for r in img.regions)
    tracemalloc.start()
    try:
        report = check_image(img)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(report.code.starts) > 20_000  # the walk did run
    assert peak < 8 * code, f"peak {peak} bytes for {code} bytes of code"
