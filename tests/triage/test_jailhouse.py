"""Jailhouse console reader (jailhouse.py): cell faults on arm64, ARMv7 and x86, faults of the hypervisor
itself, and T001 for a hypervisor fault inside its own memory (through the virtual 'Code location')."""

from __future__ import annotations

from rulecheck import clean, fires
from triage_helpers import only, write

from hvcheck.triage.context import load_context
from hvcheck.triage.diagnose import diagnose
from hvcheck.triage.scan import scan

# Our own records in the shapes of hypervisor/arch/*/traps.c and control.c (values made up).
ARM64_CELL = """\
Parking CPU 3 (Cell: "freertos")
Unhandled data write at 0x9000040(4)
FATAL: unhandled trap (exception class 0x24)
Cell state before exception:
 pc: 0000000000001a2c   lr: 0000000000001a10 spsr: 600003c5     EL1
 sp: 0000000000017f50  esr: 24 1 1820046
 x0: 0000000000000000   x1: 0000000009000040   x2: 0000000000000041
"""

X86_CELL = """\
Initializing Jailhouse hypervisor v0.12 (0-g92db71f2) on CPU 3
Code location: 0xfffffffff0000050
FATAL: Invalid MMIO/RAM write, addr: 0x00000000fed40000 size: 4
RIP: 0xffffffff8163d1a4 RSP: 0xffffc90000013c90 FLAGS: 10246
Parking CPU 1 (Cell: "RootCell")
"""

ARM32_HYP = """\
Initializing Jailhouse hypervisor v0.11 (0-g0000000) on CPU 1
Code location: 0xf0000040
Activating hypervisor
Unhandled HYP data abort exit at 0xf0004a1c
Physical address: 0xf0012340 HSR: 0x94000007
"""

LAYOUT = """\
hvcheck-layout: 1
name: bpi
hypervisor: {name: jailhouse, start: 0x7bf00000, size: 0x00100000}
board:
  name: bpi
  memory: [{start: 0x40000000, size: 0x40000000}]
zones:
  - name: Banana-Pi
    root: true
    regions:
      - {kind: ram, start: 0x40000000, size: 0x3bf00000, label: RAM}
"""


def test_arm64_cell_fault_with_parking_line_first(tmp_path) -> None:
    fault = only(scan(write(tmp_path, ARM64_CELL)))
    assert fault.kind == "jailhouse-unhandled-mmio" and fault.arch == "aarch64"
    assert fault.facts["cell"] == "freertos" and fault.cpu == 3       # the Parking line came first
    assert fault.addresses["fault"].value == 0x9000040 and fault.facts["is_write"] is True
    # "esr: 24 1 1820046" is EC, IL, ISS: WnR=1, SRT=2, access size 4, level 2 translation fault
    assert fault.facts["ec"] == 0x24 and fault.facts["wnr"] == 1 and fault.facts["srt"] == 2
    assert fault.facts["access_size"] == 4 and fault.facts["fsc_name"] == "level 2 translation fault"
    assert fault.addresses["pc"].value == 0x1A2C and fault.facts["exception_level"] == 1


def test_x86_cell_fault(tmp_path) -> None:
    fault = only(scan(write(tmp_path, X86_CELL)))
    assert fault.arch == "x86_64" and fault.facts["cell"] == "RootCell" and fault.cpu == 1
    assert fault.addresses["fault"].value == 0xFED40000 and fault.facts["size"] == 4
    assert fault.addresses["pc"].value == 0xFFFFFFFF8163D1A4 and fault.facts["jailhouse_version"] == "v0.12"


def test_arm32_hyp_abort_is_the_hypervisors_own(tmp_path) -> None:
    fault = only(scan(write(tmp_path, ARM32_HYP)))
    assert fault.kind == "jailhouse-hyp-fault" and fault.arch == "arm"
    assert fault.addresses["pc"].value == 0xF0004A1C and fault.addresses["fault"].value == 0xF0012340
    assert fault.facts["ec"] == 0x25 and fault.facts["lower_el"] is False and fault.facts["il"] == 16
    assert fault.facts["hv_code_location"] == 0xF0000040


def test_t001_for_a_hyp_fault_inside_the_hypervisors_virtual_window(tmp_path) -> None:
    ctx = load_context(layout=write(tmp_path, LAYOUT, "layout.yaml"))
    (t1,) = fires(diagnose([scan(write(tmp_path, ARM32_HYP))], ctx), "T001")
    # 0xf0012340 is 0x12340 into the window that starts at the page of "Code location: 0xf0000040"
    assert "physical 0x7bf12340" in t1.message and "jailhouse's range" in t1.message
    assert t1.data["confidence"] == "probable"          # the window base is an estimate, said so
    assert "estimated" in t1.message and "hvisor" not in t1.message
    # outside the window (an address past the hypervisor's 1 MiB): not T001
    beyond = ARM32_HYP.replace("0xf0012340", "0xf0212340")
    clean(diagnose([scan(write(tmp_path, beyond, "beyond.log"))], ctx), "T001")
