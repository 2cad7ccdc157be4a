"""Geometry -> SVG. Self-contained (inline styles, no fonts or links fetched); used alone for docs
and code review (with a legend listing every item), and inline in the HTML page (tooltips).

Every drawn item is a ``<rect>`` carrying ``data-id``, ``data-kind``, ``data-start`` and
``data-end`` (0x-hex), and every finding mark a ``<rect class="mark">`` with ``data-rule``, so the
picture can be checked against the model in a real browser (tests/map/test_browser.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape

from hvcheck.findings import Location, get_rule
from hvcheck.map.geometry import (
    BANK,
    DT_MEMORY,
    GROUP,
    HV,
    HV_PART,
    HV_UNCERTAIN,
    IMAGE,
    STRIP_KINDS,
    Item,
    MapGeometry,
    Mark,
)
from hvcheck.units import human_size

MARGIN = 12
AXIS_W = 132           # address labels
HEADER_H = 64          # title, subtitle, lane titles
LANE_GAP = 10
STRIP_W = 16           # a zone's device-tree strip
IMAGE_W = 7            # load-image bars at a zone lane's left edge
ANNOT_W = 330          # finding labels at the right
CHAR_W = 6.1           # 10px monospace
COLUMN_GROWTH_CAP = 6  # a lane widens for up to this many side-by-side columns, then columns narrow
ANNOT_COLUMNS = 10
MAX_LEGEND_ROWS = 400

FILL = {
    "ram": "#81c784", "shared": "#4db6ac", "reserved": "#c5e1a5", "rom": "#bcaaa4", "io": "#64b5f6",
    "emulated": "#ffe082", "device": "#b0bec5", "hv": "#ede7f6", "hv-part": "#9575cd", "hv-uncertain": "none",
    "dt-memory": "#a5d6a7", "dt-nomap": "#37474f", "dt-reserved": "#90a4ae", "dt-memreserve": "#263238",
    "image": "#212121", "bank": "#f5f5f5", "group": "#cfd8dc",
}
SEVERITY = {"error": "#d32f2f", "warning": "#ef6c00", "note": "#1565c0"}

STYLE = """
.map text{font-family:DejaVu Sans Mono,Menlo,Consolas,monospace;font-size:10px;fill:#212121}
.map .title{font-size:15px;font-weight:bold;font-family:DejaVu Sans,Helvetica,Arial,sans-serif}
.map .sub{font-size:11px;fill:#555;font-family:DejaVu Sans,Helvetica,Arial,sans-serif}
.map .lane-title{font-size:12px;font-weight:bold;font-family:DejaVu Sans,Helvetica,Arial,sans-serif}
.map .it{stroke:#37474f;stroke-width:.8}
.map .est{stroke-dasharray:4 2;fill:url(#hatch)}
.map .k-emulated{stroke-dasharray:3 2}
.map .k-hv{stroke:#4527a0;stroke-width:1.5}
.map .k-hv-uncertain{fill:url(#hatch-red);stroke:#b71c1c;stroke-dasharray:2 2}
.map .k-bank{stroke:none}
.map .k-image{stroke:none}
.map .grid{stroke:#e0e0e0;stroke-width:.5;fill:none}
.map .lane-bg{fill:#fafafa;stroke:#eeeeee}
.map .gap{fill:#ffffff}
.map .mark{stroke-width:2;stroke-dasharray:5 3;fill-opacity:.16;pointer-events:stroke}
.map .lbl{pointer-events:none}
.map .legend{white-space:pre}
.map .strip-title{font-size:9px;fill:#757575}
"""


@dataclass
class XLayout:
    lane_x: list[float]
    lane_w: list[float]
    annot_x: float
    width: float


def x_layout(geom: MapGeometry) -> XLayout:
    xs: list[float] = []
    ws: list[float] = []
    x = float(MARGIN + AXIS_W)
    for lane in geom.lanes:
        base = 140.0 if lane.key in ("hv", "devices") else 160.0
        w = base + 60.0 * (min(lane.columns, COLUMN_GROWTH_CAP) - 1) + (STRIP_W if lane.strip else 0)
        xs.append(x)
        ws.append(w)
        x += w + LANE_GAP
    return XLayout(xs, ws, x + 4, x + 4 + ANNOT_W + MARGIN)


@lru_cache(maxsize=4096)
def _size(n: int) -> str:
    return human_size(n)


_WHERE: dict[tuple[str | None, int | None, str | None, str | None], str] = {}


def _where(loc: Location) -> str:
    """The escaped source of a location; items share few distinct ones (one file, many lines)."""
    key = (loc.path, loc.line, loc.symbol, loc.detail)
    text = _WHERE.get(key)
    if text is None:
        if len(_WHERE) > 65536:
            _WHERE.clear()
        text = _WHERE[key] = escape(str(loc))
    return text


def _hex(n: int) -> str:
    return f"{n:#x}"


def _range(start: int, end: int) -> str:
    return f"[{start:#x}, {end:#x}) {_size(end - start)}" if end > start else f"at {start:#x}"


def _fit_middle(text: str, width: float) -> str:
    """Owner names often share a prefix and differ at the end: keep both ends."""
    n = int((width - 6) / CHAR_W)
    if len(text) <= n or n < 5:
        return _fit(text, width)
    tail = (n - 1) // 2
    return text[: n - 1 - tail] + "…" + text[len(text) - tail:]


def _fit(text: str, width: float) -> str:
    n = int((width - 6) / CHAR_W)
    if n <= 1:
        return ""
    return text if len(text) <= n else text[: n - 1] + "…"


def tooltip(geom: MapGeometry, it: Item) -> str:
    """The hover text of an item, already escaped for XML."""
    lane = geom.lanes[it.lane].title if it.lane >= 0 else "board"
    head = f"{lane}: {it.label}" + (f" ({it.count} items)" if it.kind == GROUP else "")
    lines = [escape(head), _range(it.start, it.end), "from " + _where(it.source)]
    if it.estimated:
        lines.append("estimated (no ELF): drawn as a range")
    if it.note:
        lines.append(escape(it.note))
    return "\n".join(lines)


def mark_tooltip(m: Mark) -> str:
    lines = [f"{m.rule} {m.severity}: {_range(*m.named)}", m.message]
    if m.caveat:
        lines.append(f"({m.caveat})")
    return "\n".join(lines)


class _Svg:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)


def _item_box(geom: MapGeometry, xl: XLayout, it: Item, top: float) -> tuple[float, float, float, float]:
    """x, y, width, height of an item (board memory spans every lane)."""
    y0 = top + geom.scale.y(it.start)
    y1 = top + geom.scale.y(it.end)
    if it.lane < 0:
        x0 = xl.lane_x[0] if xl.lane_x else MARGIN + AXIS_W
        x1 = (xl.lane_x[-1] + xl.lane_w[-1]) if xl.lane_x else x0 + 100
        return x0 - 4, y0, x1 - x0 + 8, y1 - y0
    lane = geom.lanes[it.lane]
    lx, lw = xl.lane_x[it.lane], xl.lane_w[it.lane]
    body = lw - (STRIP_W if lane.strip else 0)
    if it.kind in STRIP_KINDS:
        inset = 0 if it.kind == DT_MEMORY else 3
        return lx + body + 2 + inset, y0, STRIP_W - 3 - 2 * inset, y1 - y0
    if it.kind == IMAGE:
        return lx, y0, IMAGE_W, y1 - y0
    if it.kind in (HV, HV_UNCERTAIN):
        return lx, y0, body, y1 - y0
    cols = lane.columns
    cw = body / cols
    inset = 6 if it.kind in ("hv-part",) else 0
    return lx + cw * it.column + inset, y0, max(cw - inset - 1, 2), y1 - y0


def _draw_item(svg: _Svg, geom: MapGeometry, xl: XLayout, it: Item, top: float, ids: tuple[str, str] | None) -> None:
    """``ids``: (this map's id prefix, the detailed map's id prefix) when elements get ids (HTML)."""
    x, y, w, h = _item_box(geom, xl, it, top)
    cls = f"it k-{it.kind}" + (" est" if it.estimated and it.kind not in (HV_UNCERTAIN,) else "")
    fill = FILL.get(it.kind, "#e0e0e0")
    tip = tooltip(geom, it)
    attrs = (f'data-id="{it.uid}" data-kind="{it.kind}" data-start="{_hex(it.start)}" data-end="{_hex(it.end)}" '
             f'data-lane="{it.lane}"')
    link = geom.links.get(it.uid) if ids is not None else None
    if ids is not None:
        attrs = f'id="{ids[0]}{it.uid}" ' + attrs
    if link is not None and ids is not None:
        svg.add(f'<a href="#{ids[1]}{link}">')
    if it.kind == IMAGE and it.end == it.start:
        svg.add(f'<path class="{cls}" {attrs} d="M{x:.1f},{y - 5:.1f} l{IMAGE_W + 3},5 l-{IMAGE_W + 3},5 z" '
                f'fill="{fill}"><title>{tip}</title></path>')
    else:
        fill_attr = "" if it.estimated and it.kind != HV_UNCERTAIN else f' fill="{fill}"'
        svg.add(f'<rect class="{cls}" {attrs} x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}"{fill_attr}>'
                f'<title>{tip}</title></rect>')
    if link is not None:
        svg.add("</a>")
    if it.kind == HV and any(i.kind == HV_PART for i in geom.items):
        return  # the parts carry the labels
    right = 0.0
    if it.lane >= 0:
        right = xl.lane_x[it.lane] + xl.lane_w[it.lane] - (STRIP_W if geom.lanes[it.lane].strip else 0)
    _draw_label(svg, it, x, y, w, h, right)


def _draw_label(svg: _Svg, it: Item, x: float, y: float, w: float, h: float, right: float) -> None:
    if it.kind in STRIP_KINDS or it.lane < 0:
        return
    if it.kind == IMAGE:
        # Right-aligned in the lane, so it never sits on the label of the region it is loaded into.
        text = f"{it.label}" + (f" {human_size(it.size)}" if it.size else "")
        svg.add(f'<text class="lbl" x="{right - 3:.1f}" y="{y + 9 if it.size else y + 3:.1f}" text-anchor="end" '
                f'style="font-size:9px;font-style:italic">{escape(text)}</text>')
        return
    if h < 11:
        return
    text = it.label if it.kind == HV_UNCERTAIN else f"{it.label} {_size(it.size)}"
    if it.kind == GROUP:
        text = f"{it.count} × {it.label}"
    left = x + (IMAGE_W + 3 if it.kind not in ("hv-part", HV, HV_UNCERTAIN, "device") else 4)
    fitted = _fit(text, w - (left - x))
    if fitted:
        ty = y + 10 if h < 30 or it.kind == HV_UNCERTAIN else y + 12
        svg.add(f'<text class="lbl" x="{left:.1f}" y="{ty:.1f}">{escape(fitted)}</text>')


def _zigzag(x0: float, x1: float, y: float) -> str:
    """A break mark: a strip filled with the zigzag pattern (one element, whatever the width)."""
    return f'<rect x="{x0:.1f}" y="{y - 4:.1f}" width="{x1 - x0:.1f}" height="8" fill="url(#zig)"/>'


def _annotation_columns(marks: Sequence[Mark], geom: MapGeometry) -> list[int]:
    ends: list[float] = []
    cols: list[int] = []
    order = sorted(range(len(marks)), key=lambda i: (marks[i].start, -marks[i].end))
    out = [0] * len(marks)
    for i in order:
        m = marks[i]
        y0, y1 = geom.scale.y(m.start), geom.scale.y(m.end) + 2
        for c, e in enumerate(ends):
            if e <= y0:
                out[i] = c
                ends[c] = y1
                break
        else:
            out[i] = min(len(ends), ANNOT_COLUMNS - 1)
            if len(ends) < ANNOT_COLUMNS:
                ends.append(y1)
            else:
                ends[-1] = max(ends[-1], y1)
    cols.extend(out)
    return cols


def _draw_marks(svg: _Svg, geom: MapGeometry, xl: XLayout, top: float, id_prefix: str) -> None:
    cols = _annotation_columns(geom.marks, geom)
    label_y = -1e9
    order = sorted(range(len(geom.marks)), key=lambda i: (geom.scale.y(geom.marks[i].start), cols[i]))
    ncols = max(cols, default=-1) + 1
    for i in order:
        m = geom.marks[i]
        color = SEVERITY.get(m.severity, "#000")
        y0, y1 = top + geom.scale.y(m.start), top + geom.scale.y(m.end)
        if geom.lanes:
            x0 = xl.lane_x[m.first_lane] - 3
            x1 = xl.lane_x[m.last_lane] + xl.lane_w[m.last_lane] + 3
        else:
            x0, x1 = MARGIN + AXIS_W, xl.annot_x
        attrs = (f'id="{id_prefix}{m.uid}" data-mark="{m.uid}" data-rule="{m.rule}" data-severity="{m.severity}" '
                 f'data-start="{_hex(m.start)}" data-end="{_hex(m.end)}"')
        tip = escape(mark_tooltip(m))
        h = max(y1 - y0, 0.0)
        if h > 0:
            svg.add(f'<rect class="mark sev-{m.severity}" {attrs} x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" '
                    f'height="{h:.1f}" fill="{color}" stroke="{color}"><title>{tip}</title></rect>')
        else:
            svg.add(f'<line class="mark sev-{m.severity}" {attrs} x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" '
                    f'y2="{y0:.1f}" stroke="{color}" stroke-width="2"><title>{tip}</title></line>')
        bx = xl.annot_x + 6 * cols[i]
        svg.add(f'<rect x="{bx:.1f}" y="{y0:.1f}" width="4" height="{max(h, 2):.1f}" fill="{color}">'
                f'<title>{tip}</title></rect>')
        ly = max(y0 + 9, label_y + 12)
        label_y = ly
        lx = xl.annot_x + 6 * ncols + 6
        svg.add(f'<line x1="{bx + 4:.1f}" y1="{y0 + 1:.1f}" x2="{lx - 2:.1f}" y2="{ly - 3:.1f}" stroke="{color}" '
                f'stroke-width=".6"/>')
        text = f"{m.rule} {'≈ ' if m.exact is not None else ''}{_range(*m.named)}"
        svg.add(f'<text class="lbl" x="{lx:.1f}" y="{ly:.1f}" style="fill:{color};font-weight:bold">'
                f'{escape(_fit(text, xl.width - MARGIN - lx))}</text>')


def _legend_rows(geom: MapGeometry) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for m in geom.marks:
        caveat = f" ({m.caveat})" if m.caveat else ""
        title = get_rule(m.rule).title
        rows.append((SEVERITY.get(m.severity, "#000"),
                     f"{m.rule} {m.severity:<7} {_range(*m.named):<44} {title}{caveat}"))
    for fi in geom.unplaced:
        f = geom.findings[fi]
        rows.append((SEVERITY.get(f.sev.label, "#000"), f"{f.rule} {f.sev.label:<7} (no address) {f.message}"))
    for it in geom.items:
        lane = geom.lanes[it.lane].title if it.lane >= 0 else "board"
        est = " estimated" if it.estimated else ""
        what = f"{it.count} × {it.label}" if it.kind == GROUP else it.label or it.kind
        rows.append(("#212121", f"{lane[:20]:<20} {what[:24]:<24} {_range(it.start, it.end):<44} {it.source}{est}"))
    return rows


def render_svg_body(geom: MapGeometry, *, legend: bool, top_offset: float = 0.0, id_prefix: str = "",
                    ids: tuple[str, str] | None = None) -> tuple[str, float, float]:
    """The map's SVG elements (no <svg> wrapper), its width and height. ``ids``: give items ids
    (this map's prefix, the detailed map's prefix for group links)."""
    xl = x_layout(geom)
    svg = _Svg()
    top: float = top_offset + HEADER_H
    sub = ("addresses grow downwards; not to scale: each range's height grows with log2(size); "
           "≈ marks a collapsed empty gap")
    svg.add(f'<text class="title" x="{MARGIN}" y="{top_offset + 18}">{escape(geom.title)}</text>')
    svg.add(f'<text class="sub" x="{MARGIN}" y="{top_offset + 34}">{escape(sub)}</text>')
    for i, lane in enumerate(geom.lanes):
        svg.add(f'<text class="lane-title" x="{xl.lane_x[i] + 2:.1f}" y="{top - 8:.1f}">'
                f'{escape(_fit_middle(lane.title, (xl.lane_w[i] - (STRIP_W + 2 if lane.strip else 0)) * 0.85))}</text>')
        svg.add(f'<rect class="lane-bg" x="{xl.lane_x[i]:.1f}" y="{top:.1f}" width="{xl.lane_w[i]:.1f}" '
                f'height="{geom.scale.height:.1f}"/>')
        if lane.strip:
            svg.add(f'<text class="strip-title" x="{xl.lane_x[i] + xl.lane_w[i] - 1:.1f}" text-anchor="end" '
                    f'y="{top - 8:.1f}">dt</text>')
    svg.add(f'<text class="lane-title" x="{xl.annot_x:.1f}" y="{top - 8:.1f}">findings</text>')
    for it in geom.items:
        if it.kind == BANK:
            _draw_item(svg, geom, xl, it, top, ids)
    # Edges: a faint line across the lanes and the address where there is room for it.
    last = -1e9
    lanes_x0 = MARGIN + AXIS_W
    grid: list[str] = []   # one path for every edge's line: one element, not thousands
    for addr, y in zip(geom.scale.edges, geom.scale.ys, strict=True):
        yy = top + y
        grid.append(f"M{lanes_x0 - 4},{yy:.1f}H{xl.annot_x - 4:.1f}")
        if y - last >= 11:
            svg.add(f'<text x="{lanes_x0 - 8}" y="{yy + 3.5:.1f}" text-anchor="end">{addr:#x}</text>')
            last = y
    svg.add(f'<path class="grid" d="{"".join(grid)}"/>')
    order = {HV: 0, HV_UNCERTAIN: 3, IMAGE: 4}
    for it in sorted((i for i in geom.items if i.kind != BANK),
                     key=lambda i: (order.get(i.kind, 2 if i.kind in STRIP_KINDS and i.kind != DT_MEMORY else 1),)):
        _draw_item(svg, geom, xl, it, top, ids)
    for g in geom.scale.gaps:
        y0, y1 = top + g.y0, top + g.y1
        svg.add(f'<rect class="gap" x="{lanes_x0 - 2}" y="{y0 + 3:.1f}" width="{xl.annot_x - lanes_x0 - 2:.1f}" '
                f'height="{y1 - y0 - 6:.1f}"/>')
        svg.add(_zigzag(lanes_x0, xl.annot_x - 6, y0 + 7))
        svg.add(_zigzag(lanes_x0, xl.annot_x - 6, y1 - 7))
        svg.add(f'<text x="{lanes_x0 - 8}" y="{(y0 + y1) / 2 + 3.5:.1f}" text-anchor="end" style="fill:#757575">'
                f'≈ {escape(human_size(g.end - g.start))}</text>')
    _draw_marks(svg, geom, xl, top, id_prefix)
    height: float = top - top_offset + geom.scale.height + 16
    if legend:
        rows = _legend_rows(geom)
        ly = top_offset + height + 8
        svg.add(f'<text class="lane-title" x="{MARGIN}" y="{ly:.1f}">legend: every finding and item, exact '
                '[start, end), size and source</text>')
        shown = rows[:MAX_LEGEND_ROWS]
        for color, text in shown:
            ly += 13
            svg.add(f'<text class="legend" x="{MARGIN}" y="{ly:.1f}" style="fill:{color}">{escape(text)}</text>')
        if len(rows) > len(shown):
            ly += 13
            svg.add(f'<text x="{MARGIN}" y="{ly:.1f}">... and {len(rows) - len(shown)} more rows: use --format '
                    'html (tooltips) or json</text>')
        height = ly - top_offset + 12
        width = max(xl.width, MARGIN * 2 + CHAR_W * max((len(t) for _, t in shown), default=0))
    else:
        width = xl.width
    return "".join(svg.parts), width, height


def _defs() -> str:
    return ('<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="6" height="6" fill="#d1c4e9"/>'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="#7e57c2" stroke-width="2"/></pattern>'
            '<pattern id="hatch-red" width="5" height="5" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(-45)"><line x1="0" y1="0" x2="0" y2="5" stroke="#e57373" '
            f'stroke-width="1.5"/></pattern><pattern id="zig" width="8" height="8" patternUnits="userSpaceOnUse">'
            '<path d="M0,6 L4,2 L8,6" fill="none" stroke="#9e9e9e" stroke-width="1"/></pattern></defs>'
            f'<style>{STYLE}</style>')


def render_svg(geoms: Sequence[MapGeometry], *, legend: bool = True, not_drawn: Sequence[str] = ()) -> str:
    """One standalone SVG document; several maps (``--all``) are stacked, and the systems that
    could not be loaded are named at the end (``not_drawn``), never silently left out."""
    bodies = []
    y = 0.0
    width = 0.0
    for gi, geom in enumerate(geoms):
        body, w, h = render_svg_body(geom, legend=legend, top_offset=y, id_prefix=f"b{gi}-" if len(geoms) > 1 else "")
        bodies.append(body)
        y += h + 24
        width = max(width, w)
    for line in not_drawn:
        y += 14
        bodies.append(f'<text class="legend" x="{MARGIN}" y="{y:.1f}" style="fill:{SEVERITY["error"]}">'
                      f"not drawn: {escape(line)}</text>")
        width = max(width, MARGIN * 2 + CHAR_W * (len(line) + 11))
    if not_drawn:
        y += 12
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="map" width="{width:.0f}" height="{y:.0f}" '
            f'viewBox="0 0 {width:.0f} {y:.0f}">{_defs()}<rect width="100%" height="100%" fill="#ffffff"/>'
            + "".join(bodies) + "</svg>\n")


def render_inline_svg(geom: MapGeometry, dom_id: str, id_prefix: str = "", detail_prefix: str = "") -> str:
    """One map as an inline <svg> element of the HTML page (no legend: tooltips instead); items and
    marks get ids under ``id_prefix``, groups link to ``detail_prefix`` + their first item."""
    body, w, h = render_svg_body(geom, legend=False, id_prefix=id_prefix, ids=(id_prefix, detail_prefix))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="map" id="{dom_id}" width="{w:.0f}" height="{h:.0f}" '
            f'viewBox="0 0 {w:.0f} {h:.0f}">{body}</svg>')


def defs_block() -> str:
    """Patterns and style shared by every inline SVG of a page (ids must be unique per document)."""
    return f'<svg width="0" height="0" style="position:absolute">{_defs()}</svg>'
