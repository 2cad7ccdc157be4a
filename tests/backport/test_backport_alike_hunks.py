"""Many hunks whose changed lines are all alike (a treewide one-line change): pairing must stay
linear. Each upstream block used to weigh every unused backport block with the same lines, n^2/2
comparisons (8,000 alike hunks, 48 s; in files listed in the opposite order, 45 s)."""

from __future__ import annotations

import time
from pathlib import Path

from hvcheck.backport.model import Block
from hvcheck.backport.pairing import pair_blocks
from hvcheck.backport.readers.patchfile import read_patch


def _blocks(path: Path, files: list[int], same_file: bool) -> list[Block]:
    out = []
    for i in files:
        name = "f.c" if same_file else f"d{i}/f{i}.c"
        out.append(f"--- a/{name}\n+++ b/{name}\n@@ -{3 * i + 1},1 +{3 * i + 1},1 @@\n-old line\n+new line\n")
    path.write_text("".join(out))
    return read_patch(str(path)).blocks()


def _pairing_seconds(tmp_path: Path, n: int, same_file: bool) -> float:
    up = _blocks(tmp_path / f"up{n}.patch", list(range(n)), same_file)
    bp = _blocks(tmp_path / f"bp{n}.patch", list(reversed(range(n))), same_file)
    t0 = time.process_time()
    pairs, missing, extra = pair_blocks(up, bp)
    seconds = time.process_time() - t0
    assert len(pairs) == n and not missing and not extra
    if not same_file:  # every block pairs with the one in its own file, wherever it is listed
        assert all(p.upstream.path == p.backport.path for p in pairs)
    return seconds


def test_alike_hunks_in_one_file_pair_in_linear_time(tmp_path: Path) -> None:
    small = min(_pairing_seconds(tmp_path, 500, True) for _ in range(3))
    large = _pairing_seconds(tmp_path, 4000, True)
    assert large < 24 * max(small, 1e-3), f"8x the hunks took {large / small:.0f}x the time"


def test_alike_hunks_in_files_listed_in_opposite_orders_pair_in_linear_time(tmp_path: Path) -> None:
    small = min(_pairing_seconds(tmp_path, 500, False) for _ in range(3))
    large = _pairing_seconds(tmp_path, 4000, False)
    assert large < 24 * max(small, 1e-3), f"8x the hunks took {large / small:.0f}x the time"
