"""Write a new number in the style of the one it replaces: hex or decimal, hex case, `_`
grouping, zero padding, size suffixes (`2G`, `8MiB`) and Rust type suffixes (`usize`)."""

from __future__ import annotations

import re

_RUST_SUFFIX = re.compile(r"(u8|u16|u32|u64|u128|usize|i8|i16|i32|i64|i128|isize)$")
_SIZE = re.compile(r"^([0-9][0-9_]*)\s*([kKmMgGtT])((?:i?[bB])?)$")
_SHIFT = {"k": 10, "m": 20, "g": 30, "t": 40}


def _group(digits: str, every: int) -> str:
    if every <= 0:
        return digits
    out = []
    while len(digits) > every:
        out.append(digits[-every:])
        digits = digits[:-every]
    out.append(digits)
    return "_".join(reversed(out))


def _grouping(body: str) -> int:
    """The group width of `_`-separated digits (counted from the right), 0 when none."""
    if "_" not in body:
        return 0
    groups = body.split("_")
    tail = [len(g) for g in groups[1:]]
    return tail[-1] if tail and len(set(tail)) == 1 else (tail[-1] if tail else 0)


def format_like(original: str, value: int) -> str:
    """``value`` written the way ``original`` was written (see module doc)."""
    if value < 0:
        raise ValueError("negative numbers have no memory-layout meaning")
    text = original.strip()
    suffix = ""
    m = _RUST_SUFFIX.search(text)
    if m:  # `u`/`i` are not hex digits, so a match is always a type suffix
        suffix = m.group(1)
        text = text[: -len(suffix)]
    size = _SIZE.match(text)
    if size:
        shift = _SHIFT[size.group(2).lower()]
        if value % (1 << shift) == 0:
            return f"{value >> shift}{size.group(2)}{size.group(3)}{suffix}"
        return f"{value:#x}{suffix}"
    if text[:2] in ("0x", "0X"):
        body = text[2:]
        digits = body.replace("_", "")
        upper = any(c in "ABCDEF" for c in digits)
        new = f"{value:X}" if upper else f"{value:x}"
        if len(digits) > 1 and digits.startswith("0") and len(new) < len(digits):
            new = new.rjust(len(digits), "0")
        return f"{text[:2]}{_group(new, _grouping(body))}{suffix}"
    if text.replace("_", "").isdigit():
        return f"{_group(str(value), _grouping(text))}{suffix}"
    return f"{value:#x}{suffix}"
