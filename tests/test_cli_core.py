"""The CLI frame: lazy subcommands, common options, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT, run_hvcheck


def test_help_lists_commands_and_exit_codes() -> None:
    proc = run_hvcheck("--help")
    assert proc.returncode == 0
    assert "rules" in proc.stdout and "demo" in proc.stdout
    assert "Exit codes" in proc.stdout


def test_help_imports_no_heavy_module() -> None:
    code = ("import sys\nfrom hvcheck.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('tree_sitter', 'elftools', 'libfdt', 'rich', 'yaml') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_rules_list_and_page() -> None:
    proc = run_hvcheck("rules")
    assert proc.returncode == 0 and "M001" in proc.stdout and "X003" in proc.stdout
    proc = run_hvcheck("rules", "m001", "--format", "json")
    doc = json.loads(proc.stdout)
    assert doc["rule"]["id"] == "M001" and doc["findings"] == []


def test_unknown_rule_is_exit_2_one_line() -> None:
    proc = run_hvcheck("rules", "Q123")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_usage_error_is_exit_2() -> None:
    assert run_hvcheck("no-such-command").returncode == 2
    assert run_hvcheck("rules", "--format", "xml").returncode == 2


def test_output_option_writes_file(tmp_path) -> None:
    out = tmp_path / "r.json"
    proc = run_hvcheck("rules", "--format", "json", "--output", str(out))
    assert proc.returncode == 0 and proc.stdout == ""
    assert json.loads(out.read_text())["tool"] == "hvcheck"


def test_unwritable_output_is_exit_2(tmp_path) -> None:
    proc = run_hvcheck("rules", "--output", str(tmp_path / "missing-dir" / "r.txt"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: ")


def test_error_messages_are_one_safe_line() -> None:
    from hvcheck.errors import InputError

    text = str(InputError("/x/a.patch", "bad: \x0b\tdefault:\n\n\x1b[31m", 14))
    assert "\n" not in text and "\x1b" not in text and "\\x1b" in text
    assert text.startswith("/x/a.patch:14: bad: default:")
    assert len(str(InputError("f", "y" * 10_000))) <= 400


def test_huge_names_from_input_are_clipped_in_text_reports() -> None:
    from hvcheck.catalogue import load_catalogue
    from hvcheck.findings import Finding
    from hvcheck.report.text import render_text

    load_catalogue()        # M011 is declared by the layout rules; this test must not depend on test order
    out = render_text([Finding("M011", "z" * 1_000_000)], title="t" * 1_000_000)
    assert len(out) < 10_000 and "more characters" in out


def test_read_capped_names_the_limit_and_never_reads_past_it(tmp_path) -> None:
    import pytest

    from hvcheck.errors import InputError, LimitExceeded
    from hvcheck.inputs import read_capped

    p = tmp_path / "f"
    p.write_bytes(b"x" * 101)
    assert read_capped(p, 101, "things") == b"x" * 101
    with pytest.raises(LimitExceeded) as info:
        read_capped(p, 100, "things")
    assert "100-byte limit for things" in str(info.value)
    with pytest.raises(InputError) as info2:
        read_capped(tmp_path, 100, "things")
    assert info2.value.message == "is a directory, not a file"
    with pytest.raises(InputError) as info3:
        read_capped(tmp_path / "absent", 100, "things")
    assert info3.value.message.startswith("cannot read")
