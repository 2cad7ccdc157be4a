"""Geometry -> one self-contained HTML page: inline SVG and CSS, no script, no network, works from
file://. Hovering an item or a finding mark shows its exact [start, end), size and source (SVG
<title> tooltips); the findings list links to each mark (CSS :target highlights it); with several
boards (--all) a board index comes first."""

from __future__ import annotations

from html import escape

from hvcheck.map.geometry import GROUP, MapGeometry
from hvcheck.map.overview import build_overview, needs_overview
from hvcheck.map.render import MapInput
from hvcheck.map.svg import SEVERITY, defs_block, render_inline_svg
from hvcheck.units import human_size

CSS = """
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:16px;color:#212121}
h1{font-size:20px}h2{font-size:17px;margin-top:28px}
.summary span{margin-right:12px}
.scroll{overflow:auto;border:1px solid #e0e0e0;max-height:85vh}
.map .it:hover{stroke:#000;stroke-width:2}
.map .mark:hover{fill-opacity:.35}
.map .mark:target{fill-opacity:.45;stroke-width:3}
ol.findings li{margin:4px 0}
.rule{font-weight:bold;font-family:monospace}
.loc{color:#616161;font-family:monospace;font-size:12px}
table.items{border-collapse:collapse;font-family:monospace;font-size:12px}
table.items td,table.items th{border-bottom:1px solid #eee;padding:1px 8px;text-align:left}
.index td{padding:2px 10px}
"""


def _summary(inp: MapInput) -> str:
    counts = {"error": 0, "warning": 0, "note": 0}
    for f in inp.findings:
        counts[f.sev.label] += 1
    return "".join(f'<span style="color:{SEVERITY[k]}">{v} {k}{"s" if v != 1 else ""}</span>' for k, v in counts.items())


def _findings_html(geom: MapGeometry, prefix: str) -> str:
    rows = []
    marks_of: dict[int, list[str]] = {}
    for m in geom.marks:
        marks_of.setdefault(m.finding, []).append(m.uid)
    for fi, f in enumerate(geom.findings):
        color = SEVERITY.get(f.sev.label, "#000")
        links = " ".join(f'<a href="#{prefix}{uid}">show</a>' for uid in marks_of.get(fi, []))
        if not links:
            links = "<i>(no address to draw)</i>"
        locs = "; ".join(escape(str(loc)) for loc in f.locations)
        rows.append(f'<li><span class="rule" style="color:{color}">{f.rule} {f.sev.label}</span> '
                    f'{escape(f.message)} {links}<br><span class="loc">{locs}</span></li>')
    if not rows:
        return "<p>No findings.</p>"
    return '<ol class="findings">' + "".join(rows) + "</ol>"


def _items_table(geom: MapGeometry) -> str:
    rows = []
    for it in geom.items:
        lane = geom.lanes[it.lane].title if it.lane >= 0 else "board"
        what = f"{it.count} × {it.label}" if it.kind == GROUP else it.label
        size = human_size(it.size) if it.end > it.start else "(address)"
        rows.append(f"<tr><td>{escape(lane)}</td><td>{escape(it.kind)}</td><td>{escape(what)}</td>"
                    f"<td>{it.start:#x}</td><td>{it.end:#x}</td><td>{size}</td><td>{escape(str(it.source))}"
                    f"{' (estimated)' if it.estimated else ''}</td></tr>")
    return (f"<details><summary>every item ({len(geom.items)}): exact [start, end), size, source</summary>"
            '<table class="items"><tr><th>owner</th><th>kind</th><th>what</th><th>start</th><th>end</th>'
            f'<th>size</th><th>source</th></tr>{"".join(rows)}</table></details>')


def _section(index: int, inp: MapInput, geom: MapGeometry | None, multi: bool) -> str:
    prefix = f"b{index}-" if multi else ""
    head = f'<h2 id="board-{index}">{escape(inp.name)}</h2>' if multi else ""
    summary = f'<p class="summary">{_summary(inp)}</p>'
    if geom is None:
        reason = escape(inp.findings[0].message) if inp.findings else "not loaded"
        return f"<section>{head}{summary}<p>Not drawn: {reason}</p></section>"
    detail = render_inline_svg(geom, f"map-{index}", id_prefix=prefix, detail_prefix=prefix)
    if needs_overview(geom):
        overview = build_overview(geom)
        over = render_inline_svg(overview, f"overview-{index}", id_prefix=f"{prefix}o-", detail_prefix=prefix)
        maps = (f'<p>{len(geom.items)} items, {len(geom.scale.edges)} edges: the grouped overview comes first; '
                "click a group to open the detailed map at its first item.</p>"
                f'<div class="scroll">{over}</div><details><summary>detailed map (every item, exact places)'
                f'</summary><div class="scroll">{detail}</div></details>')
        notes_list = overview.notes
    else:
        maps = f'<div class="scroll">{detail}</div>'
        notes_list = geom.notes
    notes = "".join(f"<li>{escape(n)}</li>" for n in notes_list)
    notes_html = f"<p>Notes:</p><ul>{notes}</ul>" if notes else ""
    # A large map's table would repeat thousands of tooltips: its items are in the tooltips and in
    # `--format json`, so the page says so instead.
    table = _items_table(geom) if not needs_overview(geom) else (
        f"<p>{len(geom.items)} items: hover them for [start, end), size and source, or use --format json.</p>")
    return (f"<section>{head}{summary}{maps}"
            f"<h3>Findings</h3>{_findings_html(geom, prefix)}{notes_html}{table}</section>")


def render_html(pairs: list[tuple[MapInput, MapGeometry | None]], *, title: str) -> str:
    multi = len(pairs) > 1
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             f"<title>{escape(title)}</title><style>{CSS}</style></head><body>", defs_block(),
             f"<h1>{escape(title)}</h1>"]
    if multi:
        rows = "".join(f'<tr><td><a href="#board-{i}">{escape(inp.name)}</a></td><td class="summary">'
                       f"{_summary(inp)}</td><td>{'' if g is not None else 'not loaded'}</td></tr>"
                       for i, (inp, g) in enumerate(pairs))
        parts.append(f'<h2>Boards</h2><table class="index">{rows}</table>')
    for i, (inp, geom) in enumerate(pairs):
        parts.append(_section(i, inp, geom, multi))
    parts.append("</body></html>\n")
    return "".join(parts)
