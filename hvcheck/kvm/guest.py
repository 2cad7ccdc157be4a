"""The XSETBV micro-guest: 64 KiB of guest memory, a flat 32-bit protected-mode vCPU state, and how
to read what it reports. No QEMU, no kernel: a handful of instruction bytes.

Guest-physical layout (identity, no paging):

    0x0000  GDT: null, 0x08 flat 32-bit code, 0x10 flat data
    0x0100  IDT: 32 interrupt gates, vector v -> stub v
    0x0400  stub v (16 bytes each): [pop eax; out 0xE9, eax  (error code, for vectors that push one)]
                                     pop eax; out 0xEA, eax  (the faulting EIP)
                                     mov eax, v; out 0xE8, eax; hlt
    0x1000  main: mov eax, cr4; or eax, CR4.OSXSAVE; mov cr4, eax
                  mov eax, lo32; mov edx, hi32; xor ecx, ecx; xsetbv
                  out 0xE0, eax; hlt                     (reached only if XSETBV was accepted)
    0x8000  top of the stack

Every port write is a KVM_EXIT_IO the host reads; ``hlt`` ends the run (KVM_EXIT_HLT). XGETBV is not
used: KVM's instruction emulator (which runs this code on PVM hosts) does not implement it, and
KVM_GET_XCRS reads XCR0 from the host side anyway.

This module is pure (bytes in, facts out); hvcheck.kvm.probe issues the ioctls.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hvcheck.kvm.abi import Segment, Sregs

MEMORY_SIZE = 0x10000
GDT, IDT, STUBS, MAIN, STACK_TOP = 0x0000, 0x0100, 0x0400, 0x1000, 0x8000
CODE_SEL, DATA_SEL = 0x08, 0x10
PORT_ACCEPTED, PORT_VECTOR, PORT_ERROR_CODE, PORT_EIP = 0xE0, 0xE8, 0xE9, 0xEA
CR0_PE = 1
CR4_OSXSAVE = 1 << 18
VECTORS_WITH_ERROR_CODE = frozenset({8, 10, 11, 12, 13, 14, 17, 21, 29, 30})
MAX_EXITS = 16

# Instruction offsets inside main, to name the instruction an exception hit.
_MOV_CR4_READ = b"\x0f\x20\xe0"            # mov eax, cr4
_OR_OSXSAVE = b"\x0d" + struct.pack("<I", CR4_OSXSAVE)  # or eax, 0x40000
_MOV_CR4_WRITE = b"\x0f\x22\xe0"           # mov cr4, eax
_XOR_ECX = b"\x31\xc9"                     # xor ecx, ecx
_XSETBV = b"\x0f\x01\xd1"                  # xsetbv
_OUT_ACCEPTED = bytes([0xE7, PORT_ACCEPTED])  # out imm8, eax
_HLT = b"\xf4"


def main_code(value: int) -> tuple[bytes, dict[int, str]]:
    """The main routine for XCR0 ``value`` and the guest address of each instruction."""
    parts = [("mov eax, cr4", _MOV_CR4_READ), ("or eax, 0x40000", _OR_OSXSAVE), ("mov cr4", _MOV_CR4_WRITE),
             ("mov eax", b"\xb8" + struct.pack("<I", value & 0xFFFFFFFF)),
             ("mov edx", b"\xba" + struct.pack("<I", value >> 32 & 0xFFFFFFFF)),
             ("xor ecx, ecx", _XOR_ECX), ("xsetbv", _XSETBV), ("out 0xE0", _OUT_ACCEPTED), ("hlt", _HLT)]
    code, where, addr = b"", {}, MAIN
    for name, insn in parts:
        where[addr] = name
        code += insn
        addr += len(insn)
    return code, where


def _stub(vector: int) -> bytes:
    out = b""
    if vector in VECTORS_WITH_ERROR_CODE:
        out += b"\x58" + bytes([0xE7, PORT_ERROR_CODE])  # pop eax; out 0xE9, eax
    out += b"\x58" + bytes([0xE7, PORT_EIP])              # pop eax; out 0xEA, eax
    out += b"\xb8" + struct.pack("<I", vector) + bytes([0xE7, PORT_VECTOR]) + _HLT
    assert len(out) <= 16
    return out


def _gate(handler: int) -> bytes:
    # 32-bit interrupt gate, present, DPL 0 (type 0xE -> attribute byte 0x8E)
    return struct.pack("<HHBBH", handler & 0xFFFF, CODE_SEL, 0, 0x8E, handler >> 16)


def memory_image(value: int) -> bytes:
    """The guest's first 64 KiB for XCR0 ``value``."""
    image = bytearray(MEMORY_SIZE)
    gdt = struct.pack("<QQQ", 0, 0x00CF9B000000FFFF, 0x00CF93000000FFFF)
    image[GDT:GDT + len(gdt)] = gdt
    for v in range(32):
        stub = STUBS + 16 * v
        image[IDT + 8 * v:IDT + 8 * v + 8] = _gate(stub)
        code = _stub(v)
        image[stub:stub + len(code)] = code
    main, _ = main_code(value)
    image[MAIN:MAIN + len(main)] = main
    return bytes(image)


def protected_mode(initial: Sregs) -> Sregs:
    """Flat 32-bit protected mode from the vCPU's reset state: CS/DS/ES/FS/GS/SS flat, our GDT and
    IDT, CR0.PE; TR and LDT stay as reset left them (VM entry checks want them valid)."""
    code = Segment(base=0, limit=0xFFFFFFFF, selector=CODE_SEL, type=0xB)
    data = Segment(base=0, limit=0xFFFFFFFF, selector=DATA_SEL, type=0x3)
    segs = [code, data, data, data, data, data, initial.segments[6], initial.segments[7]]
    return Sregs(segments=segs, gdt=(GDT, 3 * 8 - 1), idt=(IDT, 32 * 8 - 1), cr0=initial.cr0 | CR0_PE,
                 cr2=0, cr3=0, cr4=0, cr8=initial.cr8, efer=0, apic_base=initial.apic_base,
                 interrupt_bitmap=(0, 0, 0, 0))


def initial_regs() -> tuple[int, ...]:
    """struct kvm_regs: ESP at the stack top, EIP at main, EFLAGS with only the reserved bit 1."""
    regs = [0] * 18
    regs[6] = STACK_TOP
    regs[16] = MAIN
    regs[17] = 0x2
    return tuple(regs)


@dataclass
class Report:
    """What the guest said through its port writes."""

    accepted: bool = False
    vector: int | None = None
    error_code: int | None = None
    eip: int | None = None

    def feed(self, port: int, data: bytes) -> None:
        value = int.from_bytes(data[:4], "little")
        if port == PORT_ACCEPTED:
            self.accepted = True
        elif port == PORT_VECTOR:
            self.vector = value
        elif port == PORT_ERROR_CODE:
            self.error_code = value
        elif port == PORT_EIP:
            self.eip = value


def instruction_at(eip: int | None, value: int) -> str | None:
    """The name of the main-routine instruction at ``eip`` ('xsetbv', 'mov cr4', ...)."""
    if eip is None:
        return None
    return main_code(value)[1].get(eip, f"guest EIP {eip:#x}")
