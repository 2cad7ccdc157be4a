"""The code walker: which addresses of a :class:`RiscvImage` are instructions the hart can reach.

:class:`Walker` follows control flow by recursive descent from the entry point and every
function symbol (and, when asked, from more roots such as resolved trap vectors); each call of
:meth:`Walker.walk` returns the trap-vector writes it found, and the accumulated facts live in
the walker's :class:`CodeMap` (instruction starts, jump and call edges, reachable reserved
encodings, padding). Reachability — not mapping symbols — decides what is code, so a ``.2byte``
that is executed counts (DESIGN.md §4).

Zero halfwords after a call are the one place where code and alignment fill look alike (GCC
pads after a call to a ``noreturn`` function). The walker parks them and :meth:`Walker.settle`
decides each one interprocedurally: when the callee provably returns (a ``ret``/``jr ra``/``jr
t0`` is reachable in it, following tail calls and the calls it makes) the zeros are executed;
when it provably never returns they are padding; when that cannot be decided (an indirect
callee, a PLT stub) they are padding unless nothing suggests it (then the run is counted as
undecided, never reported). A symbol labelling the run means the compiler ended the function
at the call.
"""

from __future__ import annotations

import bisect
import os
from functools import lru_cache

from hvcheck.riscv import rvc
from hvcheck.riscv.decode import (
    K_BRANCH,
    K_CALL,
    K_ICALL,
    K_IJUMP,
    K_JUMP,
    K_NORMAL,
    K_RETURN,
    K_TRAP,
    TVEC_CSRS,
    Insn,
    insn_length,
)
from hvcheck.riscv.model import CodeRegion, RiscvImage
from hvcheck.riscv.rvc import Decoded16, Profile

_RETURNS = frozenset({0x10200073, 0x30200073, 0x70200073, 0x7B200073, 0x00200073})  # sret mret mnret dret uret
_CONTROL_OPCODES = frozenset({0x6F, 0x67, 0x63, 0x73})  # jal, jalr, branches, SYSTEM (xret, CSR writes)
LINK_REGISTERS = (1, 5)  # ra and t0: the ABI's link registers (a jalr x0 through them is a return)
K_UNSET = 0xFF  # Walker.kinds: that halfword is not decoded yet
MAX_RETURN_STEPS = 20_000  # instructions explored to prove that one callee returns (all its callees included)


# Plain classes rather than dataclasses: a @dataclass compiles generated code at import time
# (~0.5-2 ms apiece), which every `hvcheck riscv` run would pay.
class BadEncoding:
    __slots__ = ("addr", "halfword", "cls", "reason", "root", "how")

    def __init__(self, addr: int, halfword: int, cls: str, reason: str, root: int, how: str = "") -> None:
        self.addr = addr
        self.halfword = halfword
        self.cls = cls
        self.reason = reason
        self.root = root
        self.how = how  # why this place is executed when it is not obvious (after a returning call)

    def __repr__(self) -> str:
        return f"BadEncoding(0x{self.addr:x}, 0x{self.halfword:04x}, {self.cls}, root=0x{self.root:x})"


class AfterCall:
    """A zero halfword right after a call: alignment fill, or executed when the callee returns."""

    __slots__ = ("pc", "call", "callee", "root")

    def __init__(self, pc: int, call: int, callee: int | None, root: int) -> None:
        self.pc = pc
        self.call = call
        self.callee = callee
        self.root = root


class Returns:
    """Whether a function can return to its caller, with the evidence."""

    __slots__ = ("status", "at", "why")

    def __init__(self, status: str, at: int | None = None, why: str = "") -> None:
        self.status = status  # "returns", "never" or "unknown"
        self.at = at  # a reachable return instruction (status "returns")
        self.why = why

    def __repr__(self) -> str:
        return f"Returns({self.status!r}, at={self.at}, why={self.why!r})"


class LinearStarts:
    """Instruction starts found only by the linear sweep, with their lengths: one byte per code
    byte (the length at an instruction's first byte, 0 elsewhere). The sweep records ~100,000 of
    them in U-Boot, and a bytearray store costs half of a dict insert; lookups are few."""

    def __init__(self, regions: list[CodeRegion] | None = None) -> None:
        regions = regions or []
        self._bases = [r.start for r in regions]  # the image keeps its regions sorted by start
        self.marks = [bytearray(len(r.data)) for r in regions]

    def get(self, addr: int, default: int | None = None) -> int | None:
        i = bisect.bisect_right(self._bases, addr) - 1
        if i >= 0:
            off = addr - self._bases[i]
            marks = self.marks[i]
            if off < len(marks) and marks[off]:
                return marks[off]
        return default

    def __contains__(self, addr: int) -> bool:
        return self.get(addr) is not None

    def __getitem__(self, addr: int) -> int:
        n = self.get(addr)
        if n is None:
            raise KeyError(addr)
        return n


class CodeMap:
    """What the walk found. Keys are addresses; lists are in discovery order."""

    def __init__(self) -> None:
        self.starts: dict[int, int] = {}  # reachable instruction start -> length
        self.targets: dict[int, list[int]] = {}  # jump/branch target -> sources
        self.callers: dict[int, list[int]] = {}  # call target -> call sites
        self.tvec_sites: list[int] = []
        self.bad: list[BadEncoding] = []
        self.padding: list[tuple[int, int]] = []  # [start, end) zero runs taken as fill
        self.undecided_padding: list[int] = []  # after calls whose callee is unknown
        self.unknown_long: list[int] = []
        self.roots_walked: set[int] = set()
        self.indirect_jumps: list[int] = []  # jr/jalr x0 with an unknown target
        self.linear = LinearStarts()  # instruction starts found only by the sweep
        self.linear_tvec_sites: list[int] = []
        self.after_calls: dict[int, AfterCall] = {}  # parked, see Walker.settle
        self._sorted: list[int] | None = None

    def sorted_starts(self) -> list[int]:
        if self._sorted is None or len(self._sorted) != len(self.starts):
            self._sorted = sorted(self.starts)
        return self._sorted

    def start_below(self, addr: int) -> int | None:
        ss = self.sorted_starts()
        i = bisect.bisect_right(ss, addr) - 1
        return ss[i] if i >= 0 else None


class Walker:
    def __init__(self, img: RiscvImage) -> None:
        self.img = img
        self.code = CodeMap()
        self.kinds = initial_kinds(img.profile)
        self._returns: dict[int, Returns] = {}
        self._entries: set[int] | None = None

    # ------------------------------------------------------------------ the walk
    def default_roots(self) -> list[int]:
        img = self.img
        roots = [img.entry] if img.region_of(img.entry) else []
        return roots + img.function_entries()

    def walk(self, roots: list[int] | None = None, executed: frozenset[int] = frozenset()) -> list[int]:
        """Recursive descent from ``roots`` (default: the entry point and function symbols).
        Can be called again with more roots; already decoded instructions are kept. Returns the
        trap-vector writes found by this call. ``executed`` are roots known to run even if they
        look like fill (a zero run after a returning call)."""
        code = self.code
        first_new_site = len(code.tvec_sites)
        kinds = self.kinds
        starts = code.starts
        targets = code.targets
        callers = code.callers
        img = self.img
        mask = (1 << img.xlen) - 1
        self._entries = None
        for root in self.default_roots() if roots is None else roots:
            if root in code.roots_walked:
                continue
            code.roots_walked.add(root)
            stack = [root]
            while stack:
                pc = stack.pop()
                region = img.region_of(pc)
                if region is None:
                    continue
                data = region.data
                base = region.start
                size = len(data)
                prev_pc = -1  # the 4-byte instruction just before pc (for auipc/lui + jalr pairs)
                prev_call = -1  # address right after the last call (zeros there may be fill)
                call_pc = -1
                callee: int | None = None
                while pc not in starts:
                    off = pc - base
                    if off < 0 or off + 2 > size:
                        break
                    b0 = data[off]  # the length and a 4-byte opcode are in the first byte
                    if b0 & 3 != 3:
                        hw = b0 | data[off + 1] << 8
                        k = kinds[hw]
                        if k == K_NORMAL:
                            starts[pc] = 2
                            pc += 2
                            continue
                        if k == K_UNSET:
                            k = kinds[hw] = kind16(hw, img.profile)
                            if k == K_NORMAL:
                                starts[pc] = 2
                                pc += 2
                                continue
                        if k == K_TRAP:
                            if hw == 0 and pc not in executed:
                                if prev_call == pc:
                                    code.after_calls.setdefault(pc, AfterCall(pc, call_pc, callee, root))
                                    break
                                if self._is_fill(data, off, base, size):
                                    code.padding.append((pc, self._zero_run_end(data, off, base, size)))
                                    break
                            starts[pc] = 2
                            d = rvc.decode16(hw, img.profile)
                            code.bad.append(BadEncoding(pc, hw, d.cls, d.reason, root))
                            pc += 2  # keep going: a core that does not trap runs on
                            continue
                        starts[pc] = 2
                        if k == K_JUMP:
                            t = pc + rvc._cj_imm(hw)
                            targets.setdefault(t, []).append(pc)
                            stack.append(t)
                            break
                        if k == K_CALL:
                            t = pc + rvc._cj_imm(hw)
                            callers.setdefault(t, []).append(pc)
                            stack.append(t)
                            prev_call, call_pc, callee = pc + 2, pc, t
                        elif k == K_ICALL:
                            prev_call, call_pc, callee = pc + 2, pc, None
                        elif k == K_BRANCH:
                            t = pc + rvc._cb_imm(hw)
                            targets.setdefault(t, []).append(pc)
                            stack.append(t)
                        elif k == K_IJUMP:
                            if (hw >> 7) & 0x1F not in LINK_REGISTERS:  # c.jr ra/t0 return
                                code.indirect_jumps.append(pc)
                            break
                        elif k == K_RETURN:
                            break
                        pc += 2
                        prev_pc = -1
                        continue
                    if b0 & 0x1C == 0x1C:  # 48-bit or longer: not decoded, length is known
                        n = insn_length(b0)
                        code.unknown_long.append(pc)
                        if n == 0:
                            break
                        starts[pc] = n
                        pc += n
                        continue
                    if off + 4 > size:
                        break
                    starts[pc] = 4
                    opc = b0 & 0x7F
                    if opc not in _CONTROL_OPCODES:  # most instructions: only the length matters
                        prev_pc = pc
                        pc += 4
                        continue
                    w = b0 | data[off + 1] << 8 | data[off + 2] << 16 | data[off + 3] << 24
                    if opc == 0x6F:  # jal
                        imm = (((w >> 31) & 1) << 20 | ((w >> 12) & 0xFF) << 12 | ((w >> 20) & 1) << 11
                               | ((w >> 21) & 0x3FF) << 1)
                        t = pc + (imm - (1 << 21) if imm & (1 << 20) else imm)
                        stack.append(t)
                        if (w >> 7) & 0x1F == 0:
                            targets.setdefault(t, []).append(pc)
                            break
                        callers.setdefault(t, []).append(pc)
                        prev_call, call_pc, callee = pc + 4, pc, t
                    elif opc == 0x67:  # jalr: resolve auipc/lui + jalr (call/tail), else indirect
                        rd = (w >> 7) & 0x1F
                        rs1 = (w >> 15) & 0x1F
                        t = -1
                        prev_word = 0
                        if prev_pc == pc - 4:
                            p = prev_pc - base
                            prev_word = data[p] | data[p + 1] << 8 | data[p + 2] << 16 | data[p + 3] << 24
                        if prev_word and (prev_word >> 7) & 0x1F == rs1 and rs1 != 0 \
                                and prev_word & 0x5F == 0x17:  # auipc (0x17) or lui (0x37)
                            hi = prev_word & 0xFFFFF000
                            hi = hi - (1 << 32) if hi & 0x80000000 else hi
                            lo = w >> 20
                            lo = lo - 4096 if lo & 0x800 else lo
                            t = ((prev_pc if prev_word & 0x7F == 0x17 else 0) + hi + lo) & mask
                            stack.append(t)
                            if rd == 0:
                                targets.setdefault(t, []).append(pc)
                            else:
                                callers.setdefault(t, []).append(pc)
                        elif rd == 0 and rs1 not in LINK_REGISTERS:
                            code.indirect_jumps.append(pc)
                        if rd == 0:
                            break
                        prev_call, call_pc, callee = pc + 4, pc, (t if t >= 0 else None)
                    elif opc == 0x63:
                        imm = (((w >> 31) & 1) << 12 | ((w >> 7) & 1) << 11 | ((w >> 25) & 0x3F) << 5
                               | ((w >> 8) & 0xF) << 1)
                        t = pc + (imm - (1 << 13) if imm & (1 << 12) else imm)
                        targets.setdefault(t, []).append(pc)
                        stack.append(t)
                    elif opc == 0x73:
                        f3 = (w >> 12) & 7
                        if f3 == 0:
                            if w in _RETURNS:
                                break
                        elif f3 != 4 and (w >> 20) in TVEC_CSRS:
                            code.tvec_sites.append(pc)
                    prev_pc = pc
                    pc += 4
        return code.tvec_sites[first_new_site:]

    def settle(self) -> list[int]:
        """Decide every parked zero run after a call (see the module doc). Runs found to be
        executed are walked as code (their halfwords become R005); returns the trap-vector
        writes that walking them found."""
        code = self.code
        img = self.img
        found: list[int] = []
        while code.after_calls:
            pending = sorted(code.after_calls.values(), key=lambda a: a.pc)
            code.after_calls.clear()
            for ac in pending:
                if ac.pc in code.starts:
                    continue  # reached as code some other way
                region = img.region_of(ac.pc)
                if region is None:
                    continue
                off = ac.pc - region.start
                run_end = self._zero_run_end(region.data, off, region.start, len(region.data))
                if img.has_symbol(ac.pc):
                    continue  # a symbol labels the run: the compiler ended the function at the call
                verdict = self.returns(ac.callee) if ac.callee is not None else \
                    Returns("unknown", why="an indirect call")
                if verdict.status == "returns":
                    before = len(code.bad)
                    found += self.walk([ac.pc], executed=frozenset({ac.pc}))
                    name = img.where(ac.callee) if ac.callee is not None else "the callee"
                    for parked in code.after_calls.values():  # found on the way: same origin
                        if parked.root == ac.pc:
                            parked.root = ac.root
                    for bad in code.bad[before:]:
                        bad.root = ac.root
                        bad.how = (f"the call at {img.where(ac.call)} returns here: {name} has a reachable "
                                   f"return at {img.where(verdict.at or 0)}")
                    continue
                code.padding.append((ac.pc, run_end))
                if verdict.status == "unknown" and not self._fill_evidence(region, off, run_end):
                    code.undecided_padding.append(ac.pc)
        return found

    # ------------------------------------------------------------ can a callee return?
    def function_entries(self) -> set[int]:
        if self._entries is None:
            self._entries = set(self.code.callers) | set(self.img.function_entries()) | {self.img.entry}
        return self._entries

    def returns(self, entry: int) -> Returns:
        """Whether the function at ``entry`` can return: a return instruction reachable from it
        without crossing a call that never returns (tail calls and direct callees are followed,
        indirect callees are assumed to return). Memoised; a least fixpoint, so recursion proves
        nothing by itself."""
        budget = [MAX_RETURN_STEPS]
        return self._returns_of(entry, budget, set())

    def _returns_of(self, entry: int, budget: list[int], active: set[int]) -> Returns:
        memo = self._returns.get(entry)
        if memo is not None:
            return memo
        if entry in active:
            return Returns("never", why="recursion")  # provisional: not memoised
        if self.img.region_of(entry) is None:
            return Returns("unknown", why=f"0x{entry:x} is outside the code")
        active.add(entry)
        result = self._explore(entry, budget, active)
        active.discard(entry)
        if result.status != "never" or not active:  # a "never" under recursion may be provisional
            self._returns[entry] = result
        return result

    def _explore(self, entry: int, budget: list[int], active: set[int]) -> Returns:
        img = self.img
        entries = self.function_entries()
        todo = [entry]
        seen: set[int] = set()
        unknown = ""
        while todo:
            pc = todo.pop()
            if pc in seen:
                continue
            seen.add(pc)
            budget[0] -= 1
            if budget[0] < 0:
                return Returns("unknown", why="too large to follow")
            insn = img.decode(pc)
            if insn is None or insn.cls not in ("valid", "hint"):
                continue  # traps: this path does not return
            op, rd, nxt = insn.op, insn.rd, pc + insn.length
            if op == "ret":  # cm.popret / cm.popretz
                return Returns("returns", pc)
            if op == "jalr" and not rd:
                if insn.rs1 in LINK_REGISTERS:
                    return Returns("returns", pc)
                tail = self._pair_target(pc)
                if tail is None:
                    unknown = unknown or f"an indirect jump at 0x{pc:x}"
                    continue
                if tail in entries:
                    sub = self._returns_of(tail, budget, active)
                    if sub.status == "returns":
                        return Returns("returns", sub.at, f"tail call to 0x{tail:x}")
                    if sub.status == "unknown":
                        unknown = unknown or sub.why
                else:
                    todo.append(tail)
                continue
            if op == "jal" and not rd:
                assert insn.imm is not None
                t = (pc + insn.imm) & ((1 << img.xlen) - 1)
                if t in entries and t != entry:
                    sub = self._returns_of(t, budget, active)
                    if sub.status == "returns":
                        return Returns("returns", sub.at, f"tail call to 0x{t:x}")
                    if sub.status == "unknown":
                        unknown = unknown or sub.why
                else:
                    todo.append(t)
                continue
            if op in ("jal", "jalr") or op == "jalt":  # a call: the path goes on if the callee returns
                callee = None
                if op == "jal" and insn.imm is not None:
                    callee = (pc + insn.imm) & ((1 << img.xlen) - 1)
                elif op == "jalr":
                    callee = self._pair_target(pc)
                if callee is not None:
                    sub = self._returns_of(callee, budget, active)
                    if sub.status == "never":
                        continue
                    if sub.status == "unknown":
                        unknown = unknown or sub.why
                        continue
                todo.append(nxt)  # returns, or an indirect callee (assumed to return)
                continue
            if op in ("beq", "bne", "blt", "bge", "bltu", "bgeu"):
                assert insn.imm is not None
                todo.append(pc + insn.imm)
                todo.append(nxt)
                continue
            if op == "jt":  # cm.jt: a table jump
                unknown = unknown or f"a table jump at 0x{pc:x}"
                continue
            if isinstance(insn, Insn) and (insn.word in _RETURNS or insn.name == "ebreak"):
                continue  # trap return or breakpoint: not a return to the caller
            if isinstance(insn, Decoded16) and insn.name == "c.ebreak":
                continue
            todo.append(nxt)
        if unknown:
            return Returns("unknown", why=unknown)
        return Returns("never", why="no return instruction is reachable")

    def _pair_target(self, pc: int) -> int | None:
        """Target of the auipc/lui + jalr pair ending at ``pc`` (as the walk resolves it)."""
        img = self.img
        insn = img.decode(pc)
        prev = img.decode(pc - 4) if self.code.starts.get(pc - 4) == 4 else None
        if not isinstance(insn, Insn) or not isinstance(prev, Insn) or prev.op not in ("auipc", "lui"):
            return None
        if prev.rd != insn.rs1 or not prev.rd or prev.imm is None or insn.imm is None:
            return None
        base = pc - 4 if prev.op == "auipc" else 0
        return (base + prev.imm + insn.imm) & ((1 << img.xlen) - 1)

    # ------------------------------------------------------------------ fill
    @staticmethod
    def _zero_run_end(data: bytes, off: int, base: int, size: int) -> int:
        end = off
        while end + 2 <= size and data[end] == 0 and data[end + 1] == 0:
            end += 2
        return base + end

    def _is_fill(self, data: bytes, off: int, base: int, size: int) -> bool:
        """A run of 0x0000 (optionally followed by nops, as GAS's alignment fill emits) that
        reaches the end of the section or a symbol is fill, not code."""
        end = self._zero_run_end(data, off, base, size) - base
        while end + 2 <= size:
            if data[end] == 0x01 and data[end + 1] == 0:  # c.nop
                end += 2
            elif data[end:end + 4] == b"\x13\x00\x00\x00":  # nop
                end += 4
            else:
                break
        return end >= size or self.img.has_symbol(base + end)

    def _fill_evidence(self, region: CodeRegion, off: int, run_end: int) -> bool:
        """What follows a zero run says it is fill: the section ends, a symbol or a known
        function entry follows (after optional nops)."""
        if self._is_fill(region.data, off, region.start, len(region.data)):
            return True
        return run_end in self.function_entries()

    # ------------------------------------------------------------------ sweep
    def sweep(self) -> list[int]:
        """Linear decode of the code the walk did not reach (stripped images reach only part of
        their code: indirect calls). Returns the trap-vector writes there, so none is ever
        dropped; these instructions are not "reachable" and never give R005."""
        code = self.code
        starts = code.starts
        code.linear = LinearStarts(self.img.regions)
        found: list[int] = []
        for region, linear in zip(self.img.regions, code.linear.marks, strict=True):
            data = region.data
            base = region.start
            size = len(data)
            off = 0
            # the length comes from the low bits of the first byte (2, 4, or insn_length for
            # the rare longer encodings), so most instructions cost one byte read
            while off + 2 <= size:
                pc = base + off
                n = starts.get(pc)
                if n:
                    off += n
                    continue
                b = data[off]
                if b & 3 != 3:
                    linear[off] = 2
                    off += 2
                    continue
                if b & 0x1C != 0x1C:
                    linear[off] = 4
                    if b & 0x7F == 0x73 and off + 4 <= size:
                        w = b | data[off + 1] << 8 | data[off + 2] << 16 | data[off + 3] << 24
                        if (w >> 12) & 7 not in (0, 4) and (w >> 20) in TVEC_CSRS:
                            found.append(pc)
                    off += 4
                    continue
                n = insn_length(b | data[off + 1] << 8) or 2
                linear[off] = n
                off += n
        code.linear_tvec_sites += found
        return found


SHIPPED_KINDS = {rvc.RV64GC: "kind-rv64gc.bin"}  # hvcheck/riscv/data/: the common profile's table
DATA_DIR = os.path.join(os.path.dirname(__file__), "data")


def initial_kinds(profile: Profile) -> bytearray:
    """The walker's kind table before a walk. For RV64GC (what Debian's firmware and libraries
    declare) the whole table ships with the package (tests/riscv prove it equals
    :func:`kind_table`); for any other profile every entry starts K_UNSET and is decoded on first
    use: an image uses a few thousand of the 49152 compressed encodings, so that costs
    milliseconds where building the whole table costs ~0.1 s of every run."""
    name = SHIPPED_KINDS.get(profile)
    if name is not None:
        try:
            with open(os.path.join(DATA_DIR, name), "rb") as fh:
                table = fh.read(65537)
            if len(table) == 65536:
                return bytearray(table)
        except OSError:
            pass  # a damaged install: decode on use, same answers
    return bytearray(b"\xff") * 65536


@lru_cache(maxsize=8)
def kind_table(profile: Profile) -> bytes:
    """Control-flow kind of every halfword (0 for the first halfword of a longer instruction)."""
    return bytes(kind16(hw, profile) if hw & 3 != 3 else K_NORMAL for hw in range(65536))


def _build_kind_table(profile: Profile) -> bytes:  # the name other modules and tests import
    return kind_table.__wrapped__(profile)


def kind16(hw: int, profile: Profile) -> int:
    """Control-flow kind of one compressed halfword (bits[1:0] != 11)."""
    d = rvc.decode16(hw, profile)
    if d.cls in (rvc.RESERVED, rvc.ILLEGAL):
        return K_TRAP
    if d.op == "jal":
        return K_JUMP if d.rd == 0 else K_CALL
    if d.op in ("beq", "bne"):
        return K_BRANCH
    if d.op in ("jalr", "jt"):
        return K_IJUMP if d.rd == 0 or d.op == "jt" else K_ICALL
    if d.op == "jalt":
        return K_ICALL
    if d.op == "ret":
        return K_RETURN
    return K_NORMAL
