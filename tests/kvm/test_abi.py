"""The raw ABI module: numbers from the generated table, layouts the size the header says."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hvcheck.kvm import abi


def test_every_struct_layout_has_the_size_the_header_encodes() -> None:
    assert abi.layout_errors() == []
    assert abi.SREGS_SIZE == 312 and abi.XCRS_SIZE == 392 and abi.CPUID_ENTRY2.size == 40


def test_request_numbers_come_from_the_generated_table() -> None:
    # values from the reference note kvm-ioctls.md (compiled against <linux/kvm.h>)
    assert abi.request("KVM_GET_DEVICE_ATTR") == 0x4018AEE2
    assert abi.request("KVM_HAS_DEVICE_ATTR") == 0x4018AEE3
    assert abi.request("KVM_GET_SUPPORTED_CPUID") == 0xC008AE05
    assert abi.request("KVM_SET_XCRS") == 0x4188AEA7
    assert abi.request("KVM_RUN") == 0xAE80
    assert abi.capability("KVM_CAP_SYS_ATTRIBUTES") == 209
    with pytest.raises(KeyError):
        abi.request("KVM_NO_SUCH_IOCTL")


def test_io_requests_on_other_architectures() -> None:
    # asm-generic (arm64, riscv, s390) encodes _IO like x86; powerpc/mips put _IOC_NONE=1 at bit 29
    assert abi.request_for("KVM_GET_API_VERSION", "aarch64") == 0xAE00
    assert abi.request_for("KVM_GET_API_VERSION", "ppc64le") == 0x2000AE00
    with pytest.raises(ValueError, match="struct"):
        abi.request_for("KVM_GET_SUPPORTED_CPUID", "aarch64")
    assert abi.request_for("KVM_GET_SUPPORTED_CPUID", "x86_64") == 0xC008AE05


def test_cpuid2_buffer_round_trip() -> None:
    entries = [(0xD, 0, 1, 0x202E7, 0xA88, 0xB00, 0), (1, 0, 0, 0x806F8, 0x10800, 0xFFFA3203, 0x0F8BFBFF)]
    buf = abi.cpuid2_buffer(entries)
    assert abi.cpuid2_entries(buf) == entries
    room = abi.cpuid2_buffer(4)
    assert len(room.bytes()) == 8 + 4 * 40 and abi.cpuid2_entries(room) == [(0,) * 7] * 4


def test_device_attr_points_at_the_value_buffer() -> None:
    value = abi.Buffer(8)
    attr = abi.device_attr(0, 0, value)
    flags, group, which, addr = abi.DEVICE_ATTR.unpack(attr.bytes())
    assert (flags, group, which, addr) == (0, 0, 0, value.address)


@given(st.dictionaries(st.integers(0, 15), st.integers(0, (1 << 64) - 1), max_size=16))
def test_xcrs_round_trip(values: dict[int, int]) -> None:
    assert abi.xcrs_values(abi.xcrs(values)) == values


@given(st.lists(st.integers(0, (1 << 32) - 1), min_size=11, max_size=11),
       st.lists(st.integers(0, (1 << 64) - 1), min_size=11, max_size=11))
def test_sregs_round_trip(small: list[int], big: list[int]) -> None:
    segs = [abi.Segment(base=big[i], limit=small[i], selector=small[i] & 0xFFFF, type=small[i] & 0xF)
            for i in range(8)]
    sregs = abi.Sregs(segments=segs, gdt=(big[8], 0x17), idt=(big[9], 0xFF), cr0=big[0], cr2=big[1], cr3=big[2],
                      cr4=big[3], cr8=big[4], efer=big[5], apic_base=big[6], interrupt_bitmap=(1, 2, 3, big[10]))
    raw = sregs.pack()
    assert len(raw) == abi.SREGS_SIZE
    assert abi.Sregs.unpack(raw) == sregs
