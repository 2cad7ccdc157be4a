"""The x86 Code-bytes decoder (x86_insn.py)."""

from __future__ import annotations

import pytest

from hvcheck.triage.x86_insn import decode, decode_at, parse_code


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
