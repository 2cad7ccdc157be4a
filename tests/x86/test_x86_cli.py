"""`hvcheck xcr0` / `cpuid` / `ioctl` as a user runs them: exit codes, JSON, bad input."""

from __future__ import annotations

import json

import pytest
from conftest import run_hvcheck
from rulecheck import fires


def test_xcr0_incident_value_text() -> None:
    proc = run_hvcheck("xcr0", "0x202e7")
    assert proc.returncode == 1
    assert "X001" in proc.stdout and "XTILECFG" in proc.stdout
    assert "0x602e7" in proc.stdout and "0x2e7" in proc.stdout
    assert "8192" not in proc.stdout.split("error")[0]  # XTILEDATA is not listed as a set component
    assert " 64  CPUID.(7,0):EDX[24] AMX-TILE" in proc.stdout  # XTILECFG row with its size


def test_xcr0_valid_value_exit_0() -> None:
    proc = run_hvcheck("xcr0", "0x602e7")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid" in proc.stdout


def test_xcr0_json_contract() -> None:
    proc = run_hvcheck("xcr0", "0x202e7", "--supported", "0x2e7", "--format", "json")
    doc = json.loads(proc.stdout)
    rules = sorted(f["rule"] for f in doc["findings"])
    assert rules == ["X001", "X002"]
    x001 = fires(doc["findings"], "X001")[0]
    assert x001["data"]["nearest_valid"] == ["0x602e7", "0x2e7"]
    assert doc["nearest_valid"] == ["0x602e7", "0x2e7"] and doc["valid"] is False


def test_xcr0_edx_eax_pair() -> None:
    proc = run_hvcheck("xcr0", "0x80000000:0x3", "--format", "json")
    doc = json.loads(proc.stdout)
    assert doc["xcr0"] == "0x8000000000000003"
    assert doc["findings"][0]["data"]["violations"] == ["reserved"]


@pytest.mark.parametrize("arg", ["banana", "0x1_0000_0000_0000_0000", "-1", "0xzz", "", "1:2:3",
                                 "0x100000000:0"])
def test_xcr0_bad_values_exit_2(arg: str) -> None:
    proc = run_hvcheck("xcr0", "--", arg)  # "--" so "-1" is a value, not an option
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_xcr0_bad_supported_exit_2() -> None:
    proc = run_hvcheck("xcr0", "0x7", "--supported", "lots")
    assert proc.returncode == 2 and proc.stderr.startswith("error: ")


def test_xcr0_imports_nothing_heavy() -> None:
    """The <= 100 ms start-up goal, checked without a clock: piped text output must not load rich,
    YAML, tree-sitter, pyelftools or libfdt (benchmarks/bench_x86.py measures the time)."""
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import sys\nfrom hvcheck.cli import main\n"
            "try:\n    main(['xcr0', '0x202e7'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('tree_sitter', 'elftools', 'libfdt', 'rich', 'yaml') if m in sys.modules]\n"
            "print(heavy, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.stderr.strip().splitlines()[-1] == "[]"
    assert "X001" in proc.stdout


def test_text_report_colour_and_wrapping_are_optional() -> None:
    """One renderer for every command: no ANSI codes unless asked, lines wrapped only to a given
    width (continuation lines indented), the words unchanged either way."""
    from hvcheck.report.text import render_text
    from hvcheck.x86.xsave import xcr0_findings

    findings = xcr0_findings(0x202E7, 0x2E7)
    plain = render_text(findings, preamble="p")
    assert "\x1b[" not in plain
    coloured = render_text(findings, preamble="p", color=True)
    assert "\x1b[1;31m" in coloured
    assert __import__("re").sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    wrapped = render_text(findings, preamble="p", width=60)
    assert max(len(line) for line in wrapped.splitlines()[1:]) <= 60
    assert " ".join(wrapped.split()) == " ".join(plain.split())
