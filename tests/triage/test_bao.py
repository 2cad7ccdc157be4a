"""Bao one-line errors (bao.py): only what the line shows, no architecture guessed."""

from __future__ import annotations

from triage_helpers import only, write

from hvcheck.triage.scan import scan


def test_unhandled_abort_has_no_architecture_evidence(tmp_path) -> None:
    text = "Bao Hypervisor\nBAO INFO: Initializing VM 1\nBAO ERROR: no emulation handler for abort(0xa003000 at 0x40000a18)\n"
    fault = only(scan(write(tmp_path, text)))
    assert fault.kind == "bao-unhandled-mmio" and fault.arch == "unknown"
    assert fault.addresses["fault"].value == 0xA003000 and fault.addresses["pc"].value == 0x40000A18


def test_exception_class_is_arm_evidence(tmp_path) -> None:
    fault = only(scan(write(tmp_path, "BAO ERROR: no handler for abort ec = 0x20\n")))
    assert fault.kind == "bao-abort" and fault.arch == "aarch64" and fault.facts["ec"] == 0x20
    assert fault.facts["ec_name"] == "instruction abort from a lower exception level"


def test_unknown_synchronous_exception(tmp_path) -> None:
    fault = only(scan(write(tmp_path, "BAO ERROR: unknown synchronous exception (3)\n")))
    assert fault.kind == "bao-exception" and fault.arch == "unknown" and fault.facts["exception"] == 3
