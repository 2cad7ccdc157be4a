"""RustSBI panics (rustsbi.py): the instruction RustSBI could not emulate, decoded; a trap at the kernel entry."""

from __future__ import annotations

from triage_helpers import only, write

from hvcheck.triage.scan import scan

# Our own lines in the shape of RustSBI's QEMU platform panic handler (values made up).
WFI = """\
[rustsbi] RustSBI version 0.2.2, adapting to RISC-V SBI v1.0.0
[rustsbi] Kernel entry: 0x80200000
[rustsbi-panic] hart 1 panicked at 'invalid instruction, mepc: 0000000080201a3c, instruction: 0000000010500073', src/main.rs:459:17
"""


def test_invalid_instruction_is_decoded(tmp_path) -> None:
    fault = only(scan(write(tmp_path, WFI)))
    assert fault.kind == "rustsbi-panic" and fault.arch == "riscv64" and fault.cpu == 1
    assert fault.addresses["pc"].value == 0x80201A3C and fault.facts["instruction"] == "wfi"
    assert fault.facts["cause"] == 2 and fault.facts["kernel_entry"] == 0x80200000
    assert "at_kernel_entry" not in fault.facts


def test_zero_word_at_the_kernel_entry_means_nothing_loaded(tmp_path) -> None:
    text = WFI.replace("0000000080201a3c, instruction: 0000000010500073",
                       "0000000080200000, instruction: 0000000000000000")
    fault = only(scan(write(tmp_path, text)))
    assert fault.facts["at_kernel_entry"] is True and fault.facts["instruction"] == "not a valid instruction"
    assert "nothing" in fault.facts["interpretation"]
