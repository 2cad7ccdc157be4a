"""Numbers keep their style when fix rewrites them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hvcheck.fix.numfmt import format_like
from hvcheck.units import parse_int, parse_size


@pytest.mark.parametrize(("old", "value", "new"), [
    ("0x40000000", 0x45400000, "0x45400000"),
    ("0X40A00000", 0x40C00000, "0X40C00000"),
    ("0x4000_0000", 0x4540_0000, "0x4540_0000"),
    ("0x8_0000_0000", 0x7_4000_0000, "0x7_4000_0000"),
    ("0x0000000040000000", 0x45400000, "0x0000000045400000"),
    ("0x4000_0000usize", 0x4540_0000, "0x4540_0000usize"),
    ("1073741824", 1 << 29, "536870912"),
    ("1_073_741_824", 1 << 29, "536_870_912"),
    ("2G", 1 << 30, "1G"),
    ("64MiB", 128 << 20, "128MiB"),
    ("2G", 0x123000, "0x123000"),        # not a whole unit: exact hex rather than a rounded size
    ("0xabcdef", 0xABC000, "0xabc000"),
])
def test_format_like(old: str, value: int, new: str) -> None:
    assert format_like(old, value) == new


@given(st.sampled_from(["0x40000000", "0X4000_0000", "0x0000_0000_4000_0000", "1024", "0xdead_beefu64",
                        "8M", "1_000"]),
       st.integers(min_value=0, max_value=(1 << 48)))
def test_value_round_trips(old: str, value: int) -> None:
    text = format_like(old, value)
    for suffix in ("u64", "usize"):
        text = text.removesuffix(suffix)
    assert (parse_size(text) if text[-1] in "MG" else parse_int(text)) == value
