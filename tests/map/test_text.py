"""`hvcheck map --format text`: fits 100 columns whatever the layout, one row per elementary range
in address order, every item and finding present."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hvcheck.layout.loaders import load_layout
from hvcheck.layout.rules import run_rules
from hvcheck.map.geometry import build_map
from hvcheck.map.text import WIDTH, render_geometry_text
from tests.conftest import FIXTURES, ROOT, run_hvcheck
from tests.layout.helpers import layout

SEED = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"
FAULTY = FIXTURES / "hvisor" / "repo" / "platform" / "aarch64" / "faulty"


def _text(path: Path) -> str:
    system = load_layout(path)
    return render_geometry_text(build_map(system, run_rules(system)))


def _rows(text: str) -> list[int]:
    return [int(m.group(1), 16) for m in re.finditer(r"^(0x[0-9a-f]+) ", text, re.M)]


def test_seed_map_rows_and_findings() -> None:
    text = _text(SEED)
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    rows = _rows(text)
    assert rows == sorted(rows) and len(rows) == len(set(rows))
    # hvisor's parts start on their own rows, and the M001/M002 rows are exactly hvisor's extent.
    for start in (0x40400000, 0x40a00000, 0x40c00000, 0x44c00000):
        assert start in rows
    flagged = [int(line.split()[0], 16) for line in text.splitlines()
               if line.startswith("0x") and "M001" in line.rsplit("|", 1)[-1]]
    assert flagged == [0x40400000, 0x40a00000, 0x40c00000]
    assert "~ empty, collapsed ~" in text and "253.3 GiB" in text   # the gap below the PCIe ECAM
    in_bank = [int(line.split()[0], 16) for line in text.splitlines() if line.startswith("0x") and
               line.split("|")[0].rstrip().endswith("#")]
    assert min(in_bank) == 0x40000000 and max(in_bank) < 0xc0000000    # board memory: 2 GiB from 1 GiB
    assert "M001 error [0x40400000, 0x44c00000) 72 MiB" in text


def test_faulty_board_fits_and_lists_unplaced_findings() -> None:
    text = _text(FAULTY)
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert "M010 error (no address): CPU 2 is assigned to zones linux1, linux2" in text
    assert "M011 warning (no address)" in text


def test_many_zones_and_64_bit_addresses_still_fit(tmp_path: Path) -> None:
    zones = [{"name": f"zone-with-a-long-name-{i}", "root": i == 0,
              "regions": [{"kind": "ram", "start": hex(0xffff_0000_0000_0000 + i * 0x1000_0000), "size": "256M"},
                          {"kind": "io", "start": hex(0x1000 * (i + 1)), "size": "4K", "label": "x" * 60}]}
             for i in range(9)]
    path = tmp_path / "wide.json"
    doc = layout(zones=zones)
    del doc["hypervisor"]
    path.write_text(json.dumps(doc))
    text = _text(path)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    # Nine zones do not fit one table: the lanes are split over several, each with the address column.
    headers = [line for line in lines if line.startswith("start ")]
    assert len(headers) >= 2
    for i in range(1, 9):
        assert any(f"-{i}" in h for h in headers)
    assert "root)" in headers[0]


def test_cli_text_equals_library_text() -> None:
    assert run_hvcheck("map", str(SEED)).stdout == _text(SEED)
