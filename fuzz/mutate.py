"""Deterministic mutators for text and binary inputs (seeded; no coverage feedback).

Each mutator takes the seed bytes and a Random and returns new bytes. They aim at what breaks
readers of half-broken files: truncation, bit flips, junk, duplicated or deleted lines, numbers
at the edges of their ranges, deep nesting, very long lines, wrong encodings.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

# Beyond Python's 4300-digit int() limit too: a reader must say "number too large", not crash.
HUGE_NUMBERS = [b"9" * 5000, b"0x" + b"f" * 5000, b"1" + b"0" * 4300, b"-" + b"9" * 4301, b"0x" + b"1_0" * 3000]
EDGE_NUMBERS = [b"0", b"-1", b"0x0", b"0xffffffffffffffff", b"0x10000000000000000", b"18446744073709551616",
                b"99999999999999999999999999", b"0x", b"1e309", b"NaN", b"-0x8000000000000000", b"0b102",
                b"0x_", b"4294967295", b"2147483648", *HUGE_NUMBERS]
JUNK = [b"\x00", b"\xff\xfe", b"\x1b[31m", b"\r", b"}", b"{", b"[", b"]", b"(", b")", b"<<<<<<< HEAD\n", b"/*",
        b"*/", b"//", b"#include <missing.h>\n", b"\\", b"\"", b"'", b"@@ -1 +1 @@\n", b"\t", b"\xc3\x28"]
_NUMBER = re.compile(rb"0[xX][0-9a-fA-F_]+|\b\d+\b")

Mutator = Callable[[bytes, random.Random], bytes]


def truncate(data: bytes, rnd: random.Random) -> bytes:
    return data[: rnd.randrange(0, max(1, len(data)))]


def bit_flip(data: bytes, rnd: random.Random) -> bytes:
    if not data:
        return b"\x01"
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        i = rnd.randrange(len(buf))
        buf[i] ^= 1 << rnd.randrange(8)
    return bytes(buf)


def insert_junk(data: bytes, rnd: random.Random) -> bytes:
    i = rnd.randrange(len(data) + 1)
    return data[:i] + rnd.choice(JUNK) * rnd.randint(1, 3) + data[i:]


def edge_number(data: bytes, rnd: random.Random) -> bytes:
    spots = list(_NUMBER.finditer(data))
    if not spots:
        return insert_junk(data, rnd)
    m = rnd.choice(spots)
    return data[: m.start()] + rnd.choice(EDGE_NUMBERS) + data[m.end():]


def shuffle_lines(data: bytes, rnd: random.Random) -> bytes:
    lines = data.split(b"\n")
    if len(lines) < 2:
        return data + data
    op = rnd.randrange(3)
    i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(j, lines[i])
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def deep_nesting(data: bytes, rnd: random.Random) -> bytes:
    depth = rnd.choice([50, 500, 5000])
    opener, closer = rnd.choice([(b"[", b"]"), (b"{", b"}"), (b"(", b")"), (b"node {\n", b"};\n")])
    i = rnd.randrange(len(data) + 1)
    return data[:i] + opener * depth + closer * rnd.choice([0, depth]) + data[i:]


def long_line(data: bytes, rnd: random.Random) -> bytes:
    i = rnd.randrange(len(data) + 1)
    return data[:i] + rnd.choice([b"A", b"0", b" ", b"x"]) * rnd.choice([10_000, 1_000_000]) + data[i:]


def crlf(data: bytes, rnd: random.Random) -> bytes:
    return data.replace(b"\n", b"\r\n") if rnd.random() < 0.5 else data.replace(b"\n", b"\r")


def splice(data: bytes, rnd: random.Random) -> bytes:
    if len(data) < 4:
        return data * 2
    a, b = sorted(rnd.sample(range(len(data)), 2))
    i = rnd.randrange(len(data))
    return data[:i] + data[a:b] + data[i:]


def huge_number(data: bytes, rnd: random.Random) -> bytes:
    """One number replaced by thousands of digits (beyond int()'s 4300-digit conversion limit)."""
    spots = list(_NUMBER.finditer(data))
    at = rnd.choice(spots) if spots else None
    big = rnd.choice(HUGE_NUMBERS)
    if at is None:
        return data + b" " + big + b"\n"
    return data[: at.start()] + big + data[at.end():]


def yaml_aliases(data: bytes, rnd: random.Random) -> bytes:
    """A "billion laughs" block of anchors and aliases (each level repeats the previous one)."""
    levels = rnd.choice([4, 9, 12])
    width = rnd.choice([3, 9])
    lines = [b"lol0: &l0 [" + b", ".join([b'"lol"'] * width) + b"]"]
    for i in range(1, levels):
        lines.append(b"lol%d: &l%d [" % (i, i) + b", ".join([b"*l%d" % (i - 1)] * width) + b"]")
    block = b"\n".join(lines) + b"\n"
    # at the top level (before the first key), or as the value of a new key of the first mapping
    return block + data if rnd.random() < 0.5 else data.rstrip(b"\n") + b"\n" + block


def many_hunks(data: bytes, rnd: random.Random) -> bytes:
    """A unified diff with thousands of one-line hunks, or hunk headers with huge line counts."""
    if rnd.random() < 0.5:
        big = rnd.choice([b"99999999", b"4294967296", b"9" * 30, b"9" * 5000])
        return re.sub(rb"@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@", b"@@ -\\1," + big + b" +\\3," + big + b" @@", data, count=1)
    n = rnd.choice([1000, 5000, 20000])
    head = b"--- a/f.c\n+++ b/f.c\n"
    hunks = b"".join(b"@@ -%d,1 +%d,1 @@\n-a%d\n+b%d\n" % (3 * i + 1, 3 * i + 1, i, i) for i in range(n))
    return data + b"\n" + head + hunks


MUTATORS: list[Mutator] = [truncate, bit_flip, insert_junk, edge_number, shuffle_lines, deep_nesting, long_line,
                           crlf, splice, huge_number]


def mutate(data: bytes, rnd: random.Random) -> bytes:
    out = data
    for _ in range(rnd.choice([1, 1, 1, 2, 3])):
        out = rnd.choice(MUTATORS)(out, rnd)
    return out
