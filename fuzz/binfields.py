"""Structured corruption of binary headers: the fields a reader trusts to find everything else.

Bit flips rarely hit the few bytes that say where the section table is or how big a block is;
these mutators set exactly those fields — ELF header, section and program headers, FDT header
and property lengths — to values at the edges (0, 1, the file size and around it, all ones,
huge counts), so a reader that trusts them allocates, loops or seeks without bound.
"""

from __future__ import annotations

import random
import struct

FDT_MAGIC = 0xD00DFEED
FDT_PROP = 3


def _edges(size: int, width: int) -> list[int]:
    top = (1 << (8 * width)) - 1
    values = {0, 1, 2, 0x40, max(0, size - 1), size, size + 1, size * 2, top, top >> 1, top - 1, 0xFFFF, 0x10000,
              0x7FFFFFFF}
    return sorted(v for v in values if v <= top)


def _put(buf: bytearray, off: int, width: int, value: int, endian: str) -> None:
    fmt = endian + {1: "B", 2: "H", 4: "I", 8: "Q"}[width]
    if off + width <= len(buf):
        buf[off:off + width] = struct.pack(fmt, value & ((1 << (8 * width)) - 1))


# ---------------------------------------------------------------- ELF

# (offset in the ELF32 header, offset in the ELF64 header, width32, width64)
_ELF_HEADER = {
    "e_phoff": (0x1C, 0x20, 4, 8), "e_shoff": (0x20, 0x28, 4, 8), "e_ehsize": (0x28, 0x34, 2, 2),
    "e_phentsize": (0x2A, 0x36, 2, 2), "e_phnum": (0x2C, 0x38, 2, 2), "e_shentsize": (0x2E, 0x3A, 2, 2),
    "e_shnum": (0x30, 0x3C, 2, 2), "e_shstrndx": (0x32, 0x3E, 2, 2),
}
# section header fields: (offset32, offset64, width32, width64)
_SHDR = {
    "sh_name": (0x00, 0x00, 4, 4), "sh_type": (0x04, 0x04, 4, 4), "sh_flags": (0x08, 0x08, 4, 8),
    "sh_addr": (0x0C, 0x10, 4, 8), "sh_offset": (0x10, 0x18, 4, 8), "sh_size": (0x14, 0x20, 4, 8),
    "sh_link": (0x18, 0x28, 4, 4), "sh_info": (0x1C, 0x2C, 4, 4), "sh_addralign": (0x20, 0x30, 4, 8),
    "sh_entsize": (0x24, 0x38, 4, 8),
}
_PHDR = {  # ELF64 layout differs from ELF32 (p_flags moves): (offset32, offset64, width32, width64)
    "p_type": (0x00, 0x00, 4, 4), "p_offset": (0x04, 0x08, 4, 8), "p_vaddr": (0x08, 0x10, 4, 8),
    "p_filesz": (0x10, 0x20, 4, 8), "p_memsz": (0x14, 0x28, 4, 8), "p_align": (0x1C, 0x30, 4, 8),
}


def elf_fields(data: bytes, rnd: random.Random) -> bytes:
    """One ELF header, section-header or program-header field set to an edge value."""
    if len(data) < 0x40 or data[:4] != b"\x7fELF":
        return data
    is64 = data[4] == 2
    endian = "<" if data[5] != 2 else ">"
    buf = bytearray(data)
    k = 1 if is64 else 0
    where = rnd.random()
    if where < 0.4:
        name = rnd.choice(sorted(_ELF_HEADER))
        off, width = _ELF_HEADER[name][k], _ELF_HEADER[name][2 + k]
        _put(buf, off, width, rnd.choice(_edges(len(data), width)), endian)
        return bytes(buf)
    table = _SHDR if where < 0.8 else _PHDR
    hoff = _ELF_HEADER["e_shoff" if table is _SHDR else "e_phoff"]
    num = _ELF_HEADER["e_shnum" if table is _SHDR else "e_phnum"]
    ent = _ELF_HEADER["e_shentsize" if table is _SHDR else "e_phentsize"]
    start = int.from_bytes(data[hoff[k]:hoff[k] + hoff[2 + k]], "little" if endian == "<" else "big")
    count = int.from_bytes(data[num[k]:num[k] + 2], "little" if endian == "<" else "big")
    size = int.from_bytes(data[ent[k]:ent[k] + 2], "little" if endian == "<" else "big")
    if not count or not size or start + count * size > len(data):
        return bytes(buf)
    base = start + rnd.randrange(count) * size
    name = rnd.choice(sorted(table))
    off, width = table[name][k], table[name][2 + k]
    _put(buf, base + off, width, rnd.choice(_edges(len(data), width)), endian)
    return bytes(buf)


# ---------------------------------------------------------------- FDT (DTB)

_FDT_HEADER = ["magic", "totalsize", "off_dt_struct", "off_dt_strings", "off_mem_rsvmap", "version",
               "last_comp_version", "boot_cpuid_phys", "size_dt_strings", "size_dt_struct"]


def dtb_fields(data: bytes, rnd: random.Random) -> bytes:
    """One FDT header field, a property's length or a reserve-map entry set to an edge value."""
    if len(data) < 40 or struct.unpack(">I", data[:4])[0] != FDT_MAGIC:
        return data
    buf = bytearray(data)
    if rnd.random() < 0.6:
        i = rnd.randrange(1, len(_FDT_HEADER))
        _put(buf, 4 * i, 4, rnd.choice(_edges(len(data), 4)), ">")
        return bytes(buf)
    off_struct, _, off_rsv = struct.unpack(">III", data[8:20])
    size_struct = struct.unpack(">I", data[36:40])[0]
    if rnd.random() < 0.3 and off_rsv + 16 <= len(data):
        _put(buf, off_rsv + 8 * rnd.randrange(2), 8, rnd.choice([1 << 63, (1 << 64) - 1, 0, 1]), ">")
        return bytes(buf)
    props = [p for p in range(off_struct, min(len(data) - 8, off_struct + size_struct), 4)
             if struct.unpack(">I", data[p:p + 4])[0] == FDT_PROP]
    if props:
        p = rnd.choice(props)
        _put(buf, p + 4 + 4 * rnd.randrange(2), 4, rnd.choice(_edges(len(data), 4)), ">")   # len or nameoff
    return bytes(buf)
