"""XCR0 rules: exhaustive over bits 0-19 against an independent oracle, plus hand vectors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rulecheck import clean, fires

from hvcheck.findings import Location
from hvcheck.x86.xsave import nearest_valid, xcr0_findings, xcr0_violations, xsave_size

SUPERVISOR = (8, 10, 11, 12, 13, 14, 15, 16)


def oracle(value: int) -> set[str]:
    """Written from the SDM sentences, bit by bit over a binary string (not with masks)."""
    b = format(value, "064b")[::-1]  # b[i] is bit i as '0'/'1'
    on = {i for i, ch in enumerate(b) if ch == "1"}
    broken = set()
    if 0 not in on:
        broken.add("x87")
    if 2 in on and 1 not in on:
        broken.add("avx-needs-sse")
    if (3 in on) ^ (4 in on):
        broken.add("mpx-pair")
    group = [i in on for i in (5, 6, 7)]
    if any(group) and not all(group):
        broken.add("avx512-group")
    if any(group) and not {1, 2} <= on:
        broken.add("avx512-needs-avx")
    if (17 in on) != (18 in on):
        broken.add("amx-pair")
    if 19 in on and (3 in on or 4 in on):
        broken.add("apx-mpx")
    if on & set(SUPERVISOR):
        broken.add("supervisor")
    if any(20 <= i <= 61 or i == 63 for i in on):
        broken.add("reserved")
    return broken


def kvm_set_xcr_accepts(xcr0: int, supported: int) -> bool:
    """Linux __kvm_set_xcr() order (reference note §2.1), with masks as KVM writes it."""
    fp, sse, ymm = 1, 2, 4
    if not xcr0 & fp:
        return False
    if xcr0 & ymm and not xcr0 & sse:
        return False
    if xcr0 & ~(supported | fp):
        return False
    if (not xcr0 & 0x8) != (not xcr0 & 0x10):
        return False
    if xcr0 & 0xE0:
        if not xcr0 & ymm or xcr0 & 0xE0 != 0xE0:
            return False
    if xcr0 & 0x60000 and xcr0 & 0x60000 != 0x60000:
        return False
    return True


def test_all_2_pow_20_values_match_the_oracle() -> None:
    mismatches = []
    for v in range(1 << 20):
        got = {name for name, _ in xcr0_violations(v)}
        if got != oracle(v):
            mismatches.append(v)
            if len(mismatches) > 5:
                break
    assert not mismatches, [hex(m) for m in mismatches]


def test_all_2_pow_20_validity_matches_kvm_with_kvm_supported_xcr0() -> None:
    # KVM_SUPPORTED_XCR0 (5.17+) = FP|SSE|YMM|BNDREGS|BNDCSR|AVX512|PKRU|XTILE = 0x602ff. KVM has no
    # APX rule in these trees, so compare only values without bit 19.
    kvm_supported = 0x602FF
    for v in range(1 << 19):
        ours = not xcr0_violations(v) and not (v & ~(kvm_supported | 1))
        assert ours == kvm_set_xcr_accepts(v, kvm_supported), hex(v)


@pytest.mark.parametrize(("value", "expected"), [
    (0x202E7, {"amx-pair"}),
    (0x402E7, {"amx-pair"}),
    (0x602E7, set()),
    (0x2E7, set()),
    (0x1, set()),
    (0x3, set()),
    (0x0, {"x87"}),
    (0x5, {"avx-needs-sse"}),
    (0x1B, set()),  # x87|SSE|BNDREGS|BNDCSR: the pair is complete
    (0xB, {"mpx-pair"}),
    (0x27, {"avx512-group"}),
    (0xE3, {"avx512-needs-avx"}),
    (0xE1, {"avx512-needs-avx"}),
    (0x80007, set()),  # APX alone is fine
    (0x8000F, {"mpx-pair", "apx-mpx"}),
    (0x100 | 0x7, {"supervisor"}),   # PT
    (0x800 | 0x7, {"supervisor"}),   # CET_U
    (0x1000 | 0x7, {"supervisor"}),  # CET_S
    (0x8000 | 0x7, {"supervisor"}),  # Arch LBR
    (0x10000 | 0x7, {"supervisor"}),  # HWP
    (0x7FC00 | 0x7, {"supervisor"}),  # bits 10..18 set: AMX pair complete
    (0x3FC00 | 0x7, {"supervisor", "amx-pair"}),  # bits 10..17
    (1 << 20 | 3, {"reserved"}),
    (1 << 61 | 3, {"reserved"}),
    (1 << 62 | 3, set()),  # AMD LWP is a user component
    (1 << 63 | 3, {"reserved"}),
    (1 << 63, {"reserved", "x87"}),
    ((1 << 64) - 1, {"supervisor", "reserved", "apx-mpx"}),
])
def test_hand_vectors(value: int, expected: set[str]) -> None:
    assert {n for n, _ in xcr0_violations(value)} == expected
    assert oracle(value) == expected


def test_explanations_cite_the_sdm() -> None:
    for value in (0x0, 0x5, 0xB, 0x27, 0xE1, 0x202E7, 0x107, 1 << 63 | 1):
        for _, text in xcr0_violations(value):
            assert "SDM" in text


def test_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError):
        xcr0_violations(1 << 64)
    with pytest.raises(ValueError):
        xcr0_violations(-1)


def test_nearest_valid_of_the_incident_value() -> None:
    assert nearest_valid(0x202E7) == [0x602E7, 0x2E7]
    assert nearest_valid(0x202E7, supported=0x202E7) == [0x2E7]
    assert nearest_valid(1 << 63 | 0x7) == [0x7]
    assert nearest_valid(0x2E7) == [0x2E7]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_nearest_valid_values_are_valid_and_equally_close(value: int) -> None:
    near = nearest_valid(value)
    assert near
    dist = {bin(value ^ n).count("1") for n in near}
    assert len(dist) == 1
    for n in near:
        assert xcr0_violations(n) == []
    if not xcr0_violations(value):
        assert near == [value]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=(1 << 64) - 1), st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_findings_are_consistent_with_violations(value: int, supported: int) -> None:
    f = {x.rule: x for x in xcr0_findings(value, supported)}
    assert ("X001" in f) == bool(xcr0_violations(value))
    unsupported_user = value & ~supported & ~1 & ((1 << 20) - 1 | 1 << 62) & ~0x1FD00
    assert ("X002" in f) == bool(unsupported_user)


def test_x002_names_unenumerated_bits_and_location() -> None:
    src = Location("guest.txt", 18)
    (f,) = xcr0_findings(0x602E7, 0x2E7, source=src)
    assert f.rule == "X002" and f.locations == [src]
    fires([f], "X002")
    assert f.data["unsupported_bits"] == [17, 18]
    assert f.data["nearest_valid_within_supported"] == [0x2E7]


def test_incident_value_finding() -> None:
    (f,) = xcr0_findings(0x202E7)
    assert f.rule == "X001"
    fires([f], "X001")
    assert f.data["violations"] == ["amx-pair"]
    assert f.data["nearest_valid"] == [0x602E7, 0x2E7]
    assert "XTILECFG" in f.message and "0x602e7" in (f.fix or "")


def test_valid_values_within_what_cpuid_enumerates_are_clean() -> None:
    """The incident value's two valid neighbours, checked against a CPU enumerating AMX: neither
    breaks an architectural rule nor sets a bit the CPU does not enumerate."""
    for value in (0x602E7, 0x2E7):
        found = xcr0_findings(value, 0x602E7)
        clean(found, "X001")
        clean(found, "X002")
    # x87 (bit 0) is acceptable even when CPUID does not enumerate it (KVM's rule).
    clean(xcr0_findings(0x3, 0x2), "X002")


def test_xsave_sizes_match_known_sapphire_rapids_values() -> None:
    # CPUID.(0DH,0).EBX on SPR: 0xa88 with XCR0 = 0x2e7, 0x2b00 with AMX enabled.
    assert xsave_size(0x2E7) == 0xA88
    assert xsave_size(0x602E7) == 0x2B00
