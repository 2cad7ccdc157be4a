"""Findings, the registry and the three reporters (the contracts of DESIGN.md §3)."""

from __future__ import annotations

import json

import pytest

from hvcheck.catalogue import load_catalogue
from hvcheck.findings import REGISTRY, Finding, Location, Severity, summary
from hvcheck.report import render
from hvcheck.report.json_report import render_json
from hvcheck.report.sarif import render_sarif


def sample() -> list[Finding]:
    return [
        Finding("M001", "hypervisor [0x80000000, 0x80400000) overlaps zone0 RAM",
                locations=[Location("board.rs", 12), Location("linker.ld", 3)],
                data={"hv_start": 0x80000000, "hv_end": 0x80400000, "zone": "zone0", "flag": True},
                fix="punch a hole"),
        Finding("M013", "headroom 1 MiB", locations=[Location(None, None, detail="estimated: x")]),
        Finding("M014", "estimated", locations=[Location("a.elf", None, symbol="__hv_end")]),
    ]


def test_catalogue_severities() -> None:
    load_catalogue()
    assert REGISTRY["M011"].severity is Severity.WARNING
    assert REGISTRY["M014"].severity is Severity.NOTE


def test_unknown_rule_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        Finding("Z999", "nope")


def test_default_and_overridden_severity() -> None:
    assert Finding("M011", "x").sev is Severity.WARNING
    assert Finding("M011", "x", severity=Severity.ERROR).sev is Severity.ERROR


def test_json_contract_fields_and_hex_integers() -> None:
    doc = json.loads(render_json(sample()))
    assert doc["tool"] == "hvcheck" and isinstance(doc["version"], str)
    assert doc["summary"] == {"error": 1, "warning": 1, "note": 1}
    first = doc["findings"][0]
    assert set(first) >= {"rule", "severity", "message", "locations", "data"}
    assert first["rule"] == "M001" and first["severity"] == "error"
    assert first["locations"] == [{"path": "board.rs", "line": 12}, {"path": "linker.ld", "line": 3}]
    assert first["data"] == {"hv_start": "0x80000000", "hv_end": "0x80400000", "zone": "zone0", "flag": True}
    assert first["fix"] == "punch a hole"
    assert "fix" not in doc["findings"][1]
    assert doc["findings"][1]["locations"][0]["detail"] == "estimated: x"
    assert doc["findings"][2]["locations"][0]["symbol"] == "__hv_end"


def test_sarif_structure_field_by_field() -> None:
    from pathlib import Path

    from hvcheck.report import RunInfo

    doc = json.loads(render_sarif(sample(), RunInfo(command="layout", root=Path.cwd())))
    assert doc["version"] == "2.1.0"
    assert doc["$schema"].endswith("sarif-2.1.0.json")
    assert len(doc["runs"]) == 1
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "hvcheck" and driver["version"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert rule_ids == ["M001", "M013", "M014"]
    for r in driver["rules"]:
        assert r["shortDescription"]["text"] == REGISTRY[r["id"]].title
        assert r["help"]["text"]
        assert r["defaultConfiguration"]["level"] in {"error", "warning", "note"}
    results = run["results"]
    assert [res["ruleId"] for res in results] == ["M001", "M013", "M014"]
    assert [res["level"] for res in results] == ["error", "warning", "note"]
    for res in results:
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["message"]["text"]
    locs = results[0]["locations"]
    assert locs[0]["physicalLocation"]["artifactLocation"] == {"uri": "board.rs", "uriBaseId": "SRCROOT"}
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == Path.cwd().as_uri() + "/"
    assert locs[0]["physicalLocation"]["region"]["startLine"] == 12
    assert results[0]["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 3
    # An estimate has no file to point at: a logical location, so code scanning keeps the result.
    assert results[1]["locations"][0]["logicalLocations"][0]["name"] == "estimated: x"
    assert run["automationDetails"]["id"] == "hvcheck/layout/"
    assert run["invocations"][0]["executionSuccessful"] is True
    elf = results[2]["locations"][0]
    assert "region" not in elf["physicalLocation"] and "__hv_end" in elf["message"]["text"]
    assert "punch a hole" in results[0]["message"]["text"]


def test_text_report_groups_by_severity_and_quotes_source(tmp_path) -> None:
    src = tmp_path / "board.rs"
    src.write_text("line one\n    physical_start: 0x8000_0000,\n")
    findings = [Finding("M013", "w"), Finding("M001", "e", locations=[Location(str(src), 2)])]
    text = render(findings, "text")
    assert text.index("M001") < text.index("M013")
    assert "physical_start: 0x8000_0000," in text
    assert "1 error(s), 1 warning(s), 0 note(s)" in text


def test_summary_counts() -> None:
    assert summary([]) == {"error": 0, "warning": 0, "note": 0}
    assert summary(sample()) == {"error": 1, "warning": 1, "note": 1}
