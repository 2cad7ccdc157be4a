"""The raw KVM ABI: request and capability numbers, struct layouts, one ioctl call, two mmaps.

Numbers come from the generated table ``hvcheck/x86/data/kvm_ioctls.json`` (scripts/gen_kvm_ioctls.py,
compiled from ``<linux/kvm.h>``), never typed in here. Struct layouts are those of ``<linux/kvm.h>``
for x86-64 user space, written with :mod:`struct`; ``layout_errors()`` checks each against the size
the table records for the ioctl that carries it (the _IOC size field gcc computed).

This module knows the ABI and nothing else: it imports only the standard library and core hvcheck
modules, so the probe (what to ask) and the checks (what the answers mean) stay out of it.
"""

from __future__ import annotations

import ctypes
import errno
import json
import mmap
import os
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).resolve().parent.parent / "x86" / "data" / "kvm_ioctls.json"

# <linux/kvm.h> exit reasons (the `exit_reason` word of struct kvm_run).
EXIT_REASONS = {0: "UNKNOWN", 1: "EXCEPTION", 2: "IO", 3: "HYPERCALL", 4: "DEBUG", 5: "HLT", 6: "MMIO",
                7: "IRQ_WINDOW_OPEN", 8: "SHUTDOWN", 9: "FAIL_ENTRY", 10: "INTR", 11: "SET_TPR",
                12: "TPR_ACCESS", 17: "INTERNAL_ERROR", 24: "SYSTEM_EVENT", 33: "X86_RDMSR", 34: "X86_WRMSR",
                36: "NOTIFY", 37: "MEMORY_FAULT"}
EXIT_IO, EXIT_HLT, EXIT_SHUTDOWN, EXIT_FAIL_ENTRY, EXIT_INTERNAL_ERROR = 2, 5, 8, 9, 17
IO_OUT = 1
KVM_X86_XCOMP_GUEST_SUPP = 0       # /dev/kvm attribute group 0, attr 0 (dd6e63122018)
KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET = 0, 0  # vCPU attribute group 0, attr 0 (828ca89628bf)
KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1  # (sic: the kernel's spelling)
XCR_XFEATURE_ENABLED_MASK = 0

# struct layouts (x86-64 user space)
CPUID2_HEAD = struct.Struct("<II")              # struct kvm_cpuid2: nent, padding
CPUID_ENTRY2 = struct.Struct("<7I12x")          # function, index, flags, eax, ebx, ecx, edx, padding[3]
DEVICE_ATTR = struct.Struct("<IIQQ")            # struct kvm_device_attr: flags, group, attr, addr
MEMORY_REGION = struct.Struct("<IIQQQ")         # kvm_userspace_memory_region: slot, flags, gpa, size, uaddr
REGS = struct.Struct("<18Q")                    # rax rbx rcx rdx rsi rdi rsp rbp r8-r15 rip rflags
SEGMENT = struct.Struct("<QIHBBBBBBBBBx")       # base limit selector type present dpl db s l g avl unusable
DTABLE = struct.Struct("<QH6x")                 # base, limit, padding[3]
SREGS_TAIL = struct.Struct("<7Q4Q")             # cr0 cr2 cr3 cr4 cr8 efer apic_base, interrupt_bitmap[4]
SREGS_SIZE = 8 * SEGMENT.size + 2 * DTABLE.size + SREGS_TAIL.size
XCRS_HEAD = struct.Struct("<II")                # nr_xcrs, flags
XCR = struct.Struct("<IIQ")                     # xcr, reserved, value
XCRS_SIZE = XCRS_HEAD.size + 16 * XCR.size + 16 * 8
MSR_LIST_HEAD = struct.Struct("<I")             # struct kvm_msr_list: nmsrs, indices[]
MSRS_HEAD = struct.Struct("<II")                # struct kvm_msrs: nmsrs, pad, entries[]
MSR_ENTRY = struct.Struct("<IIQ")               # index, reserved, data
RUN_HEAD = struct.Struct("<BB6xIBBHQQ")         # struct kvm_run up to the exit union (32 bytes)
RUN_IO = struct.Struct("<BBHIQ")                # io: direction, size, port, count, data_offset
RUN_FAIL_ENTRY = struct.Struct("<QI")           # hardware_entry_failure_reason, cpu
RUN_INTERNAL = struct.Struct("<II")             # internal: suberror, ndata (data[16] follows)

# Which ioctl's _IOC size each layout must equal.
LAYOUT_SIZES = {
    "KVM_GET_DEVICE_ATTR": DEVICE_ATTR.size, "KVM_SET_USER_MEMORY_REGION": MEMORY_REGION.size,
    "KVM_GET_REGS": REGS.size, "KVM_GET_SREGS": SREGS_SIZE, "KVM_GET_XCRS": XCRS_SIZE,
    "KVM_GET_SUPPORTED_CPUID": CPUID2_HEAD.size, "KVM_GET_MSR_INDEX_LIST": MSR_LIST_HEAD.size,
    "KVM_GET_MSRS": MSRS_HEAD.size,
}


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(TABLE.read_text(encoding="utf-8"))
    return doc


def request(name: str) -> int:
    """The 32-bit request word of an ioctl as gcc computed it from <linux/kvm.h> (x86-64)."""
    for row in _table()["ioctls"]:
        if row["name"] == name:
            return int(row["value"], 16)
    raise KeyError(f"{name} is not in {TABLE.name}")


def ioc_size(name: str) -> int:
    for row in _table()["ioctls"]:
        if row["name"] == name:
            return int(row["size"])
    raise KeyError(f"{name} is not in {TABLE.name}")


def capability(name: str) -> int:
    caps: dict[str, int] = _table()["capabilities"]
    return caps[name]


def capability_names() -> dict[str, int]:
    return dict(_table()["capabilities"])


def header() -> str:
    doc = _table()
    return f"<linux/kvm.h> {doc.get('linux_version')} ({doc.get('package')}, {doc.get('arch')})"


# Architectures whose _IOC encoding differs from asm-generic (x86, arm64, riscv, s390, loongarch):
# powerpc, mips and sparc put _IOC_NONE=1, READ=2, WRITE=4 in bits 29-31 with a 13-bit size.
_IOC_ALT = ("ppc", "powerpc", "mips", "sparc")


def request_for(name: str, machine: str) -> int:
    """The request word on ``machine`` (uname -m) for an ioctl without a struct argument (_IO), whose
    number therefore does not depend on struct layouts. Others exist only for x86-64 here."""
    value = request(name)
    if value >> 16:
        if is_x86(machine):
            return value
        raise ValueError(f"{name} carries a struct; its number on {machine} is not in the x86-64 table")
    if machine.startswith(_IOC_ALT):
        return 1 << 29 | value
    return value


def is_x86(machine: str) -> bool:
    return machine in ("x86_64", "amd64", "i386", "i486", "i586", "i686")


def layout_errors() -> list[str]:
    """Struct layouts whose size differs from the ioctl's _IOC size in the generated table."""
    return [f"{name}: layout {size} bytes, header {ioc_size(name)}"
            for name, size in LAYOUT_SIZES.items() if ioc_size(name) != size]


# --------------------------------------------------------------------------------------------
# Calls

@dataclass
class Result:
    """What one ioctl answered: the return value, or the errno it failed with."""

    ret: int | None
    errno: int | None = None

    @property
    def ok(self) -> bool:
        return self.errno is None

    def text(self) -> str:
        if self.errno is None:
            return str(self.ret)
        return f"-{errno.errorcode.get(self.errno, str(self.errno))}"


class Buffer:
    """A fixed, writable C buffer whose address stays valid (for pointers inside structs)."""

    def __init__(self, data: bytes | int) -> None:
        size = data if isinstance(data, int) else len(data)
        self.raw = ctypes.create_string_buffer(size)
        if not isinstance(data, int):
            ctypes.memmove(self.raw, data, size)

    @property
    def address(self) -> int:
        return ctypes.addressof(self.raw)

    def bytes(self) -> bytes:
        return bytes(self.raw.raw)


@lru_cache(maxsize=1)
def _libc_ioctl() -> Any:
    # ctypes, not fcntl.ioctl: fcntl passes an integer argument as a C int, and the argument of
    # KVM_SET_TSS_ADDR or KVM_CHECK_EXTENSION is an unsigned long.
    fn = ctypes.CDLL(None, use_errno=True).ioctl
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
    fn.restype = ctypes.c_int
    return fn


def call(fd: int, name: str, arg: int | Buffer = 0, machine: str = "x86_64") -> Result:
    """Issue one KVM ioctl on ``fd``; never raises for a failing ioctl (the errno is the answer)."""
    pointer = arg.address if isinstance(arg, Buffer) else arg
    ret = _libc_ioctl()(fd, request_for(name, machine), pointer)
    if ret < 0:
        return Result(None, ctypes.get_errno())
    return Result(int(ret))


def open_device(path: str) -> int:
    """Open the KVM device read-write (KVM refuses a read-only fd: kvm_dev_ioctl needs it to create
    VMs); raises OSError for the caller to explain."""
    return os.open(path, os.O_RDWR | os.O_CLOEXEC)


# --------------------------------------------------------------------------------------------
# Struct codecs

CpuidEntry = tuple[int, int, int, int, int, int, int]  # function, index, flags, eax, ebx, ecx, edx


def cpuid2_buffer(entries: list[CpuidEntry] | int) -> Buffer:
    """struct kvm_cpuid2 with the given entries, or room for that many (for the GET ioctls)."""
    if isinstance(entries, int):
        buf = Buffer(CPUID2_HEAD.size + entries * CPUID_ENTRY2.size)
        CPUID2_HEAD.pack_into(buf.raw, 0, entries, 0)
        return buf
    data = CPUID2_HEAD.pack(len(entries), 0) + b"".join(CPUID_ENTRY2.pack(*e) for e in entries)
    return Buffer(data)


def cpuid2_entries(buf: Buffer) -> list[CpuidEntry]:
    raw = buf.bytes()
    nent = CPUID2_HEAD.unpack_from(raw, 0)[0]
    room = (len(raw) - CPUID2_HEAD.size) // CPUID_ENTRY2.size
    out: list[CpuidEntry] = []
    for i in range(min(nent, room)):
        e = CPUID_ENTRY2.unpack_from(raw, CPUID2_HEAD.size + i * CPUID_ENTRY2.size)
        out.append((e[0], e[1], e[2], e[3], e[4], e[5], e[6]))
    return out


def device_attr(group: int, attr: int, target: Buffer) -> Buffer:
    return Buffer(DEVICE_ATTR.pack(0, group, attr, target.address))


def memory_region(slot: int, gpa: int, size: int, uaddr: int) -> Buffer:
    return Buffer(MEMORY_REGION.pack(slot, 0, gpa, size, uaddr))


def msr_list(room: int) -> Buffer:
    buf = Buffer(MSR_LIST_HEAD.size + 4 * room)
    MSR_LIST_HEAD.pack_into(buf.raw, 0, room)
    return buf


def msr_list_indices(buf: Buffer) -> list[int]:
    raw = buf.bytes()
    n = MSR_LIST_HEAD.unpack_from(raw, 0)[0]
    room = (len(raw) - MSR_LIST_HEAD.size) // 4
    return list(struct.unpack_from(f"<{min(n, room)}I", raw, MSR_LIST_HEAD.size))


def msrs(indices: list[int]) -> Buffer:
    return Buffer(MSRS_HEAD.pack(len(indices), 0) + b"".join(MSR_ENTRY.pack(i, 0, 0) for i in indices))


def msrs_values(buf: Buffer) -> list[tuple[int, int]]:
    raw = buf.bytes()
    n = MSRS_HEAD.unpack_from(raw, 0)[0]
    return [(e[0], e[2]) for e in (MSR_ENTRY.unpack_from(raw, MSRS_HEAD.size + i * MSR_ENTRY.size)
                                   for i in range(n))]


def xcrs(values: dict[int, int]) -> Buffer:
    data = bytearray(XCRS_SIZE)
    XCRS_HEAD.pack_into(data, 0, len(values), 0)
    for i, (xcr, value) in enumerate(sorted(values.items())):
        XCR.pack_into(data, XCRS_HEAD.size + i * XCR.size, xcr, 0, value)
    return Buffer(bytes(data))


def xcrs_values(buf: Buffer) -> dict[int, int]:
    raw = buf.bytes()
    n = min(XCRS_HEAD.unpack_from(raw, 0)[0], 16)
    out = {}
    for i in range(n):
        xcr, _, value = XCR.unpack_from(raw, XCRS_HEAD.size + i * XCR.size)
        out[xcr] = value
    return out


@dataclass
class Segment:
    base: int = 0
    limit: int = 0xFFFFFFFF
    selector: int = 0
    type: int = 0
    present: int = 1
    dpl: int = 0
    db: int = 1
    s: int = 1
    l: int = 0  # noqa: E741 - the field's name in struct kvm_segment
    g: int = 1
    avl: int = 0
    unusable: int = 0


@dataclass
class Sregs:
    """struct kvm_sregs: cs ds es fs gs ss tr ldt, gdt idt, control registers."""

    segments: list[Segment] = field(default_factory=lambda: [Segment() for _ in range(8)])
    gdt: tuple[int, int] = (0, 0)
    idt: tuple[int, int] = (0, 0)
    cr0: int = 0
    cr2: int = 0
    cr3: int = 0
    cr4: int = 0
    cr8: int = 0
    efer: int = 0
    apic_base: int = 0
    interrupt_bitmap: tuple[int, int, int, int] = (0, 0, 0, 0)

    SEGMENT_NAMES = ("cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt")

    def pack(self) -> bytes:
        out = b"".join(SEGMENT.pack(*(getattr(s, n) for n in Segment.__dataclass_fields__))
                       for s in self.segments)
        out += DTABLE.pack(*self.gdt) + DTABLE.pack(*self.idt)
        return out + SREGS_TAIL.pack(self.cr0, self.cr2, self.cr3, self.cr4, self.cr8, self.efer,
                                     self.apic_base, *self.interrupt_bitmap)

    @classmethod
    def unpack(cls, raw: bytes) -> Sregs:
        segs = [Segment(*SEGMENT.unpack_from(raw, i * SEGMENT.size)) for i in range(8)]
        off = 8 * SEGMENT.size
        gdt = DTABLE.unpack_from(raw, off)
        idt = DTABLE.unpack_from(raw, off + DTABLE.size)
        t = SREGS_TAIL.unpack_from(raw, off + 2 * DTABLE.size)
        return cls(segments=segs, gdt=(gdt[0], gdt[1]), idt=(idt[0], idt[1]), cr0=t[0], cr2=t[1], cr3=t[2],
                   cr4=t[3], cr8=t[4], efer=t[5], apic_base=t[6], interrupt_bitmap=(t[7], t[8], t[9], t[10]))


# --------------------------------------------------------------------------------------------
# Memory: the vCPU's shared struct kvm_run, and guest RAM

class RunArea:
    """The vCPU's ``struct kvm_run`` (mmap of the vCPU fd, KVM_GET_VCPU_MMAP_SIZE bytes)."""

    def __init__(self, vcpu_fd: int, size: int) -> None:
        self.map = mmap.mmap(vcpu_fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    def exit_reason(self) -> int:
        return int(RUN_HEAD.unpack_from(self.map, 0)[2])

    def io(self) -> tuple[int, int, int, int, bytes]:
        """direction, size, port, count, the data bytes (size * count from data_offset)."""
        direction, size, port, count, offset = RUN_IO.unpack_from(self.map, RUN_HEAD.size)
        end = min(offset + size * count, len(self.map))
        return direction, size, port, count, bytes(self.map[offset:end])

    def fail_entry(self) -> int:
        return int(RUN_FAIL_ENTRY.unpack_from(self.map, RUN_HEAD.size)[0])

    def internal(self) -> tuple[int, list[int]]:
        suberror, ndata = RUN_INTERNAL.unpack_from(self.map, RUN_HEAD.size)
        data = struct.unpack_from(f"<{min(ndata, 16)}Q", self.map, RUN_HEAD.size + RUN_INTERNAL.size)
        return suberror, list(data)

    def close(self) -> None:
        self.map.close()


class GuestMemory:
    """Page-aligned anonymous memory to register with KVM_SET_USER_MEMORY_REGION."""

    def __init__(self, size: int) -> None:
        self.map = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self._anchor: ctypes.c_char | None = ctypes.c_char.from_buffer(self.map)
        self.address = ctypes.addressof(self._anchor)
        self.size = size

    def write(self, offset: int, data: bytes) -> None:
        self.map[offset:offset + len(data)] = data

    def close(self) -> None:
        self._anchor = None  # release the export before unmapping
        self.map.close()
