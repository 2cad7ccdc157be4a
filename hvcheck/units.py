"""Number parsing and formatting shared by every area: hex ranges and human sizes."""

from __future__ import annotations

U64_LIMIT = 1 << 64
MAX_NUMBER_DIGITS = 80  # longer than any 64-bit number in any base we read, with '_' separators


def int_of(digits: str, base: int) -> int:
    """int(digits, base) for numbers read from input files: empty and absurdly long digit strings
    are a ValueError like any other bad number (Python's own int() refuses 4300+ digits with a
    different message, and would spend quadratic time below that)."""
    if not digits:
        raise ValueError("no digits")
    if len(digits) > MAX_NUMBER_DIGITS:
        raise ValueError(f"number with {len(digits)} digits")
    return int(digits, base)


_UNITS = ((0, "B"), (10, "KiB"), (20, "MiB"), (30, "GiB"), (40, "TiB"), (50, "PiB"), (60, "EiB"))


def human_size(n: int) -> str:
    """1048576 -> '1 MiB'; exact when it divides, otherwise one decimal (integer arithmetic, so
    any size prints, even one beyond 64 bits taken from a broken input)."""
    if n < 0:
        return f"-{human_size(-n)}"
    if n < 1024:
        return f"{n} B"
    # The largest unit not above n, from its bit length (reports print 10^5 of these).
    shift, unit = _UNITS[min((n.bit_length() - 1) // 10, 6)]
    if n & ((1 << shift) - 1) == 0:
        return f"{n >> shift} {unit}"
    tenths = (n * 10 + (1 << (shift - 1))) >> shift
    return f"{tenths // 10}.{tenths % 10} {unit}"


def hex_range(start: int, end: int) -> str:
    """Half-open range in hex with its size: '[0x80000000, 0x80400000) 4 MiB'."""
    return f"[{start:#x}, {end:#x}) {human_size(end - start)}"


def parse_int(text: str) -> int:
    """Parse 0x/0o/0b/decimal integers with optional '_' separators; raises ValueError."""
    s = text.strip().replace("_", "")
    if not s:
        raise ValueError("empty number")
    neg = s.startswith("-")
    if neg:
        s = s[1:]
    low = s.lower()
    if low.startswith("0x"):
        value = int_of(low[2:], 16)
    elif low.startswith("0o"):
        value = int_of(low[2:], 8)
    elif low.startswith("0b"):
        value = int_of(low[2:], 2)
    else:
        if not low.isdigit():
            raise ValueError(f"not a number: {text!r}")
        value = int_of(low, 10)
    return -value if neg else value


def parse_size(text: str) -> int:
    """Parse '8M', '2MiB', '4096', '0x1000', '1G' into bytes."""
    s = text.strip().replace("_", "")
    suffixes = {"k": 10, "m": 20, "g": 30, "t": 40}
    low = s.lower()
    for tail in ("ib", "b"):
        if low.endswith(tail) and len(low) > len(tail) and low[-len(tail) - 1] in suffixes:
            low = low[: -len(tail)]
            break
    if low and low[-1] in suffixes and not low.startswith("0x"):
        return parse_int(low[:-1]) << suffixes[low[-1]]
    return parse_int(low)
