"""T006: the faulting zone (cell) maps nothing at the address and another zone owns it."""

from __future__ import annotations

from rulecheck import clean, fires
from triage_helpers import write

from hvcheck.triage.context import load_context
from hvcheck.triage.diagnose import diagnose
from hvcheck.triage.scan import scan

LAYOUT = """hvcheck-layout: 1
name: two-cells
board:
  name: b
  memory: [{start: 0x0, size: 0x80000000}]
zones:
  - name: root-cell
    id: 0
    root: true
    regions:
      - {kind: ram, start: 0x0, size: 0x60000000}
      - {kind: io, start: 0xff000000, size: 4K, label: uart0}
  - name: rtos
    id: 1
    regions:
      - {kind: ram, start: 0x60000000, size: 0x10000000}
      - {kind: io, start: 0xff010000, size: 4K, label: uart1}
      - {kind: io, start: 0xfe000000, size: 4K, guest: 0x20000000, label: can0}
"""


def _jailhouse(addr: str, cell: str) -> str:
    return (f"Unhandled data write at {addr}(4)\nFATAL: unhandled trap (exception class 0x24)\n"
            f'Parking CPU 1 (Cell: "{cell}")\n')


def _run(tmp_path, log: str):
    layout = write(tmp_path, LAYOUT, "layout.yaml")
    return diagnose([scan(write(tmp_path, log))], load_context(layout=layout))


def test_fires_for_another_cells_device(tmp_path) -> None:
    (t6,) = fires(_run(tmp_path, _jailhouse("0xff000010", "rtos")), "T006")
    assert t6.data["faulting_zone"] == "rtos" and t6.data["owner_zone"] == "root-cell"
    assert t6.data["owner_region"] == "uart0" and t6.data["confidence"] == "established"
    assert "uart0" in t6.message and any(loc.path.endswith("layout.yaml") for loc in t6.locations)


def test_hvisor_zone_id_and_probable_when_not_identity_mapped(tmp_path) -> None:
    log = ("[WARN  0] (hvisor::memory::mmio:109) Zone 0 unhandled mmio fault MMIOAccess {\n"
           "    address: 0xfe000008,\n    size: 0x4,\n    is_write: false,\n    value: 0x0,\n}\n")
    (t6,) = fires(_run(tmp_path, log), "T006")
    assert t6.data["faulting_zone"] == "root-cell" and t6.data["owner_region"] == "can0"
    assert t6.data["confidence"] == "probable" and "assuming" in t6.message


def test_clean_when_the_faulting_cell_maps_it_or_nobody_owns_it(tmp_path) -> None:
    clean(_run(tmp_path, _jailhouse("0xff000010", "root-cell")), "T006")     # its own UART: another cause
    findings = _run(tmp_path, _jailhouse("0xfd000000", "rtos"))              # no zone owns it
    clean(findings, "T006")
    assert any("no owner" in f.message for f in findings if f.rule == "T005")
    clean(_run(tmp_path, _jailhouse("0xff000010", "unknown-cell")), "T006")  # the log's cell is not in the layout
