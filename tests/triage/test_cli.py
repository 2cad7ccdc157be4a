"""`hvcheck triage` end to end: exit codes, formats, stdin, gzip, several logs, bad input."""

from __future__ import annotations

import gzip
import json

from conftest import run_hvcheck
from triage_helpers import DEMO, FIX


def test_seed000_json() -> None:
    proc = run_hvcheck("triage", str(DEMO / "seed000-guest-console.log"), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    t003 = [f for f in out["findings"] if f["rule"] == "T003"][0]
    assert t003["data"]["xcr0"] == "0x202e7"
    assert out["logs"][0]["lines"] == "0x24"     # JSON renders integers as hex strings
    assert "cpuid" in out["missing_inputs"]


def test_stdin_and_gzip(tmp_path) -> None:
    text = (DEMO / "seed002-qemu-int.log").read_text()
    proc = run_hvcheck("triage", "-", "--format", "json", stdin=text)
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert [f["rule"] for f in out["findings"]] == ["T004"]
    assert out["findings"][0]["locations"][0]["path"] == "<stdin>"
    gz = tmp_path / "qemu.log.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    proc = run_hvcheck("triage", str(gz), "--format", "json")
    loc = json.loads(proc.stdout)["findings"][0]["locations"][0]
    assert loc["line"] == 7 and "illegal_instruction" in loc["detail"]


def test_note_only_exits_zero_and_fail_on_note() -> None:
    log = str(FIX / "linux-only-silent.log")
    assert run_hvcheck("triage", log).returncode == 0
    assert run_hvcheck("triage", log, "--fail-on", "note").returncode == 1


def test_several_logs_one_unreadable_is_e001(tmp_path) -> None:
    junk = tmp_path / "core"
    junk.write_bytes(bytes(range(256)) * 64)
    proc = run_hvcheck("triage", str(junk), str(FIX / "linux-only-silent.log"), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    rules = [f["rule"] for f in json.loads(proc.stdout)["findings"]]
    assert rules == ["E001", "T005"]


def test_bad_inputs_exit_2_one_line(tmp_path) -> None:
    junk = tmp_path / "core"
    junk.write_bytes(bytes(range(256)) * 64)
    bad_gz = tmp_path / "x.log.gz"
    bad_gz.write_bytes(gzip.compress(b"a" * 5000)[:30])
    bad_elf = tmp_path / "hv.elf"
    bad_elf.write_bytes(b"\x7fELF garbage")
    for args in ([str(junk)], [str(bad_gz)], [str(tmp_path / "missing.log")],
                 [str(FIX / "linux-only-silent.log"), "--elf", str(bad_elf)]):
        proc = run_hvcheck("triage", *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
        assert "Traceback" not in proc.stderr


def test_text_report_shows_confidence_and_missing_inputs() -> None:
    proc = run_hvcheck("triage", str(DEMO / "seed001-hvisor-console.log"))
    assert proc.returncode == 0    # T005 is a note: without a layout nothing is claimed
    assert "[unknown]" in proc.stdout and "not available: layout" in proc.stdout


def test_sarif() -> None:
    proc = run_hvcheck("triage", str(DEMO / "seed002-qemu-int.log"), "--format", "sarif")
    out = json.loads(proc.stdout)
    assert out["runs"][0]["results"][0]["ruleId"] == "T004"
