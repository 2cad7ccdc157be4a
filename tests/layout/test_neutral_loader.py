"""The neutral layout format: YAML and JSON, provenance, and bad input with file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_hvcheck
from helpers import BASE, layout
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rulecheck import fires

from hvcheck.errors import InputError
from hvcheck.layout.loaders import load_layout
from hvcheck.layout.model import RegionKind

YAML = """\
hvcheck-layout: 1
name: yaml-board
hypervisor: {start: 0x4040_0000, size: 12M}
board:
  memory:
    - {start: 0x40000000, end: 0xC0000000}
zones:
  - name: root
    root: yes
    cpus: [0, 1]
    regions:
      - kind: ram
        start: 0x50000000
        size: 256M
        label: main RAM
      - {kind: virtio, start: 0x0a000000, size: 0x200}
"""


def test_yaml_values_and_provenance(tmp_path: Path) -> None:
    p = tmp_path / "l.yaml"
    p.write_text(YAML)
    system = load_layout(p)
    assert system.name == "yaml-board"
    hv = system.hypervisor
    assert hv is not None and (hv.start, hv.end) == (0x40400000, 0x40400000 + (12 << 20))
    assert hv.source.path == str(p) and hv.source.line == 3
    zone = system.root
    assert zone is not None and zone.name == "root"
    ram, virtio = zone.regions
    assert (ram.kind, ram.start, ram.size, ram.label, ram.owner) == (RegionKind.RAM, 0x50000000, 256 << 20,
                                                                       "main RAM", "root")
    assert ram.source.line == 12
    assert virtio.kind is RegionKind.EMULATED and virtio.source.line == 16
    assert system.board.memory[0].end == 0xC0000000
    assert [c.number for c in zone.cpus] == [0, 1]


def test_json_and_yaml_give_the_same_model(tmp_path: Path) -> None:
    j = tmp_path / "l.json"
    j.write_text(json.dumps(BASE))
    y = tmp_path / "l.yaml"
    import yaml

    y.write_text(yaml.safe_dump(BASE))
    a, b = load_layout(j), load_layout(y)
    strip = lambda s: [(r.kind, r.start, r.size, r.owner) for r in s.all_regions()]  # noqa: E731
    assert strip(a) == strip(b)
    assert (a.hypervisor.start, a.hypervisor.end) == (b.hypervisor.start, b.hypervisor.end)  # type: ignore[union-attr]


BAD_CASES = [
    ("hvcheck-layout: 1\nzones: [\n", "invalid YAML", None),
    ("zones: []\n", "missing required key 'hvcheck-layout'", 1),
    ("hvcheck-layout: 2\nzones: []\n", "unsupported hvcheck-layout version 2", 1),
    ("hvcheck-layout: 1\nzones:\n  - name: a\n    regions:\n      - {kind: ram, start: 0x1000}\n",
     "exactly one of 'size' or 'end'", 5),
    ("hvcheck-layout: 1\nzones:\n  - name: a\n    regions:\n      - {kind: ram, start: -0x1000, size: 1}\n",
     "negative", 5),
    ("hvcheck-layout: 1\nzones:\n  - name: a\n    regions:\n      - {kind: ram, start: 0xffffffffffffff00, size: 0x1000}\n",
     "beyond the 64-bit address space", 5),
    ("hvcheck-layout: 1\nzones:\n  - name: a\n    regions:\n      - {kind: ram, start: 0x10000000000000000, size: 1}\n",
     "does not fit in 64 bits", 5),
    ("hvcheck-layout: 1\nzones:\n  - name: a\n    regions:\n      - {kind: ram, start: banana, size: 1}\n",
     "is not a number", 5),
    ("hvcheck-layout: 1\nzones:\n  - name: a\n    regions:\n      - {kind: dram, start: 0, size: 1}\n",
     "unknown region kind", 5),
    ("hvcheck-layout: 1\nzones:\n  - name: a\n    cpus: 3\n", "must be a list", 4),
    ("hvcheck-layout: 1\nzones:\n  - name: a\n    regoins: []\n", "unknown key 'regoins'", 4),
    ("hvcheck-layout: 1\nzones:\n  - {name: a}\n  - {name: a}\n", "already used at line 3", 4),
    ("hvcheck-layout: 1\nzones:\n  - {name: a, root: true}\n  - {name: b, root: true}\n", "more than one", 4),
    ("hvcheck-layout: 1\nhypervisor: {start: 0x1000}\nzones: []\n", "exactly one of 'end', 'size'", 2),
    ("hvcheck-layout: 1\nzones:\n  - name: a\n    regions:\n      - {kind: ram, start: 0x2000, end: 0x1000}\n",
     "not above its start", 5),
    ("hvcheck-layout: 1\nhvcheck-layout: 1\nzones: []\n", "duplicate key", 2),
    ("- just\n- a list\n", "must be a mapping", 1),
    ("", "empty document", 1),
]


@pytest.mark.parametrize(("text", "what", "line"), BAD_CASES)
def test_bad_layouts_name_file_and_line(tmp_path: Path, text: str, what: str, line: int | None) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(InputError) as info:
        load_layout(p)
    assert what in info.value.message
    assert info.value.path == str(p)
    if line is not None:
        assert info.value.line == line


def test_bad_json_reports_json_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text('{\n  "hvcheck-layout": 1,\n  "zones": [\n    {"name": "a",}\n  ]\n}\n')
    with pytest.raises(InputError) as info:
        load_layout(p)
    assert info.value.line == 4 and "invalid JSON" in info.value.message


def test_binary_junk_is_exit_2_with_one_line(tmp_path: Path) -> None:
    p = tmp_path / "junk.yaml"
    p.write_bytes(b"hvcheck-layout: 1\n\x00\xff\xfe garbage")
    proc = run_hvcheck("layout", str(p))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {p}:") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    p = tmp_path / "l.json"
    p.write_text(json.dumps(BASE))
    assert run_hvcheck("layout", str(p)).returncode == 0
    doc = layout()
    doc["zones"][1]["irqs"] = [32]
    p.write_text(json.dumps(doc))
    proc = run_hvcheck("layout", str(p), "--format", "json")
    assert proc.returncode == 0  # M011 is a warning; --fail-on error by default
    out = json.loads(proc.stdout)
    assert [f["rule"] for f in out["findings"]] == ["M011"]
    fires(out["findings"], "M011")
    assert out["findings"][0]["data"]["irq"] == "0x20"
    assert run_hvcheck("layout", str(p), "--fail-on", "warning").returncode == 1
    assert run_hvcheck("layout", str(tmp_path / "missing.yaml")).returncode == 2


def test_explain_address(tmp_path: Path) -> None:
    p = tmp_path / "l.json"
    doc = layout()
    doc["hypervisor"]["parts"] = [{"name": "pool", "start": "0x40800000", "end": "0x41000000"}]
    p.write_text(json.dumps(doc))
    proc = run_hvcheck("explain", "0x40900010", "--layout", str(p), "--format", "json")
    assert proc.returncode == 0
    owners = json.loads(proc.stdout)["owners"]
    assert [o["owner"] for o in owners] == ["hv pool", "hv (whole extent)", "board memory"]
    assert owners[0]["offset"] == "0x100010" and owners[0]["source"]["line"] is not None
    proc = run_hvcheck("explain", "0x30000000", "--layout", str(p))
    assert "no owner" in proc.stdout
    assert run_hvcheck("explain", "zzz", "--layout", str(p)).returncode == 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes_the_loader(tmp_path: Path, text: str) -> None:
    p = tmp_path / "fuzz.yaml"
    p.write_bytes(text.encode("utf-8", "replace"))
    try:
        load_layout(p)
    except InputError as exc:
        assert exc.path == str(p)


def test_loader_notes_are_reported(tmp_path: Path) -> None:
    from conftest import ROOT

    board = ROOT / "tests/fixtures/hvisor/repo/platform/riscv64/variants"
    proc = run_hvcheck("layout", str(board), "--format", "json")
    notes = json.loads(proc.stdout)["notes"]
    assert any("virtio-backend.json: not a zone config" in n for n in notes)
    text = run_hvcheck("layout", str(board)).stdout
    assert "loader notes:" in text and "virtio-backend.json" in text


def test_devicetree_given_as_compiled_dtb_reservation_sized_for_the_image_only() -> None:
    """tests/fixtures/layout/dtb: the root DT (zone0.dts, compiled by build.sh) reserves only the
    hypervisor's 6 MiB image; its per-CPU areas and pool stay allocatable (the recurring mistake)."""
    from conftest import ROOT

    from hvcheck.layout.rules import run_rules

    system = load_layout(ROOT / "tests/fixtures/layout/dtb/layout.yaml")
    dt = system.root.devicetree  # type: ignore[union-attr]
    assert dt is not None and [(m.start, m.end) for m in dt.memory] == [(0x40000000, 0x80000000)]
    assert [(r.start, r.end, r.no_map) for r in dt.reserved if not r.memreserve] == [(0x40400000, 0x40A00000, True)]
    m002 = fires(run_rules(system), "M002")
    assert len(m002) == 1 and m002[0].data["allocatable"] == [[0x40A00000, 0x44C00000]]
    assert "cover only part" in m002[0].message


def test_elf_option_gives_the_elf_extent_with_symbol_provenance(tmp_path) -> None:
    import subprocess

    from conftest import require_tool

    src = tmp_path / "hv.S"
    src.write_text(".globl skernel, __core_end, __hv_end\n.set skernel, 0x40400000\n"
                   ".set __core_end, 0x40a00000\n.set __hv_end, 0x42000000\n")
    elf = tmp_path / "hv.elf"
    subprocess.run([require_tool("riscv64-linux-gnu-as"), str(src), "-o", str(elf)], check=True)
    seed = Path(__file__).resolve().parents[2] / "hvcheck/demo/examples/triage/seed001-layout.yaml"
    hv = load_layout(seed, elf=elf).hypervisor
    assert hv is not None and (hv.start, hv.end) == (0x40400000, 0x42000000)
    assert (hv.source.symbol, hv.end_source.symbol) == ("skernel", "__hv_end")
