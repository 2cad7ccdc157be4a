"""Trap-vector writes: recover the value written to mtvec/stvec/vstvec and check it (R001-R004).

Values are recovered by forward constant propagation over the straight-line window that ends at
the write (lattice {constant, unknown}, x0 = 0, RV64 sign-extension rules), seeded where the
window starts at a function entry with the argument registers at each call site ("simple
calls"). Sources: lui/auipc/addi[w]/c.addi/c.li/c.lui/c.mv/add/ori/andi..., `la`/`lla`, and
pc-relative literal or GOT loads read from the image (dynamic relocations applied). A write
whose value stays unknown is a note, never dropped. Facts: riscv-trap-vectors.md §1-§3.
"""

from __future__ import annotations

import bisect
from typing import Protocol

from hvcheck.findings import Finding, Location, Severity, declare_rule
from hvcheck.riscv.address import AddressInfo, describe, inspect
from hvcheck.riscv.decode import TVEC_CSRS, Insn, pretty
from hvcheck.riscv.model import RiscvImage
from hvcheck.riscv.rvc import ABI_NAMES, Decoded16, sext
from hvcheck.riscv.walker import CodeMap

# The rules this module emits (hvcheck.findings registry; docs in hvcheck/docs/rules/).
declare_rule("R001", "trap-vector CSR written with a reserved MODE (>= 2)", Severity.ERROR, "riscv")
declare_rule("R002", "trap-vector BASE does not land on an instruction start", Severity.ERROR, "riscv")
declare_rule("R003", "trap-vector BASE lands on an instruction that is not a symbol or function entry", Severity.WARNING, "riscv")
declare_rule("R004", "vectored trap table misaligned or not made of 4-byte jumps", Severity.ERROR, "riscv")
declare_rule("R006", "temporary trap vector: the target restores the saved vector or skips the faulting "
                     "instruction (intended)", Severity.NOTE, "riscv")
declare_rule("R007", "trap vector points at a park loop (wfi; j back): traps stop the hart there (intended)",
             Severity.NOTE, "riscv")

WINDOW = 48  # instructions walked back from a write (first try)
LONG_WINDOW = 4096  # second try for values still unknown (switch cases reached through a jump table)
DISPATCH_RANGE = 4096  # how far a jump-table case may lie from its dispatching indirect jump
MAX_CALLERS = 16
VECTOR_CAUSES = (0, 1, 3, 5, 7, 9, 11)  # exceptions (0) and U/S/VS/M software, timer, external interrupts
GUEST_TVEC = 0x205  # vstvec: written by a hypervisor with guest addresses, never this image's handlers
CALLER_SAVED = frozenset({1, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17, 28, 29, 30, 31})


# Plain classes rather than dataclasses: a @dataclass compiles generated code at import time
# (~0.5-2 ms apiece), which every `hvcheck riscv` run would pay.
class OldCsr:
    """The value a CSR held before the write at ``pc`` (read by csrrw/csrr): a restore."""

    __slots__ = ("csr", "pc")
    csr: int
    pc: int

    def __init__(self, csr: int, pc: int) -> None:
        object.__setattr__(self, "csr", csr)
        object.__setattr__(self, "pc", pc)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"OldCsr is immutable: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OldCsr) and (self.csr, self.pc) == (other.csr, other.pc)

    def __hash__(self) -> int:
        return hash((self.csr, self.pc))

    def __repr__(self) -> str:
        return f"OldCsr(csr={self.csr}, pc={self.pc})"


class Value:
    __slots__ = ("v", "chain", "note", "assumes")

    def __init__(self, v: int | OldCsr | None, chain: tuple[str, ...] = (), note: str = "",
                 assumes: tuple[str, ...] = ()) -> None:
        self.v = v
        self.chain = chain
        self.note = note
        self.assumes = assumes  # initial values of writable data the value was computed from

    def __repr__(self) -> str:
        return f"Value({self.v!r}, chain={self.chain!r}, note={self.note!r})"


UNKNOWN = Value(None)


class _Regs(Protocol):
    """Anything that maps a register number to a Value (a lazy view of the values before an
    instruction, a caller's arguments, no seed at all)."""

    def get(self, reg: int, default: Value = ..., /) -> Value: ...


class _NoSeed:
    """No register is known at the start of the window."""

    def get(self, reg: int, default: Value = UNKNOWN, /) -> Value:
        return default


_NO_SEED = _NoSeed()  # one shared object: memo keys include the seed's identity


class TvecWrite:
    """One write site and what it writes (possibly several values via several callers)."""

    __slots__ = ("pc", "csr", "insn_text", "values", "reached")

    def __init__(self, pc: int, csr: int, insn_text: str, values: list[Value] | None = None,
                 reached: bool = True) -> None:
        self.pc = pc
        self.csr = csr
        self.insn_text = insn_text
        self.values: list[Value] = [] if values is None else values
        self.reached = reached  # False: found by the linear sweep of code the walk did not reach

    def __repr__(self) -> str:
        return f"TvecWrite(0x{self.pc:x}, {self.csr_name}, {self.insn_text!r}, {self.values!r})"

    @property
    def csr_name(self) -> str:
        return TVEC_CSRS.get(self.csr, hex(self.csr))


class Propagator:
    def __init__(self, img: RiscvImage, code: CodeMap) -> None:
        self.img = img
        self.code = code
        self.mask = (1 << img.xlen) - 1
        self._func_entries = set(code.callers) | {s.addr for s in img.symbols if s.kind == "FUNC"}
        self._func_entries.add(img.entry)
        self._chains: dict[int, tuple[int, int]] = {}  # pc -> (start of its straight-line path, length)
        self._jumps = sorted(code.indirect_jumps)
        self._entry_list = sorted(self._func_entries)
        self.via_dispatch: set[int] = set()
        self._memo: dict[tuple[int, int, int], Value] = {}
        self._memos: dict[int, dict[tuple[int, int, int], Value]] = {}
        self._seeds: dict[int, list[tuple[_Regs, str]]] = {}
        self._preds: dict[int, int | None] = {}
        self._texts: dict[int, str] = {}
        # gp holds __global_pointer$ (the linker relaxes `la` to gp-relative only when the image
        # defines it, and the code relies on it): a value for gp where nothing in the window sets it
        gp = next((s.addr for s in img.symbols if s.name == "__global_pointer$"), None)
        self._gp = None if gp is None else Value(gp, (f"gp = 0x{gp:x} <__global_pointer$> (the ABI's global pointer)",))

    def text(self, pc: int, insn: Decoded16 | Insn) -> str:
        t = self._texts.get(pc)
        if t is None:
            t = self._texts[pc] = f"0x{pc:x} {pretty(insn)}"
        return t

    def predecessor(self, pc: int) -> int | None:
        """The one instruction that runs before ``pc``: its fall-through predecessor, or, when
        nothing falls through into ``pc``, the single jump/branch that targets it."""
        if pc in self._preds:
            return self._preds[pc]
        self._preds[pc] = p = self._predecessor(pc)
        return p

    def _predecessor(self, pc: int) -> int | None:
        starts = self.code.starts
        linear = self.code.linear
        fall = None
        ended = False
        for back in (4, 2):
            p = pc - back
            if starts.get(p) == back or (p not in starts and linear.get(p) == back):
                insn = self.img.decode(p)
                if insn is not None and not _ends_flow(insn):
                    fall = p
                ended = fall is None
                break
        sources = self.code.targets.get(pc, [])
        if fall is not None:
            return fall
        if len(set(sources)) == 1:
            return sources[0]
        if not sources and ended:
            return self._dispatch(pc)
        return None

    def _dispatch(self, pc: int) -> int | None:
        """A block nothing falls or branches into is usually a jump-table case: continue from the
        closest indirect jump before it in the same function (chains say so)."""
        jumps = self._jumps
        i = bisect.bisect_left(jumps, pc) - 1
        if i < 0 or pc - jumps[i] > DISPATCH_RANGE:
            return None
        j = jumps[i]
        if any(j < e <= pc for e in self._entries_between(j, pc)):
            return None
        self.via_dispatch.add(j)
        return j

    def _entries_between(self, lo: int, hi: int) -> list[int]:
        k = bisect.bisect_right(self._entry_list, lo)
        out = []
        while k < len(self._entry_list) and self._entry_list[k] <= hi:
            out.append(self._entry_list[k])
            k += 1
        return out

    def chain(self, pc: int) -> tuple[int, int]:
        """(first instruction, number of instructions) of the straight-line path that ends just
        before ``pc``: predecessors back to a function entry, a join point or a loop. Memoised
        for every address on the way, so the writes along one long path (a switch's cases)
        share one walk instead of each walking it again."""
        chains = self._chains
        known = chains.get(pc)
        if known is not None:
            return known
        path: list[int] = []  # pc and its predecessors, back to a known or first instruction
        index: dict[int, int] = {}
        cur = pc
        while True:
            known = chains.get(cur)
            if known is not None:
                start, dist = known
                break
            p = None if cur in self._func_entries else self.predecessor(cur)
            if p is None:
                start, dist = cur, 0
                chains[cur] = known = (cur, 0)
                break
            index[cur] = len(path)
            path.append(cur)
            if p in index:  # a loop: each walk stops before it revisits an instruction
                j, k = index[p], len(path) - 1
                for m in range(j, k + 1):  # on the loop: it starts just after the node itself
                    chains[path[m]] = (path[m - 1] if m > j else path[k], k - j)
                for t in range(j - 1, -1, -1):  # leading into it: up to the loop's last node
                    chains[path[t]] = (path[k], k - t)
                return chains[pc]
            cur = p
        for node in reversed(path):
            dist += 1
            chains[node] = (start, dist)
        return self._chains[pc]

    def window_length(self, pc: int, limit: int = WINDOW) -> tuple[int, int | None]:
        """How many predecessors of ``pc`` the value recovery may use, and the path's first
        instruction when the whole path fits (None when ``limit`` cut it)."""
        start, dist = self.chain(pc)
        return (dist, start) if dist <= limit else (limit, None)

    def get(self, regs: _Regs, r: int | None) -> Value:
        if r is None:
            return UNKNOWN
        if r == 0:
            return Value(0)
        return regs.get(r, UNKNOWN)

    def step(self, pc: int, insn: Decoded16 | Insn, regs: _StepView) -> None:
        op = insn.op
        rd = insn.rd
        text = self.text(pc, insn)
        int_rd = rd is not None and rd != 0 and not _fp_dest(insn)
        if op in ("jal", "jalr"):
            if rd:
                for r in CALLER_SAVED:  # a call clobbers the caller-saved registers
                    regs.pop(r, None)
                regs[rd] = Value((pc + insn.length) & self.mask, (text,))
            return
        if not int_rd:
            return
        assert rd is not None
        result: Value = UNKNOWN
        a = self.get(regs, insn.rs1)
        b = self.get(regs, insn.rs2)
        imm = insn.imm
        if op == "lui" and imm is not None:
            result = Value(imm & self.mask, (text,))
        elif op == "auipc" and imm is not None:
            result = Value((pc + imm) & self.mask, (text,))
        elif op.startswith("csrr") and isinstance(insn, Insn) and insn.csr is not None:
            result = Value(OldCsr(insn.csr, pc), (text,)) if insn.csr in TVEC_CSRS else UNKNOWN
        elif op in _IMM_OPS and imm is not None and isinstance(a.v, int):
            result = Value(self._imm_op(op, a.v, imm), (*a.chain, text), assumes=a.assumes)
        elif op in ("add", "sub", "and", "or", "xor", "addw", "subw") and isinstance(a.v, int) \
                and isinstance(b.v, int):
            result = Value(self._reg_op(op, a.v, b.v), (*a.chain, *b.chain, text), assumes=a.assumes + b.assumes)
        elif op == "add" and isinstance(a.v, int) != isinstance(b.v, int) and insn.rs1 and insn.rs2:
            known, other, reg = (a, b, insn.rs2) if isinstance(a.v, int) else (b, a, insn.rs1)
            if isinstance(known.v, int) and not isinstance(other.v, OldCsr):
                where = self.img.where(known.v)
                result = Value(None, (*known.chain, text),
                               note=f"{where} + {_reg(reg)}, and {_reg(reg)} is not a constant "
                                    "(e.g. a run-time relocation offset)")
        elif op == "add" and insn.rs1 == 0 and isinstance(b.v, OldCsr):  # mv rd, rs
            result = Value(b.v, (*b.chain, text))
        elif op == "add" and insn.rs2 == 0 and isinstance(a.v, OldCsr):
            result = Value(a.v, (*a.chain, text))
        elif op == "addi" and imm == 0 and isinstance(a.v, OldCsr):
            result = Value(a.v, (*a.chain, text))
        elif op in _LOADS and isinstance(a.v, int) and imm is not None:
            size, signed = _LOADS[op]
            addr = (a.v + imm) & self.mask
            got = self.img.read(addr, size)
            if got is not None:
                val, writable = got
                if signed and val & (1 << (size * 8 - 1)):
                    val -= 1 << (size * 8)
                where = self.img.where(addr)
                what = "initial value of writable data" if writable else "literal"
                assumes = a.assumes + ((f"the initial value of writable data at {where} (0x{val & self.mask:x})",)
                                       if writable else ())
                result = Value(val & self.mask, (*a.chain, f"{text}   ; {what} at {where} = 0x{val & self.mask:x}"),
                               note="value read from writable memory (initial value)" if writable else "",
                               assumes=assumes)
        regs[rd] = result

    def _imm_op(self, op: str, a: int, imm: int) -> int:
        m = self.mask
        if op == "addi":
            return (a + imm) & m
        if op == "addiw":
            return sext(a + imm, 32) & m
        if op == "andi":
            return a & imm & m
        if op == "ori":
            return (a | imm) & m
        if op == "xori":
            return (a ^ imm) & m
        if op == "slli":
            return (a << imm) & m
        if op == "srli":
            return (a & m) >> imm
        if op == "srai":
            signed = a - (1 << self.img.xlen) if a & (1 << (self.img.xlen - 1)) else a
            return (signed >> imm) & m
        if op == "slliw":
            return sext(a << imm, 32) & m
        return 0

    def _reg_op(self, op: str, a: int, b: int) -> int:
        m = self.mask
        return {"add": lambda: a + b, "sub": lambda: a - b, "and": lambda: a & b, "or": lambda: a | b,
                "xor": lambda: a ^ b, "addw": lambda: sext(a + b, 32), "subw": lambda: sext(a - b, 32)}[op]() & m

    # -------------------------------------------------------------- per write
    def resolve(self, pc: int) -> TvecWrite | None:
        insn = self.img.decode(pc)
        if not isinstance(insn, Insn) or insn.csr not in TVEC_CSRS:
            return None
        name = insn.name
        if name in ("csrrs", "csrrc") and insn.rs1 == 0 or name in ("csrrsi", "csrrci") and insn.rs1 == 0:
            return None  # a pure read
        write = TvecWrite(pc, insn.csr, pretty(insn))
        for limit in (WINDOW, LONG_WINDOW):
            self._memo = self._memos.setdefault(limit, {})  # results depend on the window limit
            length, start = self.window_length(pc, limit)
            write.values = []
            seeds = self._caller_seeds(start) if start is not None else [(_NO_SEED, "")]
            for seed, via in seeds:
                regs = _Before(self, pc, length, seed)
                prior = self._prior_csr_value(pc, length, insn, seed)
                write.values.append(self._written(insn, pc, regs, prior, via))
            if all(v.v is not None for v in write.values) or length < limit:
                break
        # dedupe identical values
        seen: dict[object, Value] = {}
        for v in write.values:
            seen.setdefault(v.v if v.v is not None else ("unknown", v.note), v)
        write.values = list(seen.values())
        return write

    def value_before(self, pc: int, left: int, reg: int, seed: _Regs) -> Value:
        """Value of ``reg`` just before ``pc``, where ``left`` predecessors of ``pc`` belong to the
        window: walk back to its last definition and evaluate that instruction from the values
        before it (a backward slice: only what the write depends on is evaluated). Results are
        memoised by address, so the many writes along one long path share the work."""
        if reg == 0:
            return Value(0)
        memo = self._memo
        sid = id(seed)
        key = (pc, reg, sid)
        if key in memo:
            return memo[key]
        memo[key] = UNKNOWN  # guards against cycles
        result = None
        visited = [key]
        cur = pc
        decode = self.img.decode
        for k in range(left):
            p = self.predecessor(cur)
            if p is None:
                break
            insn = decode(p)
            if insn is not None and _defines(insn, reg):
                view = _StepView(_Before(self, p, left - k - 1, seed))
                self.step(p, insn, view)
                result = view.written.get(reg, UNKNOWN)
                break
            k2 = (p, reg, sid)
            if k2 in memo:
                result = memo[k2]
                break
            visited.append(k2)
            cur = p
        if result is None:
            result = seed.get(reg, UNKNOWN)
            if result.v is None and reg == 3 and self._gp is not None:
                result = self._gp
        for seen_key in visited:
            memo[seen_key] = result
        return result

    def _caller_seeds(self, entry: int) -> list[tuple[_Regs, str]]:
        """Register values at ``entry``: from each direct caller when entry is a function entry."""
        if entry in self._seeds:
            return self._seeds[entry]
        callers = self.code.callers.get(entry, [])
        if not callers:
            return [(_NO_SEED, "")]
        out: list[tuple[_Regs, str]] = []
        self._seeds[entry] = out
        for call in callers[:MAX_CALLERS]:
            length, _ = self.window_length(call)
            insn = self.img.decode(call)
            link = None
            if insn is not None and insn.rd:  # the link register holds the return address
                link = (insn.rd, Value((call + insn.length) & self.mask, (self.text(call, insn),)))
            out.append((_Args(_Before(self, call, length, _NO_SEED), link),
                        f"via the call at {self.img.where(call)}"))
        return out

    def _prior_csr_value(self, pc: int, left: int, write: Insn, seed: _Regs) -> Value | None:
        """The value an earlier csrw to the same CSR in the window wrote (only csrs/csrc need it)."""
        if write.name in ("csrrw", "csrrwi"):
            return None
        cur = pc
        for k in range(left):
            p = self.predecessor(cur)
            if p is None:
                return None
            insn = self.img.decode(p)
            if isinstance(insn, Insn) and insn.csr == write.csr and insn.name in ("csrrw", "csrrwi"):
                if insn.name == "csrrwi":
                    return Value(insn.rs1 or 0)
                return self.value_before(p, left - k - 1, insn.rs1 or 0, seed)
            cur = p
        return None

    def _written(self, insn: Insn, pc: int, regs: _Regs, prior: Value | None, via: str) -> Value:
        text = f"0x{pc:x} {pretty(insn)}"
        name = insn.name
        if name == "csrrw":
            src = self.get(regs, insn.rs1)
            if src.v is None and src.note:
                return Value(None, (*src.chain, text), note=f"{_reg(insn.rs1)} = {src.note}" + (f" ({via})" if via else ""))
            if src.v is None:
                reg = _reg(insn.rs1)
                return Value(None, (text,), note=f"{reg} is not a constant on the straight-line path"
                             + (f" ({via})" if via else "") + _why_unknown(self, pc, insn.rs1))
            return Value(src.v, (*src.chain, text), note=" ".join(x for x in (src.note, via) if x),
                         assumes=src.assumes)
        if name == "csrrwi":
            return Value(insn.rs1 or 0, (text,), note=via)
        src = self.get(regs, insn.rs1) if name in ("csrrs", "csrrc") else Value(insn.rs1 or 0)
        if not isinstance(src.v, int):
            return Value(None, (text,), note=f"read-modify-write with a non-constant operand {_reg(insn.rs1)}")
        if prior is None or not isinstance(prior.v, int):
            bits = "MODE bit(s)" if src.v < 4 else "bits"
            return Value(None, (text,), note=f"{name} sets/clears {bits} 0x{src.v:x} of a value not known "
                                              "statically (no earlier write in the same block)")
        if name.startswith("csrrs"):
            return Value(prior.v | src.v, (*prior.chain, *src.chain, text), assumes=prior.assumes + src.assumes)
        return Value(prior.v & ~src.v & self.mask, (*prior.chain, *src.chain, text),
                     assumes=prior.assumes + src.assumes)


class _Before:
    """Registers just before ``pc`` (with ``left`` predecessors in the window), each computed on
    demand (see value_before)."""

    def __init__(self, prop: Propagator, pc: int, left: int, seed: _Regs) -> None:
        self.prop, self.pc, self.left, self.seed = prop, pc, left, seed

    def get(self, reg: int, default: Value = UNKNOWN, /) -> Value:
        return self.prop.value_before(self.pc, self.left, reg, self.seed)


class _Args:
    """A caller's registers at a call, restricted to the argument registers a0-a7, and the link
    register the call wrote (``jal t0, 1f`` then ``addi t0, t0, off``: a link-relative value)."""

    def __init__(self, before: _Before, link: tuple[int, Value] | None = None) -> None:
        self.before = before
        self.link = link

    def get(self, reg: int, default: Value = UNKNOWN, /) -> Value:
        if self.link is not None and reg == self.link[0]:
            return self.link[1]
        if 10 <= reg <= 17:
            v = self.before.get(reg)
            return v if v.v is not None else default
        return default


class _StepView:
    """What Propagator.step reads (the values before) and writes (its destination)."""

    def __init__(self, before: _Before) -> None:
        self.before = before
        self.written: dict[int, Value] = {}

    def get(self, reg: int, default: Value = UNKNOWN, /) -> Value:
        return self.written[reg] if reg in self.written else self.before.get(reg)

    def __setitem__(self, reg: int, value: Value) -> None:
        self.written[reg] = value

    def pop(self, reg: int, default: object = None) -> None:
        self.written[reg] = UNKNOWN


def _defines(insn: Decoded16 | Insn, reg: int) -> bool:
    if insn.op in ("jal", "jalr") and insn.rd:
        return reg == insn.rd or reg in CALLER_SAVED
    return insn.rd == reg and not _fp_dest(insn)


_IMM_OPS = frozenset({"addi", "addiw", "andi", "ori", "xori", "slli", "srli", "srai", "slliw"})
_LOADS = {"ld": (8, False), "lw": (4, True), "lwu": (4, False), "lh": (2, True), "lhu": (2, False),
          "lb": (1, True), "lbu": (1, False)}


def _reg(r: int | None) -> str:
    return ABI_NAMES[r or 0]


def _why_unknown(prop: Propagator, pc: int, reg: int | None) -> str:
    length, first = prop.window_length(pc)
    if not length or length >= WINDOW or first is None:
        return ""
    if first in prop.code.callers or first in prop._func_entries:
        return f"; it is set by the caller of {prop.img.where(first)}"
    return f"; the path starts at {prop.img.where(first)} (a join point or the start of decoded code)"


def _fp_dest(insn: Decoded16 | Insn) -> bool:
    if isinstance(insn, Insn):
        return "d" in insn.fp
    return bool(insn.fp) and insn.rd is not None


def _ends_flow(insn: Decoded16 | Insn) -> bool:
    """True when execution never falls through to the next instruction."""
    if insn.cls not in ("valid", "hint"):
        return False
    if insn.op in ("jal", "jalr") and insn.rd == 0:
        return True
    if insn.op in ("ret", "jt"):
        return True
    return isinstance(insn, Insn) and insn.name in ("mret", "sret", "mnret", "dret", "uret")


# ---------------------------------------------------------------------------- checks

class WriteCheck:
    """The result of checking one batch of trap-vector writes."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.writes: list[TvecWrite] = []
        self.roots: list[int] = []  # handler addresses to walk (for R005)


class _Ctx:
    """What every per-value check reads: the image, the walk, and where new roots go."""

    def __init__(self, img: RiscvImage, code: CodeMap, roots: list[int]) -> None:
        self.img, self.code, self.roots = img, code, roots
        # the walk does not change while one batch is checked, and most writes in a batch
        # install the same few handlers (OpenSBI: 200 swaps to one expected-trap handler)
        self._info: dict[int, AddressInfo] = {}
        self._text: dict[int, str] = {}

    def inspect(self, addr: int) -> AddressInfo:
        info = self._info.get(addr)
        if info is None:
            info = self._info[addr] = inspect(self.img, self.code, addr)
        return info

    def describe(self, addr: int) -> str:
        text = self._text.get(addr)
        if text is None:
            text = self._text[addr] = describe(self.img, self.code, addr)
        return text


def check_writes(img: RiscvImage, code: CodeMap, sites: list[int], reached: bool = True) -> WriteCheck:
    """R001-R004 and R006 for the trap-vector writes at ``sites``; the handler addresses that
    become walk roots (for R005) are returned with the findings."""
    prop = Propagator(img, code)
    out = WriteCheck()
    ctx = _Ctx(img, code, out.roots)
    for pc in sorted(set(sites)):
        w = prop.resolve(pc)
        if w is None:
            continue
        w.reached = reached
        out.writes.append(w)
        for val in w.values:
            out.findings += _check_value(ctx, w, val)
    return out


def _loc(img: RiscvImage, pc: int) -> Location:
    return Location(img.path, None, symbol=img.nearest_symbol(pc), detail=f"write at 0x{pc:x}")


def _base_data(img: RiscvImage, w: TvecWrite, val: Value) -> dict[str, object]:
    return {"csr": w.csr, "csr_name": w.csr_name, "write_pc": w.pc, "write_symbol": img.nearest_symbol(w.pc),
            "instruction": w.insn_text, "chain": list(val.chain)}


def _check_value(ctx: _Ctx, w: TvecWrite, val: Value) -> list[Finding]:
    """The findings for one value; a verdict against a value computed from the initial value
    of writable data (which the program may overwrite before the write: Linux's kernel_map)
    is not given as a fact but as a note that says what it rests on."""
    roots_before = len(ctx.roots)
    found = _judge_value(ctx, w, val)
    if not val.assumes or all(f.sev == Severity.NOTE for f in found):
        return found
    del ctx.roots[roots_before:]  # not a known handler: do not walk it
    img = ctx.img
    first = next(f for f in found if f.sev != Severity.NOTE)
    assumes = list(dict.fromkeys(val.assumes))
    data = dict(first.data, assumes=assumes, unverified=first.rule)
    return [Finding("R002", f"{w.csr_name} (0x{w.csr:03x}) written at {img.where(w.pc)}: the value is computed "
                            f"from {'; '.join(assumes)}, which the program may change before this write, so "
                            f"BASE is not checked. With that initial value: {first.rule} {first.message}",
                    [_loc(img, w.pc)], data, severity=Severity.NOTE,
                    fix="nothing if that data is set at run time; otherwise see " + first.rule)]


def _judge_value(ctx: _Ctx, w: TvecWrite, val: Value) -> list[Finding]:
    img = ctx.img
    head = f"{w.csr_name} (0x{w.csr:03x}) written at {img.where(w.pc)}"
    if not w.reached:
        head += " (code not reached from the entry point or a function symbol; found by linear sweep)"
    data = _base_data(img, w, val)
    data["reached"] = w.reached
    if isinstance(val.v, OldCsr):
        return []  # restores the value read earlier (csrrw save / csrw restore idiom): nothing new
    guest = w.csr == GUEST_TVEC
    if val.v is None:
        if guest:
            return []  # a guest's vector: its BASE is never checked against this image anyway
        data["reason"] = val.note
        return [Finding("R002", f"{head}: value not resolved statically ({val.note}); BASE not checked",
                        [_loc(img, w.pc)], data, severity=Severity.NOTE,
                        fix="if this is a handler address, load it with `la`/`lla` next to the write")]
    v = val.v
    mode = v & 3
    base = v & ~3 & ((1 << img.xlen) - 1)
    data.update(value=v, base=base, mode=mode)
    if val.note:
        data["note"] = val.note
    head = f"{head} <- 0x{v:x}"
    if mode >= 2:
        extra = ""
        for delta in (1, 2, 3):
            s = img.symbol_at(v - delta)
            if s is not None:
                extra = (f"; 0x{v:x} - {delta} = {s.name}: a {'2-byte-aligned ' if (v - delta) % 4 else ''}"
                         f"address OR'ed with the MODE bits spilled into MODE")
                data["symbol_below"] = s.name
                break
        return [Finding("R001", f"{head}: MODE {mode} is reserved (only 0 Direct and 1 Vectored are defined); "
                                f"WARL hardware silently drops or changes the write{extra}",
                        [_loc(img, w.pc)], data,
                        fix="align the handler/table to >= 64 bytes and write `table | 1` or `handler`")]
    if guest:
        return []  # vstvec holds a guest address (a hypervisor's reset value or a saved guest vector)
    out: list[Finding] = []
    info = ctx.inspect(base)
    data["target"] = ctx.describe(base)
    data["nearest_symbol"] = info.symbol
    bad_target = _target_finding(ctx, w, head, info, data)
    if bad_target is not None:
        out.append(bad_target)
        if bad_target.rule == "R002":
            return out
    if mode == 1:
        out += _vector_findings(ctx, w, head, base, data)
    else:
        ctx.roots.append(base)
    return out


def _target_finding(ctx: _Ctx, w: TvecWrite, head: str, info: AddressInfo,
                    data: dict[str, object]) -> Finding | None:
    img = ctx.img
    base = info.addr
    if not info.in_code:
        return Finding("R002", f"{head}: BASE 0x{base:x} is not in any executable section "
                               f"({'in data' if info.section else 'not loaded at all'}); the first trap "
                               "fetches from there", [_loc(img, w.pc)], dict(data),
                       fix="write the address of the trap handler (`la t0, handler`)")
    if info.mid_instruction:
        desc = ctx.describe(base)
        loop = ""
        if info.reads_class in ("illegal", "reserved"):
            loop = ", and will trap to the same address forever"
            data["trap_loop"] = True
        hint = _intended(img, base, data)
        return Finding("R002", f"{head}: BASE is not an instruction start. {desc}{loop}{hint}",
                       [_loc(img, w.pc), Location(img.path, None, symbol=info.symbol, detail=f"BASE 0x{base:x}")],
                       dict(data), fix="compute the vector with `la t0, <handler symbol>`, never by hand")
    if info.exact_symbol is not None or not img.has_symtab:
        return None  # a named handler; or a stripped image, where every handler looks anonymous
    if _park_loop(img, base):
        data["park_loop"] = True
        return Finding("R007", f"{head}: the vector points at a park loop ({info.insn_text} ... jump back) at "
                               f"{img.where(base)}: a trap stops this hart there. A deliberate sink (Linux's "
                               "head.S parks on .Lsecondary_park while it switches the MMU); no symbol is needed",
                       [_loc(img, w.pc), Location(img.path, None, symbol=info.symbol, detail=f"BASE 0x{base:x}")],
                       dict(data))
    temporary = _temporary_vector(ctx, w, base)
    if temporary is not None:
        data["temporary"] = temporary
        return Finding("R006", f"{head}: a temporary trap vector: {w.insn_text} keeps the old {w.csr_name} in "
                               f"{_reg(_saved_into(img, w))} and points the vector at {img.where(base)}, which "
                               f"{temporary}; a trap in between (e.g. a CSR the hart lacks) resumes there. "
                               "Intended (riscv-pk's PMP probe does this); no symbol is needed",
                       [_loc(img, w.pc), Location(img.path, None, symbol=info.symbol, detail=f"BASE 0x{base:x}")],
                       dict(data))
    return Finding("R003", f"{head}: BASE 0x{base:x} is an instruction start ({info.insn_text}) but no "
                           f"symbol names it; nearest symbol below: {info.symbol or '(none)'}",
                   [_loc(img, w.pc), Location(img.path, None, symbol=info.symbol, detail=f"BASE 0x{base:x}")],
                   dict(data), fix="point the vector at the handler's symbol (or label the target)")


def _intended(img: RiscvImage, base: int, data: dict[str, object]) -> str:
    """Name the symbol a few bytes above a target that is not an instruction start: usually
    the handler that was meant."""
    nxt = img.next_symbol(base, within=64)
    if nxt is None:
        return ""
    data["next_symbol"] = nxt.name
    return f". {nxt.name} starts {nxt.addr - base} bytes further at 0x{nxt.addr:x}: probably the intended target"


TEMPORARY_REACH = 16  # instructions between the swap and its target / inside the target's fix-up
PARK_REACH = 4  # instructions of a park loop (wfi/nop ... j back)


def _park_loop(img: RiscvImage, base: int) -> bool:
    """``1: wfi; j 1b`` (nops allowed): the hart waits there forever, traps included."""
    pc = base
    for _ in range(PARK_REACH):
        insn = img.decode(pc)
        if insn is None or insn.cls != "valid":
            return False
        if insn.op == "jal" and not insn.rd and insn.imm is not None:
            return base <= pc + insn.imm <= pc
        if insn.name not in ("wfi", "nop", "c.nop") and not (insn.op == "addi" and not insn.rd):
            return False
        pc += insn.length
    return False


def _saved_into(img: RiscvImage, w: TvecWrite) -> int:
    insn = img.decode(w.pc)
    return insn.rd or 0 if isinstance(insn, Insn) else 0


def _temporary_vector(ctx: _Ctx, w: TvecWrite, base: int) -> str | None:
    """The riscv-pk idiom: ``la t0, 1f; csrrw t0, mtvec, t0; <CSR that may trap>; 1: csrw
    mtvec, t0``. The swap keeps the old vector in a register; the target either restores it
    from that register (reached by falling through too) or skips the faulting instruction
    (``epc += 2/4; xret``). Returns what the target does, or None."""
    img = ctx.img
    insn = img.decode(w.pc)
    if not isinstance(insn, Insn) or insn.name != "csrrw" or not insn.rd:
        return None
    saved = insn.rd
    target = img.decode(base)
    if target is not None and _restores_from(img, base, w.csr, saved) and _falls_to(img, w.pc + 4, base, saved):
        return f"restores it ({pretty(target)})"
    skip = _skips_faulting(img, base)
    if skip is not None:
        return skip
    return None


def _restores_from(img: RiscvImage, pc: int, csr: int, reg: int) -> bool:
    insn = img.decode(pc)
    return isinstance(insn, Insn) and insn.name == "csrrw" and insn.csr == csr and insn.rs1 == reg


def _falls_to(img: RiscvImage, start: int, target: int, saved: int) -> bool:
    """Straight-line fall-through from ``start`` reaches ``target`` without redefining ``saved``."""
    pc = start
    for _ in range(TEMPORARY_REACH):
        if pc == target:
            return True
        insn = img.decode(pc)
        if insn is None or _ends_flow(insn) or _defines(insn, saved) or insn.op in ("jal", "jalr"):
            return False
        pc += insn.length
    return pc == target


_EPC = {0x341: "mepc", 0x141: "sepc", 0x241: "vsepc"}


def _skips_faulting(img: RiscvImage, base: int) -> str | None:
    """``csrr rX, mepc; addi rX, rX, 2|4; csrw mepc, rX; ...; mret``: the handler resumes after
    the faulting instruction."""
    pc = base
    epc_reg: dict[int, int] = {}  # register -> csr whose value it holds (+ offset)
    bumped: set[int] = set()
    wrote = False
    for _ in range(TEMPORARY_REACH):
        insn = img.decode(pc)
        if insn is None:
            return None
        if isinstance(insn, Insn) and insn.csr in _EPC and insn.name.startswith("csrr"):
            if insn.name == "csrrs" and insn.rs1 == 0 and insn.rd:
                epc_reg[insn.rd] = insn.csr
            elif insn.name == "csrrw" and insn.rs1 in bumped:
                wrote = True
        elif insn.op == "addi" and insn.rs1 in epc_reg and insn.imm in (2, 4) and insn.rd:
            epc_reg[insn.rd] = epc_reg[insn.rs1]
            bumped.add(insn.rd)
        elif isinstance(insn, Insn) and insn.name in ("mret", "sret"):
            return "skips the faulting instruction (epc += 2/4, then xret)" if wrote else None
        elif _ends_flow(insn):
            return None
        pc += insn.length
    return None


def _vector_findings(ctx: _Ctx, w: TvecWrite, head: str, base: int, data: dict[str, object]) -> list[Finding]:
    img = ctx.img
    out: list[Finding] = []
    ctx.roots.append(base)
    if base % 64:
        out.append(Finding("R004", f"{head}: vectored BASE 0x{base:x} is not 64-byte aligned (portable code "
                                   "needs >= 64: an implementation may OR 4*cause into BASE, and CLIC-capable "
                                   "cores may force 64-byte alignment)",
                           [_loc(img, w.pc)], dict(data, problem="alignment"), severity=Severity.WARNING,
                           fix="put `.balign 64` before the vector table"))
    problems = []
    for cause in VECTOR_CAUSES:
        entry = base + 4 * cause
        info = ctx.inspect(entry)
        insn = img.decode(entry)
        what = info.reads_text or "nothing"
        if not info.in_code or insn is None:
            problems.append(f"cause {cause} at 0x{entry:x}: outside code")
        elif info.mid_instruction:
            problems.append(f"cause {cause} at 0x{entry:x}: inside the {info.insn_length}-byte "
                            f"{info.insn_text} at 0x{info.insn_start:x}, the hart reads {what}")
        elif insn.length != 4:
            problems.append(f"cause {cause} at 0x{entry:x}: {what} is {insn.length} bytes, entries must be 4")
        elif insn.op != "jal":
            problems.append(f"cause {cause} at 0x{entry:x}: {pretty(insn)} is not a jump")
        else:
            ctx.roots.append(entry)
    if problems:
        out.append(Finding("R004", f"{head}: vectored table entries are not 4-byte jumps: " + "; ".join(problems),
                           [_loc(img, w.pc)], dict(data, problem="entries", entries=problems),
                           fix="assemble the table with `.option norvc` so every entry is a 4-byte `j handler`"))
    return out
