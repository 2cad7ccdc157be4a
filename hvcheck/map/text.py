"""Geometry -> an aligned ASCII map for terminals and CI logs, at most :data:`WIDTH` columns.

One row per elementary range (between two neighbouring edges), low addresses first; a collapsed
empty gap is one `~` row. In each owner's column an item shows its label on its first row and `|`
on the rows it continues over; overlapping items of one owner sit side by side. A zone's device-
tree column (`dt`) tells what the zone's kernel is told there: `m` /memory, `r` reserved (mapped),
`N` reserved no-map, `X` /memreserve/. The findings column names the rules whose marks cover the
row; the list under the map gives each finding's exact range and message.
"""

from __future__ import annotations

import textwrap

from hvcheck.map.geometry import (
    BANK,
    DT_MEMORY,
    DT_MEMRESERVE,
    DT_NOMAP,
    DT_RESERVED,
    GROUP,
    HV,
    HV_PART,
    HV_UNCERTAIN,
    IMAGE,
    STRIP_KINDS,
    Item,
    MapGeometry,
)
from hvcheck.map.render import MapInput
from hvcheck.units import human_size

WIDTH = 100
SIZE_W = 11
FINDINGS_W = 12
MIN_LANE_W = 10
STRIP_CHAR = {DT_MEMORY: "m", DT_RESERVED: "r", DT_NOMAP: "N", DT_MEMRESERVE: "X"}
STRIP_PRIORITY = {DT_MEMORY: 0, DT_RESERVED: 1, DT_NOMAP: 2, DT_MEMRESERVE: 3}


def _fit(text: str, width: int) -> str:
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "~"


def _fit_middle(text: str, width: int) -> str:
    """Owner names often share a prefix and differ at the end: keep both ends."""
    if len(text) <= width:
        return text
    if width < 5:
        return _fit(text, width)
    tail = (width - 1) // 2
    return text[: width - 1 - tail] + "~" + text[len(text) - tail:]


def _short_size(n: int) -> str:
    return human_size(n).replace(" ", "").replace("iB", "")


SHORT_KIND = {"emulated": "emu", "reserved": "rsv", "shared": "shr"}


def _label(it: Item) -> str:
    if it.kind == GROUP:
        return f"{it.count}x {it.label}"
    label = it.label
    kind = it.kind
    if kind in SHORT_KIND and label.startswith(kind):
        label = SHORT_KIND[kind] + label[len(kind):]
    return f"{label} {_short_size(it.size)}"


IMAGE_TAG = {"kernel": "K", "dtb": "D", "initrd": "I"}


def _lane_groups(geom: MapGeometry, addr_w: int) -> list[list[int]]:
    """Lanes split into tables that each fit WIDTH columns (one table unless there are many owners)."""
    fixed = addr_w + 1 + SIZE_W + 1 + FINDINGS_W
    per_table = max(1, (WIDTH - fixed) // (MIN_LANE_W + 1))
    lanes = list(range(len(geom.lanes)))
    return [lanes[i:i + per_table] for i in range(0, len(lanes), per_table)] or [[]]


def _lane_widths(geom: MapGeometry, lanes: list[int], room: int) -> dict[int, int]:
    """Share ``room`` columns between lanes by what their labels need, each at least MIN_LANE_W."""
    need: dict[int, int] = {ln: MIN_LANE_W for ln in lanes}
    for it in geom.items:
        if it.lane in need and it.kind not in STRIP_KINDS and it.kind != IMAGE:
            lane = geom.lanes[it.lane]
            want = (len(_label(it)) + 1) * min(lane.columns, 4) + (4 if lane.strip else 0)
            need[it.lane] = max(need[it.lane], min(want, 40))
    for ln in lanes:
        need[ln] = max(need[ln], len(geom.lanes[ln].title) + (3 if geom.lanes[ln].strip else 0))
    total = sum(need.values())
    if total <= room:
        extra = room - total
        widths = {ln: need[ln] + extra * need[ln] // total for ln in lanes}
    else:
        spare = room - MIN_LANE_W * len(lanes)
        over = {ln: need[ln] - MIN_LANE_W for ln in lanes}
        over_total = sum(over.values()) or 1
        widths = {ln: MIN_LANE_W + max(spare, 0) * over[ln] // over_total for ln in lanes}
    if lanes:  # what integer division left over goes to the lane that wants the most
        widest = max(lanes, key=lambda ln: need[ln])
        widths[widest] += max(room - sum(widths.values()), 0)
    return widths


def _table(geom: MapGeometry, lanes: list[int], addr_w: int) -> list[str]:
    edges = geom.scale.edges
    gaps = {g.start for g in geom.scale.gaps}
    widths = _lane_widths(geom, lanes, WIDTH - (addr_w + 1 + SIZE_W + 1 + FINDINGS_W) - len(lanes))
    cols: dict[int, list[tuple[int, int]]] = {}   # lane -> [(x offset, width)] per sub-column
    for ln in lanes:
        lane = geom.lanes[ln]
        body = widths[ln] - (1 if lane.strip else 0)
        n = max(1, min(lane.columns, body // 3))
        w = body // n
        cols[ln] = [(i * w, w - (1 if n > 1 else 0)) for i in range(n)]
    header = f"{'start':<{addr_w}} {'size':<{SIZE_W - 1}}b"
    for ln in lanes:
        lane = geom.lanes[ln]
        lane_w = widths[ln]
        title = _fit_middle(lane.title, lane_w - (3 if lane.strip else 0))
        title = f"{title:<{lane_w - 2}}dt" if lane.strip else title
        header += f"|{title:<{lane_w}}"
    header += "| findings"
    out = [header.rstrip(), "-" * min(WIDTH, len(header))]
    # Per row: which items cover it. Items are few per row; walk them with a sweep.
    active: list[Item] = []
    by_start = sorted((it for it in geom.items if it.kind == BANK or it.lane in cols), key=lambda i: i.start)
    marks = sorted(geom.marks, key=lambda m: m.start)
    k = 0
    mk = 0
    active_marks: list[int] = []
    for row in range(len(edges) - 1):
        a, b = edges[row], edges[row + 1]
        while k < len(by_start) and by_start[k].start <= a:
            active.append(by_start[k])
            k += 1
        active = [it for it in active if it.end > a or (it.end == it.start == a)]
        while mk < len(marks) and marks[mk].start <= a:
            active_marks.append(mk)
            mk += 1
        active_marks = [i for i in active_marks if marks[i].end > a or marks[i].start == marks[i].end == a]
        if a in gaps:
            out.append(f"{'~' * min(addr_w, 10):<{addr_w}} {human_size(b - a):<{SIZE_W}} ~ empty, collapsed ~")
            continue
        in_bank = any(it.kind == BANK for it in active)
        line = f"{a:#0{addr_w}x} {human_size(b - a):<{SIZE_W - 1}}{'#' if in_bank else ' '}"
        for ln in lanes:
            lane_w = widths[ln]
            cell = [" "] * lane_w
            here = [it for it in active if it.lane == ln]
            parts = any(it.kind == HV_PART for it in here)
            strip = ""
            for it in here:
                if it.kind in STRIP_KINDS:
                    if not strip or STRIP_PRIORITY[it.kind] > STRIP_PRIORITY[strip]:
                        strip = it.kind
                    continue
                if it.kind == IMAGE or (it.kind == HV and parts) or it.kind == HV_UNCERTAIN:
                    continue
                x, w = cols[ln][min(it.column, len(cols[ln]) - 1)]
                text = _label(it) if it.start == a else "|"
                if it.estimated and it.start == a:
                    text = "?" + text
                for i, ch in enumerate(_fit(text, w)):
                    cell[x + i] = ch
            images = [it for it in here if it.kind == IMAGE and it.start == a]
            if images:
                # Right-aligned: the label of the region the image is loaded into keeps its start.
                tag = "<" + "".join(IMAGE_TAG.get(i.label, i.label[:1].upper()) for i in images)
                at = max(lane_w - len(tag) - (1 if geom.lanes[ln].strip else 0), 0)
                if at > 0:
                    cell[at - 1] = " "
                for i, ch in enumerate(tag[: lane_w - at]):
                    cell[at + i] = ch
            if geom.lanes[ln].strip:
                cell[-1] = STRIP_CHAR.get(strip, " ")
            line += "|" + "".join(cell)
        rules = sorted({marks[i].rule for i in active_marks})
        shown = " ".join(rules)
        if len(shown) > FINDINGS_W:
            shown = _fit(shown, FINDINGS_W - 3) + f"+{len(rules)}"
        line += "| " + shown
        out.append(line.rstrip())
    if edges:
        out.append(f"{edges[-1]:#0{addr_w}x} (end)")
    return out


def _findings_list(geom: MapGeometry) -> list[str]:
    out: list[str] = []
    if not geom.findings:
        return ["no findings"]
    out.append("findings (drawn where they are):")
    for m in geom.marks:
        where = f"[{m.start:#x}, {m.end:#x}) {human_size(m.end - m.start)}" if m.end > m.start else f"at {m.start:#x}"
        caveat = f" ({m.caveat})" if m.caveat else ""
        out.extend(textwrap.wrap(f"{m.rule} {m.severity} {where}{caveat}: {m.message}", WIDTH,
                                 initial_indent="  ", subsequent_indent="      "))
    for fi in geom.unplaced:
        f = geom.findings[fi]
        out.extend(textwrap.wrap(f"{f.rule} {f.sev.label} (no address): {f.message}", WIDTH,
                                 initial_indent="  ", subsequent_indent="      "))
    return out


def render_geometry_text(geom: MapGeometry) -> str:
    addr_w = max([10] + [len(f"{e:#x}") for e in geom.scale.edges])
    out = [_fit(f"hvcheck map: {geom.title}", WIDTH),
           "addresses grow downwards; one row per range between two edges; ~ collapsed empty gap;",
           "b: # board memory; dt: m /memory, r reserved, N no-map, X /memreserve/; ?label estimated;",
           "load address <K kernel, <D dtb, <I initrd; label~ truncated (exact: --format html|svg|json)"]
    if geom.grouped:
        out.append("grouped view: tiny neighbouring items are counted, not listed")
    for lanes in _lane_groups(geom, addr_w):
        out.append("")
        out.extend(_table(geom, lanes, addr_w))
    out.append("")
    out.extend(_findings_list(geom))
    for note in geom.notes:
        out.extend(textwrap.wrap(f"note: {note}", WIDTH, subsequent_indent="      "))
    return "\n".join(out) + "\n"


def render_text(pairs: list[tuple[MapInput, MapGeometry | None]]) -> str:
    if len(pairs) == 1 and pairs[0][1] is not None:
        return render_geometry_text(pairs[0][1])
    out: list[str] = []
    if len(pairs) > 1:
        out.append("boards:")
        for inp, geom in pairs:
            n = len(inp.findings)
            status = "not loaded" if geom is None else f"{n} finding{'' if n == 1 else 's'}"
            out.append(_fit(f"  {inp.name:<40} {status}", WIDTH))
    for inp, geom in pairs:
        out.append("")
        head = f"== {inp.name} "
        out.append(head + "=" * max(WIDTH - len(head), 0) if len(head) < WIDTH else _fit(head, WIDTH))
        if geom is None:
            out.extend(textwrap.wrap(f"not drawn: {inp.findings[0].message}" if inp.findings else "not drawn",
                                     WIDTH))
            continue
        out.append(render_geometry_text(geom).rstrip("\n"))
    return "\n".join(out) + "\n"

