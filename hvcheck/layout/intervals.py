"""Interval engine over half-open integer ranges [start, end).

- :func:`overlapping_pairs`: every overlapping pair among n intervals in O(n log n + k), by a
  sort by start and one binary search per interval (never pairwise).
- :func:`overlapping_pairs_between`: the same between two families (A x B only), by a sweep that
  keeps each family's active intervals in a heap keyed by their end.
- :func:`overlapping_index_pairs` and :func:`overlapping_index_pairs_between`: the same on lists
  of starts and ends, returning positions (for callers with 10^5 ranges and few pairs: no
  Interval object per range).
- :class:`IntervalIndex`: stabbing ("who owns this address") and overlap queries in
  O(log n + k) over an implicit balanced tree augmented with the subtree's maximum end.
- :func:`union`, :func:`subtract`, :func:`intersect`: set algebra on lists of ranges;
  :class:`Coverage`: what a fixed union misses of each of many queried ranges (``uncovered``:
  which of many ranges it does not wholly cover, one binary search each).
"""

from __future__ import annotations

import heapq
import operator
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import compress, islice, repeat
from typing import Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")


class Interval(Generic[T]):
    """[start, end) carrying an item. A plain slotted class, not a frozen dataclass: rules build one
    per region per check (10^5 regions in a large Jailhouse set), and this constructor is about
    three times cheaper. Treat instances as immutable."""

    __slots__ = ("start", "end", "item")

    def __init__(self, start: int, end: int, item: T) -> None:
        if end < start:
            raise ValueError(f"interval end {end:#x} before start {start:#x}")
        self.start = start
        self.end = end
        self.item = item

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Interval) and (self.start, self.end, self.item) == (other.start, other.end,
                                                                                     other.item)

    def __hash__(self) -> int:
        return hash((self.start, self.end, self.item))

    def __repr__(self) -> str:
        return f"Interval({self.start:#x}, {self.end:#x}, {self.item!r})"


def overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    """Half-open ranges overlap iff each starts before the other ends (empty ranges never do)."""
    return a_start < b_end and b_start < a_end and a_start < a_end and b_start < b_end


def overlapping_pairs(intervals: Iterable[Interval[T]]) -> Iterator[tuple[Interval[T], Interval[T]]]:
    """Yield each overlapping pair once, the earlier-starting interval first."""
    ivs = [iv for iv in intervals if iv.start < iv.end]
    for i, j in overlapping_index_pairs([iv.start for iv in ivs], [iv.end for iv in ivs]):
        yield ivs[i], ivs[j]


def overlapping_index_pairs(starts: Sequence[int], ends: Sequence[int]) -> list[tuple[int, int]]:
    """All overlapping pairs (i, j) of non-empty ranges [starts[i], ends[i]), i starting first.

    The hot loop of the engine. Sort once by start; then interval i overlaps exactly the later-
    sorted intervals whose start is below its end — a contiguous run found by one binary search.
    Each pair is produced once (by position in the sorted order), so the cost is O(n log n + k).
    """
    keep, sorted_starts, sorted_ends = _sorted_by_start(starts, ends)
    n = len(keep)
    # stop[pos]: first sorted position whose start is at or beyond interval pos's end (in C).
    stops = list(map(bisect_left, repeat(sorted_starts, n), sorted_ends, range(1, n + 1)))
    out: list[tuple[int, int]] = []
    add = out.append
    for pos in compress(range(n), map(int.__lt__, range(1, n + 1), stops)):
        i = keep[pos]
        for other in range(pos + 1, stops[pos]):
            add((i, keep[other]))
    return out


def _sorted_by_start(starts: Sequence[int], ends: Sequence[int]) -> tuple[list[int], list[int], list[int]]:
    """(positions of the non-empty ranges sorted by start, stably; their starts; their ends), with
    the loops in C. Input that is already in order (a config's regions usually are) is not sorted
    again nor copied position by position."""
    n = len(starts)
    keep = list(compress(range(n), map(operator.lt, starts, ends)))
    if len(keep) == n and all(map(operator.le, starts, islice(starts, 1, None))):
        return keep, list(starts), list(ends)
    keep.sort(key=starts.__getitem__)
    # The sorted starts and positions as fresh int objects (x ^ 0 allocates one), laid out in sorted
    # order: the binary searches compare each start about log n times and every pair touches its
    # positions, and ints scattered over the heap in input order make both cache-bound (at 10^6
    # random ranges the engine takes a third less time with the copies than without).
    return [x ^ 0 for x in keep], [x ^ 0 for x in map(starts.__getitem__, keep)], list(map(ends.__getitem__, keep))


def overlapping_pairs_between(
    left: Iterable[Interval[T]], right: Iterable[Interval[U]]
) -> Iterator[tuple[Interval[T], Interval[U]]]:
    """Yield every (a, b) with a from ``left``, b from ``right`` and a, b overlapping (in the order
    of :func:`overlapping_index_pairs_between`)."""
    lefts = list(left)
    rights = list(right)
    pairs = overlapping_index_pairs_between([iv.start for iv in lefts], [iv.end for iv in lefts],
                                            [iv.start for iv in rights], [iv.end for iv in rights])
    for i, j in pairs:
        yield lefts[i], rights[j]


def overlapping_index_pairs_between(left_starts: Sequence[int], left_ends: Sequence[int], right_starts: Sequence[int],
                                    right_ends: Sequence[int]) -> list[tuple[int, int]]:
    """Every (i, j) with left range i and right range j non-empty and overlapping.

    A sweep over the starts (left before right at equal starts, then input order); each side
    keeps a heap of its active ranges keyed by end, and a range pairs with the other side's active
    ranges when it starts (in the heap's order: findings follow it, so it is kept as it is).
    O((n + m) log(n + m) + k); the events are sorted by one integer key and a range that finds
    the other side's heap empty costs a push and a pop."""
    nl = len(left_starts)
    events = [i for i in range(nl) if left_starts[i] < left_ends[i]]
    if not events:
        return []
    rkeep = [nl + j for j in range(len(right_starts)) if right_starts[j] < right_ends[j]]
    if not rkeep:
        return []
    events += rkeep
    starts = [*left_starts, *right_starts]
    ends = [*left_ends, *right_ends]
    # start * 2 + side: left (0) before right (1) at equal starts; the stable sort keeps input order.
    keys = [s * 2 for s in left_starts] + [s * 2 + 1 for s in right_starts]
    events.sort(key=keys.__getitem__)
    active_l: list[tuple[int, int]] = []
    active_r: list[tuple[int, int]] = []
    out: list[tuple[int, int]] = []
    add = out.append
    push, pop = heapq.heappush, heapq.heappop
    for e in events:
        start = starts[e]
        while active_l and active_l[0][0] <= start:
            pop(active_l)
        while active_r and active_r[0][0] <= start:
            pop(active_r)
        if e < nl:
            for _, j in active_r:
                add((e, j))
            push(active_l, (ends[e], e))
        else:
            j = e - nl
            for _, i in active_l:
                add((i, j))
            push(active_r, (ends[e], j))
    return out


class IntervalIndex(Generic[T]):
    """Static index for stabbing and overlap queries (built once, queried many times)."""

    def __init__(self, intervals: Iterable[Interval[T]]) -> None:
        self._ivs: list[Interval[T]] = sorted(
            (iv for iv in intervals if iv.start < iv.end), key=lambda iv: (iv.start, iv.end)
        )
        self._max_end: list[int] = [0] * len(self._ivs)
        if self._ivs:
            self._build(0, len(self._ivs) - 1)

    def _build(self, lo: int, hi: int) -> int:
        mid = (lo + hi) // 2
        best = self._ivs[mid].end
        if lo <= mid - 1:
            best = max(best, self._build(lo, mid - 1))
        if mid + 1 <= hi:
            best = max(best, self._build(mid + 1, hi))
        self._max_end[mid] = best
        return best

    def __len__(self) -> int:
        return len(self._ivs)

    def overlapping(self, start: int, end: int) -> list[Interval[T]]:
        """Every interval overlapping [start, end), in start order."""
        out: list[Interval[T]] = []
        if not self._ivs or start >= end:
            return out
        stack = [(0, len(self._ivs) - 1)]
        while stack:
            lo, hi = stack.pop()
            if lo > hi:
                continue
            mid = (lo + hi) // 2
            if self._max_end[mid] <= start:
                continue  # nothing in this subtree reaches the query
            stack.append((lo, mid - 1))
            iv = self._ivs[mid]
            if iv.start < end:
                if iv.end > start:
                    out.append(iv)
                stack.append((mid + 1, hi))
        out.sort(key=lambda iv: (iv.start, iv.end))
        return out

    def containing(self, address: int) -> list[Interval[T]]:
        """Every interval that contains ``address``."""
        return self.overlapping(address, address + 1)


Range = tuple[int, int]


def union(ranges: Iterable[Range]) -> list[Range]:
    """Merge overlapping and adjacent ranges; the result is sorted and disjoint."""
    out: list[Range] = []
    for s, e in sorted(r for r in ranges if r[0] < r[1]):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def subtract(ranges: Iterable[Range], holes: Iterable[Range]) -> list[Range]:
    """``ranges`` minus ``holes``: sorted, disjoint pieces (adjacent pieces are merged)."""
    base = union(ranges)
    cut = union(holes)
    out: list[Range] = []
    j = 0
    for s, e in base:
        cur = s
        while j < len(cut) and cut[j][1] <= cur:
            j += 1
        k = j
        while k < len(cut) and cut[k][0] < e:
            hs, he = cut[k]
            if hs > cur:
                out.append((cur, min(hs, e)))
            cur = max(cur, he)
            if cur >= e:
                break
            k += 1
        if cur < e:
            out.append((cur, e))
    return out


class Coverage:
    """A union of ranges built once, answering "which parts of [start, end) does it miss" in
    O(log n + k) per query (``subtract([(start, end)], ranges)`` re-sorts all of ``ranges`` each time)."""

    def __init__(self, ranges: Iterable[Range]) -> None:
        self.spans = union(ranges)
        self._starts = [s for s, _ in self.spans]

    def uncovered(self, positions: Iterable[int], starts: Sequence[int], ends: Sequence[int]) -> list[int]:
        """Those of ``positions`` whose [starts[k], ends[k]) the union does not wholly cover (where
        :meth:`missing` is not empty), with one binary search each: the spans are disjoint and not
        adjacent, so a range is covered exactly when the span holding its start reaches its end."""
        span_ends = [e for _, e in self.spans]
        pos = list(positions)
        range_starts = [starts[k] for k in pos]
        out = []
        for k, s, i in zip(pos, range_starts, map(bisect_right, repeat(self._starts), range_starts), strict=True):
            e = ends[k]
            if s < e and (i == 0 or span_ends[i - 1] < e):
                out.append(k)
        return out

    def missing(self, start: int, end: int) -> list[Range]:
        out: list[Range] = []
        i = max(0, bisect_right(self._starts, start) - 1)
        pos = start
        while i < len(self.spans) and pos < end:
            s, e = self.spans[i]
            if s >= end:
                break
            if e > pos:
                if s > pos:
                    out.append((pos, s))
                pos = e
            i += 1
        if pos < end:
            out.append((pos, end))
        return out


def intersect(a: Iterable[Range], b: Iterable[Range]) -> list[Range]:
    """Intersection of two range sets (sorted, disjoint)."""
    ua, ub = union(a), union(b)
    out: list[Range] = []
    i = j = 0
    while i < len(ua) and j < len(ub):
        s = max(ua[i][0], ub[j][0])
        e = min(ua[i][1], ub[j][1])
        if s < e:
            out.append((s, e))
        if ua[i][1] < ub[j][1]:
            i += 1
        else:
            j += 1
    return out


def total(ranges: Sequence[Range]) -> int:
    return sum(e - s for s, e in union(ranges))
