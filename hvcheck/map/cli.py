"""`hvcheck map`: draw the memory map of any layout `hvcheck layout` reads.

Only this module asks the loader registry for a model (tests/test_import_layers.py); the rest of
hvcheck.map sees :class:`hvcheck.layout.model.System` and the layout rules' findings.
"""

from __future__ import annotations

from pathlib import Path

import click

from hvcheck.cli import (
    FORMAT_CHOICES,
    AreaCommand,
    common_options,
    config_default,
    exit_code,
    finish,
    prepare_run,
    resolve_fail_on,
    write_report,
)
from hvcheck.errors import InputError
from hvcheck.findings import Finding
from hvcheck.layout.cli import image_size_option, size_option

# Drawn by hvcheck.map.render; every other format is a report of the findings, as for any command.
DRAWN_FORMATS = ("html", "svg", "text")
MAP_FORMATS = (*FORMAT_CHOICES, "html", "svg")
_SUFFIX_FORMATS = {".html": "html", ".htm": "html", ".svg": "svg", ".json": "json", ".txt": "text"}




def _suppressed_text(suppressed: list[Finding]) -> str:
    """--show-suppressed under a text map: the findings not drawn, each with why."""
    if not suppressed:
        return ""
    rows = [f"suppressed, not drawn ({len(suppressed)}):"]
    for f in suppressed:
        why = f" ({f.suppressed.kind}: {f.suppressed.reason})" if f.suppressed is not None else ""
        rows.append(f"  {f.rule} {f.sev.label}: {f.message}{why}")
    return "\n".join(rows) + "\n"


def choose_format(fmt: str | None, output: str | None) -> str:
    """--format wins; else the --output suffix (.html, .svg, .json, .txt); else text."""
    if fmt is not None:
        return fmt
    if output is not None:
        return _SUFFIX_FORMATS.get(Path(output).suffix.lower(), "text")
    return "text"


@click.command(cls=AreaCommand, area="layout")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--board", metavar="BOARD", help="With a tree of several systems (an hvisor checkout): the board to draw.")
@click.option("--all", "all_boards", is_flag=True, help="Every system of the tree: a board index and one map each.")
@click.option("--elf", metavar="ELF", type=click.Path(dir_okay=False, path_type=Path), help="Linked hypervisor ELF: exact skernel/__hv_end.")
@click.option("--root-dts", type=click.Path(path_type=Path), help="The root zone's device tree (override discovery).")
@click.option("--image-size", help="Bounds for the estimated image size, MIN:MAX (default 2M:8M).")
@click.option("--headroom", default="8M", show_default=True, help="Required gap after the hypervisor (M013).")
@common_options(formats=MAP_FORMATS, format_default=None,
                format_help="html (one self-contained page), svg (with a legend), text (the map in 100 columns), "
                            "json (the checked model and the findings); sarif, github, compact: the findings only, "
                            "as every command reports them. Default: from the --output suffix, else text.")
def map_command(paths: tuple[Path, ...], board: str | None, all_boards: bool, elf: Path | None, root_dts: Path | None,
                image_size: str | None, headroom: str, fmt: str | None, output: str | None, fail_on: str | None) -> int:
    """Draw the memory map of PATHS: one lane per owner, gaps collapsed, every overlap the layout
    rules ({rules}) report drawn where it is.

    PATHS is anything the loader registry reads (what `hvcheck layout` accepts): a neutral layout
    file, an hvisor board directory, an hvisor checkout with --board NAME or --all, and every other
    registered format, including those made of several files (the first decides the format).
    """
    from hvcheck.layout import loaders
    from hvcheck.layout.rules import run_rules
    from hvcheck.map.render import MapInput, render_maps

    fmt = choose_format(fmt, output)
    checked = [str(p) for p in paths]
    need = size_option(str(config_default("headroom", headroom, checked, "8M")), "--headroom")
    bounds = image_size_option(config_default("image-size", image_size, checked))
    inputs: list[MapInput] = []
    path = paths[0]
    if all_boards:
        if board or elf or root_dts or len(paths) > 1:
            raise InputError(None, "--all draws every system of one tree; it cannot be combined with --board, --elf, "
                                   "--root-dts or more paths")
        from hvcheck.catalogue import rule_range
        from hvcheck.findings import input_error_finding

        layout_format, targets = loaders.discover(path)
        options = loaders.LoadOptions(image_size=bounds)
        for target in targets:
            try:
                system = layout_format.load_target(target, options)
            except InputError as exc:
                finding = input_error_finding(exc.path, exc.line, f"{target.name}: {exc.message}",
                                              f"the map and {rule_range('layout')} for {target.name}")
                inputs.append(MapInput(target.name, None, [finding]))
                continue
            found = run_rules(system, headroom=need)
            for f in found:  # as `hvcheck layout --all` reports them
                f.message = f"[{target.name}] {f.message}"
                f.data.setdefault("board", target.name)
            inputs.append(MapInput(target.name, system, found))
        if all(i.system is None for i in inputs):
            first = inputs[0].findings[0].message if inputs else "no systems found"
            raise InputError(str(path), f"nothing could be drawn: {first}")
        title = f"hvcheck map {path} --all"
    else:
        options = loaders.LoadOptions(elf=elf, board=board, root_dts=root_dts, image_size=bounds)
        system = loaders.load_paths(list(paths), options)
        inputs.append(MapInput(system.name, system, run_rules(system, headroom=need)))
        title = f"hvcheck map: {system.name}"
    findings = [f for i in inputs for f in i.findings]
    if fmt not in DRAWN_FORMATS:
        extra = None
        if fmt == "json":
            from hvcheck.map.export import export_system

            layouts = [{"name": i.name, "layout": None if i.system is None else export_system(i.system)}
                       for i in inputs]
            extra = {"layout": layouts[0]["layout"]} if not all_boards else {"layouts": layouts}
        return finish(findings, fmt=fmt, output=output, fail_on=fail_on, title=title, extra=extra, inputs=checked)
    # The same post-processing as every report (project config, inline suppressions): suppressed
    # findings are neither drawn nor failing.
    outcome, info = prepare_run(findings, checked)
    shown = {id(f) for f in outcome.reported}
    for i in inputs:
        i.findings = [f for f in i.findings if id(f) in shown]
    drawn = render_maps(inputs, fmt, title=title)
    if fmt == "text":  # what was suppressed or baselined, as the text report says it
        drawn += _suppressed_text(outcome.suppressed) if info.show_suppressed else ""
        drawn += f"{info.summary}\n" if info.summary else ""
    write_report(drawn, output)
    return exit_code(outcome.reported, resolve_fail_on(fail_on, checked))
