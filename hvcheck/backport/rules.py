"""The backport rules P001-P007: judge where a paired change sits on both sides and what it says.

Pure judgement over model objects (placements, scopes, units): nothing here reads a file. Scopes
are compared only at one evidence level both sides have — two parsed trees, a tree and a
definition visible in the hunk, or two `@@` headers — never a parsed scope with a header name.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher, unified_diff
from typing import Any

from hvcheck.backport.model import (
    CASE_LABEL,
    EVIDENCE_HEADER,
    EVIDENCE_HUNK,
    EVIDENCE_TREE,
    LINE_HEAD,
    Block,
    Placement,
    Scope,
    ScopePart,
)
from hvcheck.backport.pairing import Link, Pair, Unit, norm
from hvcheck.findings import Finding, Location, Severity, declare_rule

declare_rule("P001", "a hunk landed in a different function than upstream", Severity.ERROR, "backport")
declare_rule("P002", "a hunk landed in a different switch/dispatcher context than upstream", Severity.ERROR, "backport")
declare_rule("P003", "an upstream hunk is missing from the backport", Severity.WARNING, "backport")
declare_rule("P004", "the backport changes lines upstream does not", Severity.WARNING, "backport")
declare_rule("P005", "a hunk's content differs from upstream", Severity.WARNING, "backport")
declare_rule("P006", "a hunk was moved to another function and rewritten", Severity.ERROR, "backport")
declare_rule("P007", "a hunk landed under a different #if/#ifdef condition than upstream", Severity.WARNING,
             "backport")
declare_rule("P008", "the backport uses a local name that its function in the older tree does not declare",
             Severity.WARNING, "backport")

RENAME_MIN_SIMILARITY = 0.6
SWITCH_MIN_JACCARD = 0.5
MAX_DIFF_LINES = 40  # lines of the moved-and-rewritten diff kept in a finding

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


# --- what the sides know ------------------------------------------------------------------------

@dataclass
class Basis:
    """The evidence level at which two placements are compared, and the confidence that gives."""

    level: str | None  # EVIDENCE_* or None: not comparable
    upstream: Scope | None
    backport: Scope | None
    confidence: str  # "high", "medium", "low"
    reason: str


def _header_trustworthy(w: Placement) -> bool:
    """A side's @@ header may be compared only if nothing stronger contradicts it."""
    if w.header_scope is None:
        return False
    strong = w.scope if w.evidence in (EVIDENCE_TREE, EVIDENCE_HUNK) else None
    if strong is None:
        return True
    return same_container(strong.container, w.header_scope.container)


def comparison_basis(u: Placement, b: Placement) -> Basis:
    def parsed(w: Placement) -> Scope | None:
        if w.evidence == EVIDENCE_TREE:
            return w.scope
        return w.hunk_scope

    if u.evidence == EVIDENCE_TREE and b.evidence == EVIDENCE_TREE:
        assert u.scope is not None and b.scope is not None
        drift = [f"{w.side} hunk located with {w.located}" for w in (u, b) if w.located]
        drift += [n for w in (u, b) for n in w.notes if n.startswith("tree:")]
        if drift:
            return Basis(EVIDENCE_TREE, u.scope, b.scope, "medium",
                         "both sides parsed with tree-sitter-c from source, but " + "; ".join(drift))
        return Basis(EVIDENCE_TREE, u.scope, b.scope, "high",
                     "both sides parsed with tree-sitter-c from source whose pre-images match the hunks exactly")
    pu, pb = parsed(u), parsed(b)
    if pu is not None and pb is not None:
        how = {w.side: ("parsed from its tree" if w.evidence == EVIDENCE_TREE else
                        "from a definition visible in the hunk text") for w in (u, b)}
        return Basis(EVIDENCE_HUNK, pu, pb, "medium",
                     f"upstream {how['upstream']}, backport {how['backport']}")
    if _header_trustworthy(u) and _header_trustworthy(b):
        return Basis(EVIDENCE_HEADER, u.header_scope, b.header_scope, "low",
                     "both sides from the @@ headers' text (headers can be truncated or name the previous "
                     "definition); give --upstream-tree/--backport-tree to resolve it from source")
    missing = [w.side for w in (u, b) if parsed(w) is None and not _header_trustworthy(w)]
    return Basis(None, pu or u.header_scope, pb or b.header_scope, "low",
                 f"no comparable evidence: the {' and '.join(missing) or 'two'} side(s) have no tree, no definition "
                 "in the hunk text and no declaration in the @@ header (or only evidence of different kinds, "
                 "which are never compared)")


def same_name(u: str | None, b: str | None) -> bool:
    """Names equal, allowing for quilt's truncated headers (marked with a trailing ellipsis)."""
    if u == b:
        return True
    if not u or not b:
        return False
    ut, bt = u.rstrip("…"), b.rstrip("…")
    if u.endswith("…") and bt.startswith(ut):
        return True
    return b.endswith("…") and ut.startswith(bt)


def same_container(a: ScopePart, b: ScopePart) -> bool:
    if a.kind == "file" and b.kind == "file":
        return True
    return a.kind == b.kind and same_name(a.name, b.name)


def _role(name: str | None) -> str:
    role = DISPATCHER_ROLES.get((name or "").split("(")[0])
    return f" ({role})" if role else ""


def place_text(scope: Scope | None) -> str:
    """Where a change sits, for messages: container, switch and member (the case arm is left to
    P002, which names it when it matters) and conditions."""
    if scope is None:
        return "an unknown place"
    c = scope.container
    brief = Scope(tuple(p for p in scope.parts if p.kind != "case"), scope.conditions, scope.cases)
    text = brief.describe()
    return text + _role(c.name) if c.kind == "function" else text


def _labels(lines: list[str]) -> list[str]:
    out = []
    for text in lines:
        m = CASE_LABEL.match(text, 0, LINE_HEAD)
        if m and m.group(3):
            out.append(f"case {norm(m.group(3))}")
    return out


def describe_change(unit: Unit) -> tuple[str, str]:
    """(verb phrase, object) e.g. ("adds", "`case KVM_GET_DEVICE_ATTR`")."""
    added = [x for b in unit.blocks for x in b.added_text() if norm(x)]
    removed = [x for b in unit.blocks for x in b.removed_text() if norm(x)]
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


def side_data(w: Placement) -> dict[str, Any]:
    scope = w.scope
    switch = scope.innermost("switch") if scope else None
    case = scope.innermost("case") if scope else None
    return {"path": w.path, "at": f"{w.path}:{w.line}" if w.line is not None else None, "image": w.image,
            "function": scope.function_name if scope else None,
            "scope": scope.describe() if scope else None,
            "scope_parts": [{"kind": p.kind, "name": p.name} for p in scope.parts] if scope else [],
            "conditions": list(scope.conditions) if scope else [],
            "switch": switch.name if switch else None, "case": case.name if case else None,
            "sibling_cases": sorted(scope.cases) if scope else [],
            "evidence": w.evidence, "located": w.located or None,
            "header_scope": w.header_scope.describe() if w.header_scope else None,
            "patch": f"{w.patch_path}:{w.patch_line}", "hunk": f"hunk {w.hunk}", "basis": w.basis}


def locations(u: Placement, b: Placement) -> list[Location]:
    def where(w: Placement) -> Location:
        what = f"{w.side} {w.image if w.line is not None else 'patch text'}: {place_text(w.scope)}"
        return Location(w.path, w.line, detail=what)

    return [where(u), where(b),
            Location(u.patch_path, u.patch_line, detail=f"upstream patch, hunk {u.hunk}"),
            Location(b.patch_path, b.patch_line, detail=f"backport patch, hunk {b.hunk}")]


# --- the comparison --------------------------------------------------------------------------------

@dataclass
class Context:
    """What the rules may ask of the sides beyond the two placements: does a definition exist in
    a side's images (rename and 'could the backport have put it there' checks)."""

    upstream_defines: Any  # Callable[[Placement, str, str], int | None]: line of a kind/name definition
    backport_defines: Any
    bodies: Any  # Callable[[Placement, Placement], float | None]: body similarity of the two containers


@dataclass
class PairRecord:
    """One row of the comparison table (text preamble and JSON `pairs`)."""

    upstream: Placement | None
    backport: Placement | None
    verdict: list[str]
    notes: list[str] = field(default_factory=list)
    confidence: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"upstream": side_data(self.upstream) if self.upstream else None,
                "backport": side_data(self.backport) if self.backport else None,
                "verdict": self.verdict, "notes": self.notes, "confidence": self.confidence}


def compare_pair(pair: Pair, u: Placement, b: Placement, ctx: Context, part: Unit | None = None
                 ) -> tuple[list[Finding], PairRecord]:
    """P001/P002/P007 for where the pair sits, P005 for what it says. ``part``: only this piece of
    one side's unit is being placed (a split hunk)."""
    findings: list[Finding] = []
    basis = comparison_basis(u, b)
    record = PairRecord(u, b, [], confidence=basis.confidence)
    identical = pair.score >= 0.999999 and not pair.reversed and part is None
    if u.path != b.path:
        record.notes.append(f"file differs: upstream {u.path}, backport {b.path} (renamed or moved between versions)")
    # the data of a finding is built only when there is a finding (most pairs have none)
    base: dict[str, Any] = {"confidence": basis.confidence, "confidence_reason": basis.reason,
                            "compared_at": basis.level, "similarity": round(pair.score, 3)}
    content = _content_difference(pair)
    if basis.level is None or basis.upstream is None or basis.backport is None:
        record.notes.append("placement not checked: " + basis.reason)
    else:
        su, sb = basis.upstream, basis.backport
        moved = _container_differs(su, sb, u, b, basis, ctx, record, base)
        if moved is not None or content:
            base = {"upstream": side_data(u), "backport": side_data(b), **base}
            verb, what = describe_change(pair.upstream)
            it = "it" if part is None else f"part of it ({describe_change(part)[1]})"
        if moved is not None and content and part is None:
            # moved and rewritten: one finding with both places and the diff of the lines
            severity, where_fix = moved
            why = f"{pair.score:.0%} of the changed lines alike"
            findings.append(_p006(pair.upstream, pair.backport, u, b, su, sb, basis, why, severity, where_fix, base))
            record.verdict.append("P006")
            content = None
        elif moved is not None:
            severity, where_fix = moved
            anchor = _anchor_note(pair.upstream.blocks[0], u, b, su, sb)
            same_lines = (" The changed lines are identical, so `git patch-id`/`git cherry` consider the backport "
                          "already applied." if identical else "")
            explanation = (f"upstream {verb} {what} to {place_text(su)}; the backport {verb} {it} to {place_text(sb)}."
                           f"{anchor}{same_lines} Confidence {basis.confidence}: {basis.reason}.")
            if severity is Severity.WARNING:
                explanation += (f" Upstream's {su.container.describe()} does not exist in the backport tree, so the "
                                "change had to go elsewhere: check the choice by hand.")
            findings.append(Finding("P001", explanation, locations(u, b), data={**base, "explanation": explanation},
                                    fix=f"move the lines into {su.container.describe()}{where_fix}", severity=severity))
            record.verdict.append("P001")
        # a dispatcher is judged by its switch too: another function's switch with other cases
        p002 = _switch_difference(su, sb, pair, basis.level == EVIDENCE_TREE)
        if p002 is not None or (moved is None and basis.level == EVIDENCE_TREE and
                                set(su.conditions) != set(sb.conditions)):
            if "upstream" not in base:
                base = {"upstream": side_data(u), "backport": side_data(b), **base}
            verb, what = describe_change(pair.upstream)
            it = "it" if part is None else f"part of it ({describe_change(part)[1]})"
        if p002 is not None:
            explanation = (f"upstream {verb} {what} in {p002[0]}; the backport does it in {p002[1]}. "
                           f"Confidence {basis.confidence}: {basis.reason}.")
            findings.append(Finding("P002", explanation, locations(u, b),
                                    data={**base, "explanation": explanation, "switch_difference": p002[2]},
                                    fix=f"move the lines into {p002[0]}"))
            record.verdict.append("P002")
        if moved is None:
            if basis.level == EVIDENCE_TREE and set(su.conditions) != set(sb.conditions):
                cu = " && ".join(su.conditions) or "no condition"
                cb = " && ".join(sb.conditions) or "no condition"
                explanation = (f"upstream {verb} {what} in {place_text(su)} under `#if {cu}`; the backport puts "
                               f"{it} under `#if {cb}`. The change is compiled in different configurations than "
                               "upstream's (unless the condition was renamed between versions).")
                findings.append(Finding("P007", explanation, locations(u, b),
                                        data={**base, "upstream_conditions": list(su.conditions),
                                              "backport_conditions": list(sb.conditions)},
                                        fix=f"put the lines under `#if {cu}` as upstream does"))
                record.verdict.append("P007")
    if content:
        if "upstream" not in base:
            base = {"upstream": side_data(u), "backport": side_data(b), **base}
        msg = f"{content} In {place_text(b.scope)} ({b.path}); upstream: {place_text(u.scope)} ({u.path})."
        findings.append(Finding("P005", msg, locations(u, b),
                                data={**base, "upstream_lines": unit_lines(pair.upstream),
                                      "backport_lines": unit_lines(pair.backport), "reversed": pair.reversed}))
        record.verdict.append("P005")
    if not record.verdict and basis.level == EVIDENCE_TREE and u.scope and b.scope and \
            u.scope.container.line and b.scope.container.line and u.line is not None and b.line is not None:
        ou = u.line - u.scope.container.line
        ob = b.line - b.scope.container.line
        if abs(ou - ob) > 3 and u.scope.container.kind != "file":
            record.notes.append(f"placed {ob} lines into {b.scope.container.describe()} vs {ou} upstream: moved "
                                "within the same definition, not an error")
    return findings, record


def _container_differs(su: Scope, sb: Scope, u: Placement, b: Placement, basis: Basis, ctx: Context,
                       record: PairRecord, base: dict[str, Any]) -> tuple[Severity, str] | None:
    """None when both sides are in the same definition (or a renamed one); else the severity of
    the P001 and a hint where the right place is in the backport tree."""
    cu, cb = su.container, sb.container
    if same_container(cu, cb):
        if cu.kind == "file" and cu.name != cb.name and cu.name and cb.name:
            record.notes.append(f"file scope: after `{cu.name}` upstream, after `{cb.name}` in the backport "
                                "(the order of file-scope declarations is not checked)")
        return None
    if basis.level == EVIDENCE_TREE and cu.kind == cb.kind and cu.kind in ("function", "type", "initializer"):
        sim = ctx.bodies(u, b)
        exists_b = ctx.backport_defines(b, cu.kind, cu.name)
        exists_u = ctx.upstream_defines(u, cb.kind, cb.name)
        if sim is not None and exists_b is None and exists_u is None and sim >= RENAME_MIN_SIMILARITY:
            record.notes.append(f"{cu.kind} renamed between versions: upstream {cu.describe()} ≈ backport "
                                f"{cb.describe()} (bodies {sim:.0%} similar, neither name exists on the other side); "
                                f"treated as the same {cu.kind}")
            return None
    where_fix = ""
    severity = Severity.ERROR
    if b.evidence == EVIDENCE_TREE and cu.kind != "file":
        at = ctx.backport_defines(b, cu.kind, cu.name)
        if at is not None:
            base["backport_has_upstream_function_at"] = f"{b.path}:{at}"
            where_fix = f" ({b.path}:{at} in the backport tree)"
        else:
            severity = Severity.WARNING  # upstream's definition is not in the older tree at all
            base["upstream_definition_missing_in_backport"] = True
    return severity, where_fix


def _anchor_note(block: Block, u: Placement, b: Placement, su: Scope, sb: Scope) -> str:
    anchor = [norm(x) for x in block.before() if norm(x)][-2:]
    if not anchor or b.evidence != EVIDENCE_TREE:
        return ""
    return (f" The hunk's leading context (`{anchor[-1]}`) also occurs in {sb.container.describe()}, which is "
            "how it could apply there.")


def unit_lines(unit: Unit) -> list[str]:
    return [f"-{norm(x)}" for b in unit.blocks for x in b.removed_text() if norm(x)] + \
        [f"+{norm(x)}" for b in unit.blocks for x in b.added_text() if norm(x)]


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


def _switch_difference(su: Scope, sb: Scope, pair: Pair, complete: bool) -> tuple[str, str, dict[str, Any]] | None:
    """P002: another switch, another case arm, or another initializer member, inside the same
    definition. ``complete``: both scopes come from parsed trees (every sibling case is known)."""
    mu = "".join(p.name for p in su.parts if p.kind == "member")
    mb = "".join(p.name for p in sb.parts if p.kind == "member")
    if mu and mb and mu != mb:
        return (f"member {mu} of {su.container.describe()}", f"member {mb} of {sb.container.describe()}",
                {"upstream_member": mu, "backport_member": mb})
    wu, wb = su.innermost("switch"), sb.innermost("switch")
    if wu is None and wb is None:
        return None
    own = set(_labels([x for blk in (*pair.upstream.blocks, *pair.backport.blocks)
                       for x in blk.added_text() + blk.removed_text()]))
    fu, fb = su.container.describe(), sb.container.describe()
    if (wu is None) != (wb is None):
        if not complete:
            return None  # the patch text may simply not show the switch line
        inside, fn_in, fn_out = (wu, fu, fb) if wu else (wb, fb, fu)
        assert inside is not None
        desc_in = f"the switch ({inside.name}) of {fn_in}"
        desc_out = f"{fn_out} outside any switch"
        return (desc_in, desc_out, {"upstream_in_switch": True}) if wu else \
            (desc_out, desc_in, {"upstream_in_switch": False})
    assert wu is not None and wb is not None
    cu, cb = su.cases - own, sb.cases - own
    jacc = len(cu & cb) / len(cu | cb) if (cu | cb) else 1.0
    cond_differs = wu.name not in ("", "?") and wb.name not in ("", "?") and wu.name != wb.name
    data = {"upstream_switch": wu.name, "backport_switch": wb.name,
            "upstream_cases": sorted(cu), "backport_cases": sorted(cb), "common_cases": sorted(cu & cb),
            "jaccard": round(jacc, 3)}
    if cond_differs or (complete and jacc < SWITCH_MIN_JACCARD):
        du = f"the switch ({wu.name}) of {fu}{_role(su.container.name)} ({_case_summary(cu, cb)})"
        db = f"the switch ({wb.name}) of {fb}{_role(sb.container.name)} ({_case_summary(cb, cu)})"
        return du, db, data
    ku, kb = su.innermost("case"), sb.innermost("case")
    if ku and kb and ku.name != kb.name and ku.name not in own and kb.name not in own:
        return (f"{ku.name} of the switch ({wu.name}) in {fu}", f"{kb.name} of the switch ({wb.name}) in {fb}",
                {**data, "upstream_case": ku.name, "backport_case": kb.name})
    return None


def _case_summary(mine: set[str] | frozenset[str], other: set[str] | frozenset[str]) -> str:
    only = sorted(mine - other)
    common = len(mine & other)
    shown = ", ".join(only[:4]) + (" ..." if len(only) > 4 else "")
    return f"{len(mine)} other cases, {common} shared" + (f"; e.g. {shown}" if shown else "")


# --- moved and rewritten ---------------------------------------------------------------------------

def lines_diff(up: Unit, bp: Unit) -> list[str]:
    """Unified diff (no headers) from upstream's changed lines to the backport's."""
    a = [f"-{x}" for blk in up.blocks for x in blk.removed_text()] + \
        [f"+{x}" for blk in up.blocks for x in blk.added_text()]
    b = [f"-{x}" for blk in bp.blocks for x in blk.removed_text()] + \
        [f"+{x}" for blk in bp.blocks for x in blk.added_text()]
    out = [ln for ln in unified_diff(a, b, "upstream", "backport", n=len(a) + len(b), lineterm="")
           if not ln.startswith(("---", "+++", "@@"))]
    return out[:MAX_DIFF_LINES] + ([f"... ({len(out) - MAX_DIFF_LINES} more lines)"] if len(out) > MAX_DIFF_LINES else [])


def _define_values(up: Block, bp: Block, key: str | None) -> str:
    if not key or not key.startswith("#define "):
        return ""
    name = key.split()[1]

    def value(lines: list[str]) -> str | None:
        for text in lines:
            t = norm(text)
            if t.startswith("#define ") or t.startswith("# define "):
                parts = t.replace("# define", "#define").split(None, 2)
                if len(parts) >= 2 and parts[1].split("(")[0] == name:
                    return parts[2] if len(parts) > 2 else ""
        return None

    vu, vb = value(up.added_text()), value(bp.added_text())
    if vu is not None and vb is not None and vu != vb:
        return f" `#define {name}`: upstream `{vu}`, backport `{vb}`."
    return ""


def _p006(up: Unit, bp: Unit, u: Placement, b: Placement, su: Scope, sb: Scope, basis: Basis, why: str,
          severity: Severity, where_fix: str, base: dict[str, Any]) -> Finding:
    diff = lines_diff(up, bp)
    diff_text = "\n".join("      " + ln for ln in diff)
    first_u, first_b = up.blocks[0], bp.blocks[0]
    msg = (f"upstream hunk {first_u.hunk.index} of {first_u.file.path} changes {place_text(su)}; the backport's "
           f"hunk {first_b.hunk.index} of {first_b.file.path} makes the same change rewritten ({why}) in "
           f"{place_text(sb)}. Confidence {basis.confidence}: {basis.reason}.")
    if severity is Severity.WARNING:
        msg += (f" Upstream's {su.container.describe()} does not exist in the backport tree, so the change had to "
                "go elsewhere: check the choice by hand.")
    msg += f" Upstream → backport lines:\n{diff_text}"
    data = {**base, "diff": diff, "upstream_lines": unit_lines(up), "backport_lines": unit_lines(bp),
            "explanation": msg}
    return Finding("P006", msg, locations(u, b), data=data,
                   fix=f"put the change into {su.container.describe()}{where_fix} as upstream does, then compare "
                       "the lines", severity=severity)


def judge_link(link: Link, u: Placement, b: Placement, ctx: Context) -> tuple[Finding, PairRecord]:
    """A linked (moved-and-rewritten) pair: P006 when it also sits elsewhere, else P005."""
    basis = comparison_basis(u, b)
    up, bp = Unit([link.upstream]), Unit([link.backport])
    diff = lines_diff(up, bp)
    why = (f"they share {link.by_key}" if link.by_key else
           "they share rare identifiers " + ", ".join(f"`{t}`" for t in link.shared[:4]))
    sim = SequenceMatcher(None, unit_lines(up), unit_lines(bp), autojunk=False).ratio()
    base: dict[str, Any] = {"upstream": side_data(u), "backport": side_data(b), "confidence": basis.confidence,
                            "confidence_reason": basis.reason, "compared_at": basis.level, "link_score": link.score,
                            "shared": link.shared, "similarity": round(sim, 3)}
    record = PairRecord(u, b, [], confidence=basis.confidence)
    if basis.level is not None and basis.upstream is not None and basis.backport is not None:
        scratch = PairRecord(u, b, [])
        moved = _container_differs(basis.upstream, basis.backport, u, b, basis, ctx, scratch, base)
        record.notes.extend(scratch.notes)
        if moved is not None:
            record.verdict.append("P006")
            return _p006(up, bp, u, b, basis.upstream, basis.backport, basis, f"{why}; {sim:.0%} of the changed "
                         "lines alike", moved[0], moved[1], base), record
    diff_text = "\n".join("      " + ln for ln in diff)
    where = place_text(b.scope) if b.scope else "an unchecked place"
    define = _define_values(link.upstream, link.backport, link.by_key)
    msg = (f"upstream hunk {link.upstream.hunk.index} of {link.upstream.file.path} and the backport's hunk "
           f"{link.backport.hunk.index} are the same change written differently ({why}).{define} In {where} "
           f"({b.path}). Upstream → backport lines:\n{diff_text}")
    if basis.level is None:
        record.notes.append("placement not checked: " + basis.reason)
    record.verdict.append("P005")
    return Finding("P005", msg, locations(u, b), data={**base, "rewritten": True, "diff": diff,
                                                        "upstream_lines": unit_lines(up),
                                                        "backport_lines": unit_lines(bp)}), record
