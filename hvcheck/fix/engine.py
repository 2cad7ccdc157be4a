"""Plan, edit, re-check: the whole of `hvcheck fix` without the CLI.

Nothing here writes to the user's files: the edited text is staged in a temporary directory,
re-parsed there with the same loaders, and every layout rule runs again on the result. A fix
is only offered (or written) when that re-check passes.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hvcheck.findings import Finding, Severity
from hvcheck.fix.plan import Plan, apply_to_model, derived_dt, make_plan
from hvcheck.fix.textedit import FileEdits, FixError, read_source, unified_diff
from hvcheck.layout.model import System

# The rules each strategy is responsible for: errors of these left after the fix are a refusal.
TARGETS = {
    "punch": {"M001", "M003"},
    "reserve": {"M002", "M003"},
    "relocate": {"M001", "M002", "M003", "M009"},
    "all": {"M001", "M002", "M003"},
}
NEUTRAL_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class FixResult:
    target: Path
    strategy: str
    plan: Plan
    files: list[FileEdits] = field(default_factory=list)
    base: Path = Path(".")                                  # diff paths are relative to this
    before: list[Finding] = field(default_factory=list)
    after: list[Finding] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)        # why the fix is not offered
    notes: list[str] = field(default_factory=list)

    @property
    def changed_files(self) -> list[FileEdits]:
        return [f for f in self.files if f.changed]

    def diff(self) -> str:
        return "".join(unified_diff(f.original, f.result(), _rel(f.path, self.base)) for f in self.changed_files)

    def explanations(self) -> list[str]:
        return [f"{_rel(f.path, self.base)}: {s}" for f in self.changed_files for s in f.explanations]


def _rel(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def model_signature(system: System) -> dict:
    """The facts a fix may change, in a comparable form."""
    hv = system.hypervisor
    return {
        "hv": None if hv is None else (hv.start, hv.end, tuple((p.name, p.start, p.end) for p in hv.parts)),
        "zones": {z.name: (tuple((r.kind.value, r.start, r.size, r.gstart, r.label) for r in z.regions),
                           None if z.devicetree is None or derived_dt(z.devicetree) else tuple(sorted(
                               (r.start, r.end, r.no_map, r.memreserve) for r in z.devicetree.reserved)),
                           None if z.devicetree is None or derived_dt(z.devicetree) else
                           tuple((m.start, m.end) for m in z.devicetree.memory))
                  for z in system.zones},
    }


def run_fix(target: Path, strategy: str = "all", *, headroom: int = 8 << 20, other_zones: bool = False,
            prefer: int | None = None, elf: Path | None = None) -> FixResult:
    from hvcheck.layout.loaders import load_layout
    from hvcheck.layout.rules import run_rules

    system = load_layout(target, elf=elf)
    before = run_rules(system, headroom=headroom)
    plan = make_plan(system, strategy, headroom=headroom, other_zones=other_zones, prefer=prefer)
    result = FixResult(target, strategy, plan, before=before, notes=list(plan.notes))
    hv = system.hypervisor
    if hv is not None and hv.estimate is not None and not plan.empty:
        result.notes.append(f"{hv.name}'s extent is estimated ({hv.estimate.assumption}); the edits cover the "
                            f"largest assumption, end {hv.estimate.end_max:#x} (M014). Pass --elf for the exact "
                            "extent before applying: the hole may be smaller")
    if target.is_dir():
        from hvcheck.fix.hvisor import hvisor_edits

        result.files, result.base = hvisor_edits(target, system, plan)
    elif target.suffix.lower() in NEUTRAL_SUFFIXES:
        result.files, result.base = _neutral_files(target, system, plan)
    else:
        raise FixError(f"{target}: not a layout file or an hvisor board directory")
    if strategy == "relocate" and plan.relocation is None and _errors(before, {"M001"}):
        result.refused.append("relocate found no place for the hypervisor: " + "; ".join(plan.notes))
    if not result.changed_files:
        result.after = before
        return result
    edited = {f.path.resolve(): f.result() for f in result.changed_files}
    recheck_elf = elf
    if plan.relocation is not None and elf is not None:
        # The ELF was linked at the old base: re-check the new base with the estimated extent
        # (from the edited linker script) instead, and say so.
        recheck_elf = None
        result.notes.append(f"{elf} was linked at the old base, so the re-check estimates the extent at the new "
                            "one; relink and run `hvcheck layout --elf` on the new ELF")
    try:
        after_system, stage_map = _reload(target, edited, recheck_elf)
    except OSError as exc:   # the temporary directory: full, a file-size limit, no permission
        from hvcheck.errors import InputError

        raise InputError(str(target), f"cannot stage the edited files for the re-check in {tempfile.gettempdir()}: "
                                      f"{exc.strerror or exc}; nothing was written") from None
    result.after = [_unstage(f, stage_map) for f in run_rules(after_system, headroom=headroom)]
    expected = model_signature(apply_to_model(system, plan))
    got = model_signature(after_system)
    if recheck_elf is not elf:
        expected["hv"] = got["hv"] = None
    if expected != got:
        result.refused.append("internal check failed: the edited files do not parse to the planned layout "
                              f"(planned {expected}, parsed {got}); please report this")
    _judge(result, strategy)
    return result


def _errors(findings: list[Finding], rules: set[str] | None = None) -> list[Finding]:
    return [f for f in findings if f.sev >= Severity.ERROR and (rules is None or f.rule in rules)]


def _judge(result: FixResult, strategy: str) -> None:
    left = _errors(result.after, TARGETS[strategy])
    for f in left:
        result.refused.append(f"after the edits {f.rule} still fails: {f.message}")
    was = Counter(f.rule for f in _errors(result.before))
    now = Counter(f.rule for f in _errors(result.after))
    for rule, n in sorted(now.items()):
        if n > was.get(rule, 0) and rule not in TARGETS[strategy]:
            result.refused.append(f"the edits would introduce {rule} errors ({n} after, {was.get(rule, 0)} before)")


def _unstage(f: Finding, stage_map: dict[str, str]) -> Finding:
    """Findings of the re-check name the staged copies; point them at the real files."""
    def fix(text: str) -> str:
        for stage, real in stage_map.items():
            text = text.replace(stage, real)
        return text

    f.message = fix(f.message)
    f.locations = [dataclasses.replace(loc, path=fix(loc.path)) if loc.path else loc for loc in f.locations]
    return f


# ---------------------------------------------------------------- neutral layout files


def _neutral_files(target: Path, system: System, plan: Plan) -> tuple[list[FileEdits], Path]:
    from hvcheck.fix.neutral import neutral_edits

    text = read_source(target)
    dt_files = {z.name: z.devicetree for z in system.zones
                if z.devicetree is not None and not z.devicetree.path.startswith(str(target))}
    files = [neutral_edits(target, text, plan, devicetree_files=dt_files)]
    wanted = [r for r in plan.reservations if r.zone in dt_files]
    if wanted:
        from hvcheck.fix.dts import dts_edits

        files.extend(dts_edits(wanted))
    base = target.parent
    for f in files:
        try:
            f.path.resolve().relative_to(base.resolve())
        except ValueError:
            base = Path(os.path.commonpath([base.resolve(), f.path.resolve().parent]))
    return files, base


def _references(target: Path) -> list[str]:
    """Relative file references of a neutral layout file (device trees, ELF)."""
    from hvcheck.fix import yamltext as yt

    root = yt.compose(read_source(target), str(target))
    refs: list[str] = []
    hv = yt.value(root, "hypervisor")
    if hv is not None and (elf := yt.value(hv, "elf")) is not None:
        refs.append(str(elf.value))
    zones = yt.value(root, "zones")
    for z in zones.value if zones is not None else []:
        dt = yt.value(z, "devicetree")
        if dt is None:
            continue
        if isinstance(dt.value, str):
            refs.append(dt.value)
        elif (p := yt.value(dt, "path")) is not None:
            refs.append(str(p.value))
    return [r for r in refs if not os.path.isabs(r)]


def _reload(target: Path, edited: dict[Path, str], elf: Path | None) -> tuple[System, dict[str, str]]:
    """Load ``target`` with the edited texts in place of the files, from a staging directory."""
    from hvcheck.errors import InputError

    with tempfile.TemporaryDirectory(prefix="hvcheck-fix-") as tmp:
        if target.is_dir():
            from hvcheck.fix.hvisor import stage_board

            staged, stage_map, repo = stage_board(target, edited, Path(tmp))
            from hvcheck.layout.loaders.hvisor import load_hvisor_board

            try:
                return load_hvisor_board(staged, repo_root=repo, elf=elf), stage_map
            except InputError as exc:
                raise FixError(f"the edited files no longer load: {exc}") from None
        refs = _references(target)
        depth = max([len([p for p in Path(r).parts if p == ".."]) for r in refs] + [0])
        work = Path(tmp).joinpath(*[f"d{i}" for i in range(depth)]) if depth else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        staged = work / target.name
        staged.write_text(edited.get(target.resolve(), read_source(target)), encoding="utf-8", newline="")
        for ref in refs:
            real = (target.parent / ref).resolve()
            dest = Path(os.path.normpath(work / ref))
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                continue
            if real in edited:
                dest.write_text(edited[real], encoding="utf-8", newline="")
            elif real.exists():
                os.symlink(real, dest)
        return _load_staged(staged, elf), {str(work): str(target.parent)}


def _load_staged(staged: Path, elf: Path | None) -> System:
    from hvcheck.errors import InputError
    from hvcheck.layout.loaders import load_layout

    try:
        return load_layout(staged, elf=elf)
    except InputError as exc:
        raise FixError(f"the edited files no longer load: {exc}") from None
