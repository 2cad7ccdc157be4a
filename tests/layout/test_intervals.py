"""The interval engine against naive oracles (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hvcheck.layout.intervals import (
    Coverage,
    Interval,
    IntervalIndex,
    intersect,
    overlapping_index_pairs,
    overlapping_pairs,
    overlapping_pairs_between,
    subtract,
    union,
)

ranges = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 60)).map(lambda t: (t[0], t[0] + t[1])),
                  max_size=40)


def as_intervals(rs: list[tuple[int, int]]) -> list[Interval[int]]:
    return [Interval(s, e, i) for i, (s, e) in enumerate(rs)]


def naive_pairs(ivs: list[Interval[int]]) -> set[frozenset[int]]:
    return {frozenset((a.item, b.item)) for i, a in enumerate(ivs) for b in ivs[i + 1:]
            if a.start < b.end and b.start < a.end and a.start < a.end and b.start < b.end}


def covered(rs: list[tuple[int, int]]) -> set[int]:
    return {x for s, e in rs for x in range(s, e)}


@settings(max_examples=300)
@given(ranges)
def test_all_overlapping_pairs_match_pairwise_scan(rs: list[tuple[int, int]]) -> None:
    ivs = as_intervals(rs)
    got = [frozenset((a.item, b.item)) for a, b in overlapping_pairs(ivs)]
    assert len(got) == len(set(got))  # each pair once
    assert set(got) == naive_pairs(ivs)


@settings(max_examples=200)
@given(ranges, ranges)
def test_pairs_between_two_families(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    left, right = as_intervals(a), as_intervals(b)
    got = [(x.item, y.item) for x, y in overlapping_pairs_between(left, right)]
    want = {(x.item, y.item) for x in left for y in right
            if x.start < y.end and y.start < x.end and x.start < x.end and y.start < y.end}
    assert len(got) == len(set(got)) and set(got) == want


def heap_sweep_order(left: list[Interval[int]], right: list[Interval[int]]) -> list[tuple[int, int]]:
    """The first implementation of overlapping_pairs_between, kept as the oracle of its order:
    findings (M006, M007, M016, M017) come out in this order, and a faster sweep must not reorder them."""
    import heapq

    lefts = [iv for iv in left if iv.start < iv.end]
    rights = [iv for iv in right if iv.start < iv.end]
    events = sorted([(iv.start, 0, i) for i, iv in enumerate(lefts)] + [(iv.start, 1, i) for i, iv in enumerate(rights)])
    active_l: list[tuple[int, int]] = []
    active_r: list[tuple[int, int]] = []
    out = []
    for start, side, i in events:
        while active_l and active_l[0][0] <= start:
            heapq.heappop(active_l)
        while active_r and active_r[0][0] <= start:
            heapq.heappop(active_r)
        if side == 0:
            out.extend((lefts[i].item, rights[j].item) for _, j in active_r)
            heapq.heappush(active_l, (lefts[i].end, i))
        else:
            out.extend((lefts[j].item, rights[i].item) for _, j in active_l)
            heapq.heappush(active_r, (rights[i].end, i))
    return out


@settings(max_examples=300)
@given(ranges, ranges)
def test_pairs_between_keep_the_heap_sweeps_order(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    left, right = as_intervals(a), as_intervals(b)
    got = [(x.item, y.item) for x, y in overlapping_pairs_between(left, right)]
    assert got == heap_sweep_order(left, right)


@settings(max_examples=300)
@given(ranges, st.booleans())
def test_index_pairs_keep_their_order(rs: list[tuple[int, int]], presorted: bool) -> None:
    """Pairs in the order of a stable sort by start, then by position (M004/M005 report in it),
    whether the fast path for input already in order is taken or not."""
    if presorted:
        rs = sorted(rs, key=lambda r: r[0])
    starts, ends = [s for s, _ in rs], [e for _, e in rs]
    keep = sorted((i for i in range(len(rs)) if starts[i] < ends[i]), key=starts.__getitem__)
    want = [(keep[p], keep[q]) for p in range(len(keep)) for q in range(p + 1, len(keep))
            if starts[keep[q]] < ends[keep[p]]]
    assert overlapping_index_pairs(starts, ends) == want


@settings(max_examples=300)
@given(ranges, ranges)
def test_coverage_uncovered_is_where_missing_is_not_empty(cover: list[tuple[int, int]],
                                                           queries: list[tuple[int, int]]) -> None:
    c = Coverage(cover)
    starts, ends = [s for s, _ in queries], [e for _, e in queries]
    positions = list(range(len(queries)))[::-1]
    assert c.uncovered(positions, starts, ends) == [k for k in positions if c.missing(starts[k], ends[k])]


@settings(max_examples=200)
@given(ranges, st.integers(-5, 270), st.integers(0, 50))
def test_index_stabbing_and_overlap_queries(rs: list[tuple[int, int]], q: int, width: int) -> None:
    ivs = as_intervals(rs)
    index = IntervalIndex(ivs)
    assert {iv.item for iv in index.containing(q)} == {iv.item for iv in ivs if iv.start <= q < iv.end}
    want = {iv.item for iv in ivs if iv.start < q + width and q < iv.end and iv.start < iv.end and width > 0}
    assert {iv.item for iv in index.overlapping(q, q + width)} == want


@settings(max_examples=300)
@given(ranges, ranges)
def test_set_algebra_matches_point_sets(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    u = union(a)
    assert covered(u) == covered(a)
    assert all(u[i][1] < u[i + 1][0] for i in range(len(u) - 1))  # disjoint, not adjacent
    d = subtract(a, b)
    assert covered(d) == covered(a) - covered(b)
    assert all(s < e for s, e in d)
    assert covered(intersect(a, b)) == covered(a) & covered(b)


def test_adjacent_ranges_do_not_overlap() -> None:
    ivs = as_intervals([(0, 10), (10, 20)])
    assert list(overlapping_pairs(ivs)) == []
    assert IntervalIndex(ivs).containing(10)[0].item == 1


def test_reversed_interval_is_rejected() -> None:
    import pytest

    with pytest.raises(ValueError):
        Interval(10, 5, None)
