"""One entry point for the renderers: systems and their findings -> html, svg or text."""

from __future__ import annotations

from dataclasses import dataclass, field

from hvcheck.findings import Finding
from hvcheck.layout.model import System
from hvcheck.map.geometry import MapGeometry, build_map


@dataclass
class MapInput:
    """One system to draw (None when it could not be loaded: its E001 finding is listed instead)."""

    name: str
    system: System | None
    findings: list[Finding] = field(default_factory=list)


def geometries(inputs: list[MapInput]) -> list[tuple[MapInput, MapGeometry | None]]:
    return [(i, None if i.system is None else build_map(i.system, i.findings, title=i.system.name)) for i in inputs]


def render_maps(inputs: list[MapInput], fmt: str, *, title: str) -> str:
    pairs = geometries(inputs)
    if fmt == "html":
        from hvcheck.map.html import render_html

        return render_html(pairs, title=title)
    if fmt == "svg":
        from hvcheck.map.svg import render_svg

        missing = [i.findings[0].message if i.findings else i.name for i, g in pairs if g is None]
        return render_svg([g for _, g in pairs if g is not None], not_drawn=missing)
    if fmt == "text":
        from hvcheck.map.text import render_text

        return render_text(pairs)
    raise ValueError(f"unknown map format {fmt!r}")
