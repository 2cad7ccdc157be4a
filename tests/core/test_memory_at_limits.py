"""Peak memory at the documented input limits: at most 10 x the input's size + 48 MiB above the
process that reads it (docs/fuzzing.md). Before issue 19 a 30 MB DTS line took 3.5 GB; these
inputs are the shapes that blew up, at the size of their limit, each read in a forked child
whose own high-water mark is measured (fuzz.runner.run_forked)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fuzz.runner import MEMORY_FACTOR, Workspace, run_forked
from fuzz.targets import by_name

BASE_KIB = 48 << 10


def _dts_string(seed: bytes, size: int) -> bytes:
    """One property whose string value fills the DTS up to ``size`` (a second root node merges)."""
    head = seed.rstrip() + b'\n/ {\n\thvcheck-big = "'
    return head + b"A" * (size - len(head) - 6) + b'";\n};\n'


def _dts_cells(seed: bytes, size: int) -> bytes:
    head = seed.rstrip() + b"\n/ {\n\thvcheck-cells = <"
    n = (size - len(head) - 6) // 11
    return head + b"0x12345678 " * n + b">;\n};\n"


def _yaml_value(seed: bytes, size: int) -> bytes:
    head = seed.rstrip() + b"\nhvcheck_note: "
    return head + b"A" * (size - len(head) - 1) + b"\n"


def _json_string(seed: bytes, size: int) -> bytes:
    i = seed.index(b"{") + 1
    pad = b'"hvcheck_note": "' + b"A" * (size - len(seed) - 20) + b'", '
    return seed[:i] + pad + seed[i:]


def _board_comment(seed: bytes, size: int) -> bytes:
    return seed + b"// " + b"x" * (size - len(seed) - 4) + b"\n"


def _patch_line(seed: bytes, size: int) -> bytes:
    at = seed.index(b"\n+") + 1
    return seed[:at] + b"+" + b"y" * (size - len(seed) - 2) + b"\n" + seed[at:]


# Many *unpaired* hunks (every one a finding) are checked in
# tests/backport/test_backport_many_findings.py; many *paired* ones at the hunk limit below.
def _trace_lines(seed: bytes, size: int) -> bytes:
    lines = [ln for ln in seed.splitlines(keepends=True) if b"ioctl(" in ln]
    out, total = [], 0
    while total < size:
        for ln in lines:
            out.append(ln)
            total += len(ln)
    return b"".join(out)


# (target, generator, size): each near its limit in hvcheck docs limits, or at 8 MiB where the
# limit is larger than a test should write (the ceiling scales with the input either way).
CASES: list[tuple[str, Callable[[bytes, int], bytes], int]] = [
    ("dts", _dts_string, 30 << 20),         # MAX_DT_BYTES 32 MiB: the 3.5 GB case of issue 19
    ("dts", _dts_cells, 8 << 20),
    ("layout-yaml", _yaml_value, 8 << 20),  # MAX_LAYOUT_BYTES 8 MiB
    ("zone-json", _json_string, 4 << 20),   # MAX_JSON_BYTES 4 MiB
    ("board-rs", _board_comment, 4 << 20),  # MAX_RUST_BYTES 4 MiB
    ("patch", _patch_line, 30 << 20),       # MAX_PATCH_BYTES 32 MiB
    ("ioctl-trace", _trace_lines, 16 << 20),
]


@pytest.mark.parametrize(("target", "make", "size"), CASES, ids=[f"{t}-{m.__name__[1:]}" for t, m, _ in CASES])
def test_peak_memory_within_ten_times_the_input(target: str, make: Callable[[bytes, int], bytes], size: int,
                                                tmp_path: Path) -> None:
    t = by_name(target)
    seed = t.seed_files()[0]
    ws = Workspace(t, seed, tmp_path)
    data = make(seed.read_bytes(), size)
    assert abs(len(data) - size) < 64 << 10
    ws.write(data)
    outcome = run_forked(ws.argv(), 120.0, len(data), BASE_KIB)
    ceiling = MEMORY_FACTOR * len(data) // 1024 + BASE_KIB
    assert outcome.peak_kib > 0, "the child's peak was not measured"
    assert outcome.ok, outcome.what
    assert outcome.peak_kib <= ceiling, f"{outcome.peak_kib} KiB > {ceiling} KiB"


def test_patch_at_the_hunk_limit_compared_with_itself(tmp_path: Path) -> None:
    """MAX_HUNKS distinct one-line hunks, `backport P P`: every hunk pairs. The command reads both
    arguments in full, so its input is twice the file (two parsed patches, 2 x 100,000 blocks and
    100,000 pairs); it was 137 MiB above the start at 74,000 hunks before blocks kept offsets
    instead of line copies and exact pairs stayed two positions until read."""
    from hvcheck.backport.readers.patchfile import MAX_HUNKS

    t = by_name("patch")
    seed = t.seed_files()[0]
    ws = Workspace(t, seed, tmp_path)
    data = b"".join([seed.read_bytes(), b"--- a/f.c\n+++ b/f.c\n"] + [
        b"@@ -%d,1 +%d,1 @@\n-old line %d\n+new line %d\n" % (3 * i + 1, 3 * i + 1, i, i)
        for i in range(MAX_HUNKS - seed.read_bytes().count(b"\n@@ "))])
    ws.write(data)
    assert ws.argv().count(str(ws.input)) == 2  # the target compares the file with itself
    read = 2 * len(data)
    outcome = run_forked(ws.argv(), 120.0, read, BASE_KIB)
    assert outcome.peak_kib > 0, "the child's peak was not measured"
    assert outcome.ok, outcome.what
    assert outcome.peak_kib <= MEMORY_FACTOR * read // 1024 + BASE_KIB
