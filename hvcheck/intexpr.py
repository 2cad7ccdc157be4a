"""One bounded integer-expression evaluator for the C-like arithmetic that configuration files
contain: DTS cells (`(0x40000000 + 0x1000)`, `(1 << 4)`), linker scripts (`0x80000000 + 2M`),
Jailhouse sources. No ``eval``: a small precedence-climbing parser over a token list.

Bounds make hostile input cheap: shift counts and every intermediate result are limited, so a
100-byte expression cannot cost seconds and gigabytes (`1 << 1 << 1 << ...`, `9**9**9`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

MAX_SHIFT = 128              # no meaningful address or size needs a larger shift
MAX_BITS = 256               # any intermediate wider than this is not an address or a size
MAX_DEPTH = 64               # parenthesis / unary nesting
MAX_TOKENS = 4096
MAX_LITERAL_DIGITS = 80      # a 256-bit hex number has 64 digits

# Binary operators by C precedence (higher binds tighter).
_BINARY: dict[str, int] = {
    "|": 1, "^": 2, "&": 3, "<<": 5, ">>": 5, "+": 6, "-": 6, "*": 7, "/": 7, "%": 7,
}
_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F_]+|0[bB][01_]+|[0-9][0-9_]*)([A-Za-z]*)|(<<|>>|[-+*/%&|^~()])|(\S))")


class ExprError(ValueError):
    """The expression is malformed or exceeds a bound; the message says which."""


Suffix = Callable[[int, str], int]


def c_suffix(value: int, suffix: str) -> int:
    """C integer suffixes (U, L, UL, ULL) leave the value unchanged."""
    if not suffix or (set(suffix.upper()) <= {"U", "L"} and len(suffix) <= 3):
        return value
    raise ExprError(f"unknown number suffix {suffix!r}")


def size_suffix(value: int, suffix: str) -> int:
    """Linker-script style K/M/G multipliers (and the C suffixes)."""
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(suffix.upper())
    return value * mult if mult is not None else c_suffix(value, suffix)


def _literal(text: str) -> int:
    digits = text.replace("_", "")
    if len(digits) > MAX_LITERAL_DIGITS:
        raise ExprError(f"number with {len(digits)} digits")
    if digits[:2] in ("0x", "0X"):
        return int(digits[2:], 16)
    if digits[:2] in ("0b", "0B"):
        return int(digits[2:], 2)
    if len(digits) > 1 and digits[0] == "0" and digits.isdigit():
        return int(digits, 8)  # C octal
    return int(digits, 10)


def tokenize(expr: str, suffix: Suffix = c_suffix) -> list[int | str]:
    out: list[int | str] = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        if m.group(1) is not None:
            try:
                out.append(suffix(_literal(m.group(1)), m.group(2)))
            except ValueError as exc:
                raise ExprError(str(exc) or f"bad number {m.group(1)!r}") from None
        elif m.group(3) is not None:
            out.append(m.group(3))
        else:
            raise ExprError(f"unexpected {m.group(4)!r}")
        if len(out) > MAX_TOKENS:
            raise ExprError(f"more than {MAX_TOKENS} tokens")
    return out


def _check(value: int) -> int:
    if value.bit_length() > MAX_BITS:
        raise ExprError(f"intermediate value wider than {MAX_BITS} bits")
    return value


def _apply(op: str, a: int, b: int) -> int:
    if op in ("<<", ">>"):
        if b < 0 or b > MAX_SHIFT:
            raise ExprError(f"shift by {b} (allowed 0..{MAX_SHIFT})")
        return _check(a << b) if op == "<<" else a >> b
    if op in ("/", "%"):
        if b == 0:
            raise ExprError("division by zero")
        # C truncates toward zero.
        q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
        return q if op == "/" else a - q * b
    return _check({"+": a + b, "-": a - b, "*": a * b, "&": a & b, "|": a | b, "^": a ^ b}[op])


class _Parser:
    def __init__(self, tokens: list[int | str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> int | str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> int | str | None:
        tok = self.peek()
        self.pos += 1
        return tok

    def unary(self, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise ExprError(f"nested deeper than {MAX_DEPTH}")
        tok = self.take()
        if isinstance(tok, int):
            return tok
        if tok == "(":
            value = self.binary(0, depth + 1)
            if self.take() != ")":
                raise ExprError("missing ')'")
            return value
        if tok == "-":
            return -self.unary(depth + 1)
        if tok == "+":
            return self.unary(depth + 1)
        if tok == "~":
            return ~self.unary(depth + 1)
        raise ExprError("expression ends early" if tok is None else f"unexpected {tok!r}")

    def binary(self, min_prec: int, depth: int) -> int:
        left = self.unary(depth)
        while True:
            op = self.peek()
            if not isinstance(op, str) or op not in _BINARY or _BINARY[op] <= min_prec:
                return left
            self.take()
            right = self.binary(_BINARY[op], depth + 1)
            left = _apply(op, left, right)


def evaluate(expr: str, suffix: Suffix = c_suffix) -> int:
    """The value of ``expr``; ExprError when it is malformed or out of bounds."""
    tokens = tokenize(expr, suffix)
    if not tokens:
        raise ExprError("empty expression")
    parser = _Parser(tokens)
    value = parser.binary(0, 0)
    if parser.pos != len(tokens):
        raise ExprError(f"unexpected {tokens[parser.pos]!r}")
    return value
