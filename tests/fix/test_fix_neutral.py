"""`hvcheck fix` on neutral layout files: golden diffs per syntax variant and strategy, diffs that
`git apply` and `patch -p1` accept, re-check, idempotence, refusals."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from rulecheck import clean, fires

from hvcheck.fix.engine import run_fix
from tests.conftest import FIXTURES, ROOT, assert_golden, require_tool, run_hvcheck

SEED = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"
FIX = FIXTURES / "fix"
GOLDEN = FIX / "golden"
CASES = [(SEED, s) for s in ("punch", "reserve", "relocate", "all")] + [
    (FIX / "block.yaml", s) for s in ("punch", "reserve", "relocate")] + [
    (FIX / "layout.json", s) for s in ("punch", "reserve", "relocate")]


def _id(case: tuple[Path, str]) -> str:
    return f"{case[0].stem}-{case[1]}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_golden_diff(case: tuple[Path, str]) -> None:
    path, strategy = case
    result = run_fix(path, strategy)
    golden = GOLDEN / f"{_id(case)}.diff"
    assert_golden(golden, result.diff())
    assert not result.refused


def _copy(tmp_path: Path, src: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    return dst


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_printed_diff_applies_with_git_and_patch(tmp_path: Path, case: tuple[Path, str]) -> None:
    git, patch = require_tool("git"), require_tool("patch")
    path, strategy = case
    target = _copy(tmp_path, path)
    proc = run_hvcheck("fix", str(target), "--strategy", strategy)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    out = tmp_path / "fix.out"
    out.write_text(proc.stdout)
    subprocess.run([git, "init", "-q"], cwd=tmp_path, check=True)
    check = subprocess.run([git, "apply", "--check", str(out)], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    dry = subprocess.run([patch, "-p1", "--dry-run", "-i", str(out)], cwd=tmp_path, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    subprocess.run([git, "apply", str(out)], cwd=tmp_path, check=True)
    # The applied text is exactly what the engine computed, and running fix again changes nothing.
    assert target.read_text() == run_fix(path, strategy).changed_files[0].result()
    again = run_fix(target, strategy)
    assert again.diff() == ""


@pytest.mark.parametrize("strategy", ["punch", "relocate", "all"])
def test_fixed_seed_rechecks_clean(strategy: str) -> None:
    result = run_fix(SEED, strategy)
    assert not result.refused
    assert {f.rule for f in result.before} >= {"M001", "M002"}
    assert result.after == []


def test_reserve_alone_fixes_m002_and_says_m001_remains() -> None:
    result = run_fix(SEED, "reserve")
    fires(result.before, "M002")
    clean(result.after, "M002")
    assert {f.rule for f in result.after} == {"M001", "M013"}
    assert not result.refused  # M001 is out of reserve's scope: reported, not a refusal
    assert "end: 0x44c00000" in result.diff()   # the whole extent (image + per-CPU + pool)


def test_reserve_widens_image_only_reservation() -> None:
    result = run_fix(FIX / "block.yaml", "reserve")
    diff = result.diff()
    assert "-          end: 0x7080_0000\n+          end: 0x7500_0000" in diff
    changed = [ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert len(changed) == 2  # one line changed, nothing added


def test_punch_keeps_style_and_comments() -> None:
    diff = run_fix(FIX / "block.yaml", "punch").diff()
    assert "+        start: 0x8580_0000" in diff          # `_` grouping kept
    assert "end: 0xA000_0000   # DRAM bank 0" in diff       # untouched text and comment kept
    assert "+        guest: 0x7580_0000" in diff           # guest address moves with the piece
    assert "# the root's main RAM" not in [ln[1:] for ln in diff.splitlines() if ln.startswith(("+", "-"))]


def test_relocate_prefer(tmp_path: Path) -> None:
    result = run_fix(SEED, "relocate", prefer=0xB000_0000)
    assert result.plan.relocation is not None
    assert result.plan.relocation.new_start == 0xB000_0000
    assert result.after == []


def test_relocate_refused_without_room(tmp_path: Path) -> None:
    text = SEED.read_text().replace("size: 2G}", "size: 1G}")  # board memory only as big as root RAM
    path = tmp_path / "full.yaml"
    path.write_text(text)
    result = run_fix(path, "relocate")
    assert result.refused and result.diff() == ""
    proc = run_hvcheck("fix", str(path), "--strategy", "relocate")
    assert proc.returncode == 1
    assert "REFUSED" in proc.stdout and "no 2 MiB-aligned place" in proc.stdout


def test_other_zones(tmp_path: Path) -> None:
    text = SEED.read_text().replace(
        "      - {kind: io, start: 0x09000000, size: 0x1000, label: uart0}",
        "      - {kind: io, start: 0x09000000, size: 0x1000, label: uart0}\n"
        "      - {kind: ram, start: 0x80000000, size: 0x20000000, label: linux1 image loading}").replace(
        "        - {start: 0x40000000, size: 0x40000000}",
        "        - {start: 0x40000000, size: 0x40000000}\n        - {start: 0x80000000, size: 0x20000000}")
    path = tmp_path / "loader.yaml"
    path.write_text(text)
    plain = run_fix(path, "punch")
    fires(plain.before, "M004")
    fires(plain.after, "M004")
    wide = run_fix(path, "punch", other_zones=True)
    clean(wide.after, "M004")
    assert not wide.refused
    reserve = run_fix(path, "reserve", other_zones=True)
    clean(reserve.after, "M004")


def test_nothing_to_fix_exits_clean() -> None:
    fixed = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-fixed.yaml"
    proc = run_hvcheck("fix", str(fixed))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nothing to change" in proc.stdout


def test_json_output(tmp_path: Path) -> None:
    import json

    proc = run_hvcheck("fix", str(SEED), "--strategy", "punch", "--format", "json")
    doc = json.loads(proc.stdout)
    assert doc["diff"].startswith("--- a/seed001-stomp.yaml")
    assert doc["refused"] == [] and doc["findings"] == []
    assert len(doc["explanations"]) == 2


@pytest.mark.parametrize("args", [["--headroom", "lots"], ["--prefer", "here"], ["--strategy", "magic"]])
def test_bad_arguments(args: list[str]) -> None:
    proc = run_hvcheck("fix", str(SEED), *args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_bad_input_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("hvcheck-layout: 1\nzones: [\n")
    proc = run_hvcheck("fix", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_hole_at_the_edge_of_memory_shrinks_memory_instead(tmp_path: Path) -> None:
    text = SEED.read_text()
    for old, new in (("start: 0x40400000          #", "start: 0x40000000          #"),
                     ("end: 0x44c00000            #", "end: 0x44800000            #"),
                     ("{name: image, start: 0x40400000, end: 0x40a00000}", "{name: image, start: 0x40000000, end: 0x40600000}"),
                     ("{name: per-CPU areas, start: 0x40a00000, end: 0x40c00000}",
                      "{name: per-CPU areas, start: 0x40600000, end: 0x40800000}"),
                     ("{name: memory pool, start: 0x40c00000, end: 0x44c00000}",
                      "{name: memory pool, start: 0x40800000, end: 0x44800000}")):
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "head.yaml"
    path.write_text(text)
    result = run_fix(path, "punch")
    diff = result.diff()
    assert "-        - {start: 0x40000000, size: 0x40000000}\n+        - {start: 0x45000000, size: 0x3b000000}" in diff
    assert "reserved" not in diff
    assert any("shrinks" in e and "cleaner" in e for e in result.explanations())
    assert result.after == [] and not result.refused
