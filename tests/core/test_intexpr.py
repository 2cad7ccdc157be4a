"""hvcheck.intexpr: C integer arithmetic without eval, checked against Python on random
expressions (C division semantics), and bounded on hostile ones."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvcheck.intexpr import MAX_SHIFT, ExprError, evaluate, size_suffix


def _c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _oracle(tree: object) -> int:
    if isinstance(tree, int):
        return tree
    op, a, b = tree  # type: ignore[misc]
    x, y = _oracle(a), _oracle(b)
    if op == "/":
        return _c_div(x, y)
    if op == "%":
        return x - _c_div(x, y) * y
    ops = {"+": int.__add__, "-": int.__sub__, "*": int.__mul__, "&": int.__and__, "|": int.__or__,
           "^": int.__xor__}
    return ops[op](x, y)


def _text(tree: object) -> str:
    if isinstance(tree, int):
        return hex(tree) if tree % 2 else str(tree)
    op, a, b = tree  # type: ignore[misc]
    return f"({_text(a)} {op} {_text(b)})"


leaves = st.integers(min_value=0, max_value=1 << 20)
trees = st.recursive(leaves, lambda sub: st.tuples(st.sampled_from(["+", "-", "*", "&", "|", "^"]), sub, sub),
                     max_leaves=12)


@given(trees)
@settings(max_examples=300, deadline=None)
def test_matches_python_on_fully_parenthesised_expressions(tree: object) -> None:
    assert evaluate(_text(tree)) == _oracle(tree)


@given(st.integers(-1000, 1000), st.integers(-50, 50).filter(lambda v: v != 0))
def test_division_truncates_toward_zero_as_in_c(a: int, b: int) -> None:
    assert evaluate(f"({a}) / ({b})") == _c_div(a, b)
    assert evaluate(f"({a}) % ({b})") == a - _c_div(a, b) * b


@pytest.mark.parametrize(("expr", "value"), [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("1 << 4 | 1", 17), ("0x10 - 1 & 0xf", 15), ("~0 & 0xff", 0xFF),
    ("10 - 2 - 3", 5), ("64 / 4 / 2", 8), ("0x4000_0000 + 0x1000", 0x40001000), ("0777", 0o777), ("0b101", 5),
    ("-(1 << 12)", -4096), ("0x80000000UL", 0x80000000),
])
def test_precedence_and_literals_as_in_c(expr: str, value: int) -> None:
    assert evaluate(expr) == value


def test_linker_size_suffixes() -> None:
    assert evaluate("0x80000000 + 2M", size_suffix) == 0x80200000
    assert evaluate("4K * 2", size_suffix) == 0x2000


@pytest.mark.parametrize("expr", ["1 <<", "(1 + 2", "1 2", "foo", "1 / 0", "", "1 << 129", "1 << -1", "3 ** 4",
                                  "1" * 100, "1 +* 2"])
def test_malformed_or_out_of_bounds_is_an_expr_error(expr: str) -> None:
    with pytest.raises(ExprError):
        evaluate(expr)


def test_hostile_expressions_are_cheap() -> None:
    t0 = time.perf_counter()
    for expr in ("1" + " << 64" * 40, "(" * 70 + "1" + ")" * 70, " * ".join(["0xffffffffffffffff"] * 50),
                 "+".join(["1"] * 5000)):
        with pytest.raises(ExprError):
            evaluate(expr)
    assert evaluate(f"1 << {MAX_SHIFT}") == 1 << MAX_SHIFT
    assert time.perf_counter() - t0 < 0.5
