"""`hvcheck layout` on Jailhouse inputs: several paths, a tree with --all (pairing by name, cells left
unpaired, a pairing file, E001 for a set or a cell that cannot be read), --board, options refused
by other formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cellwriter import X86, Cell, Console, Mem, inmate, system
from conftest import ROOT, run_hvcheck
from rulecheck import clean, fires

from hvcheck.errors import InputError
from hvcheck.layout import loaders


def _tree(tmp_path: Path) -> Path:
    """configs/arm64 with two boards, their cells, an unpaired cell; configs/x86 with one board."""
    d = tmp_path / "configs" / "arm64"
    d.mkdir(parents=True)
    system().write(d / "board-a.cell")
    inmate("board-a-inmate-demo", [3]).write(d / "board-a-inmate-demo.cell")
    inmate("board-a-linux-demo", [2]).write(d / "board-a-linux-demo.cell")   # overlaps the inmate: M004
    system().write(d / "board-ab.cell")                                      # longer prefix wins
    inmate("ab-demo", [3]).write(d / "board-ab-demo.cell")
    inmate("lonely", [3]).write(d / "orphan-demo.cell")
    x = tmp_path / "configs" / "x86"
    x.mkdir()
    root = Cell("root", [0, 1, 2, 3], [Mem(0x100000, 0x3FF00000, 0xF)], arch=X86)
    system(root, arch=X86, hv_start=0x40000000, hv_size=0x600000, console=Console(0x3F8, 0, 2, 0)).write(
        x / "pc.cell")
    return tmp_path


def _json(proc: object) -> dict[str, object]:
    return json.loads(proc.stdout)  # type: ignore[attr-defined, no-any-return]


def test_several_paths_are_one_set(tmp_path: Path) -> None:
    tree = _tree(tmp_path) / "configs" / "arm64"
    proc = run_hvcheck("layout", str(tree / "board-a.cell"), str(tree / "board-a-inmate-demo.cell"),
                       str(tree / "board-a-linux-demo.cell"), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = _json(proc)
    fires(doc["findings"], "M004")  # type: ignore[arg-type]
    # The system config may come anywhere among the paths.
    again = run_hvcheck("layout", str(tree / "board-a-inmate-demo.cell"), str(tree / "board-a.cell"),
                        str(tree / "board-a-linux-demo.cell"), "--format", "json")
    assert _json(again)["findings"] == doc["findings"]


def test_together_on_the_command_line(tmp_path: Path) -> None:
    tree = _tree(tmp_path) / "configs" / "arm64"
    a, b = inmate("x", [3]), inmate("y", [3], 0x70200000)
    paths = [str(tree / "board-a.cell"), str(a.write(tmp_path / "x.cell")), str(b.write(tmp_path / "y.cell"))]
    clean(_json(run_hvcheck("layout", *paths, "--format", "json"))["findings"], "M010")  # type: ignore[arg-type]
    together = _json(run_hvcheck("layout", *paths, "--together", "x,y", "--format", "json"))
    fires(together["findings"], "M010")  # type: ignore[arg-type]


def test_all_pairs_cells_reports_unpaired_and_checks_every_set(tmp_path: Path) -> None:
    proc = run_hvcheck("layout", str(_tree(tmp_path)), "--all", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = _json(proc)
    notes = "\n".join(doc["notes"])  # type: ignore[arg-type]
    assert "[arm64/board-a] set: system config board-a.cell with board-a-inmate-demo (name prefix); " \
           "board-a-linux-demo (name prefix)" in notes
    assert "[arm64/board-ab] set: system config board-ab.cell with board-ab-demo (name prefix)" in notes
    assert "orphan-demo" in notes and "not checked" in notes
    assert "[x86/pc] set: system config pc.cell with no cells" in notes
    boards = {f["data"]["board"] for f in doc["findings"]}  # type: ignore[index, union-attr]
    assert "arm64/board-a" in boards
    assert "checked 3 of 3" in proc.stderr


def test_pairing_file_places_a_cell(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    scen = tmp_path / "sets.txt"
    scen.write_text("pair board-ab: orphan-demo\ntogether board-ab: ab-demo, lonely\n")
    doc = _json(run_hvcheck("layout", str(tree), "--all", "--scenario", str(scen), "--format", "json"))
    notes = "\n".join(doc["notes"])  # type: ignore[arg-type]
    assert "orphan-demo (scenario file)" in notes and "not checked" not in notes
    ab = [f for f in doc["findings"] if f["data"].get("board") == "arm64/board-ab"]  # type: ignore[index, union-attr]
    fires(ab, "M004")   # ab-demo and lonely share CPU 3 and RAM, named together


def test_an_unreadable_set_or_cell_is_e001_and_the_rest_still_runs(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    arm = tree / "configs" / "arm64"
    (arm / "board-a-linux-demo.cell").write_bytes(b"JHCLL\x02\x0e\x00" + b"\0" * 10)   # truncated cell
    (arm / "board-ab.cell").write_bytes(b"JHSYS\x02\x0e\x00" + b"\0" * 10)             # truncated system
    proc = run_hvcheck("layout", str(tree), "--all", "--format", "json")
    doc = _json(proc)
    e001 = fires(doc["findings"], "E001")  # type: ignore[arg-type]
    paths = {Path(f["locations"][0]["path"]).name for f in e001}
    assert paths == {"board-a-linux-demo.cell", "board-ab.cell"}
    assert "checked 2 of 3" in proc.stderr
    # The cell's E001 belongs to its set, which was still checked (its inmate alone: no M004 left).
    by_board = {(f["data"].get("board"), f["rule"]) for f in doc["findings"]}  # type: ignore[index, union-attr]
    assert ("arm64/board-a", "E001") in by_board and ("arm64/board-a", "M004") not in by_board


def test_board_picks_one_set_of_a_tree(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    proc = run_hvcheck("layout", str(tree), "--board", "board-a", "--format", "json")
    assert proc.returncode == 1
    hit = fires(_json(proc)["findings"], "M004")  # type: ignore[arg-type]
    assert set(hit[0]["data"]["zones"]) == {"board-a-inmate-demo", "board-a-linux-demo"}
    several = run_hvcheck("layout", str(tree))
    assert several.returncode == 2 and "--board NAME, --all" in several.stderr
    missing = run_hvcheck("layout", str(tree), "--board", "nosuch")
    assert missing.returncode == 2 and "nosuch" in missing.stderr


def test_jailhouse_options_are_refused_by_other_formats(tmp_path: Path) -> None:
    seed = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"
    proc = run_hvcheck("layout", str(seed), "--together", "a,b")
    assert proc.returncode == 2 and "--together" in proc.stderr
    tree = _tree(tmp_path) / "configs" / "arm64"
    proc = run_hvcheck("layout", str(tree / "board-a.cell"), "--elf", str(tree / "board-a.cell"))
    assert proc.returncode == 2 and "--elf" in proc.stderr


def test_the_format_is_registered_and_sniffs_binaries_sources_and_trees(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    assert loaders.recognise(tree / "configs" / "arm64" / "board-a.cell").name == "jailhouse"
    assert loaders.recognise(tree).name == "jailhouse"
    c = tmp_path / "x.c"
    c.write_text("#include <jailhouse/cell-config.h>\nstruct { struct jailhouse_cell_desc cell; } config;\n")
    assert loaders.recognise(c).name == "jailhouse"
    other = tmp_path / "y.c"
    other.write_text("int main(void) { return 0; }\n")
    with pytest.raises(InputError, match="not a layout"):
        loaders.recognise(other)
    assert {f.name for f in loaders.formats()} >= {"jailhouse", "hvisor", "neutral"}


def test_map_draws_a_jailhouse_set_and_layout_json_carries_its_model(tmp_path: Path) -> None:
    tree = _tree(tmp_path) / "configs" / "arm64"
    files = [str(tree / n) for n in ("board-a.cell", "board-a-inmate-demo.cell", "board-a-linux-demo.cell")]
    drawn = run_hvcheck("map", *files, "--format", "text")
    assert drawn.returncode == 1, drawn.stderr            # the M004 overlap is drawn and fails the run
    assert "M004" in drawn.stdout
    model = _json(run_hvcheck("layout", *files, "--format", "json"))["layout"]
    assert {z["name"] for z in model["zones"]} >= {"board-a-inmate-demo", "board-a-linux-demo"}  # type: ignore[index]
