"""`hvcheck layout` and `hvcheck explain`: thin adapters over the loaders and the rules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hvcheck.cli import AreaCommand, common_options, config_default, finish
from hvcheck.errors import InputError
from hvcheck.findings import Finding, input_error_finding
from hvcheck.units import hex_range, parse_int, parse_size

if TYPE_CHECKING:
    from hvcheck.layout.loaders import LoadOptions


def image_size_option(text: str | None) -> tuple[int, int] | None:
    """--image-size MIN:MAX (or one size) as bounds; InputError naming the option."""
    if text is None:
        return None
    try:
        lo_text, hi_text = text.split(":", 1) if ":" in text else (text, text)
        lo, hi = parse_size(lo_text), parse_size(hi_text)
    except ValueError:
        raise InputError(None, f"--image-size {text!r}: expected MIN:MAX such as 2M:8M") from None
    if lo > hi or lo < 0:
        raise InputError(None, f"--image-size {text!r}: MIN must not exceed MAX")
    return lo, hi


def size_option(text: str, what: str) -> int:
    """A size option (--headroom ...); InputError naming the option."""
    try:
        return parse_size(text)
    except ValueError:
        raise InputError(None, f"{what} {text!r} is not a size (e.g. 8M, 0x800000)") from None


@click.command(cls=AreaCommand, area="layout")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@click.option("--board", metavar="BOARD", help="With an hvisor checkout or a Jailhouse tree: the board (system "
              "config) to check.")
@click.option("--all", "all_boards", is_flag=True, help="With an hvisor checkout or a Jailhouse tree: check every "
              "board (every system config with its cells).")
@click.option("--elf", metavar="ELF", type=click.Path(dir_okay=False, path_type=Path), help="Linked hypervisor ELF: exact skernel/__hv_end.")
@click.option("--root-dts", type=click.Path(path_type=Path), help="The root zone's device tree (override discovery).")
@click.option("--image-size", help="Bounds for the estimated image size, MIN:MAX (default 2M:8M).")
@click.option("--headroom", default="8M", show_default=True, help="Required gap after the hypervisor (M013).")
@click.option("--cpus", type=click.IntRange(min=1), help="CPU count, where the hypervisor sizes its per-CPU areas "
              "by the CPUs it finds at boot (otherwise estimated and said so).")
@click.option("--jailhouse-src", type=click.Path(path_type=Path),
              help="Jailhouse source tree to build .c configs against (default: the tree they are in).")
@click.option("--together", multiple=True, metavar="CELL,CELL[,...]",
              help="Jailhouse: cells that run at the same time (repeatable); other cells are alternatives.")
@click.option("--scenario", type=click.Path(path_type=Path),
              help="Jailhouse: scenario file ('together A, B' and, for --all, 'pair SYSTEM: CELL ...' lines).")
@common_options
def layout(paths: tuple[Path, ...], board: str | None, all_boards: bool, elf: Path | None, root_dts: Path | None,
           image_size: str | None, headroom: str, cpus: int | None, jailhouse_src: Path | None,
           together: tuple[str, ...], scenario: Path | None, fmt: str, output: str | None, fail_on: str) -> int:
    """Check the memory and resource layout of PATH (rules {rules}).

    PATH is a neutral layout file (YAML/JSON, `hvcheck docs layout-format`), an hvisor board
    directory (platform/<arch>/<board>), an hvisor checkout with --board NAME or --all, a
    Jailhouse system config followed by its cell configs (.cell or .c; docs/jailhouse.md), or a
    Jailhouse tree with --board NAME or --all.
    """
    from hvcheck.layout import loaders
    from hvcheck.layout.rules import run_rules

    path = paths[0]
    inputs = [str(p) for p in paths]
    need = size_option(str(config_default("headroom", headroom, inputs, "8M")), "--headroom")
    bounds = image_size_option(config_default("image-size", image_size, inputs))
    options = loaders.LoadOptions(elf=elf, board=board, root_dts=root_dts, image_size=bounds, cpus=cpus,
                                  jailhouse_src=jailhouse_src, together=together or None, scenario=scenario)
    if all_boards:
        if board or elf or root_dts:
            raise InputError(None, "--all checks every board; it cannot be combined with --board, --elf or --root-dts")
        if len(paths) > 1:
            raise InputError(str(paths[1]), "--all checks one tree; give a single PATH")
        layouts: list[dict[str, Any]] | None = [] if fmt == "json" else None
        findings, checked, notes = _check_all(path, need, options, layouts)
        if checked == 0:
            first = findings[0].message if findings else "no boards found"
            raise InputError(str(path), f"nothing could be checked: {first}")
        extra: dict[str, Any] = {"notes": notes}
        if layouts is not None:
            extra["layouts"] = layouts
        return finish(findings, fmt=fmt, output=output, fail_on=fail_on, title=f"hvcheck layout {path} --all", inputs=inputs,
                      preamble=_notes_text(notes), extra=extra)
    if len(paths) == 1:
        _explain_directory_of_layouts(path)
    system = loaders.load_paths(list(paths), options)
    findings = run_rules(system, headroom=need)
    extra = {"notes": system.notes}
    if fmt == "json":  # the checked model itself (docs/layout-model.md), so others can draw or diff it
        from hvcheck.map.export import export_system

        extra["layout"] = export_system(system)
    return finish(findings, fmt=fmt, output=output, fail_on=fail_on, title=f"hvcheck layout: {system.name}", inputs=inputs,
                  preamble=_notes_text(system.notes), extra=extra)



def _explain_directory_of_layouts(path: Path) -> None:
    """A directory no format claims but whose subdirectories are layouts (hvisor's platform/aarch64,
    a folder of layout files): say what to pass instead."""
    from hvcheck.layout import loaders

    if not path.is_dir():
        return
    try:
        loaders.recognise(path)
        return
    except InputError:
        pass
    inside = []
    for child in sorted(path.iterdir())[:200]:
        try:
            loaders.recognise(child)
            inside.append(child.name)
        except (InputError, OSError):
            continue
    if inside:
        shown = ", ".join(inside[:12]) + (f", ... ({len(inside)} in all)" if len(inside) > 12 else "")
        raise InputError(str(path), f"holds {len(inside)} layout(s), not one: give one of them ({shown}), or the "
                                    "tree above it with --all")


def _notes_text(notes: list[str]) -> str | None:
    """How the loader interpreted the inputs (files skipped, alternatives chosen, fallbacks)."""
    if not notes:
        return None
    return "loader notes:\n" + "\n".join(f"  - {n}" for n in notes)


def _check_all(path: Path, headroom: int, options: LoadOptions,
               layouts: list[dict[str, Any]] | None = None) -> tuple[list[Finding], int, list[str]]:
    """Every system under a tree (each board of an hvisor checkout, ...): an unreadable one is an
    E001 finding, not an abort. ``layouts``, when given, receives each loaded system's model."""
    from rich.console import Console
    from rich.progress import Progress

    from hvcheck.catalogue import rule_range
    from hvcheck.layout import loaders
    from hvcheck.layout.rules import run_rules

    fmt, targets = loaders.discover(path, options)
    if len(targets) == 1 and targets[0].paths[0].resolve() == path.resolve():
        click.echo(f"note: {path} is a single {fmt.name} system; --all checks every one under a tree such as the "
                   "checkout root", err=True)
    findings: list[Finding] = []
    notes: list[str] = []
    checked = 0
    console = Console(file=sys.stderr)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("checking", total=len(targets))
        for target in targets:
            progress.update(task, description=f"checking {target.name}")
            try:
                system = fmt.load_target(target, options)
            except InputError as exc:
                findings.append(input_error_finding(exc.path, exc.line, f"{target.name}: {exc.message}",
                                                    f"{rule_range('layout')} for {target.name}"))
                notes.extend(f"[{target.name}] {n}" for n in target.notes)
                progress.advance(task)
                continue
            checked += 1
            if layouts is not None:
                from hvcheck.map.export import export_system

                layouts.append({"name": target.name, "layout": export_system(system)})
            notes.extend(f"[{target.name}] {n}" for n in (*target.notes, *system.notes))
            for f in run_rules(system, headroom=headroom):
                f.message = f"[{target.name}] {f.message}"
                f.data.setdefault("board", target.name)
                findings.append(f)
            progress.advance(task)
    if not console.is_terminal:
        click.echo(f"checked {checked} of {len(targets)} {'boards' if fmt.name == 'hvisor' else 'systems'}",
                   err=True)
    return findings, checked, notes


@click.command()
@click.argument("address")
@click.option("--layout", "layout_path", metavar="PATH", required=True, type=click.Path(path_type=Path),
              help="Layout file or hvisor board directory.")
@click.option("--board", metavar="BOARD", help="With an hvisor checkout: the board.")
@click.option("--elf", metavar="ELF", type=click.Path(dir_okay=False, path_type=Path), help="Linked hypervisor ELF.")
@common_options
def explain(address: str, layout_path: Path, board: str | None, elf: Path | None, fmt: str, output: str | None,
            fail_on: str) -> int:
    """Every owner and region containing ADDRESS, with where each was defined."""
    from hvcheck.layout.loaders import load_layout
    from hvcheck.layout.model import OwnerIndex

    try:
        addr = parse_int(address)
    except ValueError:
        raise InputError(None, f"{address!r} is not an address (use 0x-hex or decimal)") from None
    if not 0 <= addr < 1 << 64:
        raise InputError(None, f"address {address} is outside the 64-bit address space")
    system = load_layout(layout_path, elf=elf, board=board)
    owners = OwnerIndex(system).owners_of(addr)
    lines = [f"{addr:#x} in {system.name}:"]
    if not owners:
        lines.append("  no owner: not hypervisor memory, not mapped into any zone, not a known device or bank")
    for o in owners:
        lines.append(f"  {o.what:<48} {hex_range(o.start, o.end):<40} +{addr - o.start:#x}  from {o.source}")
    extra = {"address": addr, "owners": [
        {"owner": o.what, "start": o.start, "end": o.end, "offset": addr - o.start, "zone": o.zone,
         "source": o.source.to_json()} for o in owners]}
    return finish([], fmt=fmt, output=output, fail_on=fail_on, preamble="\n".join(lines), extra=extra,
                  inputs=[str(layout_path)])


@click.command(cls=AreaCommand, area="layout")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--headroom", default="8M", show_default=True, help="Required gap after the hypervisor (M013).")
@common_options
def changed(files: tuple[Path, ...], headroom: str, fmt: str, output: str | None, fail_on: str | None) -> int:
    """Check every layout that FILES belong to, each once ({rules}): a board.rs, zone JSON, device
    tree or linker script checks its hvisor board; a layout file checks itself; files no format
    claims are skipped. For pre-commit (which passes the changed file names) and CI jobs that check
    only what a change touched (`hvcheck changed $(git diff --name-only origin/main)`)."""
    from hvcheck.catalogue import rule_range
    from hvcheck.layout import loaders
    from hvcheck.layout.rules import run_rules

    inputs = [str(f) for f in files] or None
    need = size_option(str(config_default("headroom", headroom, inputs, "8M")), "--headroom")
    systems: dict[Path, Any] = {}
    skipped = []
    for f in files:
        if not f.exists():
            continue  # a deleted file: nothing to check
        owner = loaders.system_of(f)
        if owner is None:
            skipped.append(str(f))
            continue
        systems.setdefault(owner[1].resolve(), owner)
    findings: list[Finding] = []
    for fmt_, system_path in systems.values():
        name = str(system_path)
        try:
            system = fmt_.load([system_path], loaders.LoadOptions())
        except InputError as exc:
            findings.append(input_error_finding(exc.path, exc.line, f"{name}: {exc.message}",
                                                f"{rule_range('layout')} for {name}"))
            continue
        for finding in run_rules(system, headroom=need):
            finding.data.setdefault("board", system.name)
            findings.append(finding)
    lines = [f"{len(systems)} layout(s) to check from {len(files)} file(s)"]
    if skipped:
        lines.append(f"skipped (no layout format claims them): {', '.join(skipped[:20])}"
                     + (f" and {len(skipped) - 20} more" if len(skipped) > 20 else ""))
    return finish(findings, fmt=fmt, output=output, fail_on=fail_on, title="hvcheck changed", preamble="\n".join(lines),
                  inputs=inputs, extra={"systems": [str(p) for _, p in systems.values()], "skipped": skipped})
