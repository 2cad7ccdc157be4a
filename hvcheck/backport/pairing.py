"""Pair upstream change blocks with backport change blocks by their changed lines, then link what
is left by the rare identifiers it shares (a hunk moved *and* rewritten).

Context lines and line numbers are ignored on purpose: they are what drifts between versions, and
they are what lets a hunk apply in the wrong place. Lines are compared whitespace-normalised.

1. Exact pass: blocks with identical changed lines pair directly (linear; this is every block of
   a clean backport, so a 50,000-hunk series costs one dictionary pass).
2. Similarity pass on the rest: git and quilt split or join hunks differently when the context
   drifts, so a unit is one block or up to three consecutive blocks of one file (1→n and n→1);
   pairs are chosen greedily by score, then by whether the two blocks' messages were paired
   (series), the same file, and order.
3. Linking (:func:`link_rewritten`): an unpaired upstream block and an unpaired backport block
   that share rare identifiers, a `#define` name or an initializer member are one change that was
   rewritten; the rules report them as one finding instead of "missing" + "extra".
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import overload

from hvcheck.backport.model import Block

MIN_SCORE = 0.5
MAX_MERGE = 3
MERGE_GAP = 12  # lines between blocks that may still be one logical change
COMMON_LINE = 24  # a line in more units than this (`break;`, `}`) is not used to find candidates
MAX_LINK_CANDIDATES = 32  # candidates considered per unpaired block when linking rewritten changes
LINK_MIN_SCORE = 0.5
RARE_BLOCKS = 3  # a token in at most this many blocks of a side is rare


def norm(text: str) -> str:
    return " ".join(text.split())


def significant(block: Block) -> bool:
    """Blocks that only add or remove blank lines carry no meaning of their own."""
    return any(ln[1:].strip() for ln in block.changed)


@dataclass(eq=False, slots=True)
class Unit:
    blocks: Sequence[Block]  # a 1-tuple for the many exact pairs (lighter than a list), else a list
    _removed: list[str] | None = field(default=None, repr=False)
    _added: list[str] | None = field(default=None, repr=False)

    def removed(self) -> list[str]:
        if self._removed is None:
            self._removed = [t for b in self.blocks for t in (norm(x) for x in b.removed_text()) if t]
        return self._removed

    def added(self) -> list[str]:
        if self._added is None:
            self._added = [t for b in self.blocks for t in (norm(x) for x in b.added_text()) if t]
        return self._added

    @property
    def path(self) -> str:
        return self.blocks[0].file.path

    @property
    def message(self) -> int:
        return self.blocks[0].file.message


@dataclass(slots=True)
class Pair:
    upstream: Unit
    backport: Unit
    score: float
    reversed: bool  # the backport's + and - are upstream's - and +


def _ratio(a: list[str], b: list[str]) -> tuple[int, int]:
    if not a and not b:
        return 0, 0
    if not a or not b:
        return 0, len(a) + len(b)
    if a == b:
        return len(a), 2 * len(a)
    sm = SequenceMatcher(None, a, b, autojunk=False)
    return sum(m.size for m in sm.get_matching_blocks()), len(a) + len(b)


def similarity(u: Unit, b: Unit, reverse: bool = False) -> float:
    ur, ua = u.removed(), u.added()
    br, ba = (b.added(), b.removed()) if reverse else (b.removed(), b.added())
    m1, t1 = _ratio(ur, br)
    m2, t2 = _ratio(ua, ba)
    total = t1 + t2
    return 2.0 * (m1 + m2) / total if total else 0.0


def _units(blocks: list[Block]) -> list[Unit]:
    return [Unit(group) for _, group in _groups_at(blocks)]


def _groups_at(blocks: list[Block]) -> Iterator[tuple[int, list[Block]]]:
    """The blocks of each unit, in unit order, with the position of its first block: every block,
    then it with up to MAX_MERGE - 1 of the blocks that follow it closely in the same file."""
    # the gap after each block and each block's span, computed once (a block is in up to
    # MAX_MERGE groups) and forgotten when no later group can reach it
    gaps: dict[int, int] = {}
    spans: dict[int, tuple[int, int]] = {}

    def span(p: int) -> tuple[int, int]:
        if p not in spans:
            spans[p] = _span(blocks[p])
        return spans[p]

    last = len(blocks) - 1
    for i, blk in enumerate(blocks):
        gaps.pop(i - 1, None)
        spans.pop(i - 1, None)
        yield i, [blk]
        group = [blk]
        for p in range(i, min(i + MAX_MERGE - 1, last)):
            prev, nxt = blocks[p], blocks[p + 1]
            if nxt.file is not prev.file:
                break
            gap = gaps.get(p)
            if gap is None:  # distance in source lines (not patch lines) between the two blocks
                gap = gaps[p] = nxt.start - prev.last if prev.hunk is nxt.hunk else span(p + 1)[0] - span(p)[1]
            if gap > MERGE_GAP:
                break
            group = [*group, nxt]
            yield i, group


def _span(block: Block) -> tuple[int, int]:
    """First and last old-file line the block touches (pure additions: the line they follow)."""
    numbers = block.hunk.numbers()
    removed = block.removed
    if removed:
        return numbers[removed[0]][0] or 0, numbers[removed[-1]][0] or 0
    for i in range(block.context_before - 1, -1, -1):
        old = numbers[i][0]
        if old is not None:
            return old, old
    return block.hunk.old_start, block.hunk.old_start


def same_file(a: str, b: str) -> bool:
    return a == b or _base(a) == _base(b)


def _key(block: Block) -> int:
    """A hash of the block's normalised changed lines (removed and added kept apart). Only the
    hash is stored: a match is confirmed by comparing the lines themselves."""
    changed = block.changed
    removed = tuple(t for t in (norm(ln[1:]) for ln in changed if ln[0] == "-") if t)
    added = tuple(t for t in (norm(ln[1:]) for ln in changed if ln[0] == "+") if t)
    return hash((removed, added))


def _same_lines(a: Block, b: Block) -> bool:
    if a.text == b.text:
        return True  # byte-identical: the common case, no normalising needed
    ua, ub = Unit([a]), Unit([b])
    return ua.removed() == ub.removed() and ua.added() == ub.added()


def _base(path: str) -> str:
    return path.rsplit("/", 1)[-1]


class _Chains:
    """Positions grouped by key, in input order, as chains through one array (head[key] is the
    first position, nxt[pos] the next one with its key); positions flagged in ``used`` are skipped.
    A dict of lists cost a fifth of the peak memory at the hunk limit (issue 19)."""

    def __init__(self, keys: Sequence[int], used: bytearray) -> None:
        self._head: dict[int, int] = {}
        self._nxt = array("q", [-1]) * len(keys)
        self._used = used
        for pos in range(len(keys) - 1, -1, -1):
            self._nxt[pos] = self._head.get(keys[pos], -1)
            self._head[keys[pos]] = pos

    def unused(self, key: int) -> Iterator[int]:
        used, nxt = self._used, self._nxt
        pos = self._head.get(key, -1)
        while pos >= 0 and used[pos]:  # used ones gather at the front: skip them once, for good
            pos = nxt[pos]
        if pos >= 0:
            self._head[key] = pos
        while pos >= 0:
            if not used[pos]:
                yield pos
            pos = nxt[pos]


def pair_blocks(upstream: list[Block], backport: list[Block], groups: dict[int, int] | None = None
                ) -> tuple[PairList, list[Block], list[Block]]:
    """Returns (pairs, unpaired upstream blocks, unpaired backport blocks). ``groups`` maps an
    upstream message index to the backport message paired with it (series by subject/number)."""
    groups = groups or {}
    upstream = [b for b in upstream if significant(b)]
    backport = [b for b in backport if significant(b)]
    # Blocks are handled by position (ints, a bytearray of used flags) rather than id-keyed dicts
    # and sets: at the hunk limit those tables were a fifth of the run's peak memory (issue 19).
    exact_u, exact_b = array("q"), array("q")  # positions of the exact pairs, made Pairs when read
    # 1. identical changed lines
    used_b = bytearray(len(backport))
    keys = [_key(blk) for blk in backport]
    # Two rounds: first only within the same file (or a file of the same name: a move between
    # versions), then across files — else an upstream change to cn20k_tx.h, a file the older tree
    # lacks, could take the backport's cn9k_tx.h copy of a change upstream also makes to cn9k_tx.h.
    # Round one looks only among blocks with the same lines *and* file name; round two among those
    # with the same lines, none of which has the same path (it would have paired in round one).
    pending: Sequence[int] = range(len(upstream))
    for same_files_only in (True, False):
        if not pending:
            break
        if same_files_only:
            chains = _Chains([hash((k, _base(b.file.path))) for k, b in zip(keys, backport, strict=True)], used_b)
        else:
            chains = _Chains(keys, used_b)
        later: list[int] = []
        for upos in pending:
            blk = upstream[upos]
            key = _key(blk)
            # The first candidate in input order with the paired message and the same path wins;
            # else the first with the best of the two. Stop once nothing later can beat it: n
            # alike hunks then cost n steps, not n^2/2 comparisons (8,000 alike hunks took 48 s).
            want_message = groups.get(blk.file.message, -1)
            best_possible = (want_message < 0, not same_files_only)
            other, other_rank = -1, (True, True)
            for c in chains.unused(hash((key, _base(blk.file.path))) if same_files_only else key):
                cand = backport[c]
                if not _same_lines(blk, cand) or (same_files_only and not same_file(cand.file.path, blk.file.path)):
                    continue
                rank = (want_message != cand.file.message, cand.file.path != blk.file.path)
                if other < 0 or rank < other_rank:
                    other, other_rank = c, rank
                    if rank <= best_possible:
                        break
            if other < 0:
                later.append(upos)
                continue
            used_b[other] = 1
            exact_u.append(upos)
            exact_b.append(other)
        pending = later
    del keys
    rest_u = [upstream[i] for i in pending]
    rest_b = [b for b, used in zip(backport, used_b, strict=True) if not used]
    # 2. similar changed lines (split/joined hunks, edited lines, reversals)
    more: list[Pair] = []
    more_ranks = array("q")
    if rest_u and rest_b:
        rank_of = {id(upstream[i]): i for i in pending}
        more, rest_u, rest_b = _similar(rest_u, rest_b, groups)
        more_ranks.extend(rank_of[id(p.upstream.blocks[0])] for p in more)
    # upstream position of each pair's first block (an exact pair's is its own): the final order
    ranks = exact_u + more_ranks
    # stable, as sorting the pairs by rank was; entry k < len(exact_u) is exact pair k, else more[k - len]
    order = array("q", sorted(range(len(ranks)), key=ranks.__getitem__))
    return PairList(upstream, backport, exact_u, exact_b, more, order), rest_u, rest_b


class PairList(Sequence[Pair]):
    """The pairs in upstream order. An exact pair is two block positions until it is read: at the
    hunk limit 100,000 Pair/Unit objects were a quarter of the run's peak memory (issue 19), and
    the check reads each pair once."""

    def __init__(self, upstream: list[Block], backport: list[Block], exact_u: array[int], exact_b: array[int],
                 more: list[Pair], order: array[int]) -> None:
        self._upstream, self._backport = upstream, backport
        self._exact_u, self._exact_b, self._more, self._order = exact_u, exact_b, more, order

    def _pair(self, k: int) -> Pair:
        if k < len(self._exact_u):
            return Pair(Unit((self._upstream[self._exact_u[k]],)), Unit((self._backport[self._exact_b[k]],)), 1.0, False)
        return self._more[k - len(self._exact_u)]

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, i: int) -> Pair: ...

    @overload
    def __getitem__(self, i: slice) -> list[Pair]: ...

    def __getitem__(self, i: int | slice) -> Pair | list[Pair]:
        if isinstance(i, slice):
            return [self._pair(k) for k in self._order[i]]
        return self._pair(self._order[i])

    def __iter__(self) -> Iterator[Pair]:
        return map(self._pair, self._order)


def _units_sharing(blocks: list[Block], wanted: set[str]) -> dict[int, Unit]:
    """The units of ``blocks`` (numbered as :func:`_units` numbers them) with a changed line in
    ``wanted``; each block's lines are read once (a unit spans at most MAX_MERGE blocks)."""
    out: dict[int, Unit] = {}
    texts_at: dict[int, set[str]] = {}
    for j, (start, group) in enumerate(_groups_at(blocks)):
        texts_at.pop(start - 1, None)
        texts: set[str] = set()
        for pos in range(start, start + len(group)):
            own = texts_at.get(pos)
            if own is None:
                blk = blocks[pos]
                own = texts_at[pos] = {t for t in (norm(x) for x in blk.removed_text() + blk.added_text())
                                       if t} & wanted
            texts |= own
        if texts:
            out[j] = Unit(group)
    return out


def _similar(upstream: list[Block], backport: list[Block], groups: dict[int, int]
             ) -> tuple[list[Pair], list[Block], list[Block]]:
    # Only units that share at least one changed line can pair: index backport units by line.
    # The side with fewer blocks has all its units; of the other side only units with one of
    # their lines are kept (50,000 unrelated hunks against a few: no unit, no list per line).
    u_units: dict[int, Unit]
    b_units: dict[int, Unit]
    if len(upstream) <= len(backport):
        u_units = dict(enumerate(_units(upstream)))
        b_units = _units_sharing(backport, {t for u in u_units.values() for t in u.removed() + u.added()})
    else:
        b_units = dict(enumerate(_units(backport)))
        u_units = _units_sharing(upstream, {t for u in b_units.values() for t in u.removed() + u.added()})
    index: dict[str, list[int]] = {}
    for j, unit in b_units.items():
        for text in set(unit.removed() + unit.added()):
            index.setdefault(text, []).append(j)
    # Lines shared by many units would make candidate search quadratic on big patches; a unit
    # made only of such lines still searches by all of them.
    rare = {text for text, js in index.items() if len(js) <= COMMON_LINE}
    u_rank = {id(b): i for i, b in enumerate(upstream)}
    b_rank = {id(b): i for i, b in enumerate(backport)}
    candidates = []
    for i, unit in u_units.items():
        seen: set[int] = set()
        texts = set(unit.removed() + unit.added())
        keys = (texts & rare) or texts
        for text in keys:
            for j in index.get(text, ()):
                if j in seen:
                    continue
                seen.add(j)
                other = b_units[j]
                direct = similarity(unit, other)
                rev = similarity(unit, other, reverse=True)
                score, is_rev = (rev, True) if rev > direct else (direct, False)
                if score < MIN_SCORE:
                    continue
                order = abs(u_rank[id(unit.blocks[0])] / max(len(upstream), 1)
                            - b_rank[id(other.blocks[0])] / max(len(backport), 1))
                size = len(unit.blocks) + len(other.blocks)
                grouped = groups.get(unit.message, -1) == other.message
                candidates.append((-round(score, 6), not grouped, not same_file(unit.path, other.path), size, order,
                                   i, j, is_rev))
    candidates.sort()
    used_u: set[int] = set()
    used_b: set[int] = set()
    pairs: list[Pair] = []
    for neg_score, _, _, _, _, i, j, is_rev in candidates:
        u, b = u_units[i], b_units[j]
        if any(id(x) in used_u for x in u.blocks) or any(id(x) in used_b for x in b.blocks):
            continue
        used_u.update(id(x) for x in u.blocks)
        used_b.update(id(x) for x in b.blocks)
        pairs.append(Pair(u, b, -neg_score, is_rev))
    missing = [b for b in upstream if id(b) not in used_u]
    extra = [b for b in backport if id(b) not in used_b]
    return pairs, missing, extra


# --- moved and rewritten ----------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*")
_DEFINE_KEY = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)")
_MEMBER_KEY = re.compile(r"^\s*(\.[A-Za-z_][\w.]*|\[[^\]]+\])\s*=")
_STOP = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int long
register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while
bool true false NULL ret err rc error out unlikely likely u8 u16 u32 u64 s8 s16 s32 s64 uint8_t uint16_t
uint32_t uint64_t int8_t int16_t int32_t int64_t size_t dev data val value len size count flags arg args
tmp res result index idx i j k n p ptr buf the this that and not
""".split())


def tokens(lines: list[str]) -> set[str]:
    out: set[str] = set()
    for text in lines:
        for t in _TOKEN.findall(text[:2000]):
            if len(t) >= 3 and t not in _STOP:
                out.add(t)
    return out


def keys(lines: list[str]) -> set[str]:
    """What the lines define: `#define NAME` or an initializer member `.name =` / `[IDX] =`."""
    out: set[str] = set()
    for text in lines:
        m = _DEFINE_KEY.match(text)
        if m:
            out.add(f"#define {m.group(1)}")
            continue
        m = _MEMBER_KEY.match(text)
        if m:
            out.add(f"member {norm(m.group(1))}")
    return out


@dataclass
class Link:
    upstream: Block
    backport: Block
    score: float
    shared: list[str]  # the rare identifiers (or keys) that tie them, rarest first
    by_key: str | None  # "#define NAME" / "member .x" when both define the same thing


def _lines_of(block: Block) -> list[str]:
    return block.removed_text() + block.added_text()


def link_rewritten(missing: list[Block], extra: list[Block], all_upstream: list[Block],
                   all_backport: list[Block]) -> tuple[list[Link], list[Block], list[Block]]:
    """Link unpaired upstream and backport blocks that are the same change rewritten: they share a
    `#define`/member key, or identifiers rare in both patches (weighted by rarity). Returns the
    links and what stays unpaired."""
    if not missing or not extra:
        return [], missing, extra
    df: Counter[str] = Counter()
    for blk in all_upstream + all_backport:
        df.update(tokens(_lines_of(blk)))
    total = max(len(all_upstream) + len(all_backport), 1)

    def weight(t: str) -> float:
        return math.log(1 + total / df.get(t, 1))

    # With more missing than extra blocks, a missing block that shares no identifier or key with
    # any extra block can have no candidate: its sets are not kept
    known: set[str] | None = None
    if len(missing) > len(extra):
        known = set()
        for b in extra:
            known |= tokens(_lines_of(b))
            known |= keys(b.added_text() + b.removed_text())
    u_sides: dict[int, tuple[set[str], set[str]]] = {}
    for i, blk in enumerate(missing):
        u_tok, u_keys = tokens(_lines_of(blk)), keys(blk.added_text() + blk.removed_text())
        if known is None or not known.isdisjoint(u_tok) or not known.isdisjoint(u_keys):
            u_sides[i] = (u_tok, u_keys)
    # Only what some missing block has is ever looked up: the index keeps just that, and a
    # backport block's identifiers are read again when it is a candidate (50,000 unrelated
    # blocks each kept two sets and an index entry per identifier: 49 MB for a 2 MB patch)
    wanted = {t for u_tok, u_keys in u_sides.values() for t in (*u_tok, *u_keys)}
    inverted: dict[str, list[int]] = {}
    for j, b in enumerate(extra):
        for t in tokens(_lines_of(b)):
            if t in wanted and df[t] <= 2 * RARE_BLOCKS:
                inverted.setdefault(t, []).append(j)
        for k in keys(b.added_text() + b.removed_text()):
            if k in wanted:
                inverted.setdefault(k, []).append(j)
    b_sides: dict[int, tuple[set[str], set[str]]] = {}

    def b_side(j: int) -> tuple[set[str], set[str]]:
        if j not in b_sides:
            b = extra[j]
            b_sides[j] = (tokens(_lines_of(b)), keys(b.added_text() + b.removed_text()))
        return b_sides[j]

    candidates: list[tuple[float, int, int, list[str], str | None]] = []
    for i, (u_tok, u_keys) in u_sides.items():
        blk = missing[i]
        hits: Counter[int] = Counter()
        for t in list(u_tok) + list(u_keys):
            for j in inverted.get(t, ()):
                hits[j] += 1
        for j, _ in hits.most_common(MAX_LINK_CANDIDATES):
            b_tok, b_key = b_side(j)
            shared_keys = sorted(u_keys & b_key)
            shared = u_tok & b_tok
            # overlap of the smaller side, weighted by rarity: a rewrite adds or drops words
            smaller = min(sum(weight(t) for t in u_tok), sum(weight(t) for t in b_tok))
            score = sum(weight(t) for t in shared) / max(smaller, 1e-9)
            rare = sorted((t for t in shared if df[t] <= 2 * RARE_BLOCKS), key=lambda t: (df[t], t))
            # an identifier found only in these two blocks of both patches ties them by itself
            exclusive = [t for t in rare if df[t] == 2 and (len(t) >= 5 or "_" in t)]
            if not same_file(blk.file.path, extra[j].file.path):
                score *= 0.8
            elif blk.hunk.section and blk.hunk.section == extra[j].hunk.section:
                score *= 1.2  # the same @@ text on both: likely the same spot (a hint, not a placement)
            if shared_keys:
                score = max(score, 0.9)
            elif exclusive:
                score = max(score, LINK_MIN_SCORE)
            elif not rare or score < LINK_MIN_SCORE:
                continue
            candidates.append((score, i, j, shared_keys + rare[:6], shared_keys[0] if shared_keys else None))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_u: set[int] = set()
    used_b: set[int] = set()
    links: list[Link] = []
    for score, i, j, shared_list, key in candidates:
        if i in used_u or j in used_b:
            continue
        used_u.add(i)
        used_b.add(j)
        links.append(Link(missing[i], extra[j], round(score, 3), shared_list, key))
    still_u = [b for k, b in enumerate(missing) if k not in used_u]
    still_b = [b for k, b in enumerate(extra) if k not in used_b]
    return links, still_u, still_b
