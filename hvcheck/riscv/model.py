"""The RISC-V image model: what the hart sees in a loaded ELF — code bytes, loaded segments,
symbols, dynamic relocations and the ISA profile — and the lookups every check needs.

Nothing here walks code or holds analysis results: the reader (:mod:`hvcheck.riscv.elf`)
builds a :class:`RiscvImage`, the walker (:mod:`hvcheck.riscv.walker`) returns a ``CodeMap``
for it, and the rules read both. Only the decode memo (a pure function of the bytes) is cached.

Plain classes, not dataclasses: each @dataclass compiles generated code when the module is
imported (~0.5-2 ms apiece), which `hvcheck riscv` pays on every run.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import TYPE_CHECKING

from hvcheck.riscv.decode import Insn, decode_at
from hvcheck.riscv.rvc import Decoded16, Profile

if TYPE_CHECKING:
    from hvcheck.riscv.address import AddressInfo


class CodeRegion:
    """One executable section (or, without section headers, executable segment)."""

    __slots__ = ("start", "data", "name")

    def __init__(self, start: int, data: bytes, name: str) -> None:
        self.start = start
        self.data = data
        self.name = name

    def __repr__(self) -> str:
        return f"CodeRegion(start=0x{self.start:x}, {len(self.data)} bytes, name={self.name!r})"

    @property
    def end(self) -> int:
        return self.start + len(self.data)


class Symbol:
    __slots__ = ("addr", "name", "kind", "size", "is_global")

    def __init__(self, addr: int, name: str, kind: str, size: int, is_global: bool) -> None:
        self.addr = addr
        self.name = name
        self.kind = kind  # FUNC, NOTYPE, OBJECT, ...
        self.size = size
        self.is_global = is_global

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Symbol) and (self.addr, self.name, self.kind, self.size, self.is_global) == \
            (other.addr, other.name, other.kind, other.size, other.is_global)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it was

    def __repr__(self) -> str:
        return f"Symbol(0x{self.addr:x}, {self.name!r}, {self.kind}, size={self.size}, global={self.is_global})"


class Segment:
    """A PT_LOAD segment's file bytes (what a literal load reads) and whether it is writable."""

    __slots__ = ("vaddr", "data", "writable", "executable")

    def __init__(self, vaddr: int, data: bytes | memoryview, writable: bool, executable: bool = False) -> None:
        self.vaddr = vaddr
        self.data = data
        self.writable = writable
        self.executable = executable


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


class RiscvImage:
    def __init__(self, path: str, xlen: int, profile: Profile, isa_string: str | None, isa_source: str, entry: int,
                 elf_type: str, regions: list[CodeRegion], segments: list[Segment], symbols: list[Symbol],
                 relocs: Relocations, has_symtab: bool, problems: list[str] | None = None,
                 writable_sections: list[tuple[int, int]] | None = None) -> None:
        self.path = path
        self.xlen = xlen
        self.profile = profile
        self.isa_string = isa_string
        self.isa_source = isa_source
        self.entry = entry
        self.elf_type = elf_type
        self.regions = regions
        self.segments = segments
        self.symbols = symbols
        self.relocs = relocs
        self.has_symtab = has_symtab
        self.problems: list[str] = [] if problems is None else problems  # unreadable parts (become E001)
        self.writable_sections = writable_sections  # [start, end) of SHF_WRITE sections
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
