"""Compare an upstream patch with its backport: pair the messages of a series, pair the change
blocks, link the rewritten ones, place every block on both sides and apply the rules.

Library entry point: :func:`check_backport`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from hvcheck.backport.model import EVIDENCE_TREE, Block, Patch, Placement, Problem
from hvcheck.backport.pairing import Pair, Unit, link_rewritten, norm, pair_blocks, same_file, similarity
from hvcheck.backport.placement import Side, first_significant
from hvcheck.backport.readers.cscope import Definition, index_source
from hvcheck.backport.readers.mail import normalise_subject
from hvcheck.backport.readers.textscope import cached_header_scope, patch_scopes
from hvcheck.backport.rules import (
    Context,
    PairRecord,
    compare_pair,
    describe_change,
    judge_link,
    place_text,
    side_data,
    unit_lines,
)
from hvcheck.findings import Finding, Location, Severity

MAX_PAIR_ROWS = 200  # pairs "in the same place" listed in the table (all with a verdict or a note are)


@dataclass
class Result:
    findings: list[Finding]
    pairs: list[PairRecord]
    compared: int
    not_analysed: list[str]
    header: list[str]  # lines for the text preamble: trees used, messages paired, mail decoding
    uncounted_same: int = 0  # identical pairs beyond MAX_PAIR_ROWS, counted but not kept
    # upstream-only / backport-only blocks beyond MAX_PAIR_ROWS: each is a P003/P004 finding with
    # the same facts, so its table row is counted, not kept (50,000 rows doubled the report)
    uncounted_upstream_only: int = 0
    uncounted_backport_only: int = 0

    def listed(self) -> tuple[list[PairRecord], int]:
        """The rows of the pair table: every pair with a verdict or a note, and the first
        MAX_PAIR_ROWS of the others (a 50,000-hunk series would otherwise print 50,000 rows)."""
        out: list[PairRecord] = []
        plain = 0
        for p in self.pairs:
            if p.verdict:
                out.append(p)
            elif plain < 2 * MAX_PAIR_ROWS:
                out.append(p)
                plain += 1
        return out, len(self.pairs) - len(out) + self.uncounted_same + self.uncounted_one_sided

    @property
    def uncounted_one_sided(self) -> int:
        return self.uncounted_upstream_only + self.uncounted_backport_only

    def preamble(self) -> str:
        rows = list(self.header)
        rows.append(f"paired {sum(1 for p in self.pairs if p.upstream and p.backport) + self.uncounted_same} "
                    "change block(s); "
                    f"{sum(1 for p in self.pairs if not p.backport) + self.uncounted_upstream_only} upstream-only, "
                    f"{sum(1 for p in self.pairs if not p.upstream) + self.uncounted_backport_only} backport-only")
        listed, omitted = self.listed()
        for p in listed:
            verdict = " ".join(p.verdict) if p.verdict else "same place"
            rows.append(f"  {_short(p.upstream):<52} -> {_short(p.backport):<52} {verdict}")
            for note in p.notes:
                rows.append(f"      note: {note}")
        if omitted - self.uncounted_one_sided:
            rows.append(f"  ... and {omitted - self.uncounted_one_sided} more pair(s) in the same place, not listed")
        if self.uncounted_one_sided:
            rows.append(f"  ... and {self.uncounted_one_sided} more upstream-only or backport-only block(s), not listed "
                        "here: each is a P003/P004 finding below")
        if self.not_analysed:
            rows.append("not analysed: " + ", ".join(self.not_analysed))
        return "\n".join(rows) + "\n"

    def extra(self) -> dict[str, Any]:
        listed, omitted = self.listed()
        return {"backport": {"pairs": [p.to_json() for p in listed], "pairs_not_listed": str(omitted),
                             "not_analysed": self.not_analysed, "context": self.header}}


def _short(w: Placement | None) -> str:
    if w is None:
        return "(none)"
    where = w.scope.container.describe() if w.scope else "?"
    if w.line is None:
        return f"{w.patch_path.rsplit('/', 1)[-1]}:{w.patch_line} {where} ({w.evidence or 'unknown'})"
    return f"{w.path}:{w.line} {where}"


# --- series ---------------------------------------------------------------------------------------

def pair_messages(up: Patch, bp: Patch) -> dict[int, int]:
    """Upstream message index → backport message index: by normalised subject, then by the commit
    a backport names (`commit X upstream`) equal to the upstream message's own id, then by
    [PATCH n/m] number."""
    with_diff_u = sorted({fp.message for fp in up.files})
    with_diff_b = sorted({fp.message for fp in bp.files})
    if len(with_diff_u) == 1 and len(with_diff_b) == 1:
        return {with_diff_u[0]: with_diff_b[0]}
    out: dict[int, int] = {}
    used: set[int] = set()
    subj_b: dict[str, list[int]] = {}
    for j in with_diff_b:
        subj_b.setdefault(normalise_subject(bp.messages[j].subject), []).append(j)
    for i in with_diff_u:
        key = normalise_subject(up.messages[i].subject)
        cands = [j for j in subj_b.get(key, []) if j not in used] if key else []
        if cands:
            out[i] = cands[0]
            used.add(cands[0])
    for i in with_diff_u:
        if i in out:
            continue
        own = up.messages[i].ref("self")
        if own is None:
            continue
        for j in with_diff_b:
            if j in used:
                continue
            if any(r.kind == "upstream" and (own.sha.startswith(r.sha) or r.sha.startswith(own.sha))
                   for r in bp.messages[j].refs):
                out[i] = j
                used.add(j)
                break
    for i in with_diff_u:
        if i in out or up.messages[i].series is None:
            continue
        n = up.messages[i].series
        assert n is not None
        for j in with_diff_b:
            sj = bp.messages[j].series
            if j not in used and sj is not None and sj[0] == n[0]:
                out[i] = j
                used.add(j)
                break
    return out


# --- side queries the rules need ------------------------------------------------------------------

def _defines(side: Side, w: Placement, kind: str, name: str) -> int | None:
    """Line of a definition of ``kind``/``name`` in the side's images of w's file (pre first: where
    it was before the patch)."""
    fp = next((f for f in side.patch.files if f.path == w.path), None)
    if fp is None:
        return None
    for which in ("pre", "post"):
        idx = side.index(fp, which)
        if idx is None:
            continue
        found: list[Definition] = idx.definitions_named(kind, name.rstrip("…"))
        if found:
            return found[0].start
    return None


def _body_similarity(up: Side, bp: Side, u: Placement, b: Placement) -> float | None:
    fu = next((f for f in up.patch.files if f.path == u.path), None)
    fb = next((f for f in bp.patch.files if f.path == b.path), None)
    if fu is None or fb is None or u.scope is None or b.scope is None:
        return None
    iu, ib = up.index(fu, "pre") or up.index(fu, "post"), bp.index(fb, "pre") or bp.index(fb, "post")
    if iu is None or ib is None:
        return None
    kind = u.scope.container.kind
    du = iu.definitions_named(kind, u.scope.container.name)
    db = ib.definitions_named(kind, b.scope.container.name)
    if not du or not db:
        return None
    la = [norm(x) for x in du[0].body.splitlines() if norm(x)]
    lb = [norm(x) for x in db[0].body.splitlines() if norm(x)]
    if not la or not lb:
        return 0.0
    sm = SequenceMatcher(None, la, lb, autojunk=False)
    if sm.real_quick_ratio() < 0.6:
        return sm.real_quick_ratio()
    return sm.ratio()


# --- findings about inputs ------------------------------------------------------------------------

def _input_findings(side: Side, not_analysed: list[str]) -> list[Finding]:
    out: list[Finding] = []
    notes: list[Problem] = []
    for p in side.patch.problems:
        if p.severity == "error":
            tail = "this hunk was not compared" if p.hunk else "this part was not compared"
            out.append(Finding("E001", f"{side.name} patch: {p.what}; {tail}, the rest was",
                               [Location(side.patch.path, p.line)],
                               data={"what": p.what, "side": side.name, "file": p.path,
                                     "hunk": f"hunk {p.hunk}" if p.hunk else None}))
        else:
            notes.append(p)
    if notes:
        listed = "; ".join(f"line {p.line}: {p.what}" for p in notes[:8]) + (" ..." if len(notes) > 8 else "")
        out.append(Finding("E001", f"{side.name} patch read with {len(notes)} repair(s) of mail-client damage or "
                                   f"odd counts: {listed}", [Location(side.patch.path, notes[0].line)],
                           data={"repairs": [f"{p.line}: {p.what}" for p in notes]}, severity=Severity.NOTE))
    for fp in side.patch.files:
        if fp.binary:
            not_analysed.append(f"{side.name} {fp.path} (binary)")
        elif not fp.is_c:
            not_analysed.append(f"{side.name} {fp.path} (not C)")
    return out


def _tree_findings(side: Side) -> list[Finding]:
    """Say loudly when a tree was given but does not match the patch."""
    if not side.has_tree:
        return []
    out: list[Finding] = []
    fuzzed: list[str] = []
    for fp in side.patch.files:
        if fp.binary or not fp.is_c or not fp.hunks:
            continue
        imgs = side.images(fp)
        if imgs is None:
            continue
        if imgs.problem:
            out.append(Finding("E001", f"{side.name} tree given, but {imgs.problem}: this file's placements come from "
                                       "the patch text (lower confidence)",
                               [Location(side.patch.path, fp.patch_line, detail=f"{side.name} patch, {fp.path}")],
                               data={"side": side.name, "file": fp.path, "tree": side.tree_label(),
                                     "problem": imgs.problem}))
            continue
        if imgs.missing:
            hunks = ", ".join(str(h) for h in imgs.missing)
            out.append(Finding("E001", f"{side.name} tree given, but hunk(s) {hunks} of {fp.path} do not match its copy "
                                       f"in {imgs.tree_label} ({imgs.tree_path}), even with fuzz: another revision? "
                                       "Those hunks are placed from the patch text (lower confidence)",
                               [Location(side.patch.path, fp.patch_line, detail=f"{side.name} patch, {fp.path}")],
                               data={"side": side.name, "file": fp.path, "tree": imgs.tree_label,
                                     "hunks_not_located": [f"hunk {h}" for h in imgs.missing]}))
        for index, loc in sorted(imgs.located.items()):
            if loc.fuzz:
                fuzzed.append(f"{fp.path} hunk {index} (fuzz {loc.fuzz}, offset {loc.offset:+d})")
    if fuzzed:
        out.append(Finding("E001", f"{side.name} tree: {len(fuzzed)} hunk(s) located only with fuzz (context lines "
                                   f"differ): {', '.join(fuzzed[:6])}" + (" ..." if len(fuzzed) > 6 else ""),
                           [Location(side.patch.path)], data={"side": side.name, "fuzzed": fuzzed},
                           severity=Severity.NOTE))
    return out


def _missing_hint(backport: Side, blk: Block, u: Placement) -> str:
    """Why an upstream block may be legitimately absent: its lines are already in the backport
    tree, or the definition it changes does not exist there."""
    if not backport.has_tree:
        return ""
    fp = next((f for f in backport.patch.files if same_file(f.path, blk.file.path)), None)
    choice = backport.choice(fp.message if fp else 0)
    tree = choice.post or choice.pre
    if tree is None:
        return ""
    text = None
    for path in dict.fromkeys(n for n in (blk.file.new_path, blk.file.old_path) if n):
        text = tree.read(path)
        if text is not None:
            break
    if text is None:
        return f" The backport tree has no {blk.file.path}."
    lines = [norm(x) for x in text.split("\n")]
    added = [norm(x) for x in blk.added_text() if norm(x)]
    if added and not blk.removed:
        n = len(added)
        head = added[0]
        for i, ln in enumerate(lines):
            if ln == head and [x for x in lines[i:i + 2 * n] if x][:n] == added:
                where = index_source(text).scope_at(i + 1).describe()
                return (f" Its added lines are already in the backport tree at {blk.file.path}:{i + 1} ({where}), "
                        "perhaps from an earlier backport.")
    fn = u.scope.container.name if u.scope and u.scope.container.kind == "function" else None
    if fn and u.evidence == EVIDENCE_TREE and not index_source(text).functions_named(fn):
        return f" The backport tree has no {fn}() in {blk.file.path} (renamed, or not present in that version)."
    return ""


def _split_unit_checks(pair: Pair, u: Placement, b: Placement, upstream: Side, backport: Side, ctx: Context,
                       rec: PairRecord) -> list[Finding]:
    """A unit of several blocks is judged by its first block's place; a later block of the unit
    that sits elsewhere (e.g. the start of the next function) gets its own P001/P002."""
    out: list[Finding] = []
    for side_unit, side, is_backport in ((pair.backport, backport, True), (pair.upstream, upstream, False)):
        for blk in side_unit.blocks[1:]:
            w = side.where(Unit([blk]))
            ref = b if is_backport else u
            if w.scope is not None and ref.scope is not None and \
                    w.scope.container == ref.scope.container:
                continue
            if is_backport:
                sub = Pair(pair.upstream, Unit([blk]), similarity(pair.upstream, Unit([blk]), pair.reversed),
                           pair.reversed)
                found, _ = compare_pair(sub, u, w, ctx, Unit([blk]))
            else:
                sub = Pair(Unit([blk]), pair.backport, similarity(Unit([blk]), pair.backport, pair.reversed),
                           pair.reversed)
                found, _ = compare_pair(sub, w, b, ctx)
            for f in found:
                if f.rule in ("P001", "P002") and f.rule not in rec.verdict:
                    out.append(f)
                    rec.verdict.append(f.rule)
    return out


_C_NOISE = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def _code_lines(lines: list[str]) -> list[str]:
    """The lines with comments (also multi-line ones) and string/char literals blanked."""
    return _C_NOISE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), "\n".join(lines)).split("\n")


def _names_used(code: list[str]) -> set[str]:
    """Identifiers the code lines use on their own (not `x.member`/`x->member` members)."""
    names: set[str] = set()
    for line in code:
        for m in re.finditer(r"[A-Za-z_]\w*", line):
            if not line[:m.start()].rstrip().endswith((".", "->")):
                names.add(m.group(0))
    return names


def _undeclared_locals(pair: Pair, u: Placement, b: Placement, upstream: Side, backport: Side) -> Finding | None:
    """P008: the backport's added lines use a name that upstream's function declares as its own
    (parameter or local variable) but that the backport's file neither declares in that function
    or at file scope after the patch, nor mentions anywhere before it. Such a line does not build
    (or binds to something from a header). Needs both trees: locals come from the parsed source."""
    if u.evidence != EVIDENCE_TREE or b.evidence != EVIDENCE_TREE or u.scope is None or b.scope is None:
        return None
    cu, cb = u.scope.container, b.scope.container
    if cu.kind != "function" or cb.kind != "function":
        return None
    fu, fb = pair.upstream.blocks[0].file, pair.backport.blocks[0].file
    iu, ib_post = upstream.index(fu, "post"), backport.index(fb, "post")
    b_images = backport.images(fb)
    pre_text = b_images.pre if b_images is not None else None  # only its words are needed, not a parse
    if iu is None or ib_post is None or pre_text is None:
        return None
    du, db = iu.functions_named(cu.name), ib_post.functions_named(cb.name)
    if not du or not db:
        return None
    added = [t for blk in pair.backport.blocks for t in blk.added_text()]
    code = _code_lines(added)
    used = _names_used(code)
    if not used:
        return None
    upstream_locals = iu.local_names(du[0])
    candidates = used & upstream_locals
    if not candidates:
        return None
    declared = ib_post.local_names(db[0]) | ib_post.file_scope_names()
    undeclared = candidates - declared
    if not undeclared:
        return None  # the common case: no need to tokenise the whole pre-image
    before = set(re.findall(r"[A-Za-z_]\w*", pre_text))
    unknown = sorted(n for n in undeclared if n not in before)
    if not unknown:
        return None
    names = ", ".join(f"`{n}`" for n in unknown)
    line = next((t.strip() for t, c in zip(added, code, strict=False) if _names_used([c]) & set(unknown)), "")
    msg = (f"the backport's hunk {b.hunk} of {b.path} uses {names} in {cb.describe()}: upstream's {cu.describe()} "
           f"declares {'them' if len(unknown) > 1 else 'it'} as its own (parameter or local variable), but the "
           f"backport's file declares no such name in {cb.describe()} or at file scope and never mentioned it "
           f"before the patch (`{line[:80]}`). Unless a header declares it, this does not build, or binds to "
           "something else. Both sides parsed with tree-sitter-c from source.")
    return Finding("P008", msg, [Location(b.path, b.line, detail=f"backport post-image: {cb.describe()}"),
                                 Location(b.patch_path, b.patch_line, detail=f"backport patch, hunk {b.hunk}"),
                                 Location(u.path, u.line, detail=f"upstream: {cu.describe()} declares it")],
                   data={"names": unknown, "upstream": side_data(u), "backport": side_data(b), "confidence": "high"},
                   fix=f"use the older tree's name for it (or declare it) in {cb.describe()}")


def _identical_hunks(pair: Pair) -> bool | None:
    """Same changed lines, same context, same @@ section text: without trees no evidence of a
    different place can exist, so the pair is not placed one by one (large series stay linear).
    None: not identical, place it. True: identical and the @@ header names a declaration (checked,
    the same). False: identical, but nothing in the patches says where (not checked)."""
    if pair.score < 0.999999 or pair.reversed or len(pair.upstream.blocks) != 1 or len(pair.backport.blocks) != 1:
        return None
    hu, hb = pair.upstream.blocks[0].hunk, pair.backport.blocks[0].hunk
    if hu.header.partition(" @@")[2] != hb.header.partition(" @@")[2] or hu.body != hb.body:
        return None
    if cached_header_scope(hu.section) is not None:
        return True
    # both sides would read the same hunk text: ask it once whether it shows a definition
    blk, idx = first_significant(pair.upstream)
    hunk_scope, _ = patch_scopes(blk, idx)
    return hunk_scope is not None


def _same_text_record(pair: Pair, checked: bool) -> PairRecord:
    def cheap(side: str, blk: Block) -> Placement:
        return Placement(side, blk.file.path, blk.file.patch_path, blk.patch_line, blk.hunk.index, None, None,
                         "identical hunk on both sides (lines, context and @@ text): the patches show no "
                         "difference of place")

    ub, bb = pair.upstream.blocks[0], pair.backport.blocks[0]
    rec = PairRecord(cheap("upstream", ub), cheap("backport", bb), [], confidence="low")
    if not checked:
        rec.notes.append("placement not checked: identical hunks, but no definition in the hunk text and no "
                         "declaration in the @@ header say where")
    return rec


def _context_lines(upstream: Side, backport: Side, groups: dict[int, int]) -> list[str]:
    rows: list[str] = []
    for side in (upstream, backport):
        msgs = sorted({fp.message for fp in side.patch.files})
        if side.has_tree:
            for m in msgs[:10]:
                choice = side.choice(m)
                what = choice.why or side.tree_label()
                subject = side.patch.messages[m].subject if m < len(side.patch.messages) else None
                label = f" [{subject[:50]}]" if subject and len(msgs) > 1 else ""
                rows.append(f"{side.name} source{label}: {what}")
        else:
            rows.append(f"{side.name} source: none given (placements from the patch text)")
        hows = sorted({h for msg in side.patch.messages for h in msg.how})
        for h in hows[:6]:
            rows.append(f"{side.name} input: {h}")
    if len(groups) > 1:
        rows.append(f"series: {len(groups)} message(s) paired by subject, commit id or [PATCH n/m]")
    return rows


# --- one file with thousands of unpaired blocks ---------------------------------------------------

MAX_ONE_SIDED_PER_FILE = 1000  # more unpaired blocks than this in one file: one finding for the file


def _crowded(blocks: list[Block]) -> dict[str, list[Block]]:
    """Files with more than MAX_ONE_SIDED_PER_FILE unpaired blocks (two unrelated patches, or a
    rework): reported as one finding per file, each block one of its locations. 50,000 separate
    findings of ~2 KiB each were 50x the patch in memory, and more results than GitHub code
    scanning takes from one SARIF run (25,000)."""
    per_file: dict[str, list[Block]] = {}
    for blk in blocks:
        per_file.setdefault(blk.file.path, []).append(blk)
    return {path: bs for path, bs in per_file.items() if len(bs) > MAX_ONE_SIDED_PER_FILE}


def _unreadable_in_backport(backport: Side, blk: Block) -> list[Problem]:
    return backport.patch.unreadable_hunks(blk.file.path) or [
        p for p in backport.patch.problems if p.severity == "error" and p.path and same_file(p.path, blk.file.path)]


def _unreadable_upstream(upstream: Side, blk: Block) -> list[Problem]:
    return [p for p in upstream.patch.problems if p.severity == "error" and p.path and same_file(p.path, blk.file.path)]


def _crowded_finding(rule: str, side: Side, path: str, blocks: list[Block], other_unreadable: bool) -> Finding:
    """P003/P004 for all of one file's unpaired blocks: each block is a location (its patch line,
    hunk, change and place), so every block is still listed in text, JSON and SARIF."""
    locations: list[Location] = []
    for blk in blocks:
        w = side.where(Unit([blk]))
        verb, what = describe_change(Unit([blk]))
        locations.append(Location(w.patch_path, w.patch_line,
                                  detail=f"{side.name} patch, hunk {w.hunk}: {verb} {what} in {place_text(w.scope)}"))
    n = len(blocks)
    if rule == "P003":
        msg = (f"{n} upstream hunks of {path} have no counterpart in the backport (more than "
               f"{MAX_ONE_SIDED_PER_FILE} in one file: one finding, each block a location below; are these two "
               "patches of the same change?)")
        fix = "apply the missing hunks, or record in the commit message why they do not apply"
    else:
        msg = (f"{n} of the backport's hunks of {path} change lines upstream does not (more than "
               f"{MAX_ONE_SIDED_PER_FILE} in one file: one finding, each block a location below; are these two "
               "patches of the same change?)")
        fix = "drop them, or explain the extra changes in the commit message ([ ... ] note)"
    if other_unreadable:
        msg += " Some may be in the other patch's unreadable hunk(s) of this file (see E001)."
    return Finding(rule, msg, locations, data={"file": path, "blocks": str(n), "grouped": True,
                                               "side": side.name}, fix=fix,
                   severity=Severity.NOTE if other_unreadable else None)


def check_backport(upstream: Side, backport: Side) -> Result:
    """Pair the two patches' C change blocks and report every disagreement (P001-P008)."""
    findings: list[Finding] = []
    not_analysed: list[str] = []
    for side in (upstream, backport):
        findings.extend(_input_findings(side, not_analysed))
    if not_analysed:
        findings.append(Finding(
            "E001", f"not analysed: {len(not_analysed)} file(s) that are binary or not C source: "
                    + ", ".join(not_analysed),
            [Location(upstream.patch.path), Location(backport.patch.path)],
            data={"not_analysed": not_analysed}, severity=Severity.NOTE))
    groups = pair_messages(upstream.patch, backport.patch)
    for i, j in groups.items():
        upstream.hint(i, [r for r in backport.patch.messages[j].refs if r.kind in ("upstream", "fixes")])
    if len(upstream.patch.messages) == 1 and not groups:
        for message in backport.patch.messages:
            upstream.hint(0, [r for r in message.refs if r.kind in ("upstream", "fixes")])
    for side in (upstream, backport):
        findings.extend(_tree_findings(side))
    ctx = Context(lambda w, k, n: _defines(upstream, w, k, n), lambda w, k, n: _defines(backport, w, k, n),
                  lambda u, b: _body_similarity(upstream, backport, u, b))
    ublocks = [b for b in upstream.patch.blocks() if b.file.is_c]
    bblocks = [b for b in backport.patch.blocks() if b.file.is_c]
    pairs, missing, extra = pair_blocks(ublocks, bblocks, groups)
    links, missing, extra = link_rewritten(missing, extra, ublocks, bblocks)
    records: list[PairRecord] = []
    trees = upstream.has_tree or backport.has_tree
    identical = 0
    unchecked_identical = 0
    kept = dropped = unplaced_dropped = 0
    for pair in pairs:
        verdict = _identical_hunks(pair) if not trees else None
        if verdict is not None:
            # only the first rows of these are ever listed: count the rest
            if identical < MAX_PAIR_ROWS:
                records.append(_same_text_record(pair, verdict))
            else:
                unchecked_identical += 0 if verdict else 1
            identical += 1
            continue
        u = upstream.where(pair.upstream)
        b = backport.where(pair.backport)
        found, rec = compare_pair(pair, u, b, ctx)
        findings.extend(found)
        findings.extend(_split_unit_checks(pair, u, b, upstream, backport, ctx, rec))
        undeclared = _undeclared_locals(pair, u, b, upstream, backport)
        if undeclared is not None:
            findings.append(undeclared)
            rec.verdict.append("P008")
        if rec.verdict or kept < MAX_PAIR_ROWS:
            records.append(rec)
            kept += 0 if rec.verdict else 1
        else:  # counted, not kept: a table row nobody reads costs memory on huge series
            dropped += 1
            unplaced_dropped += any(n.startswith("placement not checked") for n in rec.notes)
    for link in links:
        u = upstream.where(Unit([link.upstream]))
        b = backport.where(Unit([link.backport]))
        finding, rec = judge_link(link, u, b, ctx)
        findings.append(finding)
        records.append(rec)
    one_sided = uncounted_up = uncounted_bp = 0
    crowded_up = _crowded(missing)
    crowded_bp = _crowded(extra)
    for blk in missing:
        if blk.file.path in crowded_up:
            continue
        u = upstream.where(Unit([blk]))
        verb, what = describe_change(Unit([blk]))
        unreadable = _unreadable_in_backport(backport, blk)
        msg = (f"upstream hunk {blk.hunk.index} of {blk.file.path} {verb} {what} in {place_text(u.scope)}; the backport "
               "has no hunk with these changed lines.") + _missing_hint(backport, blk, u)
        severity = None
        if unreadable:
            msg += (f" The backport's copy may be in its unreadable hunk(s) of this file (line "
                    f"{', '.join(str(p.line) for p in unreadable[:3])}; see E001).")
            severity = Severity.NOTE
        findings.append(Finding("P003", msg, [Location(u.path, u.line, detail=f"upstream: {place_text(u.scope)}"),
                                              Location(u.patch_path, u.patch_line, detail=f"upstream patch, hunk {u.hunk}")],
                                data={"upstream": side_data(u), "lines": unit_lines(Unit([blk]))},
                                fix="apply the missing hunk, or record in the commit message why it does not apply",
                                severity=severity))
        if one_sided < MAX_PAIR_ROWS:
            records.append(PairRecord(u, None, ["P003"]))
        else:
            uncounted_up += 1
        one_sided += 1
    for blk in extra:
        if blk.file.path in crowded_bp:
            continue
        b = backport.where(Unit([blk]))
        verb, what = describe_change(Unit([blk]))
        unreadable_up = _unreadable_upstream(upstream, blk)
        msg = (f"the backport's hunk {blk.hunk.index} of {blk.file.path} {verb} {what} in {place_text(b.scope)}; "
               "upstream has no such change.")
        severity = None
        if unreadable_up:
            msg += " Upstream's copy may be in its unreadable hunk(s) of this file (see E001)."
            severity = Severity.NOTE
        findings.append(Finding("P004", msg, [Location(b.path, b.line, detail=f"backport: {place_text(b.scope)}"),
                                              Location(b.patch_path, b.patch_line, detail=f"backport patch, hunk {b.hunk}")],
                                data={"backport": side_data(b), "lines": unit_lines(Unit([blk]))},
                                fix="drop it, or explain the extra change in the commit message ([ ... ] note)",
                                severity=severity))
        if one_sided < MAX_PAIR_ROWS:
            records.append(PairRecord(None, b, ["P004"]))
        else:
            uncounted_bp += 1
        one_sided += 1
    for path, blocks in crowded_up.items():
        findings.append(_crowded_finding("P003", upstream, path, blocks, bool(_unreadable_in_backport(backport,
                                                                                                      blocks[0]))))
        uncounted_up += len(blocks)
    for path, blocks in crowded_bp.items():
        findings.append(_crowded_finding("P004", backport, path, blocks, bool(_unreadable_upstream(upstream,
                                                                                                   blocks[0]))))
        uncounted_bp += len(blocks)
    unplaced = unchecked_identical + unplaced_dropped + sum(1 for r in records if any(n.startswith("placement not checked")
                                                                    for n in r.notes))
    if unplaced:
        findings.append(Finding(
            "E001", f"placement of {unplaced} paired change block(s) not checked: no comparable evidence of where "
                    "they sit (no tree, no definition in the hunk text, no declaration in the @@ header — plain "
                    "`diff -u`?); use `git diff`/`diff -up`, or pass --upstream-tree/--backport-tree",
            [Location(upstream.patch.path), Location(backport.patch.path)],
            data={"unplaced_pairs": str(unplaced)}, severity=Severity.NOTE))
    return Result(findings, records, len(pairs) + len(links), not_analysed,
                  _context_lines(upstream, backport, groups), max(0, identical - MAX_PAIR_ROWS) + dropped,
                  uncounted_up, uncounted_bp)
