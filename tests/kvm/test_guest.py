"""The micro-guest's bytes, decoded independently with capstone (32-bit x86)."""

from __future__ import annotations

import struct

import pytest

from hvcheck.kvm import abi, guest

capstone = pytest.importorskip("capstone")


def _disasm(code: bytes, address: int) -> list[str]:
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    return [f"{i.mnemonic} {i.op_str}".strip() for i in md.disasm(code, address)]


def test_main_routine_sets_osxsave_loads_edx_eax_and_executes_xsetbv() -> None:
    code, where = guest.main_code(0x1_0002_02E7)
    assert _disasm(code, guest.MAIN) == [
        "mov eax, cr4", "or eax, 0x40000", "mov cr4, eax", "mov eax, 0x202e7", "mov edx, 1", "xor ecx, ecx",
        "xsetbv", "out 0xe0, eax", "hlt"]
    assert where[0x1017] == "xsetbv" and where[0x1008] == "mov cr4"


@pytest.mark.parametrize("vector", [6, 13, 14, 0])
def test_exception_stubs_report_error_code_eip_and_vector(vector: int) -> None:
    image = guest.memory_image(0x7)
    gate = image[guest.IDT + 8 * vector:guest.IDT + 8 * vector + 8]
    lo, sel, zero, attr, hi = struct.unpack("<HHBBH", gate)
    handler = hi << 16 | lo
    assert (sel, zero, attr) == (guest.CODE_SEL, 0, 0x8E) and handler == guest.STUBS + 16 * vector
    insns = _disasm(image[handler:handler + 16], handler)
    head = ["pop eax", "out 0xe9, eax"] if vector in guest.VECTORS_WITH_ERROR_CODE else []
    assert insns[:len(head) + 5] == head + ["pop eax", "out 0xea, eax", f"mov eax, {vector:#x}" if vector > 9
                                           else f"mov eax, {vector}", "out 0xe8, eax", "hlt"]


def test_gdt_is_flat_code_and_data() -> None:
    image = guest.memory_image(0x7)
    null, code, data = struct.unpack("<QQQ", image[:24])
    assert null == 0
    for desc, access in ((code, 0x9B), (data, 0x93)):
        base = (desc >> 16 & 0xFFFFFF) | (desc >> 56 & 0xFF) << 24
        limit = (desc & 0xFFFF) | (desc >> 48 & 0xF) << 16
        assert base == 0 and limit == 0xFFFFF and desc >> 40 & 0xFF == access and desc >> 52 & 0xC == 0xC


def test_protected_mode_keeps_tr_and_ldt_from_reset_and_sets_pe() -> None:
    reset = abi.Sregs()
    reset.segments[6] = abi.Segment(selector=0, type=0xB, limit=0xFFFF, db=0, g=0)
    reset.cr0 = 0x60000010
    pm = guest.protected_mode(reset)
    assert pm.cr0 == 0x60000011 and pm.cr4 == 0 and pm.segments[6] == reset.segments[6]
    assert pm.segments[0].selector == guest.CODE_SEL and pm.segments[0].type == 0xB and pm.segments[0].db == 1
    assert all(s.selector == guest.DATA_SEL for s in pm.segments[1:6])
    assert pm.idt == (guest.IDT, 255) and pm.gdt == (guest.GDT, 23)


def test_report_reads_the_ports() -> None:
    r = guest.Report()
    for port, value in ((guest.PORT_ERROR_CODE, 0), (guest.PORT_EIP, 0x1017), (guest.PORT_VECTOR, 13)):
        r.feed(port, value.to_bytes(4, "little"))
    assert (r.vector, r.error_code, r.eip, r.accepted) == (13, 0, 0x1017, False)
    assert guest.instruction_at(r.eip, 0x7) == "xsetbv"
    ok = guest.Report()
    ok.feed(guest.PORT_ACCEPTED, (0x7).to_bytes(4, "little"))
    assert ok.accepted and ok.vector is None
