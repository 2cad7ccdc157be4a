"""Diagnoses T001-T005: confidence, cited lines, degradation when inputs/modules are missing."""

from __future__ import annotations

import subprocess
import sys

from rulecheck import clean, fires
from triage_helpers import DEMO, FIX, write

from hvcheck.demo.scenario_triage import seed001_system
from hvcheck.findings import Location
from hvcheck.layout.model import Board, DeviceTreeFacts, Region, RegionKind, Span, System, Zone
from hvcheck.triage.context import Context, load_context, use_system
from hvcheck.triage.diagnose import diagnose
from hvcheck.triage.scan import scan


def _ctx(system: object | None = None) -> Context:
    ctx = load_context()
    if system is not None:
        use_system(ctx, system)
        ctx.missing.pop("layout", None)
    return ctx


def _rules(findings) -> list[str]:
    return [f.rule for f in findings]


def test_t001_established_with_layout_and_cites_lines() -> None:
    findings = diagnose([scan(str(DEMO / "seed001-hvisor-console.log"))], _ctx(seed001_system()))
    t001 = fires(findings, "T001")
    assert len(t001) == 1
    assert sorted(_rules(findings)) == ["M001", "M002", "T001"]
    assert t001[0].data["related_rules"] == ["M001", "M002"]
    f = t001[0]
    assert f.data["confidence"] == "established"
    assert f.data["fault_address"] == 0x41A3F040
    assert "memory pool" in f.message and "stage-2 tables" in f.message
    log_lines = [loc.line for loc in f.locations if loc.path and loc.path.endswith(".log")]
    assert 14 in log_lines and 15 in log_lines
    assert any(loc.path and loc.path.endswith("seed001-layout.yaml") for loc in f.locations)


def test_without_layout_the_same_fault_is_only_facts() -> None:
    findings = diagnose([scan(str(DEMO / "seed001-hvisor-console.log"))], _ctx())
    assert _rules(findings) == ["T005"]
    fires(findings, "T005")
    clean(findings, "T001")  # without the layout, the address has no known owner
    f = findings[0]
    assert f.data["confidence"] == "unknown"
    assert "no --layout given" in f.message


def test_t001_probable_from_hvisor_diagnostic_alone() -> None:
    findings = diagnose([scan(str(FIX / "hvisor-aarch64-fault-in-hv-mem.log"))], _ctx())
    assert _rules(findings) == ["T001"]
    clean(findings, "T005")  # a diagnosed fault is not also reported as bare facts
    assert findings[0].data["confidence"] == "probable"


def test_t001_outside_hv_range_is_not_t001() -> None:
    findings = diagnose([scan(str(FIX / "hvisor-riscv64-mmio-panic.log"))], _ctx(seed001_system()))
    clean(findings, "T001")


def _zone_system(dt_memory: tuple[int, int] | None) -> System:
    src = Location("layout.yaml", 1)
    zone = Zone("linux1", 1, False, src)
    zone.add_region(Region(RegionKind.RAM, 0x50000000, 0x08000000, src))     # maps [0x50000000, 0x58000000)
    if dt_memory is not None:
        zone.devicetree = DeviceTreeFacts("zone1.dts", memory=[Span(dt_memory[0], dt_memory[1], src)])
    board = Board("b", memory=[Span(0x40000000, 0x80000000, src)])
    return System("s", src, None, board, zones=[zone])


def test_t002_established_when_dt_memory_larger_than_mapping(tmp_path) -> None:
    log = ("[WARN  1] (hvisor::memory::mmio:109) Zone 1 unhandled mmio fault MMIOAccess {\n"
           "    address: 0x5a000000,\n    size: 0x8,\n    is_write: true,\n    value: 0x0,\n}\n")
    path = write(tmp_path, log)
    findings = diagnose([scan(path)], _ctx(_zone_system((0x50000000, 0x60000000))))
    assert _rules(findings)[0] == "T002" and findings[0].data["confidence"] == "established"
    fires(findings, "T002")
    assert _rules(findings) == ["T002", "M003"]       # the layout rule that explains it, cited
    assert findings[0].data["related_rules"] == ["M003"]
    # the same fault with a device tree that does not claim the address: facts only
    findings = diagnose([scan(path)], _ctx(_zone_system((0x50000000, 0x58000000))))
    assert _rules(findings) == ["T005"]
    clean(findings, "T002")
    # no device tree: board RAM, unmapped -> probable
    findings = diagnose([scan(path)], _ctx(_zone_system(None)))
    assert _rules(findings)[0] == "T002" and findings[0].data["confidence"] == "probable"


def test_t003_xcr0_from_edx_eax() -> None:
    findings = diagnose([scan(str(DEMO / "seed000-guest-console.log"))], _ctx())
    t003 = fires(findings, "T003")[0]
    assert t003.data["xcr0"] == 0x202E7 and t003.data["xcr_index"] == 0
    assert "XTILECFG" in t003.data["xcr0_bits"] and "XTILEDATA" not in t003.data["xcr0_bits"]
    assert t003.data["confidence"] in ("established", "probable")


def test_t003_high_half_from_rdx(tmp_path) -> None:
    text = (DEMO / "seed000-guest-console.log").read_text().replace(
        "RDX: 0000000000000000 RSI", "RDX: ffffffff00000001 RSI")
    findings = diagnose([scan(write(tmp_path, text))], _ctx())
    assert fires(findings, "T003")[0].data["xcr0"] == 0x1000202E7


def test_t003_ecx_nonzero_named(tmp_path) -> None:
    text = (DEMO / "seed000-guest-console.log").read_text().replace(
        "RCX: 0000000000000000", "RCX: 0000000000000001")
    t003 = fires(diagnose([scan(write(tmp_path, text))], _ctx()), "T003")[0]
    assert "ECX = 0x1" in t003.message


def test_t003_without_registers_is_not_established(tmp_path) -> None:
    text = "\n".join(line for line in (DEMO / "seed000-guest-console.log").read_text().splitlines()
                     if "RAX:" not in line)
    t003 = diagnose([scan(write(tmp_path, text))], _ctx())[0]
    assert t003.rule == "T003" and t003.data["confidence"] == "probable" and "cannot be computed" in t003.message


def test_wrmsr_gp_is_t005_not_t003() -> None:
    findings = diagnose([scan(str(FIX / "x86-gp-wrmsr-xfd.log"))], _ctx())
    assert _rules(findings) == ["T005"] and "IA32_XFD" in findings[0].message
    clean(findings, "T003")  # #GP on WRMSR, not on XSETBV


def test_t004_storm_probable_without_image() -> None:
    findings = diagnose([scan(str(DEMO / "seed002-qemu-int.log"))], _ctx())
    assert _rules(findings) == ["T004"]
    f = fires(findings, "T004")[0]
    assert f.data["confidence"] == "probable" and "0x8000007c" in f.message
    assert "no --riscv-elf given" in f.message


def test_single_illegal_instruction_is_only_facts() -> None:
    findings = diagnose([scan(str(FIX / "riscv-linux-illegal.log"))], _ctx())
    assert _rules(findings) == ["T005"]
    clean(findings, "T004")  # one illegal instruction in Linux user space is not a trap-vector storm


def test_no_hvisor_lines_is_unknown_not_clean() -> None:
    findings = diagnose([scan(str(FIX / "linux-only-silent.log"))], _ctx())
    assert _rules(findings) == ["T005"]
    assert fires(findings, "T005")[0].data["confidence"] == "unknown" and "not 'no fault'" in findings[0].message


def test_owners_resolved_in_t005(tmp_path) -> None:
    path = write(tmp_path, "EL2 Exception: Data Abort, ELR_EL2: 0x40412a3c, ESR_EL2: 0x96000006, FAR_EL2: 0x40c3f000\n")
    findings = diagnose([scan(path)], _ctx(seed001_system()))
    # FAR_EL2 is inside hvisor's pool: that is T001 (the address is hvisor's own memory)
    assert _rules(findings) == ["T001", "M001", "M002"]


def test_every_diagnosis_states_a_confidence_and_lines() -> None:
    for log in sorted(FIX.glob("*.log")):
        for f in diagnose([scan(str(log))], _ctx()):
            assert f.data["confidence"] in ("established", "probable", "unknown"), (log, f.rule)
            assert f.locations and f.locations[0].path, (log, f.rule)
            assert f.message.startswith(f"[{f.data['confidence']}]")


def test_cli_module_import_is_light() -> None:
    code = ("import sys, hvcheck.triage.cli; heavy = [m for m in ('elftools', 'tree_sitter', 'libfdt', 'rich') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_serror_on_bare_metal_is_not_called_injected() -> None:
    findings = diagnose([scan(str(FIX / "real" / "qcom541.log"))], load_context())
    (t5,) = fires(findings, "T005")
    assert "asynchronous SError" in t5.data["interpretation"]
    assert "injecting an abort" not in t5.message and t5.data["arch"] == "aarch64"


def test_synchronous_external_abort_in_a_guest_may_be_injected() -> None:
    findings = diagnose([scan(str(FIX / "arm64-sea-6.x.log"))], load_context())
    (t5,) = fires(findings, "T005")
    assert "injecting an abort" in t5.data["interpretation"] and "linux,dummy-virt" in t5.message


def test_nothing_recognised_names_the_formats_it_saw(tmp_path) -> None:
    log = write(tmp_path, "[    0.000000] Booting Linux on physical CPU 0x0\nOpenSBI v1.3\nall fine\n")
    (t5,) = fires(diagnose([scan(log)], load_context()), "T005")
    assert t5.data["formats_seen"] == {"Linux kernel": 1, "OpenSBI": 1}
    assert "not 'no fault'" in t5.message and "sbi_trap_error" in t5.message
    clean(diagnose([scan(log)], load_context()), "T001")


def test_hvisor_advice_only_for_an_hvisor_log(tmp_path) -> None:
    xen = write(tmp_path, "(XEN) Xen version 4.17.2 (user@) (gcc) debug=n\n(XEN) Bootloader: GRUB 2.06\n"
                          "[rustsbi] RustSBI version 0.3.1\nall fine\n", "xen.log")
    (t5,) = fires(diagnose([scan(xen)], load_context()), "T005")
    assert t5.data["formats_seen"] == {"Xen": 2, "RustSBI": 1}      # banner and "(XEN)" lines: one format
    assert "LOG=" not in t5.message and "hvisor" not in t5.message.split("): ", 1)[1]
    hv = write(tmp_path, "[INFO  0] (hvisor::arch::aarch64::trap:88) handle hvc, code 0x4\n", "hv.log")
    (t5,) = fires(diagnose([scan(hv)], load_context()), "T005")
    assert "LOG=" in t5.message and "hvisor" in t5.data["formats_seen"]
