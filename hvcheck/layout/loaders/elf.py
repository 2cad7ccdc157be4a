"""The hypervisor's exact extent from its linked ELF: `skernel`, `__core_end`, `__hv_end`.

hvisor's linker script defines `__hv_end = __core_end + HV_EXTENDED_SIZE` (per-CPU areas and
the memory pool live after the image), so with the ELF nothing has to be estimated.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from hvcheck.errors import InputError, LimitExceeded
from hvcheck.findings import Location
from hvcheck.inputs import open_input, read_stream

MAX_ELF_BYTES = 512 << 20
START_SYMBOLS = ("skernel", "__skernel", "_start_hv")
CORE_END_SYMBOLS = ("__core_end",)
END_SYMBOLS = ("__hv_end",)


@dataclass(frozen=True)
class Symbol:
    name: str
    value: int
    loc: Location


@dataclass(frozen=True)
class HvExtent:
    start: Symbol
    core_end: Symbol | None
    end: Symbol

    def __iter__(self) -> Iterator[Symbol | None]:  # allows `skernel, core_end, hv_end = read_hv_extent(p)`
        return iter((self.start, self.core_end, self.end))


def _open_seekable(path: Path) -> BinaryIO:
    """pyelftools seeks: a regular file is read lazily in place (within the size limit); standard
    input is read into memory first, within the same limit."""
    name = str(path)
    fh = open_input(path)
    try:
        seekable = fh.seekable()
        size = os.fstat(fh.fileno()).st_size if seekable else 0
    except (OSError, ValueError) as exc:
        fh.close()
        raise InputError(name, f"cannot read: {exc}") from None
    if not seekable:
        with fh:
            return io.BytesIO(read_stream(fh, name, MAX_ELF_BYTES, "ELF files"))
    if size > MAX_ELF_BYTES:
        fh.close()
        raise LimitExceeded(name, f"file is {size} bytes; the limit for ELF files is {MAX_ELF_BYTES}")
    return fh


def read_hv_extent(path: Path) -> HvExtent:
    """(skernel, __core_end or None, __hv_end) with ELF-symbol provenance; InputError on a
    truncated/garbage ELF or when the symbols are missing (e.g. a stripped binary)."""
    from elftools.common.exceptions import ELFError  # lazy: pyelftools only when an ELF is given
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    name = str(path)
    fh = _open_seekable(path)
    with fh:
        if fh.read(4) != b"\x7fELF":
            raise InputError(name, "not an ELF file (no \\x7fELF magic)")
        fh.seek(0)
        found: dict[str, int] = {}
        try:
            elf = ELFFile(fh)
            for section in elf.iter_sections():
                if not isinstance(section, SymbolTableSection):
                    continue
                for sym in section.iter_symbols():
                    if sym.name in START_SYMBOLS + CORE_END_SYMBOLS + END_SYMBOLS and sym.name not in found:
                        found[sym.name] = int(sym["st_value"])
        except (ELFError, OSError, ValueError, OverflowError, KeyError, IndexError, AssertionError) as exc:
            raise InputError(name, f"corrupt or truncated ELF: {exc}") from None
        except Exception as exc:  # pyelftools raises assorted errors on garbage (construct, struct)
            raise InputError(name, f"corrupt or truncated ELF: {type(exc).__name__}: {exc}") from None

    def pick(names: tuple[str, ...]) -> Symbol | None:
        for n in names:
            if n in found:
                return Symbol(n, found[n], Location(name, None, symbol=n))
        return None

    start, core_end, end = pick(START_SYMBOLS), pick(CORE_END_SYMBOLS), pick(END_SYMBOLS)
    if start is None or end is None:
        missing = [n for n, s in (("skernel", start), ("__hv_end", end)) if s is None]
        raise InputError(name, f"symbol {' and '.join(missing)} not found (stripped binary? give the "
                               "unstripped hvisor ELF)")
    if end.value <= start.value:
        raise InputError(name, f"__hv_end {end.value:#x} is not above skernel {start.value:#x}")
    return HvExtent(start, core_end, end)
