"""Compatibility names: the RISC-V image API before it was split into the image model
(:mod:`hvcheck.riscv.model`), its reader (:mod:`hvcheck.riscv.elf`), the code walker
(:mod:`hvcheck.riscv.walker`) and address questions (:mod:`hvcheck.riscv.address`).
Other areas may keep importing ``load_image`` and ``RiscvImage`` from here."""

from __future__ import annotations

from hvcheck.riscv.address import AddressInfo
from hvcheck.riscv.elf import EM_RISCV, MAX_FILE, load_image
from hvcheck.riscv.model import CodeRegion, RiscvImage, Segment, Symbol
from hvcheck.riscv.walker import BadEncoding, CodeMap, Walker, _build_kind_table, kind_table

__all__ = ["EM_RISCV", "MAX_FILE", "AddressInfo", "BadEncoding", "CodeMap", "CodeRegion", "RiscvImage", "Segment",
           "Symbol", "Walker", "_build_kind_table", "kind_table", "load_image"]
