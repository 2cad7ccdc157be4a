"""The loader registry: formats are found by scanning hvcheck.layout.loaders, each path goes to the
format that claims it most surely, options a format does not take are refused by name, and `--all`
is generic over formats."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, run_hvcheck

from hvcheck.errors import InputError
from hvcheck.layout import loaders

SEED_LAYOUT = ROOT / "hvcheck" / "demo" / "examples" / "layout" / "seed001-stomp.yaml"


HVISOR_REPO = FIXTURES / "hvisor" / "repo"


def _hvisor_fixture() -> Path:
    board = HVISOR_REPO / "platform" / "aarch64" / "clean"
    assert (board / "board.rs").is_file()
    return board


def test_every_format_is_registered_by_scanning_the_package() -> None:
    names = {f.name for f in loaders.formats()}
    assert {"neutral", "hvisor"} <= names
    for fmt in loaders.formats():
        assert fmt.description and isinstance(fmt.options, frozenset)


def test_recognise_by_content_and_place() -> None:
    assert loaders.recognise(SEED_LAYOUT).name == "neutral"
    board = _hvisor_fixture()
    assert loaders.recognise(board).name == "hvisor"
    # A file inside a board (what pre-commit passes) belongs to the board, even a .json zone config.
    assert loaders.recognise(board / "board.rs").name == "hvisor"
    zone_json = next(iter(sorted(board.glob("configs/*.json"))), None)
    if zone_json is not None:
        assert loaders.recognise(zone_json).name == "hvisor"


def test_a_file_inside_a_board_loads_its_board() -> None:
    board = _hvisor_fixture()
    whole = loaders.load_layout(board)
    via_file = loaders.load_layout(board / "board.rs")
    assert via_file.name == whole.name
    assert [r.start for r in via_file.all_regions()] == [r.start for r in whole.all_regions()]


def test_unknown_input_lists_the_accepted_formats(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    with pytest.raises(InputError) as exc:
        loaders.recognise(junk)
    assert "neutral layout file" in str(exc.value) and "hvisor" in str(exc.value)


def test_options_a_format_does_not_take_are_refused_by_name() -> None:
    with pytest.raises(InputError, match="--board"):
        loaders.load_layout(SEED_LAYOUT, board="rk3568")
    proc = run_hvcheck("layout", str(SEED_LAYOUT), "--root-dts", str(SEED_LAYOUT))
    assert proc.returncode == 2 and "--root-dts" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_all_on_a_single_file_format_says_why(tmp_path: Path) -> None:
    proc = run_hvcheck("layout", str(SEED_LAYOUT), "--all")
    assert proc.returncode == 2 and "--all" in proc.stderr


def test_checkout_with_several_boards_needs_board_or_all(tmp_path: Path) -> None:
    board = _hvisor_fixture()
    repo = tmp_path / "hv"
    shutil.copytree(HVISOR_REPO / "src", repo / "src")
    for name in ("one", "two"):
        shutil.copytree(board, repo / "platform" / board.parent.name / name)
    proc = run_hvcheck("layout", str(repo))
    assert proc.returncode == 2
    assert "--board" in proc.stderr and "/one" in proc.stderr and "/two" in proc.stderr
    proc = run_hvcheck("layout", str(repo), "--all", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    assert "checked 2 of 2 boards" in proc.stderr
