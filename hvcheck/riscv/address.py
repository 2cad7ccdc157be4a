"""What is at an address, as the hart would fetch it: the crash-triage question for an
mepc/mtval and the trap-vector rules' question for a vector BASE.

:func:`inspect` returns the facts (section, instruction boundary, what the hart decodes there,
nearest symbol); :func:`describe` says them in a sentence. With a walker's ``CodeMap`` the
boundaries come from the reachable decode first; without one, from a linear decode that starts
at the nearest symbol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvcheck.riscv import rvc
from hvcheck.riscv.decode import decode_at, insn_length, pretty
from hvcheck.riscv.model import CodeRegion, RiscvImage

if TYPE_CHECKING:
    from hvcheck.riscv.walker import CodeMap

ANCHOR_RANGE = 65536  # bytes a linear decode may run from its anchor


class AddressInfo:
    """What is at an address, as the hart would fetch it. (A plain class: a @dataclass compiles
    generated code at import time, which every `hvcheck riscv` run would pay.)"""

    def __init__(self, addr: int, section: str | None, in_code: bool, symbol: str | None = None,
                 exact_symbol: str | None = None) -> None:
        self.addr = addr
        self.section = section
        self.in_code = in_code
        self.is_start = False
        self.reachable = False
        self.insn_start: int | None = None  # start of the instruction containing addr
        self.insn_length: int | None = None
        self.insn_text: str | None = None
        self.halfword: int | None = None  # what the hart reads at addr
        self.reads_class: str | None = None  # rvc class of that halfword (or "valid"/"unknown"/"truncated")
        self.reads_text: str | None = None
        self.reads_reason = ""
        self.symbol = symbol  # "name+0xoff"
        self.exact_symbol = exact_symbol  # a symbol exactly at addr

    def __repr__(self) -> str:
        return f"AddressInfo({vars(self)!r})"

    @property
    def mid_instruction(self) -> bool:
        return self.insn_start is not None and self.insn_start != self.addr


def inspect(img: RiscvImage, code: CodeMap | None, addr: int) -> AddressInfo:
    region = img.region_of(addr)
    exact = img.symbol_at(addr)
    section = region.name if region else ("(data)" if img.in_loaded_data(addr) else None)
    info = AddressInfo(addr, section, region is not None, symbol=img.nearest_symbol(addr),
                       exact_symbol=exact.name if exact else None)
    if region is None:
        return info
    start, length, reachable = _containing(img, code, addr, region)
    info.insn_start = start
    info.insn_length = length
    info.is_start = start == addr
    info.reachable = reachable
    if start is not None:
        insn = decode_at(region.data, start - region.start, img.profile)
        info.insn_text = pretty(insn) if insn is not None else None
    hw = img.halfword(addr)
    if hw is not None:
        info.halfword = hw
        insn = img.decode(addr)
        if hw & 3 != 3:
            d = rvc.decode16(hw, img.profile)
            info.reads_class = d.cls
            info.reads_text = d.text() if d.name else f".2byte 0x{hw:04x}"
            info.reads_reason = d.reason
        elif insn is not None:
            info.reads_class = "valid" if insn.cls == "valid" else "unknown"
            info.reads_text = pretty(insn)
            info.reads_reason = insn.reason
        else:
            info.reads_class = "truncated"
            info.reads_text = "(the instruction runs past the end of the section)"
    return info


def _containing(img: RiscvImage, code: CodeMap | None, addr: int,
                region: CodeRegion) -> tuple[int | None, int | None, bool]:
    anchor = region.start
    if code is not None:
        for table, reachable in ((code.starts, True), (code.linear, False)):
            if addr in table:
                return addr, table[addr], reachable
            for back in (2, 4, 6):
                s = addr - back
                if s in table and table[s] > back:
                    return s, table[s], reachable
        below = code.start_below(addr)
        if below is not None and below >= region.start:
            anchor = below
    sym = img.symbol_below(addr)
    if sym is not None and sym.addr >= region.start:
        anchor = max(anchor, sym.addr)
    anchor = max(anchor, addr - ANCHOR_RANGE)
    anchor += (anchor - region.start) & 1
    starts = code.starts if code is not None else {}
    pos = anchor
    data = region.data
    while True:
        off = pos - region.start
        if off + 2 > len(data):
            return None, None, False
        n = starts.get(pos) or insn_length(data[off] | data[off + 1] << 8) or 2
        if pos + n > addr:
            return pos, n, False
        pos += n


def describe(img: RiscvImage, code: CodeMap | None, addr: int) -> str:
    """One or two sentences for a human: e.g. "0x8000007c is inside the 4-byte nop at
    0x8000007a <_start+0x7a>; the hart reads 0x0000 (c.unimp), an illegal instruction"."""
    info = inspect(img, code, addr)
    where = f" <{info.symbol}>" if info.symbol else ""
    if not info.in_code:
        what = "data" if info.section else "no loaded section"
        return f"0x{addr:x}{where} is not in any executable section ({what})"
    if info.insn_start is None:
        return f"0x{addr:x}{where} is at the end of section {info.section}; nothing to decode"
    reads = _reads_phrase(info)
    if info.mid_instruction:
        at = img.where(info.insn_start)
        return (f"0x{addr:x} is inside the {info.insn_length}-byte {info.insn_text} at {at}; "
                f"the hart reads {reads}")
    how = "a reachable instruction start" if info.reachable else "an instruction start (linear decode)"
    return f"0x{addr:x}{where} is {how}: the hart reads {reads}"


def _reads_phrase(info: AddressInfo) -> str:
    hw = info.halfword
    if hw is None:
        return "nothing (end of section)"
    if info.reads_class == "illegal":
        return f"0x{hw:04x} ({info.reads_text}), an illegal instruction"
    if info.reads_class == "reserved":
        return f"0x{hw:04x} ({info.reads_text}), a reserved encoding: {info.reads_reason}"
    if info.reads_class == "hint":
        return f"0x{hw:04x} ({info.reads_text}), a HINT that executes as a no-op"
    if info.reads_class == "valid" and hw & 3 != 3:
        return f"0x{hw:04x} and executes {info.reads_text}"
    return f"{info.reads_text}"

