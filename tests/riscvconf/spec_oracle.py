"""An independent RV64GC classifier for the tests, written directly from the mask:match tables of
the reference note (/work/shared/reference/riscv-rvc-encodings.md, "The classes"), so the
conformance comparison can be checked without relying on hvcheck.riscv.rvc."""

from __future__ import annotations

# (mask, match, excluded values) per class; first match wins, reserved before HINT
# (C.LUI rd=x0 nzimm=0 = 0x6001 is reserved, not a HINT).
RESERVED = [
    (0xFFE3, 0x0000, {0x0000}),  # C.ADDI4SPN nzuimm=0
    (0xE003, 0x8000, set()),  # quadrant 0 funct3=100
    (0xFFFF, 0x6101, set()),  # C.ADDI16SP nzimm=0
    (0xF07F, 0x6001, {0x6101}),  # C.LUI nzimm=0 (rd != x2)
    (0xFC43, 0x9C41, set()),  # MISC-ALU reserved rows
    (0xEF83, 0x4002, set()),  # C.LWSP rd=0
    (0xFFFF, 0x8002, set()),  # C.JR rs1=0
    (0xEF83, 0x2001, set()),  # C.ADDIW rd=0 (RV64)
    (0xEF83, 0x6002, set()),  # C.LDSP rd=0 (RV64)
]
HINT = [
    (0xEF83, 0x0001, {0x0001}),  # C.NOP nzimm != 0
    (0xF07F, 0x0001, {0x0001}),  # C.ADDI rd != 0, nzimm=0
    (0xEF83, 0x4001, set()),  # C.LI rd=0
    (0xEF83, 0x6001, {0x6001}),  # C.LUI rd=0
    (0xFF83, 0x8002, {0x8002}),  # C.MV rd=0
    (0xFF83, 0x9002, {0x9002}),  # C.ADD rd=0
    (0xEF83, 0x0002, set()),  # C.SLLI rd=0 (incl. 0x0002)
    (0xF07F, 0x0002, set()),  # C.SLLI64 rd != 0
    (0xFC7F, 0x8001, set()),  # C.SRLI64
    (0xFC7F, 0x8401, set()),  # C.SRAI64
]


def _matches(h: int, table: list[tuple[int, int, set[int]]]) -> bool:
    return any(h & mask == match and h not in excluded for mask, match, excluded in table)


def _classify(h: int) -> str:
    if h & 3 == 3:
        return "not-compressed"
    if h == 0:
        return "illegal"
    if _matches(h, RESERVED):
        return "reserved"
    if _matches(h, HINT):
        return "hint"
    return "valid"


_LABELS = tuple(_classify(h) for h in range(0x10000))


def classify_rv64gc(h: int, xlen: int = 64, extensions: frozenset[str] = frozenset()) -> str:
    assert xlen == 64 and not extensions, "the oracle covers RV64GC only"
    return _LABELS[h]
