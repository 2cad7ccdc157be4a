"""Project configuration ([tool.hvcheck] / .hvcheck.toml, found by walking up) and inline
suppression comments: both need a reason, both are counted and listable, an unused inline
suppression is reported (E002), and a malformed one is bad input with its file:line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run_hvcheck
from rulecheck import clean, fires

SEED = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """The seed-001 layout (M001, M002, M013) in a project directory of its own."""
    project = tmp_path / "project"
    (project / "boards").mkdir(parents=True)
    dst = project / "boards" / "seed.yaml"
    shutil.copy(SEED, dst)
    return dst


def _doc(*args: str) -> dict:
    proc = run_hvcheck(*args, "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def _rules(doc: dict) -> set[str]:
    return {f["rule"] for f in doc["findings"]}


def test_without_config_every_rule_reports(layout: Path) -> None:
    assert {"M001", "M002", "M013"} <= _rules(_doc("layout", str(layout)))


def test_dot_hvcheck_toml_found_by_walking_up_selects_and_ignores(layout: Path) -> None:
    (layout.parent.parent / ".hvcheck.toml").write_text('ignore = ["M013"]\n')
    assert "M013" not in _rules(_doc("layout", str(layout)))
    (layout.parent.parent / ".hvcheck.toml").write_text('select = ["M00"]\n')
    assert _rules(_doc("layout", str(layout))) == {"M001", "M002"}


def test_pyproject_tool_table_and_default_options(layout: Path) -> None:
    (layout.parent.parent / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.hvcheck]\nfail-on = "warning"\nignore = ["M001", "M002"]\n')
    proc = run_hvcheck("layout", str(layout))
    assert proc.returncode == 1, proc.stdout  # only the M013 warning is left, and fail-on=warning fails on it
    proc = run_hvcheck("layout", str(layout), "--fail-on", "error")
    assert proc.returncode == 0  # the command line wins over the config


def test_headroom_default_from_config(layout: Path) -> None:
    (layout.parent.parent / ".hvcheck.toml").write_text('headroom = "0"\nselect = ["M013"]\n')
    # With no headroom required, M013 still reports the overlap itself (the next owner overlaps).
    doc = _doc("layout", str(layout))
    assert all(f["rule"] == "M013" for f in doc["findings"])


def test_per_path_ignore_needs_a_reason(layout: Path) -> None:
    cfg = layout.parent.parent / ".hvcheck.toml"
    cfg.write_text('[[per-path-ignores]]\npath = "boards/*.yaml"\nrules = ["M013"]\n')
    proc = run_hvcheck("layout", str(layout))
    assert proc.returncode == 2 and f"{cfg}:2:" in proc.stderr and "reason" in proc.stderr
    cfg.write_text('[[per-path-ignores]]\npath = "boards/*.yaml"\nrules = ["M013"]\nreason = "tracked in #7"\n')
    doc = _doc("layout", str(layout))
    assert "M013" not in _rules(doc)
    (hidden,) = [f for f in doc["suppressed"] if f["rule"] == "M013"]
    assert hidden["suppression"] == {"kind": "config", "reason": "tracked in #7",
                                     "where": {"path": str(cfg), "line": 2}}


def test_per_board_ignore(tmp_path: Path) -> None:
    from conftest import FIXTURES

    repo = tmp_path / "hv"
    shutil.copytree(FIXTURES / "hvisor" / "repo", repo)
    (repo / ".hvcheck.toml").write_text('[[per-board-ignores]]\nboard = "aarch64/faulty"\nrules = ["M"]\n'
                                        'reason = "the faulty board is a negative test fixture"\n')
    doc = _doc("layout", str(repo), "--all")
    assert not [f for f in doc["findings"] if f["data"].get("board") == "aarch64/faulty"]
    assert any(f["data"].get("board") == "aarch64/faulty" for f in doc["suppressed"])


@pytest.mark.parametrize(("text", "line", "what"), [
    ('select = "M001"\n', 1, "list of rule IDs"),
    ('ignore = ["m001"]\n', 1, "not a rule ID"),
    ('colour = "always"\n', 1, "unknown key"),
    ('fail-on = "warning"\nselect = [\n', 2, "invalid TOML"),
])
def test_bad_config_is_bad_input_with_its_line(layout: Path, text: str, line: int, what: str) -> None:
    cfg = layout.parent.parent / ".hvcheck.toml"
    cfg.write_text(text)
    proc = run_hvcheck("layout", str(layout))
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith(f"error: {cfg}:{line}:") and what in proc.stderr, proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def _annotate(layout: Path, needle: str, comment: str, above: bool = False) -> None:
    lines = layout.read_text().splitlines()
    i = next(i for i, ln in enumerate(lines) if needle in ln)
    if above:
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        lines.insert(i, indent + comment)
    else:
        lines[i] += "  " + comment
    layout.write_text("\n".join(lines) + "\n")


def _line_of(layout: Path, rule: str) -> int:
    doc = _doc("layout", str(layout))
    return next(f for f in doc["findings"] if f["rule"] == rule)["locations"][0]["line"]


def test_inline_suppression_on_the_line_and_above_it(layout: Path) -> None:
    line = _line_of(layout, "M013")
    target = layout.read_text().splitlines()[line - 1].strip()
    _annotate(layout, target, "# hvcheck: ignore[M013] the pool shrinks in v2 (issue #12)", above=True)
    doc = _doc("layout", str(layout))
    clean(doc["findings"], "M013")
    fires(doc["findings"], "M001")  # other rules on nearby lines are untouched
    assert [f["suppression"]["kind"] for f in doc["suppressed"]] == ["inline"]
    assert "1 suppressed (1 inline" in doc["run_summary"]
    text = run_hvcheck("layout", str(layout), "--show-suppressed").stdout
    assert "suppressed, inline: the pool shrinks in v2 (issue #12)" in text


def test_unused_inline_suppression_is_reported(layout: Path) -> None:
    before = _doc("layout", str(layout))
    clean(before["findings"], "E002")
    _annotate(layout, "hvcheck-layout", "# hvcheck: ignore[M006] nothing overlaps a device here")
    doc = _doc("layout", str(layout))
    (e002,) = fires(doc["findings"], "E002")
    key_line = 1 + next(i for i, ln in enumerate(layout.read_text().splitlines()) if "hvcheck-layout" in ln)
    assert e002["locations"][0] == {"path": str(layout), "line": key_line}


@pytest.mark.parametrize(("comment", "what"), [
    ("# hvcheck: ignore[M013]", "no reason"),
    ("# hvcheck: ignore[M13] because", "no valid rule"),
    ("# hvcheck: ignore M013 because", "malformed suppression"),
])
def test_malformed_suppression_is_bad_input(layout: Path, comment: str, what: str) -> None:
    _annotate(layout, "hvcheck-layout", comment)
    key_line = 1 + next(i for i, ln in enumerate(layout.read_text().splitlines()) if "hvcheck-layout" in ln)
    proc = run_hvcheck("layout", str(layout))
    assert proc.returncode == 2 and proc.stderr.startswith(f"error: {layout}:{key_line}:") and what in proc.stderr


def test_suppression_in_board_rs_and_device_tree(tmp_path: Path) -> None:
    from conftest import FIXTURES

    repo = tmp_path / "hv"
    shutil.copytree(FIXTURES / "hvisor" / "repo", repo)
    board = repo / "platform" / "aarch64" / "faulty"
    doc = _doc("layout", str(board))
    m009 = fires(doc["findings"], "M009")[0]
    loc = next(loc for loc in m009["locations"] if loc["path"].endswith("board.rs"))
    rs = Path(loc["path"])
    lines = rs.read_text().splitlines()
    lines[loc["line"] - 1] += " // hvcheck: ignore[M009] the UART window is a sub-page emulated region"
    rs.write_text("\n".join(lines) + "\n")
    after = _doc("layout", str(board))
    clean(after["findings"], "M009")
    assert any(f["rule"] == "M009" for f in after["suppressed"])
