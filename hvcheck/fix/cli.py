"""`hvcheck fix`: a thin adapter over :func:`hvcheck.fix.engine.run_fix`."""

from __future__ import annotations

from pathlib import Path

import click

from hvcheck.cli import (
    common_options,
    exit_code,
    prepare_run,
    resolve_fail_on,
    run_options,
    use_color,
    write_report,
)
from hvcheck.errors import InputError
from hvcheck.units import parse_int, parse_size


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--strategy", type=click.Choice(["punch", "reserve", "relocate", "all"]), default="all",
              show_default=True,
              help="punch: split zone RAM around the hypervisor; reserve: no-map reservation in the zone device "
                   "trees; relocate: move the hypervisor's base; all: punch + reserve.")
@click.option("--write", is_flag=True, help="Apply the edits (atomically, with .orig backups) instead of printing a diff.")
@click.option("--force", is_flag=True, help="With --write: replace read-only files too (their mode is kept).")
@click.option("--recover", is_flag=True,
              help="Only complete or roll back a fix --write that was interrupted at PATH (a kill, a power cut), "
                   "and say which. Any fix run does this first.")
@click.option("--other-zones", is_flag=True,
              help="Also remove other zones' private RAM the root maps without a device-tree reservation.")
@click.option("--prefer", help="relocate: choose the free base nearest to this address.")
@click.option("--headroom", default="8M", show_default=True,
              help="Free space to keep after the hypervisor (punched with it; required by relocate; M013).")
@click.option("--elf", metavar="ELF", type=click.Path(dir_okay=False, path_type=Path), help="Linked hypervisor ELF: exact skernel/__hv_end.")
@click.option("--board", metavar="BOARD", help="With an hvisor checkout: the board to fix (e.g. aarch64/rk3568).")
@common_options
def fix(path: Path, strategy: str, write: bool, force: bool, recover: bool, other_zones: bool, prefer: str | None, headroom: str,
        elf: Path | None, board: str | None, fmt: str, output: str | None, fail_on: str) -> int:
    """Propose edits that remove the hypervisor from zone RAM (PATH: layout file or hvisor board dir).

    Without --write: a unified diff (apply with `git apply` or `patch -p1` from the directory
    printed above it) and one sentence per edit. Every fix is re-parsed and re-checked with all
    layout rules first; a fix that leaves errors it should remove, or adds new ones, is refused
    (exit 1). --write changes all files or none.
    """
    from hvcheck.fix.engine import TARGETS, run_fix
    from hvcheck.fix.textedit import FixError
    from hvcheck.report import render

    try:
        need = parse_size(headroom)
    except ValueError:
        raise InputError(None, f"--headroom {headroom!r} is not a size (e.g. 8M, 0x800000)") from None
    near = None
    if prefer is not None:
        try:
            near = parse_int(prefer)
        except ValueError:
            raise InputError(None, f"--prefer {prefer!r} is not an address") from None
    if board is not None:
        from hvcheck.layout.loaders.hvisor import resolve_board

        path = resolve_board(path, board)
    recovered = _recover(path)
    if recover:
        click.echo(f"hvcheck fix --recover {path}: " + (recovered or "no interrupted fix here; nothing to do"))
        return 0
    try:
        result = run_fix(path, strategy, headroom=need, other_zones=other_zones, prefer=near, elf=elf)
    except FixError as exc:
        click.echo(f"hvcheck fix: cannot fix {path}: {exc}", err=True)
        return 1
    lines = [f"hvcheck fix --strategy {strategy} {path}"]
    if recovered:
        lines.append(f"note: {recovered}")
    lines += [f"note: {n}" for n in result.notes]
    diff = result.diff()
    explanations = result.explanations()
    written: list[str] = []
    if not diff:
        lines.append("nothing to change: " + ("no zone RAM, device tree or base needs editing for this strategy"
                                              if not result.refused else "no edit could be computed"))
    else:
        lines.append(f"{len(explanations)} edit(s); paths relative to {result.base.resolve()}:")
        lines += [f"  {i}. {s}" for i, s in enumerate(explanations, 1)]
    if result.refused:
        lines.append("REFUSED: " + ("nothing was written. " if write else "") + "the re-check of the edited "
                     "result does not pass:")
        lines += [f"  - {r}" for r in result.refused]
    elif diff and write:
        from hvcheck.fix.safewrite import write_all

        try:
            done = write_all([(f.path, f.original, f.result()) for f in result.changed_files], journal_dir(path),
                             force=force)
        except FixError as exc:
            click.echo(f"hvcheck fix: nothing written: {exc}", err=True)
            return 1
        written = [str(f) for f in done.files]
        lines += [f"note: {n}" for n in done.notes]
        lines.append("written: " + ", ".join(written) + " (backups: " + ", ".join(str(b) for b in done.backups) + ")")
    if diff:
        lines.append("re-check of the edited result: " + (
            "clean" if not result.after else ", ".join(sorted({f.rule for f in result.after}))
            + " (below; their file:line refer to the edited files)"))
    extra = {"strategy": strategy, "diff": diff, "recovered": recovered, "explanations": explanations, "refused": result.refused,
             "written": written, "base": str(result.base.resolve()),
             "before": sorted({f.rule for f in result.before})}
    findings = result.after
    outcome, info = prepare_run(findings, [str(path)])
    if fmt == "sarif" and diff and not result.refused:
        # Code scanning wants the problems with their fix: the findings the strategy removes, each
        # carrying the whole (all-files) edit as one SARIF fix.
        from hvcheck.fix.sarif import sarif_fix

        fixed = [f for f in result.before if f.rule in TARGETS[strategy]]
        outcome, info = prepare_run(fixed, [str(path)])
        one_fix = sarif_fix(result, info.root)
        info.fixes = {i: [one_fix] for i, f in enumerate(outcome.findings) if f.rule in TARGETS[strategy]}
    text = render(outcome.findings, fmt, preamble="\n".join(lines) + "\n", extra=extra,
                  color=use_color(fmt, output, run_options().color), run=info)
    if fmt == "text" and diff and not write:
        # The diff goes last and raw (never re-wrapped, tabs kept): `git apply` and
        # `patch -p1` skip the report text before it.
        text = text.rstrip("\n") + "\n\n" + diff
    write_report(text, output)
    return 1 if result.refused else exit_code(outcome.reported, resolve_fail_on(fail_on, [str(path)]))


def journal_dir(path: Path) -> Path:
    """Where a fix of ``path`` keeps its journal: the board directory, or the layout file's."""
    return path if path.is_dir() else path.parent


def _recover(path: Path) -> str | None:
    """Finish or undo an interrupted `fix --write` at ``path`` first; what was done, or None."""
    from hvcheck.fix.journal import JOURNAL_NAME, recover
    from hvcheck.fix.textedit import FixError

    where = path.parent if path.name == JOURNAL_NAME else journal_dir(path)
    try:
        done = recover(where)
    except FixError as exc:
        raise InputError(str(where / JOURNAL_NAME), str(exc)) from None
    except OSError as exc:
        raise InputError(str(exc.filename or where), f"cannot recover the interrupted fix: {exc.strerror}") from None
    return None if done is None else done.message()
