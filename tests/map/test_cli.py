"""`hvcheck map` end to end (real subprocess): formats chosen by --format or the --output suffix,
the exit-code contract with --fail-on, --board/--all over a tree, bad input as one line and exit 2,
and an HTML page that needs nothing but itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, assert_golden, run_hvcheck

SEED = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"
FIXED = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-fixed.yaml"
REPO = FIXTURES / "hvisor" / "repo"
BROKEN = FIXTURES / "hvisor" / "broken"


@pytest.mark.parametrize("suffix, marker", [(".html", "<!DOCTYPE html>"), (".svg", "<svg "), (".json", '"layout"'),
                                            (".txt", "hvcheck map: ")])
def test_format_follows_the_output_suffix(tmp_path: Path, suffix: str, marker: str) -> None:
    out = tmp_path / f"map{suffix}"
    proc = run_hvcheck("map", str(SEED), "-o", str(out))
    assert proc.returncode == 1, proc.stderr          # seed 001 has errors (M001, M002)
    assert proc.stdout == ""
    assert marker in out.read_text()


def test_explicit_format_wins_and_text_is_the_default(tmp_path: Path) -> None:
    out = tmp_path / "map.html"
    proc = run_hvcheck("map", str(SEED), "--format", "svg", "--output", str(out))
    assert out.read_text().startswith("<svg "), proc.stderr
    text = run_hvcheck("map", str(SEED)).stdout
    assert text.startswith("hvcheck map: seed001-qemu-virt")


def test_exit_codes_follow_fail_on() -> None:
    assert run_hvcheck("map", str(FIXED)).returncode == 0
    assert run_hvcheck("map", str(SEED)).returncode == 1
    # The fixed layout keeps notes/warnings only if it has any: --fail-on note turns them into exit 1.
    fixed_json = json.loads(run_hvcheck("map", str(FIXED), "--format", "json").stdout)
    expected = 1 if fixed_json["findings"] else 0
    assert run_hvcheck("map", str(FIXED), "--fail-on", "note").returncode == expected


def test_hvisor_board_by_name_and_all(tmp_path: Path) -> None:
    one = run_hvcheck("map", str(REPO), "--board", "stomp", "--format", "text")
    assert one.returncode == 1 and "aarch64/stomp" in one.stdout and "M001" in one.stdout
    out = tmp_path / "all.html"
    proc = run_hvcheck("map", str(REPO), "--all", "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    page = out.read_text()
    index = page[page.index("<h2>Boards</h2>"):page.index("</table>")]
    for board in ("aarch64/clean", "aarch64/stomp", "aarch64/faulty", "loongarch64/dmw", "x86_64/highhalf"):
        assert board in index
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="map"') == index.count("<tr>")


def test_all_with_unreadable_boards_lists_them_and_draws_the_rest() -> None:
    proc = run_hvcheck("map", str(BROKEN), "--all", "--format", "json")
    doc = json.loads(proc.stdout)
    loaded = [e for e in doc["layouts"] if e["layout"] is not None]
    failed = [e for e in doc["layouts"] if e["layout"] is None]
    assert loaded and failed
    e001 = [f for f in doc["findings"] if f["rule"] == "E001"]
    assert len(e001) == len(failed) and proc.returncode == 1
    text = run_hvcheck("map", str(BROKEN), "--all").stdout
    assert "not loaded" in text and "not drawn: aarch64/badjson" in text
    svg = run_hvcheck("map", str(BROKEN), "--all", "--format", "svg").stdout
    assert svg.count('class="title"') == len(loaded)
    assert svg.count("not drawn: ") == len(failed) and "aarch64/badjson" in svg


@pytest.mark.parametrize("args, message", [
    (["/nonexistent/layout.yaml"], "no such file or directory"),
    ([str(SEED), "--board", "x"], "--board"),
    ([str(SEED), "--all"], "--all"),
    ([str(SEED), "--format", "pdf"], "pdf"),
    ([str(SEED), "--headroom", "lots"], "--headroom"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = run_hvcheck("map", *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.parametrize("fmt", ["compact", "sarif", "github"])
def test_report_formats_are_the_findings_layout_reports(fmt: str) -> None:
    """`map --format sarif|github|compact` is the same findings report as `hvcheck layout` gives,
    so a CI step can upload either (only the run's command name differs)."""
    drawn = run_hvcheck("map", str(SEED), "--format", fmt, "--sarif-root", str(ROOT))
    checked = run_hvcheck("layout", str(SEED), "--format", fmt, "--sarif-root", str(ROOT))
    assert drawn.returncode == checked.returncode == 1, drawn.stderr
    if fmt == "sarif":
        results = [json.loads(p.stdout)["runs"][0]["results"] for p in (drawn, checked)]
        assert [(r["ruleId"], r["partialFingerprints"]) for r in results[0]] == \
               [(r["ruleId"], r["partialFingerprints"]) for r in results[1]]
        assert json.loads(drawn.stdout)["runs"][0]["automationDetails"]["id"] == "hvcheck/map/"
    else:
        assert drawn.stdout == checked.stdout and "M001" in drawn.stdout


def _rules_drawn(svg: str) -> set[str]:
    return set(re.findall(r"\b(M0\d\d) (?:error|warning|note)\b", svg))


def test_config_ignores_and_defaults_apply_to_the_map(tmp_path: Path) -> None:
    layout = tmp_path / "seed.yaml"
    layout.write_text(SEED.read_text())
    before = run_hvcheck("map", str(layout), "--format", "svg")
    assert before.returncode == 1 and {"M001", "M002"} <= _rules_drawn(before.stdout)
    (tmp_path / ".hvcheck.toml").write_text('ignore = ["M001", "M002"]\nfail-on = "error"\n')
    after = run_hvcheck("map", str(layout), "--format", "svg")
    assert after.returncode == 0, after.stderr        # what is left (M013) is a warning
    assert not {"M001", "M002"} & _rules_drawn(after.stdout) and "M013" in _rules_drawn(after.stdout)
    (tmp_path / ".hvcheck.toml").write_text('ignore = ["M001", "M002"]\nfail-on = "warning"\n')
    assert run_hvcheck("map", str(layout), "--format", "svg").returncode == 1


def test_baseline_accepts_what_is_drawn_and_text_says_so(tmp_path: Path) -> None:
    layout = tmp_path / "seed.yaml"
    layout.write_text(SEED.read_text())
    baseline = tmp_path / "b.json"
    assert run_hvcheck("layout", str(layout), "--write-baseline", str(baseline)).returncode == 0
    proc = run_hvcheck("map", str(layout), "--baseline", str(baseline), "--format", "text")
    assert proc.returncode == 0, proc.stderr
    assert "M001" not in proc.stdout and "0 baselined finding(s) gone" in proc.stdout
    assert "3 suppressed (3 baseline" in proc.stdout
    listed = run_hvcheck("map", str(layout), "--baseline", str(baseline), "--show-suppressed")
    assert listed.returncode == 0
    tail = listed.stdout[listed.stdout.index("suppressed, not drawn (3):"):]
    assert "M001 error: " in tail and "(baseline: accepted in the baseline)" in tail


def test_html_is_one_self_contained_file(tmp_path: Path) -> None:
    out = tmp_path / "m.html"
    run_hvcheck("map", str(REPO / "platform" / "aarch64" / "faulty"), "-o", str(out))
    page = out.read_text()
    # Nothing fetched: the only URL is the SVG namespace; links stay inside the page.
    urls = set(re.findall(r"https?://[^\s\"')]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}
    assert not re.search(r"\b(src|srcset)=|@import|<link\b|<iframe\b", page)
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))
    assert page.count("<script") == 0
    # Every finding is listed, and each one with an address links to its drawn mark.
    doc = json.loads(run_hvcheck("map", str(REPO / "platform" / "aarch64" / "faulty"), "--format", "json").stdout)
    assert page.count('<li><span class="rule"') == len(doc["findings"])
    for target in re.findall(r'href="#([^"]+)"', page):
        assert f'id="{target}"' in page


def test_docs_svg_is_the_current_rendering_of_seed_001() -> None:
    """docs/seed001-map.svg (linked from the README) is what `hvcheck map` draws today: pure SVG
    with a legend naming every region's exact range and source line."""
    import xml.etree.ElementTree as ET

    proc = run_hvcheck("map", "hvcheck/demo/examples/layout/seed001-stomp.yaml", "--format", "svg", cwd=ROOT)
    assert proc.returncode == 1
    root = ET.fromstring(proc.stdout)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and "<image" not in proc.stdout
    legend = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text") if "legend" in t.get("class", "")]
    assert any("[0x40000000, 0x80000000) 1 GiB" in row and "seed001-stomp.yaml:33" in row for row in legend)
    assert any(row.startswith("M001 error") and "[0x40400000, 0x44c00000) 72 MiB" in row for row in legend)
    assert_golden(ROOT / "docs" / "seed001-map.svg", proc.stdout)


def test_no_path_is_a_usage_error() -> None:
    proc = run_hvcheck("map", "--format", "text")
    assert proc.returncode == 2 and "PATHS" in proc.stderr + proc.stdout
