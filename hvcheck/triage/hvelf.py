"""The hypervisor's extent read from its ELF: ``[skernel, __hv_end)`` (DESIGN.md §4)."""

from __future__ import annotations

from dataclasses import dataclass

from hvcheck.errors import InputError
from hvcheck.findings import Location

SYMBOLS = ("skernel", "__core_end", "__hv_end")


@dataclass(frozen=True)
class HvExtent:
    start: int
    end: int
    core_end: int | None
    path: str

    def locations(self) -> list[Location]:
        return [Location(self.path, symbol="skernel"), Location(self.path, symbol="__hv_end")]


def read_hv_extent(path: str) -> HvExtent:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    found: dict[str, int] = {}
    try:
        with open(path, "rb") as fh:
            elf = ELFFile(fh)
            for section in elf.iter_sections():
                if not isinstance(section, SymbolTableSection):
                    continue
                for sym in section.iter_symbols():
                    if sym.name in SYMBOLS and sym.name not in found:
                        found[sym.name] = int(sym["st_value"])
    except OSError as exc:
        raise InputError(path, f"cannot read ELF: {exc.strerror or exc}") from None
    except (ELFError, ValueError, KeyError, IndexError) as exc:
        raise InputError(path, f"not a valid ELF: {exc}") from None
    missing = [s for s in ("skernel", "__hv_end") if s not in found]
    if missing:
        raise InputError(path, f"hypervisor ELF lacks symbol(s) {', '.join(missing)} (is this hvisor's ELF?)")
    # LoongArch links hvisor at a DMW window address; physical = low 48 bits (DESIGN.md §4).
    mask = (1 << 48) - 1 if found["skernel"] >> 48 else (1 << 64) - 1
    return HvExtent(found["skernel"] & mask, found["__hv_end"] & mask,
                    found["__core_end"] & mask if "__core_end" in found else None, path)
