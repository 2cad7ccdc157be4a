"""`hvcheck riscv-conformance` end to end: real QEMU, a QEMU with the seed-002 bug, bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_tool, run_hvcheck
from rulecheck import clean, fires

from hvcheck.demo import EXAMPLES

MODEL = EXAMPLES / "riscvconf" / "qemu-3.1-model.bin.gz"


def _fake_qemu(tmp_path: Path, body: str) -> str:
    """An executable standing in for qemu-riscv64 (arguments: the harness path, or --version)."""
    path = tmp_path / "fake-qemu"
    path.write_text(f"#!{sys.executable}\nimport struct, subprocess, sys, time\n{body}\n")
    path.chmod(0o755)
    return str(path)


def _one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_installed_qemu_has_zero_r010() -> None:
    """DESIGN.md §4: Debian's QEMU 7.2 traps exactly the 2409 must-trap halfwords."""
    qemu = require_tool("qemu-riscv64")
    proc = run_hvcheck("riscv-conformance", "--qemu-user", qemu, "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["findings"] == []
    clean(doc["findings"], "R010")
    [run] = doc["conformance"]
    assert run["halfwords"] == "0xc000" and run["mode"] == "user"
    assert run["by_spec_class"]["illegal"] == {"halfwords": "0x1", "trapped": "0x1", "executed": "0x0",
                                               "diverging": "0x0"}
    assert run["by_spec_class"]["reserved"]["trapped"] == hex(2408)
    assert run["by_spec_class"]["valid"]["trapped"] == "0x0"
    assert float(run["seconds"]) <= 10.0


def test_rv32_emulator_has_zero_r010() -> None:
    qemu = require_tool("qemu-riscv32")
    proc = run_hvcheck("riscv-conformance", "--qemu-user", qemu, "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [run] = json.loads(proc.stdout)["conformance"]
    assert run["xlen"] == "0x20" and run["by_spec_class"]["reserved"]["trapped"] == hex(3944)


def test_rv32_model_claimed_as_rv64_is_caught() -> None:
    """--xlen 64 with an RV32 emulator runs the RV64 harness, which the RV32 emulator cannot load."""
    qemu = require_tool("qemu-riscv32")
    _one_line_error(run_hvcheck("riscv-conformance", "--qemu-user", qemu, "--xlen", "64"), "exited with status")


def test_bare_metal_run_has_zero_r010() -> None:
    qemu = require_tool("qemu-system-riscv64")
    proc = run_hvcheck("riscv-conformance", "--qemu-system", qemu, "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["findings"] == [] and [r["mode"] for r in doc["conformance"]] == ["system"]


def test_bare_metal_harness_failure_is_exit_2(tmp_path: Path) -> None:
    fake = _fake_qemu(tmp_path, "if sys.argv[1:] != ['--version']:\n    sys.exit(1)")
    _one_line_error(run_hvcheck("riscv-conformance", "--qemu-system", fake), "semihosting")
    fake = _fake_qemu(tmp_path, "pass")
    _one_line_error(run_hvcheck("riscv-conformance", "--qemu-system", fake), "wrote no rvc_system.out")


def test_text_report_shows_the_summary_table() -> None:
    require_tool("qemu-riscv64")
    proc = run_hvcheck("riscv-conformance")
    assert proc.returncode == 0, proc.stderr
    assert "reserved          2408     2408         0          0  trap" in proc.stdout
    assert "no divergence" in proc.stdout


def test_qemu_with_the_seed_002_bug_is_reported(tmp_path: Path) -> None:
    """A wrapper that runs the real QEMU and then behaves like QEMU 2.12-3.1 on 0x0000."""
    real = require_tool("qemu-riscv64")
    fake = _fake_qemu(tmp_path, f"""
out = bytearray(subprocess.run([{real!r}, *sys.argv[1:]], capture_output=True).stdout)
if sys.argv[1:] != ["--version"]:
    assert struct.unpack_from("<H", out, 8)[0] == 0
    struct.pack_into("<HBbiII", out, 8, 0x0000, 5, 1, 2, 1 << 8, 0)  # fell through, fp written
sys.stdout.buffer.write(out)
""")
    proc = run_hvcheck("riscv-conformance", "--qemu-user", fake, "--format", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    [f] = fires(doc["findings"], "R010")
    assert f["rule"] == "R010" and f["severity"] == "error"
    assert f["data"]["spec_class"] == "illegal" and f["data"]["count"] == "0x1"
    assert "x8 (s0/fp)" in f["message"] and f["locations"][0]["path"] == fake
    sarif = run_hvcheck("riscv-conformance", "--qemu-user", fake, "--format", "sarif")
    assert sarif.returncode == 1 and '"ruleId": "R010"' in sarif.stdout


def test_saved_model_of_old_qemu_is_reported() -> None:
    proc = run_hvcheck("riscv-conformance", "--results", str(MODEL))
    assert proc.returncode == 1, proc.stderr
    # Text output wraps when COLUMNS is set, and GNU readline (imported by pytest) exports COLUMNS=80
    # to child processes: compare the words, not the line breaks.
    text = " ".join(proc.stdout.split())
    assert "R010" in text and "0x0000 (c.unimp): executed" in text
    assert "recorded outcomes of 49152" in text
    proc = run_hvcheck("riscv-conformance", "--results", str(MODEL), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    (f,) = fires(json.loads(proc.stdout)["findings"], "R010")
    assert f["data"]["spec_class"] == "illegal" and "0x0000 (c.unimp): executed" in f["message"]


def test_extensions_change_what_must_trap() -> None:
    """QEMU 7.2 has no Zcb: told the CPU implements Zcb, the Zcb encodings it traps are R010."""
    require_tool("qemu-riscv64")
    proc = run_hvcheck("riscv-conformance", "--extensions", "zcb", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["findings"] and all(f["data"]["spec_class"] == "valid" for f in doc["findings"])
    fires(doc["findings"], "R010")
    assert all(f["data"]["observed"] == "trapped as illegal" for f in doc["findings"])
    total = sum(int(f["data"]["count"], 16) for f in doc["findings"])
    assert total == 896 + 112  # Zcb's loads/stores and its MISC-ALU instructions (reference note)


def test_missing_emulator_is_exit_2() -> None:
    _one_line_error(run_hvcheck("riscv-conformance", "--qemu-user", "/nonexistent/qemu"), "not found")


def test_no_qemu_on_path_is_exit_2_not_a_pass(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "hvcheck", "riscv-conformance"], capture_output=True,
                          text=True, env=env, timeout=120)
    _one_line_error(proc, "qemu-riscv64")
    assert "nothing was checked" in proc.stderr


@pytest.mark.parametrize("body, needle", [
    ("sys.exit(3)", "exited with status 3"),
    ("sys.stdout.buffer.write(b'HVRCONF1' + b'x' * 20)", "truncated"),
    ("sys.stdout.buffer.write(b'hello')", "does not start with"),
    ("time.sleep(30)", "did not finish within 1 s"),
    ("sys.stdout.buffer.write(b'HVRCONF1' + bytes(4 << 20))", "larger than any valid run"),
    ("sys.stderr.write('boom\\n' * 100000); sys.exit(9)", "exited with status 9: boom"),
])
def test_broken_emulator_is_exit_2(tmp_path: Path, body: str, needle: str) -> None:
    fake = _fake_qemu(tmp_path, f"if sys.argv[1:] != ['--version']:\n    {body}")
    _one_line_error(run_hvcheck("riscv-conformance", "--qemu-user", fake, "--timeout", "1"), needle)


def test_bad_results_file_and_bad_extension_are_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01binary junk" * 100)
    _one_line_error(run_hvcheck("riscv-conformance", "--results", str(junk)), "does not start with")
    _one_line_error(run_hvcheck("riscv-conformance", "--results", str(MODEL), "--extensions", "zzz"),
                    "unknown extension")


def test_demo_scenario() -> None:
    require_tool("qemu-riscv64")
    proc = run_hvcheck("demo", "riscv_conformance")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("--> reproduced") == 2


def test_demo_without_qemu_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from hvcheck.demo import scenario_riscv_conformance as scenario

    monkeypatch.setattr(shutil, "which", lambda name: None)
    live = scenario.steps()[0]
    [f] = fires(live.run(), "E001")
    assert f.rule == "E001" and "qemu-riscv64 is not installed" in f.message
    assert live.expect == set()  # so the demo reports the step as NOT reproduced
