"""Compare an upstream patch with its backport, hunk by hunk: P001-P005.

Library entry point: :func:`check_backport`. Each paired unit's context on both sides comes from
:mod:`.context`; this module decides what disagrees and explains it in one paragraph.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from hvcheck.backport.context import CASE_LABEL, LINE_HEAD, Side, Where
from hvcheck.backport.cscope import Function
from hvcheck.backport.pairing import Pair, Unit, norm, pair_blocks, similarity
from hvcheck.backport.patchfile import Block
from hvcheck.findings import Finding, Location, Severity, declare_rule

# The rules this module emits (hvcheck.findings registry; docs in hvcheck/docs/rules/).
declare_rule("P001", "a hunk landed in a different function than upstream", Severity.ERROR, "backport")
declare_rule("P002", "a hunk landed in a different switch/dispatcher context than upstream", Severity.ERROR, "backport")
declare_rule("P003", "an upstream hunk is missing from the backport", Severity.WARNING, "backport")
declare_rule("P004", "the backport changes lines upstream does not", Severity.WARNING, "backport")
declare_rule("P005", "a hunk's content differs from upstream", Severity.WARNING, "backport")

RENAME_MIN_SIMILARITY = 0.6
SWITCH_MIN_JACCARD = 0.5

# Which file descriptor each KVM dispatcher serves (Documentation/virt/kvm/api.rst, "ioctl classes").
DISPATCHER_ROLES = {
    "kvm_dev_ioctl": "system ioctls on /dev/kvm",
    "kvm_arch_dev_ioctl": "system ioctls on /dev/kvm",
    "kvm_vm_ioctl": "VM ioctls on the VM fd",
    "kvm_arch_vm_ioctl": "VM ioctls on the VM fd",
    "kvm_vm_compat_ioctl": "VM ioctls on the VM fd (compat)",
    "kvm_vcpu_ioctl": "vCPU ioctls on the vCPU fd",
    "kvm_arch_vcpu_ioctl": "vCPU ioctls on the vCPU fd",
    "kvm_arch_vcpu_async_ioctl": "vCPU ioctls on the vCPU fd (async)",
    "kvm_device_ioctl": "device ioctls on a KVM device fd",
}


@dataclass
class PairRecord:
    """One row of the comparison table (text preamble and JSON `pairs`)."""

    upstream: Where | None
    backport: Where | None
    verdict: list[str]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def side(w: Where | None) -> dict[str, Any] | None:
            if w is None:
                return None
            return _side_data(w)
        return {"upstream": side(self.upstream), "backport": side(self.backport), "verdict": self.verdict,
                "notes": self.notes}


@dataclass
class Result:
    findings: list[Finding]
    pairs: list[PairRecord]
    compared: int
    not_analysed: list[str]

    def preamble(self) -> str:
        rows = [f"paired {sum(1 for p in self.pairs if p.upstream and p.backport)} change block(s); "
                f"{sum(1 for p in self.pairs if not p.backport)} upstream-only, "
                f"{sum(1 for p in self.pairs if not p.upstream)} backport-only"]
        for p in self.pairs:
            u = _short(p.upstream)
            b = _short(p.backport)
            verdict = " ".join(p.verdict) if p.verdict else "same place"
            rows.append(f"  {u:<52} -> {b:<52} {verdict}")
            for note in p.notes:
                rows.append(f"      note: {note}")
        if self.not_analysed:
            rows.append("not analysed: " + ", ".join(self.not_analysed))
        return "\n".join(rows) + "\n"

    def extra(self) -> dict[str, Any]:
        return {"backport": {"pairs": [p.to_json() for p in self.pairs], "not_analysed": self.not_analysed}}


def _short(w: Where | None) -> str:
    if w is None:
        return "(none)"
    where = w.context.function_name or "file scope"
    if w.context.function and not where.endswith(")"):
        where += "()"
    if not w.from_tree:
        return f"{w.patch_path.rsplit('/', 1)[-1]}:{w.patch_line} {where} (patch context)"
    return f"{w.path}:{w.line} {where}"


def _fn(w: Where) -> str:
    name = w.context.function_name
    if not name:
        return "file scope"
    return name if name.endswith(")") else f"{name}()"


def _role(name: str | None) -> str:
    role = DISPATCHER_ROLES.get((name or "").split("(")[0])
    return f" ({role})" if role else ""


def _labels(lines: list[str]) -> list[str]:
    out = []
    for text in lines:
        m = CASE_LABEL.match(text, 0, LINE_HEAD)
        if m and m.group(3):
            out.append(f"case {norm(m.group(3))}")
    return out


def describe_change(unit: Unit) -> tuple[str, str]:
    """(verb phrase, object) e.g. ("adds", "`case KVM_GET_DEVICE_ATTR`")."""
    added = [ln.text for b in unit.blocks for ln in b.added if norm(ln.text)]
    removed = [ln.text for b in unit.blocks for ln in b.removed if norm(ln.text)]
    labels = _labels(added)
    if labels:
        return "adds", " and ".join(f"`{lab}`" for lab in labels)
    if added and removed:
        return "changes", f"`{norm(removed[0])}` to `{norm(added[0])}`" + _more(len(added) + len(removed) - 2)
    if added:
        return "adds", f"`{norm(added[0])}`" + _more(len(added) - 1)
    return "removes", f"`{norm(removed[0])}`" + _more(len(removed) - 1)


def _more(n: int) -> str:
    return f" (+{n} more line{'s' if n != 1 else ''})" if n > 0 else ""


def _place(w: Where) -> str:
    ctx = w.context
    if ctx.switch is not None and ctx.switch.condition not in ("", "?"):
        return f"the switch ({ctx.switch.condition}) in {_fn(w)}{_role(ctx.function_name)}"
    if ctx.switch is not None:
        return f"a switch in {_fn(w)}{_role(ctx.function_name)}"
    return f"{_fn(w)}{_role(ctx.function_name)}"


def _body_similarity(a: Function, b: Function) -> float:
    la = [norm(x) for x in a.body.splitlines() if norm(x)]
    lb = [norm(x) for x in b.body.splitlines() if norm(x)]
    if not la or not lb:
        return 0.0
    sm = SequenceMatcher(None, la, lb, autojunk=False)
    if sm.real_quick_ratio() < RENAME_MIN_SIMILARITY:
        return sm.real_quick_ratio()
    return sm.ratio()


def _defines(w: Where, name: str) -> Function | None:
    """The side's function called ``name`` (post-image first: it is usually parsed already)."""
    for which in ("post", "pre"):
        idx = w.post_index if which == "post" else w.pre_index
        if idx is not None:
            found = idx.functions_named(name)
            if found:
                return found[0]
    return None


def _rename(u: Where, b: Where) -> tuple[bool, float]:
    """Is the backport's function the upstream one under an older/newer name? Only when neither
    name exists on the other side and the bodies are similar."""
    if not (u.from_tree and b.from_tree and u.context.function and b.context.function):
        return False, 0.0
    un, bn = u.context.function.name, b.context.function.name
    if _defines(b, un) is not None or _defines(u, bn) is not None:
        return False, 0.0
    # compare the functions as they were before the patch where they existed
    uf = (u.pre_index.functions_named(un) if u.pre_index else []) or [u.context.function]
    bf = (b.pre_index.functions_named(bn) if b.pre_index else []) or [b.context.function]
    sim = _body_similarity(uf[0], bf[0])
    return sim >= RENAME_MIN_SIMILARITY, sim


def _same_name(u: str | None, b: str | None) -> bool:
    """Names equal, allowing for quilt's truncated headers (marked with a trailing ellipsis)."""
    if u == b:
        return True
    if not u or not b:
        return False
    ut, bt = u.rstrip("…"), b.rstrip("…")
    if u.endswith("…") and bt.startswith(ut):
        return True
    return b.endswith("…") and ut.startswith(bt)


def _anchor(block: Block) -> list[str]:
    return [norm(ln.text) for ln in block.before if norm(ln.text)][-2:]


def _locations(u: Where, b: Where) -> list[Location]:
    return [
        Location(u.path, u.line if u.from_tree else None,
                 detail=f"upstream {u.image if u.from_tree else 'patch context'}: {u.context.describe()}"),
        Location(b.path, b.line if b.from_tree else None,
                 detail=f"backport {b.image if b.from_tree else 'patch context'}: {b.context.describe()}"),
        Location(u.patch_path, u.patch_line, detail=f"upstream patch, hunk {u.hunk}"),
        Location(b.patch_path, b.patch_line, detail=f"backport patch, hunk {b.hunk}"),
    ]


def _confidence(u: Where, b: Where) -> str:
    return "high" if u.from_tree and b.from_tree else "low"


def _confidence_text(u: Where, b: Where) -> str:
    if u.from_tree and b.from_tree:
        return "Confidence high: both contexts resolved with tree-sitter-c from source."
    missing = [w.side for w in (u, b) if not w.from_tree]
    return (f"Confidence low: the {' and '.join(missing)} context comes from the patch's own hunk text and @@ "
            "header (headers can be truncated or name the previous function); pass --upstream-tree/"
            "--backport-tree or --repo to resolve it from source.")


def _side_data(w: Where) -> dict[str, Any]:
    ctx = w.context
    # positions are "path:line" strings: JSON renders integers in data as hex (DESIGN.md §3)
    return {"path": w.path, "at": f"{w.path}:{w.line}" if w.from_tree else None, "image": w.image,
            "function": ctx.function_name, "switch": ctx.switch.condition if ctx.switch else None,
            "case": ctx.case, "sibling_cases": sorted(ctx.switch.cases) if ctx.switch else [],
            "patch": f"{w.patch_path}:{w.patch_line}", "hunk": f"hunk {w.hunk}", "basis": w.basis}


def compare_pair(pair: Pair, u: Where, b: Where, part: Unit | None = None) -> tuple[list[Finding], PairRecord]:
    """``part``: only this piece of one side's unit is being placed (a split hunk)."""
    findings: list[Finding] = []
    record = PairRecord(u, b, [])
    verb, what = describe_change(pair.upstream)
    identical = pair.score >= 0.999999 and not pair.reversed and part is None
    it = "it"
    if part is not None:
        it = f"part of it ({describe_change(part)[1]})"
    if u.path != b.path:
        record.notes.append(f"file differs: upstream {u.path}, backport {b.path} (renamed or moved between versions)")
    base = {"upstream": _side_data(u), "backport": _side_data(b), "confidence": _confidence(u, b),
            "similarity": round(pair.score, 3)}
    un, bn = u.context.function_name, b.context.function_name
    placed = u.context.known and b.context.known
    if not placed:
        record.notes.append("enclosing function unknown on the " + " and ".join(
            w.side for w in (u, b) if not w.context.known) + " side (no source tree, no function name in the @@ "
            "header, no signature in the hunk): placement not checked")
    function_differs = placed and not _same_name(un, bn)
    if function_differs:
        renamed, sim = _rename(u, b)
        if renamed:
            record.notes.append(f"function renamed between versions: upstream {_fn(u)} ≈ backport {_fn(b)} "
                                f"(bodies {sim:.0%} similar, neither name exists on the other side); "
                                "treated as the same function")
            function_differs = False
        elif b.from_tree and un and _defines(b, un) is not None:
            target = _defines(b, un)
            assert target is not None
            base["backport_has_upstream_function_at"] = f"{b.path}:{target.start}"
    if function_differs and (un or bn):
        anchor = _anchor(pair.upstream.blocks[0])
        anchor_note = ""
        if anchor and b.from_tree and b.context.function:
            body = {norm(x) for x in b.context.function.body.splitlines()}
            if all(a in body for a in anchor):
                anchor_note = (f" The hunk's leading context (`{anchor[-1]}`) also occurs in {_fn(b)}, which is "
                               "how it applied there.")
        same_lines = (" The changed lines are identical, so `git patch-id`/`git cherry` consider the backport "
                      "already applied." if identical else "")
        explanation = (f"upstream {verb} {what} to {_place(u)}; the backport {verb} {it} to {_place(b)}."
                       f"{anchor_note}{same_lines} {_confidence_text(u, b)}")
        fix = f"move the lines into {_fn(u)}"
        if "backport_has_upstream_function_at" in base:
            fix += f" ({base['backport_has_upstream_function_at']} in the backport tree before the patch)"
        findings.append(Finding(
            "P001", explanation, _locations(u, b), data={**base, "explanation": explanation}, fix=fix))
        record.verdict.append("P001")
    p002 = _switch_difference(u, b, pair) if placed else None
    if p002:
        explanation = f"upstream {verb} {what} in {p002[0]}; the backport does it in {p002[1]}. {_confidence_text(u, b)}"
        findings.append(Finding("P002", explanation, _locations(u, b),
                                data={**base, "explanation": explanation, "switch_difference": p002[2]},
                                fix=f"move the lines into the switch ({u.context.switch.condition if u.context.switch else '?'}) "
                                    f"of {_fn(u)}"))
        record.verdict.append("P002")
    content = _content_difference(pair)
    if content:
        msg = f"{content} In {_fn(b)} ({b.path}); upstream: {_fn(u)} ({u.path})."
        findings.append(Finding("P005", msg, _locations(u, b),
                                data={**base, "upstream_lines": _lines(pair.upstream),
                                      "backport_lines": _lines(pair.backport), "reversed": pair.reversed}))
        record.verdict.append("P005")
    if not record.verdict and u.from_tree and b.from_tree and u.context.function and b.context.function:
        ou = u.line - u.context.function.start
        ob = b.line - b.context.function.start
        if abs(ou - ob) > 3:
            record.notes.append(f"placed {ob} lines into {_fn(b)} vs {ou} upstream: moved within the same "
                                "function, not an error")
    return findings, record


def _lines(unit: Unit) -> list[str]:
    return [f"-{norm(ln.text)}" for b in unit.blocks for ln in b.removed if norm(ln.text)] + \
        [f"+{norm(ln.text)}" for b in unit.blocks for ln in b.added if norm(ln.text)]


def _content_difference(pair: Pair) -> str | None:
    u, b = pair.upstream, pair.backport
    if pair.reversed:
        return ("The backport reverses upstream's change: it adds what upstream removes and removes what upstream "
                f"adds ({len(u.added())} added / {len(u.removed())} removed upstream).")
    ur, ua, br, ba = u.removed(), u.added(), b.removed(), b.added()
    if ur == br and ua == ba:
        return None
    missing = [f"-{x}" for x in (Counter(ur) - Counter(br)).elements()] + \
        [f"+{x}" for x in (Counter(ua) - Counter(ba)).elements()]
    extra = [f"-{x}" for x in (Counter(br) - Counter(ur)).elements()] + \
        [f"+{x}" for x in (Counter(ba) - Counter(ua)).elements()]
    if not missing and not extra:
        return "The backport has upstream's changed lines in a different order."
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} upstream line(s): {', '.join(f'`{x}`' for x in missing[:3])}"
                     + (" ..." if len(missing) > 3 else ""))
    if extra:
        parts.append(f"{len(extra)} line(s) upstream does not have: {', '.join(f'`{x}`' for x in extra[:3])}"
                     + (" ..." if len(extra) > 3 else ""))
    kind = "partially applied" if missing and not extra else "different lines"
    return f"The backport's hunk differs from upstream ({kind}): " + "; ".join(parts) + "."


def _switch_difference(u: Where, b: Where, pair: Pair) -> tuple[str, str, dict[str, Any]] | None:
    su, sb = u.context.switch, b.context.switch
    if su is None and sb is None:
        return None
    own = set(_labels([ln.text for blk in pair.upstream.blocks + pair.backport.blocks
                       for ln in blk.added + blk.removed]))
    if (su is None) != (sb is None):
        if not (u.from_tree and b.from_tree):
            return None  # the patch text may simply not show the switch line
        inside, outside = (u, b) if su else (b, u)
        desc_in = f"the switch ({inside.context.switch.condition}) of {_fn(inside)}"  # type: ignore[union-attr]
        desc_out = f"{_fn(outside)} outside any switch"
        pair_desc = (desc_in, desc_out) if su else (desc_out, desc_in)
        return pair_desc[0], pair_desc[1], {"upstream_in_switch": su is not None}
    assert su is not None and sb is not None
    cu, cb = su.cases - own, sb.cases - own
    jacc = len(cu & cb) / len(cu | cb) if (cu | cb) else 1.0
    cond_differs = su.condition not in ("", "?") and sb.condition not in ("", "?") and su.condition != sb.condition
    data = {"upstream_switch": su.condition, "backport_switch": sb.condition,
            "upstream_cases": sorted(cu), "backport_cases": sorted(cb), "common_cases": sorted(cu & cb),
            "jaccard": round(jacc, 3)}
    complete = u.from_tree and b.from_tree  # from patch text only part of the case list is visible
    if cond_differs or (complete and jacc < SWITCH_MIN_JACCARD):
        du = f"the switch ({su.condition}) of {_fn(u)}{_role(u.context.function_name)} ({_case_summary(cu, cb)})"
        db = f"the switch ({sb.condition}) of {_fn(b)}{_role(b.context.function_name)} ({_case_summary(cb, cu)})"
        return du, db, data
    cu_case, cb_case = u.context.case, b.context.case
    if cu_case and cb_case and cu_case != cb_case and cu_case not in own and cb_case not in own:
        return (f"{cu_case} of the switch ({su.condition}) in {_fn(u)}",
                f"{cb_case} of the switch ({sb.condition}) in {_fn(b)}", {**data, "upstream_case": cu_case,
                                                                          "backport_case": cb_case})
    return None


def _case_summary(mine: set[str] | frozenset[str], other: set[str] | frozenset[str]) -> str:
    only = sorted(mine - other)
    common = len(mine & other)
    shown = ", ".join(only[:4]) + (" ..." if len(only) > 4 else "")
    return f"{len(mine)} other cases, {common} shared" + (f"; e.g. {shown}" if shown else "")


def _missing_hint(backport: Side, blk: Block, u: Where) -> str:
    """Why an upstream block may be legitimately absent: its lines are already in the backport
    tree, or the function it changes does not exist there."""
    if not backport.has_tree:
        return ""
    from hvcheck.backport.cscope import index_source

    tree = backport.post_tree or backport.pre_tree
    assert tree is not None
    text = None
    for name in dict.fromkeys(n for n in (blk.file.new_path, blk.file.old_path) if n):
        text = tree.read(name)
        if text is not None:
            break
    if text is None:
        return f" The backport tree has no {blk.file.path}."
    lines = [norm(x) for x in text.split("\n")]
    added = [norm(ln.text) for ln in blk.added if norm(ln.text)]
    if added and not blk.removed:
        n = len(added)
        for i in range(len(lines) - n + 1):
            if lines[i:i + n] == added:
                fn = index_source(text).function_at(i + 1)
                where = f"{fn.name}()" if fn else "file scope"
                return (f" Its added lines are already in the backport tree at {blk.file.path}:{i + 1} ({where}), "
                        "perhaps from an earlier backport.")
    name = u.context.function_name
    if name and u.from_tree and not index_source(text).functions_named(name):
        return f" The backport tree has no {name}() in {blk.file.path} (renamed, or not present in that version)."
    return ""


def _split_unit_checks(pair: Pair, u: Where, b: Where, upstream: Side, backport: Side,
                       rec: PairRecord) -> list[Finding]:
    """A unit of several blocks is judged by its first block's context; a later block of the unit
    that sits in another function (e.g. the start of the next function) gets its own P001/P002."""
    out: list[Finding] = []
    for side_unit, side, other, is_backport in ((pair.backport, backport, u, True), (pair.upstream, upstream, b, False)):
        for blk in side_unit.blocks[1:]:
            w = side.where(Unit([blk]))
            if w.context.function_name == (b if is_backport else u).context.function_name:
                continue
            if is_backport:
                sub = Pair(pair.upstream, Unit([blk]), similarity(pair.upstream, Unit([blk]), pair.reversed),
                           pair.reversed)
                found, _ = compare_pair(sub, other, w, Unit([blk]))
            else:
                sub = Pair(Unit([blk]), pair.backport, similarity(Unit([blk]), pair.backport, pair.reversed),
                           pair.reversed)
                found, _ = compare_pair(sub, w, other)
            for f in found:
                if f.rule in ("P001", "P002") and f.rule not in rec.verdict:
                    out.append(f)
                    rec.verdict.append(f.rule)
    return out


def check_backport(upstream: Side, backport: Side) -> Result:
    """Pair the two patches' C change blocks and report every disagreement (P001-P005)."""
    findings: list[Finding] = []
    not_analysed: list[str] = []
    for side in (upstream, backport):
        for line, what in side.patch.problems:
            findings.append(Finding("E001", f"{side.name} patch: {what}; this file's hunks were not compared",
                                    [Location(side.patch.path, line)], data={"what": what, "side": side.name}))
        for fp in side.patch.files:
            if fp.binary:
                not_analysed.append(f"{side.name} {fp.path} (binary)")
            elif not fp.is_c:
                not_analysed.append(f"{side.name} {fp.path} (not C)")
    if not_analysed:
        findings.append(Finding(
            "E001", f"not analysed: {len(not_analysed)} file(s) that are binary or not C source: "
                    + ", ".join(not_analysed),
            [Location(upstream.patch.path), Location(backport.patch.path)],
            data={"not_analysed": not_analysed}, severity=Severity.NOTE))
    ublocks = [b for b in upstream.patch.blocks() if b.file.is_c]
    bblocks = [b for b in backport.patch.blocks() if b.file.is_c]
    pairs, missing, extra = pair_blocks(ublocks, bblocks)
    records: list[PairRecord] = []
    for pair in pairs:
        u = upstream.where(pair.upstream)
        b = backport.where(pair.backport)
        f, rec = compare_pair(pair, u, b)
        findings.extend(f)
        records.append(rec)
        findings.extend(_split_unit_checks(pair, u, b, upstream, backport, rec))
    for blk in missing:
        u = upstream.where(Unit([blk]))
        verb, what = describe_change(Unit([blk]))
        msg = (f"upstream hunk {blk.hunk.index} of {blk.file.path} {verb} {what} in {_place(u)}; the backport has no "
               "hunk with these changed lines.") + _missing_hint(backport, blk, u)
        findings.append(Finding("P003", msg, [Location(u.path, u.line if u.from_tree else None,
                                                       detail=f"upstream: {u.context.describe()}"),
                                              Location(u.patch_path, u.patch_line, detail=f"upstream patch, hunk {u.hunk}")],
                                data={"upstream": _side_data(u), "lines": _lines(Unit([blk]))},
                                fix="apply the missing hunk, or record in the commit message why it does not apply"))
        records.append(PairRecord(u, None, ["P003"]))
    for blk in extra:
        b = backport.where(Unit([blk]))
        verb, what = describe_change(Unit([blk]))
        msg = (f"the backport's hunk {blk.hunk.index} of {blk.file.path} {verb} {what} in {_place(b)}; upstream "
               "has no such change.")
        findings.append(Finding("P004", msg, [Location(b.path, b.line if b.from_tree else None,
                                                       detail=f"backport: {b.context.describe()}"),
                                              Location(b.patch_path, b.patch_line, detail=f"backport patch, hunk {b.hunk}")],
                                data={"backport": _side_data(b), "lines": _lines(Unit([blk]))},
                                fix="drop it, or explain the extra change in the commit message ([ ... ] note)"))
        records.append(PairRecord(None, b, ["P004"]))
    unplaced = sum(1 for r in records if any(n.startswith("enclosing function unknown") for n in r.notes))
    if unplaced:
        findings.append(Finding(
            "E001", f"placement of {unplaced} paired change block(s) not checked: the patches' @@ headers name no "
                    "function (plain `diff -u`?) and no source tree was given; use `git diff`/`diff -up`, or pass "
                    "--upstream-tree/--backport-tree",
            [Location(upstream.patch.path), Location(backport.patch.path)],
            data={"unplaced_pairs": str(unplaced)}, severity=Severity.NOTE))
    return Result(findings, records, len(pairs), not_analysed)
