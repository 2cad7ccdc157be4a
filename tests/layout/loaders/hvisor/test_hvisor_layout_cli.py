"""`hvcheck layout` on hvisor trees, end to end (real subprocess): the rule classes each fixture
board exercises, exit codes, bad input (exit 2 with file:line), --all with E001 for broken boards.

The fixture boards reproduce what `hvcheck layout <hvisor> --all` found on the public hvisor tree
(docs/hvisor-boards.md): a hypervisor inside root RAM with a too-small reservation (stomp, like
rk3568/ok6254-c/phytium-pi), the loader pattern that must stay clean (clean, like qemu-gicv3),
virtual linker bases (dmw like ls3a5000, highhalf like x86 qemu with its 4 MiB headroom).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from rulecheck import clean, fires

from tests.conftest import FIXTURES, run_hvcheck

REPO = FIXTURES / "hvisor" / "repo"
BROKEN = FIXTURES / "hvisor" / "broken"
ELF = FIXTURES / "hvisor" / "elf" / "hv.elf"


def _json(*args: str) -> tuple[int, dict, str]:
    proc = run_hvcheck("layout", *args, "--format", "json")
    assert "Traceback" not in proc.stderr
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}, proc.stderr


def _rules(doc: dict) -> Counter:
    return Counter(f["rule"] for f in doc["findings"])


EXPECTED = {
    "aarch64/clean": {"M014"},
    "aarch64/stomp": {"M001", "M002", "M013", "M014"},
    "aarch64/faulty": {"M003", "M004", "M005", "M006", "M007", "M008", "M009", "M010", "M011", "M012", "M013",
                       "M014"},
    "loongarch64/dmw": {"E003", "M014"},
    "riscv64/variants": {"M014"},
    "x86_64/highhalf": {"E003", "M013", "M014"},
}


@pytest.mark.parametrize("board", sorted(EXPECTED))
def test_each_fixture_board(board: str) -> None:
    code, doc, _ = _json(str(REPO / "platform" / board))
    assert set(_rules(doc)) == EXPECTED[board]
    assert code == (1 if any(f["severity"] == "error" for f in doc["findings"]) else 0)


def test_seed_001_reported_with_board_rs_and_linker_ld_lines() -> None:
    code, doc, _ = _json(str(REPO), "--board", "stomp")
    assert code == 1
    m001 = fires(doc["findings"], "M001")
    assert len(m001) == 1
    locs = [(loc["path"].rsplit("/", 1)[-1], loc["line"]) for loc in m001[0]["locations"]]
    assert ("board.rs", 24) in locs and ("linker.ld", 2) in locs
    m002 = fires(doc["findings"], "M002")
    assert any(loc["path"].endswith("zone0_stomp.dts") for f in m002 for loc in f["locations"])


def test_loader_pattern_stays_clean() -> None:
    """The root zone maps zone1's RAM (and zone1's images) so hvisor-tool can load them; the root
    device tree keeps the root kernel off it: no M004, no M008."""
    code, doc, _ = _json(str(REPO / "platform/aarch64/clean"))
    assert code == 0 and set(_rules(doc)) == {"M014"}
    clean(doc["findings"], "M004")
    clean(doc["findings"], "M008")


def test_elf_makes_the_extent_exact() -> None:
    code, doc, _ = _json(str(REPO / "platform/riscv64/variants"), "--elf", str(ELF))
    assert code == 0
    clean(doc["findings"], "M014")


def test_image_size_bounds_decide_whether_a_verdict_depends_on_the_estimate() -> None:
    _, doc, _ = _json(str(REPO / "platform/x86_64/highhalf"))
    m014 = fires(doc["findings"], "M014")[0]
    assert "M013" in m014["message"]
    _, doc, _ = _json(str(REPO / "platform/x86_64/highhalf"), "--image-size", "1M:2M")
    clean(doc["findings"], "M013")


def test_all_on_the_fixture_checkout() -> None:
    code, doc, stderr = _json(str(REPO), "--all")
    assert code == 1 and "checked 6 of 6 boards" in stderr
    boards = {f["data"]["board"] for f in doc["findings"]}
    assert boards == set(EXPECTED)
    clean(doc["findings"], "E001")


def test_all_reports_broken_boards_as_e001_and_checks_the_rest() -> None:
    code, doc, stderr = _json(str(BROKEN), "--all")
    # board.rs broken: the board is E001; a broken device tree or zone config: E001 for that file only
    assert code == 1 and "checked 3 of 7 boards" in stderr
    e001 = fires(doc["findings"], "E001")
    where = sorted((f["locations"][0]["path"].split("/aarch64/")[1], f["locations"][0]["line"]) for f in e001)
    assert where == [("badjson/configs/zone1-linux.json", 20), ("badtype/board.rs", 35),
                     ("conflict/image/dts/zone0.dts", 12), ("macro-region/board.rs", 34),
                     ("syntax/board.rs", 33), ("unknownconst/board.rs", 32)]
    assert any(f["data"].get("board") == "aarch64/good" for f in doc["findings"])


def test_single_board_with_broken_board_rs_exits_2_with_file_and_line() -> None:
    proc = run_hvcheck("layout", str(BROKEN / "platform/aarch64/macro-region"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "macro-region/board.rs:34: ROOT_ZONE_MEMORY_REGIONS: unsupported region element" in lines[0]


@pytest.mark.parametrize("board, where, what, still", [
    ("conflict", "conflict/image/dts/zone0.dts", 12, "merge-conflict marker"),
    ("badjson", "badjson/configs/zone1-linux.json", 20, "invalid JSON"),
])
def test_single_board_with_one_unreadable_input_reports_e001_and_checks_the_rest(
        board: str, where: str, what: int, still: str) -> None:
    code, doc, stderr = _json(str(BROKEN / "platform/aarch64" / board))
    assert code == 1 and stderr == ""
    e001 = fires(doc["findings"], "E001")
    assert len(e001) == 1 and e001[0]["locations"][0]["path"].endswith(where)
    assert e001[0]["locations"][0]["line"] == what and still in e001[0]["message"]
    fires(doc["findings"], "M014")   # the extent and every other check still ran


def test_checkout_without_board_and_unknown_board() -> None:
    proc = run_hvcheck("layout", str(REPO))
    assert proc.returncode == 2 and "--board NAME or --all" in proc.stderr and "aarch64/stomp" in proc.stderr
    proc = run_hvcheck("layout", str(REPO), "--board", "nope")
    assert proc.returncode == 2 and "unknown board 'nope'" in proc.stderr
