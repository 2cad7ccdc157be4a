"""The exported model (`layout` key of `hvcheck layout/map --format json`): valid against the
documented schema, and equal to the model the loaders built, field by field, for neutral files and
hvisor boards (estimated and exact extents)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hvcheck.layout.loaders import load_layout
from tests.conftest import FIXTURES, ROOT, run_hvcheck

SCHEMA = json.loads((ROOT / "docs" / "layout-model.schema.json").read_text())
SEED = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"
REPO = FIXTURES / "hvisor" / "repo"
ELF = FIXTURES / "hvisor" / "elf" / "hv.elf"


def _doc(*args: str) -> dict[str, Any]:
    proc = run_hvcheck(*args, "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("target", [SEED, REPO / "platform" / "aarch64" / "faulty",
                                    REPO / "platform" / "aarch64" / "stomp"], ids=lambda p: p.name)
def test_layout_json_exports_the_model_it_checked(target: Path) -> None:
    doc = _doc("layout", str(target))
    exported = doc["layout"]
    jsonschema.validate(exported, SCHEMA)
    system = load_layout(target)
    assert exported["name"] == system.name
    assert [z["name"] for z in exported["zones"]] == [z.name for z in system.zones]
    for ez, zone in zip(exported["zones"], system.zones, strict=True):
        got = [(r["kind"], int(r["start"], 16), int(r["end"], 16), r["source"]["line"]) for r in ez["regions"]]
        assert got == [(r.kind.value, r.start, r.end, r.source.line) for r in zone.regions]
        assert [(i["kind"], int(i["address"], 16)) for i in ez["images"]] == \
            [(i.kind.value, i.address) for i in zone.images]
        if zone.devicetree is not None:
            dt = ez["devicetree"]
            assert [(int(m["start"], 16), int(m["end"], 16)) for m in dt["memory"]] == \
                [(m.start, m.end) for m in zone.devicetree.memory]
            assert [(int(r["start"], 16), r["no_map"]) for r in dt["reserved"]] == \
                [(r.start, r.no_map) for r in zone.devicetree.reserved]
    assert [(d["name"], int(d["start"], 16)) for d in exported["board"]["devices"]] == \
        [(d.name, d.start) for d in system.board.devices]
    hv = system.hypervisor
    assert hv is not None and int(exported["hypervisor"]["end"], 16) == hv.end


def test_line_numbers_stay_integers_and_addresses_hex() -> None:
    doc = _doc("layout", str(SEED))
    region = doc["layout"]["zones"][0]["regions"][0]
    assert region["source"]["line"] == 33 and region["start"] == "0x40000000" and region["size"] == "0x40000000"
    assert doc["layout"]["model_version"] == 1
    # The same rule holds for every location inside `data` and the other extras (explain's owners).
    owners = _doc("explain", "0x40400000", "--layout", str(SEED))["owners"]
    assert all(isinstance(o["source"]["line"], int) for o in owners if o["source"]["line"] is not None)


def test_estimated_and_exact_hypervisor_parts() -> None:
    board = REPO / "platform" / "riscv64" / "variants"
    est = _doc("layout", str(board))["layout"]["hypervisor"]
    assert est["estimated"] is True and est["estimate"] is not None
    assert all(p["estimated"] for p in est["parts"])
    assert int(est["estimate"]["end_min"], 16) < int(est["estimate"]["end_max"], 16) == int(est["end"], 16)
    exact = _doc("layout", str(board), "--elf", str(ELF))["layout"]["hypervisor"]
    jsonschema.validate(_doc("layout", str(board), "--elf", str(ELF))["layout"], SCHEMA)
    assert exact["estimated"] is False and exact["estimate"] is None
    assert exact["parts"] and not any(p["estimated"] for p in exact["parts"])
    assert exact["end_source"]["symbol"] == "__hv_end"


def test_layout_all_exports_every_loaded_board() -> None:
    doc = _doc("layout", str(REPO), "--all")
    names = [entry["name"] for entry in doc["layouts"]]
    assert "aarch64/stomp" in names and "aarch64/faulty" in names
    for entry in doc["layouts"]:
        jsonschema.validate(entry["layout"], SCHEMA)


def test_map_json_is_the_same_model_plus_findings() -> None:
    via_layout = _doc("layout", str(SEED))
    via_map = _doc("map", str(SEED))
    assert via_map["layout"] == via_layout["layout"]
    assert [f["rule"] for f in via_map["findings"]] == [f["rule"] for f in via_layout["findings"]]


@pytest.mark.parametrize("mutate", [
    lambda d: d["zones"][0]["regions"][0].update({"start": 1073741824}),     # addresses are hex strings
    lambda d: d["zones"][0]["regions"][0]["source"].update({"line": "0x21"}),  # lines are integers
    lambda d: d["zones"][0]["regions"][0].update({"kind": "dram"}),
    lambda d: d["hypervisor"].pop("estimated"),
    lambda d: d.pop("board"),
])
def test_schema_rejects_what_the_contract_forbids(mutate: Any) -> None:
    doc = _doc("layout", str(SEED))["layout"]
    jsonschema.validate(doc, SCHEMA)
    mutate(doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
