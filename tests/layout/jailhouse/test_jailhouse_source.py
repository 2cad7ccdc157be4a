"""Jailhouse .c configs: built as Jailhouse's configs/Makefile does against our own stand-in tree
(tests/fixtures/jailhouse/tree), entries mapped to file:line and the comment naming them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cellwriter import ARM64, INMATE_RAM, MMIO, READ, WRITE, Cell, Irqchip, Mem, comm
from conftest import FIXTURES, require_tool, run_hvcheck
from rulecheck import fires

from hvcheck.errors import InputError
from hvcheck.layout.loaders import LoadOptions, load_paths
from hvcheck.layout.loaders.jailhouse import cellfile as cf
from hvcheck.layout.loaders.jailhouse import read_config, source
from hvcheck.layout.model import RegionKind
from hvcheck.layout.rules import run_rules

TREE = FIXTURES / "jailhouse" / "tree"
CONFIGS = TREE / "configs" / "arm64"


def _line_of(path: Path, text: str, nth: int = 0) -> int:
    """The expected line, found in the fixture independently of the loader."""
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    return hits[nth]


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tool("gcc")
    require_tool("objcopy")


def test_a_c_config_builds_to_the_same_binary_as_our_writer() -> None:
    built = source.build(CONFIGS / "demo-inmate.c", TREE)
    want = Cell("demo-inmate", [3], [Mem(0x09000000, 0x1000, MMIO | 0x80), Mem(0x70000000, 0x10000, INMATE_RAM, 0),
                                     comm()], [Irqchip(0x08000000, 32, (1 << 1, 0, 0, 0))], arch=ARM64)
    assert built.binary == want.pack()


def test_regions_map_to_their_line_and_comment() -> None:
    cfg = read_config(CONFIGS / "demo.c", LoadOptions())
    prov = cfg.prov
    demo = CONFIGS / "demo.c"
    shm_line = _line_of(demo, "JAILHOUSE_SHMEM_NET_REGIONS(0x7fb00000, 0)")
    # The macro's four entries share its line and the comment above it.
    for i in range(4):
        loc = prov.region(i)
        assert (loc.path, loc.line) == (str(demo), shm_line)
        assert prov.region_label(i) == "IVSHMEM shared memory regions for 00:01.0 (networking)"
    assert prov.region(4).line == _line_of(demo, "/* MMIO (permissive) */")
    assert prov.region_label(4) == "MMIO (permissive)"
    assert (prov.region(5).line, prov.region_label(5)) == (_line_of(demo, "/* RAM */"), "RAM")
    assert prov.irqchip(0).line == _line_of(demo, "/* GIC */")
    assert (prov.pci(0).line, prov.pci_label(0)) == (_line_of(demo, "IVSHMEM 00:01.0 (networking) */"),
                                                     "IVSHMEM 00:01.0 (networking)")
    assert prov.field("hypervisor_memory").line == _line_of(demo, ".hypervisor_memory")
    assert prov.field("gicr_base").line == _line_of(demo, ".gicr_base")


def test_an_included_wrapper_maps_into_the_wrapped_file() -> None:
    cfg = read_config(CONFIGS / "demo-inmate-aarch32.c", LoadOptions())
    assert cfg.desc.architecture == 1       # the wrapper defines USE_AARCH32
    inner = CONFIGS / "demo-inmate.c"
    loc = cfg.prov.region(1)
    assert Path(str(loc.path)).name == "demo-inmate.c" and loc.line == _line_of(inner, "/* RAM */")
    arch = cfg.prov.field("architecture")
    assert arch.line == _line_of(inner, ".architecture = JAILHOUSE_ARM,")


def test_findings_on_a_c_set_point_at_source_lines() -> None:
    sysm = load_paths([CONFIGS / "demo.c", CONFIGS / "demo-inmate.c", CONFIGS / "demo-linux.c",
                       CONFIGS / "demo-inmate-aarch32.c"], LoadOptions())
    findings = run_rules(sysm)
    overlap = fires(findings, "M004")[0]
    assert {(Path(str(loc.path)).name, loc.line) for loc in overlap.locations} == {
        ("demo-inmate.c", _line_of(CONFIGS / "demo-inmate.c", "/* RAM */")),
        ("demo-linux.c", _line_of(CONFIGS / "demo-linux.c", "/* RAM */"))}
    refused = fires(findings, "M018")[0]
    assert "demo-inmate-aarch32" in refused.message and "architecture mismatch" in refused.message
    labels = {r.label for z in sysm.zones for r in z.regions}
    assert "communication region" in labels and "UART" in labels


def test_the_tree_is_found_from_the_config_and_can_be_given(tmp_path: Path) -> None:
    assert source.find_tree(CONFIGS / "demo.c", None) == TREE.resolve()
    outside = tmp_path / "demo.c"
    shutil.copy(CONFIGS / "demo.c", outside)
    with pytest.raises(InputError, match="--jailhouse-src"):
        read_config(outside, LoadOptions())
    cfg = read_config(outside, LoadOptions(jailhouse_src=TREE))
    assert cfg.system is not None and cfg.system.hypervisor.phys_start == 0x7FC00000
    with pytest.raises(InputError, match="not a Jailhouse source tree"):
        read_config(outside, LoadOptions(jailhouse_src=tmp_path))


def test_a_compile_error_is_reported_at_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.c"
    text = (CONFIGS / "demo-inmate.c").read_text().replace(".size = 0x00010000,", ".size = 0x00010000,\n\t\t\t.sise = 1,")
    broken.write_text(text)
    proc = run_hvcheck("layout", str(CONFIGS / "demo.c"), str(broken), "--jailhouse-src", str(TREE), "--format",
                       "json")
    # The set is still checked; the broken cell is an E001 at the line gcc names.
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    e001 = fires(findings, "E001")[0]
    assert e001["locations"][0] == {"path": str(broken), "line": _line_of(broken, ".sise")}
    assert "no member named 'sise'" in e001["message"]
    fires(findings, "M016")   # the system config was still checked


def test_without_gcc_the_message_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "demo.cell"
    binary.write_bytes(source.build(CONFIGS / "demo.c", TREE).binary)
    monkeypatch.setattr(source.shutil, "which", lambda name: None)
    with pytest.raises(InputError, match="apt-get install gcc binutils"):
        source.build(CONFIGS / "demo.c", TREE)
    # .cell binaries need no compiler.
    assert load_paths([binary], LoadOptions()).name == "demo"


def test_entries_follow_designated_indexes(tmp_path: Path) -> None:
    text = (CONFIGS / "demo-inmate.c").read_text()
    text = text.replace("\t\t/* UART */ {", "\t\t[0] = /* UART */ {").replace("\t\t/* RAM */ {", "\t\t[1] = { /* low RAM */")
    path = tmp_path / "designated.c"
    path.write_text(text)
    cfg = read_config(path, LoadOptions(jailhouse_src=TREE))
    assert cfg.prov.region_label(1) == "low RAM" and cfg.prov.region(1).line == _line_of(path, "low RAM")
    kinds = [RegionKind.IO, RegionKind.RAM]
    sysm = load_paths([CONFIGS / "demo.c", path], LoadOptions(jailhouse_src=TREE))
    assert [r.kind for r in sysm.zones[1].regions][:2] == kinds
    assert cf.MEM_WRITE == WRITE and cf.MEM_READ == READ


def test_an_uncommented_entry_after_a_macro_group_gets_no_label(tmp_path: Path) -> None:
    path = tmp_path / "plain.c"
    path.write_text((CONFIGS / "demo.c").read_text().replace("/* MMIO (permissive) */ {", "{"))
    cfg = read_config(path, LoadOptions(jailhouse_src=TREE))
    assert cfg.prov.region_label(3) == "IVSHMEM shared memory regions for 00:01.0 (networking)"
    assert cfg.prov.region_label(4) is None


def test_all_on_a_source_tree_builds_every_config_and_pairs_the_wrapper() -> None:
    proc = run_hvcheck("layout", str(TREE), "--all", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    notes = "\n".join(doc["notes"])
    assert ("[arm64/demo] set: system config demo.c with demo-inmate (name prefix); demo-inmate-aarch32 (name "
            "prefix); demo-linux (name prefix)") in notes
    refused = fires(doc["findings"], "M018")
    assert refused[0]["locations"][0]["path"].endswith("demo-inmate.c")


def test_all_builds_sources_ahead_but_board_builds_only_its_own_set(tmp_path: Path) -> None:
    require_tool("gcc")
    require_tool("objcopy")
    import shutil

    from hvcheck.layout.loaders import LoadOptions
    from hvcheck.layout.loaders import jailhouse as jh

    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    shutil.copy(tree / "configs" / "arm64" / "demo.c", tree / "configs" / "arm64" / "other.c")   # a second set
    jh._PENDING.clear()
    system = jh.FORMAT.load([tree], LoadOptions(board="demo"))
    assert system.name.endswith("demo") and not jh._PENDING     # nothing left building in the background
    targets = jh.FORMAT.discover(tree, LoadOptions())
    sources = {str(p) for t in targets for p in t.paths if p.suffix == ".c"}
    assert sources and set(jh._PENDING) == sources               # --all: every set's sources start building
    built = jh.FORMAT.load_target(targets[0], LoadOptions())
    assert not any(str(p) in jh._PENDING for p in targets[0].paths)   # picked up, not built twice
    assert [z.name for z in built.zones] == [z.name for z in system.zones]
    jh._PENDING.clear()
