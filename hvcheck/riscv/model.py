"""The RISC-V image model: what the hart sees in a loaded ELF — code bytes, loaded segments,
symbols, dynamic relocations and the ISA profile — and the lookups every check needs.

Nothing here walks code or holds analysis results: the reader (:mod:`hvcheck.riscv.elf`)
builds a :class:`RiscvImage`, the walker (:mod:`hvcheck.riscv.walker`) returns a ``CodeMap``
for it, and the rules read both. Only the decode memo (a pure function of the bytes) is cached.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hvcheck.riscv.decode import Insn, decode_at
from hvcheck.riscv.rvc import Decoded16, Profile

if TYPE_CHECKING:
    from hvcheck.riscv.address import AddressInfo


@dataclass
class CodeRegion:
    """One executable section (or, without section headers, executable segment)."""

    start: int
    data: bytes
    name: str

    @property
    def end(self) -> int:
        return self.start + len(self.data)


@dataclass(slots=True)
class Symbol:
    addr: int
    name: str
    kind: str  # FUNC, NOTYPE, OBJECT, ...
    size: int
    is_global: bool


@dataclass
class Segment:
    """A PT_LOAD segment's file bytes (what a literal load reads) and whether it is writable."""

    vaddr: int
    data: bytes | memoryview
    writable: bool
    executable: bool = False


class Relocations:
    """Address -> the value a dynamic relocation stores there, read on first use: a shared
    library carries hundreds of thousands of them and most checks never load a literal."""

    def __init__(self, read: Callable[[], dict[int, int]] | dict[int, int]) -> None:
        self._read = read if callable(read) else None
        self._values: dict[int, int] | None = None if callable(read) else read

    def values(self) -> dict[int, int]:
        if self._values is None:
            assert self._read is not None
            self._values = self._read()
            self._read = None
        return self._values

    def get(self, addr: int) -> int | None:
        return self.values().get(addr)

    def __len__(self) -> int:
        return len(self.values())


@dataclass
class RiscvImage:
    path: str
    xlen: int
    profile: Profile
    isa_string: str | None
    isa_source: str
    entry: int
    elf_type: str
    regions: list[CodeRegion]
    segments: list[Segment]
    symbols: list[Symbol]
    relocs: Relocations
    has_symtab: bool
    problems: list[str] = field(default_factory=list)  # unreadable parts (become E001)
    writable_sections: list[tuple[int, int]] | None = None  # [start, end) of SHF_WRITE sections

    def __post_init__(self) -> None:
        self.symbols.sort(key=lambda s: (s.addr, s.kind != "FUNC", not s.is_global, s.name))
        self._sym_addrs = [s.addr for s in self.symbols]
        self._sym_at: dict[int, Symbol] = {}
        for s in self.symbols:
            self._sym_at.setdefault(s.addr, s)
        self.regions.sort(key=lambda r: r.start)
        self._region_starts = [r.start for r in self.regions]
        self._decoded: dict[int, Decoded16 | Insn | None] = {}

    # ---------------------------------------------------------------- lookups
    def region_of(self, addr: int) -> CodeRegion | None:
        i = bisect.bisect_right(self._region_starts, addr) - 1
        if i >= 0 and addr < self.regions[i].end:
            return self.regions[i]
        return None

    def symbol_at(self, addr: int) -> Symbol | None:
        return self._sym_at.get(addr)

    def has_symbol(self, addr: int) -> bool:
        return addr in self._sym_at

    def function_entries(self) -> list[int]:
        """Addresses of FUNC symbols inside code."""
        return [s.addr for s in self.symbols if s.kind == "FUNC" and self.region_of(s.addr)]

    def nearest_symbol(self, addr: int) -> str | None:
        """``name+0xoff`` for the closest symbol at or below addr (None when there is none)."""
        s = self.symbol_below(addr)
        if s is None:
            return None
        off = addr - s.addr
        return s.name if off == 0 else f"{s.name}+0x{off:x}"

    def symbol_below(self, addr: int) -> Symbol | None:
        i = bisect.bisect_right(self._sym_addrs, addr) - 1
        return self._sym_at[self._sym_addrs[i]] if i >= 0 else None

    def next_symbol(self, addr: int, within: int = 256) -> Symbol | None:
        """The first symbol strictly above addr, if it is at most ``within`` bytes away."""
        i = bisect.bisect_right(self._sym_addrs, addr)
        if i < len(self._sym_addrs) and self._sym_addrs[i] - addr <= within:
            return self._sym_at[self._sym_addrs[i]]
        return None

    def where(self, addr: int) -> str:
        sym = self.nearest_symbol(addr)
        return f"0x{addr:x} <{sym}>" if sym else f"0x{addr:x}"

    def in_loaded_data(self, addr: int) -> bool:
        return any(s.vaddr <= addr < s.vaddr + len(s.data) for s in self.segments)

    def read(self, addr: int, size: int) -> tuple[int, bool] | None:
        """Little-endian integer from the loaded image (file bytes only) and whether that memory
        is writable (its initial value may change at run time). Dynamic relocations win."""
        for seg in self.segments:
            if seg.vaddr <= addr and addr + size <= seg.vaddr + len(seg.data):
                off = addr - seg.vaddr
                writable = seg.writable
                if self.writable_sections is not None:  # sections are finer than an RWX segment
                    writable = any(a <= addr < e for a, e in self.writable_sections)
                relocated = self.relocs.get(addr) if size == self.xlen // 8 else None
                if relocated is not None:
                    return relocated, writable
                return int.from_bytes(seg.data[off:off + size], "little"), writable
        return None

    def decode(self, addr: int) -> Decoded16 | Insn | None:
        cache = self._decoded
        if addr in cache:
            return cache[addr]
        region = self.region_of(addr)
        insn = None if region is None else decode_at(region.data, addr - region.start, self.profile)
        cache[addr] = insn
        return insn

    def halfword(self, addr: int) -> int | None:
        region = self.region_of(addr)
        if region is None or addr + 2 > region.end:
            return None
        off = addr - region.start
        return region.data[off] | region.data[off + 1] << 8

    # ------------------------------------------------- address questions (crash triage)
    def inspect(self, addr: int) -> AddressInfo:
        """What is at ``addr`` from the bytes and symbols alone (instruction boundaries by a
        linear decode from the nearest symbol). After a check, ``ImageReport.inspect`` also
        knows which instructions are reachable."""
        from hvcheck.riscv.address import inspect

        return inspect(self, None, addr)

    def describe_address(self, addr: int) -> str:
        """One or two sentences for a human (see :func:`hvcheck.riscv.address.describe`)."""
        from hvcheck.riscv.address import describe

        return describe(self, None, addr)
