"""Arm syndrome decoding (syndrome.py)."""

from __future__ import annotations

import pytest

from hvcheck.triage.syndrome import decode_arm32_fsr, decode_esr, describe_esr


def test_decode_esr_dabt_fields() -> None:
    esr = decode_esr(0x93C08006)   # DABT lower EL, ISV=1, SAS=3 (8 bytes), SRT=0, WnR=0, FSC=6
    assert esr["ec"] == 0x24 and esr["isv"] == 1 and esr["access_size"] == 8 and esr["fsc"] == 6
    assert esr["fsc_name"] == "level 2 translation fault"
    sea = decode_esr(0x96000210)
    assert sea["ea"] == 1 and sea["fsc_name"] == "synchronous external abort" and sea["isv"] == 0
    assert decode_esr(0x96000050)["wnr"] == 1


def test_decode_esr_instruction_abort_and_current_el() -> None:
    iabt = decode_esr(0x86000004)           # EC 0x21: instruction abort at the current EL, level 0
    assert iabt["ec"] == 0x21 and iabt["lower_el"] is False and iabt["fsc_name"] == "level 0 translation fault"
    assert "wnr" not in iabt               # WnR is a data-abort field
    lower = decode_esr(0x82000006)          # EC 0x20: from a lower EL
    assert lower["lower_el"] is True and lower["fsc"] == 6


def test_decode_esr_16_bit_instruction_and_non_abort_class() -> None:
    assert decode_esr(0x94000007)["il"] == 16          # IL=0: a 16-bit (Thumb) instruction trapped (HSR)
    hvc = decode_esr(0x5A000000)                       # EC 0x16: HVC from AArch64
    assert hvc["ec"] == 0x16 and "fsc" not in hvc


def test_describe_esr_reads_like_the_arm_arm() -> None:
    text = describe_esr(0x93C08046)
    assert "data abort" in text and "write" in text and "level 2 translation fault" in text


@pytest.mark.parametrize("fsr, status, write, fmt", [
    (0x805, "section translation fault", True, "short-descriptor"),     # ARM Linux "Oops: 805"
    (0x17, "page translation fault", False, "short-descriptor"),        # domain 1, FS 7
    (0x406, "imprecise external abort", False, "short-descriptor"),     # FS[4] in bit 10
    (0x207, "level 3 translation fault", False, "long-descriptor (LPAE)"),
])
def test_decode_arm32_fsr(fsr: int, status: str, write: bool, fmt: str) -> None:
    d = decode_arm32_fsr(fsr)
    assert d["fsr_status"] == status and d["is_write"] is write and d["fsr_format"] == fmt


def test_serror_syndrome_aet_and_implementation_defined() -> None:
    uer = decode_esr(0xBE000C11)        # EC 0x2F, DFSC 0x11 (asynchronous SError), AET 3
    assert uer["ec_name"] == "SError" and uer["ids"] == 0 and uer["aet"] == "UER"
    assert decode_esr(0xBE000011)["aet"] == "UC"
    ids = decode_esr(0xBF000000)        # IDS=1: the rest of the syndrome is implementation defined
    assert ids["ids"] == 1 and "dfsc" not in ids and "aet" not in ids


def test_trapped_system_register_access() -> None:
    msr = decode_esr(0x62300000 | (3 << 20) | (0 << 17) | (0 << 14) | (1 << 10) | (2 << 5) | (0 << 1))
    assert msr["ec"] == 0x18 and msr["op0"] == 3 and msr["crn"] == 1 and msr["rt"] == 2
    assert msr["direction"] == "write (MSR)"
