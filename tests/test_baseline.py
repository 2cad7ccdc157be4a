"""Adopting hvcheck on a tree that already has findings: a baseline records them by stable
fingerprint; with it, only new findings fail the run, an unrelated edit above (every line shifted)
does not invalidate it, and a baseline from a newer hvcheck is refused."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES, run_hvcheck
from hypothesis import given, settings
from hypothesis import strategies as st

from hvcheck.baseline import BASELINE_FORMAT, fingerprint
from hvcheck.catalogue import load_catalogue
from hvcheck.findings import Finding, Location

load_catalogue()  # Finding() needs the rules declared

NEW_RAM_OVER_HV = """    HvConfigMemoryRegion {
        mem_type: MEM_TYPE_RAM,
        physical_start: 0x40000000,
        virtual_start: 0x40000000,
        size: 0x8000000,
    }, // scratch ram a developer added over hvisor
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Our hvisor fixture tree as a git checkout (the project root is its top level)."""
    dst = tmp_path / "hvisor"
    shutil.copytree(FIXTURES / "hvisor" / "repo", dst)
    subprocess.run(["git", "init", "-q", str(dst)], check=True)
    return dst


def _json(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def test_baseline_accepts_existing_findings_and_fails_only_on_new_ones(repo: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "hvcheck-baseline.json"
    first = run_hvcheck("layout", str(repo), "--all", "--format", "json", "--write-baseline", str(baseline))
    assert first.returncode == 0, first.stderr
    before = _json(first)
    accepted = before["suppressed"]
    assert accepted and all(f["suppression"]["kind"] == "baseline" for f in accepted)
    assert any(f["rule"] == "M005" for f in accepted)  # the faulty board's findings exist and are accepted

    again = run_hvcheck("layout", str(repo), "--all", "--format", "json", "--baseline", str(baseline))
    assert again.returncode == 0, again.stdout[-2000:]
    assert _json(again)["findings"] == []

    # An unrelated edit: a comment at the top of every board.rs shifts every line.
    for board_rs in repo.glob("platform/*/*/board.rs"):
        board_rs.write_text("// Copyright (c) a vendor\n// reformatted\n\n" + board_rs.read_text())
    shifted = run_hvcheck("layout", str(repo), "--all", "--format", "json", "--baseline", str(baseline))
    assert shifted.returncode == 0, _json(shifted)["findings"]
    assert "0 baselined finding(s) gone" in _json(shifted)["run_summary"]

    # A new RAM region over the hypervisor in the clean board: exactly the findings about that region.
    clean = repo / "platform" / "aarch64" / "clean" / "board.rs"
    text = clean.read_text()
    anchor = "pub const ROOT_ZONE_MEMORY_REGIONS: &[HvConfigMemoryRegion] = &[\n"
    clean.write_text(text.replace(anchor, anchor + NEW_RAM_OVER_HV))
    new = run_hvcheck("layout", str(repo), "--all", "--format", "json", "--baseline", str(baseline))
    assert new.returncode == 1
    reported = _json(new)["findings"]
    assert "M001" in {f["rule"] for f in reported}
    for f in reported:
        assert f["data"].get("board") == "aarch64/clean", f
        assert any(loc["path"] and loc["path"].endswith("clean/board.rs") for loc in f["locations"]) or \
            f["rule"] in ("M013", "M014"), f
    new_lines = {i + 1 for i, line in enumerate(clean.read_text().splitlines()) if "scratch ram" in line
                 or "physical_start: 0x40000000" in line}
    m001 = [f for f in reported if f["rule"] == "M001"]
    assert len(m001) == 1 and {loc["line"] for loc in m001[0]["locations"] if loc["path"].endswith("board.rs")} <= \
        {n for line in new_lines for n in range(line - 4, line + 1)}


def test_text_report_says_how_many_baselined_findings_are_gone(repo: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "b.json"
    assert run_hvcheck("layout", str(repo), "--all", "--write-baseline", str(baseline)).returncode == 0
    shutil.rmtree(repo / "platform" / "aarch64" / "faulty")  # its findings are gone (fixed)
    proc = run_hvcheck("layout", str(repo), "--all", "--baseline", str(baseline))
    assert proc.returncode == 0
    gone = int(proc.stdout.split(" baselined finding(s) gone")[0].rsplit(" ", 1)[-1])
    assert gone >= 10


def test_newer_baseline_is_refused_and_garbage_is_bad_input(repo: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"tool": "hvcheck", "baseline_format": BASELINE_FORMAT + 1,
                                 "hvcheck_version": "9.0", "findings": []}))
    proc = run_hvcheck("layout", str(repo), "--all", "--baseline", str(newer))
    assert proc.returncode == 2 and "newer hvcheck" in proc.stderr and proc.stderr.count("error:") == 1
    assert "checked" not in proc.stderr  # refused before any check ran
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"tool": "hvcheck",\n "baseline_format": 1,\n "findings": [}\n')
    proc = run_hvcheck("layout", str(repo), "--all", "--baseline", str(garbage))
    assert proc.returncode == 2 and f"{garbage}:3:" in proc.stderr
    missing = run_hvcheck("layout", str(repo), "--all", "--baseline", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "nope.json" in missing.stderr


@given(st.integers(0, 40), st.text(alphabet="abc ;/", max_size=30))
@settings(max_examples=60, deadline=None)
def test_fingerprint_ignores_line_numbers_and_messages_but_not_content(tmp_path_factory: pytest.TempPathFactory,
                                                                       shift: int, noise: str) -> None:
    root = tmp_path_factory.mktemp("fp")
    src = root / "board.rs"
    body = ["fn a() {}", "    physical_start: 0x50000000,", "fn b() {}"]
    src.write_text("\n".join(body) + "\n")
    f1 = Finding("M001", "message one", locations=[Location(str(src), 2)], data={"zone": "z", "line": 2})
    fp1 = fingerprint(f1, root)
    src.write_text("\n".join([noise] * shift + body) + "\n")
    f2 = Finding("M001", "reworded message", locations=[Location(str(src), 2 + shift)],
                 data={"zone": "z", "line": 2 + shift})
    assert fp1 == fingerprint(f2, root)
    f3 = Finding("M001", "message one", locations=[Location(str(src), 2 + shift)], data={"zone": "other"})
    assert fingerprint(f3, root) != fingerprint(f2, root)
    f4 = Finding("M006", "reworded message", locations=[Location(str(src), 2 + shift)],
                 data={"zone": "z", "line": 2 + shift})
    assert fingerprint(f4, root) != fingerprint(f2, root)
