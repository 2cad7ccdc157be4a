"""seL4 fault reports (sel4.py): kernel "vm fault" messages, the Microkit monitor, the Microkit loader."""

from __future__ import annotations

from triage_helpers import only, write

from hvcheck.triage.scan import scan

# Our own reports in the shapes of sel4utils/sel4test's fault handler and Microkit's monitor (values made up).
ARM_STATUS = """\
Caught cap fault in send phase at address 0
while trying to handle:
vm fault on data at address 0x10 with status 0x92000006
in thread 0xffffff8001bd6400 "sel4test-driver" at address 0x41f3c8
With stack:
0x548ef0: 0x0
"""

MONITOR = """\
MON|ERROR: received message 0x00000006  badge: 0x0000000000000002  tcb cap: 0x8000000000002402
MON|ERROR: faulting PD: net_driver
Registers:
pc : 0x0000000000200a10
MON|ERROR: VMFault: ip=0x0000000000200a10  fault_addr=0x0000000000000018  fsr=0x0000000093c08046  (data fault)
MON|ERROR:    ec: 0x00000024  Data Abort from a lower Exception level   il: 1   iss: 0x01c08046
"""


def test_kernel_vm_fault_with_an_esr_shaped_status(tmp_path) -> None:
    fault = only(scan(write(tmp_path, ARM_STATUS)))
    assert fault.kind == "sel4-fault" and fault.facts["thread"] == "sel4test-driver"
    assert fault.addresses["fault"].value == 0x10 and fault.addresses["pc"].value == 0x41F3C8
    # 0x92000006: EC 0x24 (data abort, lower EL), IL=1: Arm evidence, decoded
    assert fault.arch == "aarch64" and fault.facts["ec"] == 0x24 and fault.facts["fsc"] == 6


def test_a_status_without_the_esr_shape_proves_no_architecture(tmp_path) -> None:
    fault = only(scan(write(tmp_path, ARM_STATUS.replace("0x92000006", "0x4"))))
    assert fault.arch == "unknown" and fault.facts["status"] == 4 and "ec" not in fault.facts


def test_microkit_monitor_fault(tmp_path) -> None:
    fault = only(scan(write(tmp_path, MONITOR)))
    assert fault.kind == "microkit-fault" and fault.facts["pd"] == "net_driver" and fault.arch == "aarch64"
    assert fault.addresses["pc"].value == 0x200A10 and fault.addresses["fault"].value == 0x18
    assert fault.facts["wnr"] == 1 and fault.facts["access_size"] == 8 and fault.facts["is_write"] is True
