"""Pair upstream change blocks with backport change blocks by their changed lines.

Context lines and line numbers are ignored on purpose: they are what drifts between versions, and
they are what lets a hunk apply in the wrong place. Lines are compared whitespace-normalised.
Git and quilt split or join hunks differently when the context drifts, so a unit is one block or up
to three consecutive blocks of one file (1→n and n→1 pairing). Pairs are chosen greedily by score.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from hvcheck.backport.patchfile import Block

MIN_SCORE = 0.5
MAX_MERGE = 3
MERGE_GAP = 12  # lines between blocks that may still be one logical change
COMMON_LINE = 24  # a line in more units than this (`break;`, `}`) is not used to find candidates


def norm(text: str) -> str:
    return " ".join(text.split())


def significant(block: Block) -> bool:
    """Blocks that only add or remove blank lines carry no meaning of their own."""
    return any(norm(ln.text) for ln in block.removed + block.added)


@dataclass
class Unit:
    blocks: list[Block]

    def removed(self) -> list[str]:
        return [norm(ln.text) for b in self.blocks for ln in b.removed if norm(ln.text)]

    def added(self) -> list[str]:
        return [norm(ln.text) for b in self.blocks for ln in b.added if norm(ln.text)]

    @property
    def path(self) -> str:
        return self.blocks[0].file.path


@dataclass
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
    units: list[Unit] = []
    for i, blk in enumerate(blocks):
        units.append(Unit([blk]))
        group = [blk]
        for nxt in blocks[i + 1:i + MAX_MERGE]:
            prev = group[-1]
            if nxt.file is not prev.file or _gap(prev, nxt) > MERGE_GAP:
                break
            group = [*group, nxt]
            units.append(Unit(group))
    return units


def _span(block: Block) -> tuple[int, int]:
    """First and last old-file line the block touches (pure additions: the line they follow)."""
    if block.removed:
        return block.removed[0].old_no or 0, block.removed[-1].old_no or 0
    prev = block.before[-1].old_no if block.before and block.before[-1].old_no else block.hunk.old_start
    return prev, prev


def _gap(a: Block, b: Block) -> int:
    """Distance in source lines (not patch lines) between two blocks of one file."""
    return _span(b)[0] - _span(a)[1]


def _same_file(u: Unit, b: Unit) -> bool:
    return u.path == b.path or u.path.rsplit("/", 1)[-1] == b.path.rsplit("/", 1)[-1]


def pair_blocks(upstream: list[Block], backport: list[Block]) -> tuple[list[Pair], list[Block], list[Block]]:
    """Returns (pairs, unpaired upstream blocks, unpaired backport blocks)."""
    upstream = [b for b in upstream if significant(b)]
    backport = [b for b in backport if significant(b)]
    u_units = _units(upstream)
    b_units = _units(backport)
    # Only units that share at least one changed line can pair: index backport units by line.
    index: dict[str, list[int]] = {}
    for j, unit in enumerate(b_units):
        for text in set(unit.removed() + unit.added()):
            index.setdefault(text, []).append(j)
    # Lines shared by many units would make candidate search quadratic on big patches; a unit
    # made only of such lines still searches by all of them.
    rare = {text for text, js in index.items() if len(js) <= COMMON_LINE}
    u_rank = {id(b): i for i, b in enumerate(upstream)}
    b_rank = {id(b): i for i, b in enumerate(backport)}
    candidates = []
    for i, unit in enumerate(u_units):
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
                candidates.append((-round(score, 6), not _same_file(unit, other), size, order, i, j, is_rev))
    candidates.sort()
    used_u: set[int] = set()
    used_b: set[int] = set()
    pairs: list[Pair] = []
    for neg_score, _, _, _, i, j, is_rev in candidates:
        u, b = u_units[i], b_units[j]
        if any(id(x) in used_u for x in u.blocks) or any(id(x) in used_b for x in b.blocks):
            continue
        used_u.update(id(x) for x in u.blocks)
        used_b.update(id(x) for x in b.blocks)
        pairs.append(Pair(u, b, -neg_score, is_rev))
    pairs.sort(key=lambda p: u_rank[id(p.upstream.blocks[0])])
    missing = [b for b in upstream if id(b) not in used_u]
    extra = [b for b in backport if id(b) not in used_b]
    return pairs, missing, extra
