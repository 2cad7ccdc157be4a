"""The hvisor loader: discovery, every file's contribution to the model, the estimate, the ELF."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hvcheck.errors import InputError
from hvcheck.layout.intervals import overlaps
from hvcheck.layout.loaders.elf import read_hv_extent
from hvcheck.layout.loaders.hvisor import (
    discover_boards,
    is_hvisor_tree,
    load_hvisor_board,
    load_hvisor_variants,
    resolve_board,
)
from hvcheck.layout.model import ImageKind, RegionKind
from tests.conftest import FIXTURES

REPO = FIXTURES / "hvisor" / "repo"
OLD = FIXTURES / "hvisor" / "old"
BROKEN = FIXTURES / "hvisor" / "broken"
ELF = FIXTURES / "hvisor" / "elf" / "hv.elf"
MiB = 1 << 20


def _line(path: Path, needle: str) -> int:
    return next(i for i, t in enumerate(path.read_text().splitlines(), 1) if needle in t)


def test_discovery_both_layouts() -> None:
    names = [b.name for b in discover_boards(REPO)]
    assert names == ["aarch64/clean", "aarch64/faulty", "aarch64/stomp", "loongarch64/dmw",
                     "riscv64/variants", "x86_64/highhalf"]
    old = discover_boards(OLD)
    assert [(b.name, b.era) for b in old] == [("aarch64/qemu (src/platform)", "src-platform")]
    assert is_hvisor_tree(REPO) and is_hvisor_tree(REPO / "platform/aarch64/clean") and is_hvisor_tree(OLD)
    assert is_hvisor_tree(old[0].path)
    assert not is_hvisor_tree(FIXTURES / "hvisor" / "elf")


def test_resolve_board() -> None:
    assert resolve_board(REPO, "stomp") == REPO / "platform/aarch64/stomp"
    assert resolve_board(REPO, "riscv64/variants") == REPO / "platform/riscv64/variants"
    assert resolve_board(OLD, "qemu_aarch64") == OLD / "src/platform/qemu_aarch64.rs"
    with pytest.raises(InputError) as exc:
        resolve_board(REPO, "rk3999")
    assert "aarch64/clean" in exc.value.message and "x86_64/highhalf" in exc.value.message


def test_clean_board_model() -> None:
    board_dir = REPO / "platform/aarch64/clean"
    s = load_hvisor_board(board_dir)
    hv = s.hypervisor
    assert hv is not None and hv.start == 0x40400000
    assert hv.source.path.endswith("linker.ld") and hv.source.line == 2
    # estimate: BASE + [2, 8] MiB image + 4 CPUs x 512 KiB + 64 MiB pool
    assert hv.estimate is not None
    assert (hv.estimate.end_min, hv.estimate.end_max) == (0x40400000 + 2 * MiB + 66 * MiB,
                                                          0x40400000 + 8 * MiB + 66 * MiB)
    assert hv.end == hv.estimate.end_max
    assert [p.name for p in hv.parts] == ["image", "per-CPU areas", "memory pool"]
    assert hv.parts[2].source.path.endswith("consts.rs")
    assert hv.parts[2].source.line == _line(REPO / "src/consts.rs", "HV_MEM_POOL_SIZE: usize")
    root, zone1 = s.zones
    assert root.root and root.name == "root-linux" and [c.number for c in root.cpus] == [0, 1]
    assert [(r.kind, r.start, r.size, r.label) for r in root.regions][:2] == [
        (RegionKind.RAM, 0x50000000, 0x70000000, root.regions[0].label), (RegionKind.IO, 0x9000000, 0x1000, "serial")]
    assert root.regions[0].source.line == _line(board_dir / "board.rs", "physical_start: 0x50000000") - 2
    assert [i.number for i in root.irqs] == [33, 64, 77, 79]
    assert [(i.kind, i.address) for i in root.images] == [(ImageKind.KERNEL, 0xa0400000), (ImageKind.DTB, 0xa0000000)]
    assert root.devicetree is not None and root.devicetree.path.endswith("zone0.dts")
    assert zone1.name == "linux2" and zone1.zone_id == 1 and [c.number for c in zone1.cpus] == [2, 3]
    assert [(r.kind, r.start, r.size) for r in zone1.regions] == [
        (RegionKind.RAM, 0x50000000, 0x30000000), (RegionKind.EMULATED, 0xa003c00, 0x200)]
    assert zone1.regions[0].source.line == 7 and zone1.regions[0].source.path.endswith("zone1-linux.json")
    assert {(i.kind, i.address) for i in zone1.images} == {(ImageKind.KERNEL, 0x50400000), (ImageKind.DTB, 0x50000000)}
    assert zone1.devicetree is not None and zone1.devicetree.path.endswith("zone1-linux.dts")
    assert [(m.start, m.end) for m in s.board.memory] == [(0x40000000, 0x100000000)]
    assert s.board.cpu_count is not None and s.board.cpu_count.number == 4
    kinds = {(d.name, d.kind, d.start) for d in s.board.devices}
    assert {("gicd", "gic", 0x8000000), ("gicr", "gic", 0x80a0000), ("uart", "uart", 0x9000000),
            ("pci ecam", "pci-ecam", 0x4010000000), ("pci mem32", "pci-mem32", 0x10000000)} <= kinds
    # the virtio backend config next to the zone config is recognised and skipped, not reported as broken
    assert any("zone1-linux-virtio.json: not a zone config" in n for n in s.notes)


def test_seed_001_board_hypervisor_inside_root_ram() -> None:
    s = load_hvisor_board(REPO / "platform/aarch64/stomp")
    hv = s.hypervisor
    root = s.root
    ram = [r for r in root.regions if r.kind is RegionKind.RAM and overlaps(hv.start, hv.end, r.start, r.end)]
    assert len(ram) == 1 and ram[0].source.line == _line(REPO / "platform/aarch64/stomp/board.rs",
                                                         "physical_start: 0x40000000") - 2
    dt = root.devicetree
    assert dt is not None and dt.path.endswith("zone0_stomp.dts")  # named by platform.mk
    assert [(r.start, r.end, r.no_map) for r in dt.reserved] == [(0x60000000, 0x60400000, False)]
    # nested GicConfig::Gicv3(Gicv3Config { .. }) and get_irqs_bitmap
    assert {d.name for d in s.board.devices} >= {"gicd", "gicr", "gits"}
    assert [i.number for i in root.irqs] == [33, 64]


def test_variants_board_kinds_and_guest_addresses() -> None:
    s = load_hvisor_board(REPO / "platform/riscv64/variants")
    root, zone1 = s.zones
    assert [r.kind for r in root.regions] == [RegionKind.RAM, RegionKind.RAM, RegionKind.IO, RegionKind.EMULATED,
                                              RegionKind.RESERVED, RegionKind.ROM, RegionKind.IO]
    assert zone1.regions[0].start == 0x9C000000 and zone1.regions[0].gstart == 0x80000000
    assert {d.kind for d in s.board.devices} >= {"plic", "pci-ecam"}
    assert root.devicetree.mem_limit.number == 3 << 30
    assert [i.number for i in zone1.irqs] == [8]


def test_virtual_linker_bases_are_translated() -> None:
    la = load_hvisor_board(REPO / "platform/loongarch64/dmw")
    assert la.hypervisor.start == 0x90000000
    assert "DMW" in la.hypervisor.source.detail
    x86 = load_hvisor_board(REPO / "platform/x86_64/highhalf")
    assert x86.hypervisor.start == 0x200000
    assert "high-half" in x86.hypervisor.source.detail and "entry.rs:2" in x86.hypervisor.source.detail
    root = x86.root
    assert [r.kind for r in root.regions] == [RegionKind.RAM, RegionKind.RAM, RegionKind.RAM, RegionKind.RESERVED]
    assert root.regions[1].guest_start == 0xE0000 and "ROOT_ZONE_RSDP_REGION" in root.regions[1].source.detail
    assert [i.number for i in root.irqs] == [0]      # get_irqs_bitmap(&[0; 32])
    assert all(i.kind is not ImageKind.DTB for i in root.images)
    # no device tree on x86: the e820 map hvisor builds from the RAM regions (rsdp id 1 excluded)
    e820 = root.devicetree
    assert e820 is not None and "e820" in e820.path
    assert [(m.start, m.end) for m in e820.memory] == [(0x0, 0xE0000), (0x100000, 0x15000000)]


def test_earlier_layout() -> None:
    s = load_hvisor_board(OLD / "src/platform/qemu_aarch64.rs")
    hv = s.hypervisor
    # MAX_CPU_NUM chosen by #[cfg(target_arch = "aarch64")] = 8; 16 MiB pool; no HV_EXTENDED_SIZE const
    assert hv.estimate.end_max == 0x40400000 + 8 * MiB + 8 * 512 * 1024 + 16 * MiB
    assert hv.source.path.endswith("scripts/qemu-aarch64.ld")
    assert [z.name for z in s.zones] == ["root-linux", "linux2"]
    assert s.root.devicetree.path.endswith("qemu-aarch64.dts")


def test_alternative_zone_configs_are_separate_systems(tmp_path: Path) -> None:
    board = tmp_path / "repo"
    shutil.copytree(REPO, board)
    b = board / "platform/aarch64/clean"
    text = (b / "configs/zone1-linux.json").read_text().replace('"linux2"', '"ruxos"')
    (b / "configs/zone1-ruxos-long.json").write_text(text)
    systems = load_hvisor_variants(b)
    assert len(systems) == 2
    assert [z.name for z in systems[0].zones] == ["root-linux", "linux2"]
    assert [z.name for z in systems[1].zones] == ["root-linux", "ruxos"]
    primary = load_hvisor_board(b)
    assert len(primary.zones) == 2 and any("alternative" in n for n in primary.notes)


def test_elf_gives_the_exact_extent() -> None:
    start, core_end, end = read_hv_extent(ELF)
    assert (start.value, core_end.value, end.value) == (0x80200000, 0x80204000, 0x84404000)
    s = load_hvisor_board(REPO / "platform/riscv64/variants", elf=ELF)
    hv = s.hypervisor
    assert hv.estimate is None and (hv.start, hv.end) == (0x80200000, 0x84404000)
    assert hv.end_source.symbol == "__hv_end" and hv.source.symbol == "skernel"
    assert [(p.name, p.start, p.end) for p in hv.parts] == [
        ("image", 0x80200000, 0x80204000), ("per-CPU areas", 0x80204000, 0x80404000),
        ("memory pool", 0x80404000, 0x84404000)]


def test_bad_elves(tmp_path: Path) -> None:
    data = ELF.read_bytes()
    cut = tmp_path / "cut.elf"
    cut.write_bytes(data[:200])
    with pytest.raises(InputError, match="corrupt or truncated ELF|not found"):
        read_hv_extent(cut)
    junk = tmp_path / "junk.elf"
    junk.write_bytes(b"MZ" + bytes(100))
    with pytest.raises(InputError, match="not an ELF"):
        read_hv_extent(junk)
    with pytest.raises(InputError, match="cannot read"):
        read_hv_extent(tmp_path / "missing.elf")


@pytest.mark.parametrize("board, file, line, what", [
    ("badtype", "board.rs", 35, "unknown memory type `MEM_TYPE_WEIRD`"),
    ("macro-region", "board.rs", 34, "macro invocation"),
    ("syntax", "board.rs", 33, "Rust syntax error"),
    ("unknownconst", "board.rs", 32, "unknown constant `ZONE0_RAM_SIZE`"),
])
def test_broken_board_rs(board: str, file: str, line: int, what: str) -> None:
    with pytest.raises(InputError) as exc:
        load_hvisor_board(BROKEN / "platform/aarch64" / board)
    assert exc.value.path == str(BROKEN / "platform/aarch64" / board / file)
    assert exc.value.line == line
    assert what in exc.value.message


@pytest.mark.parametrize("board, file, line, what, subject", [
    ("badjson", "configs/zone1-linux.json", 20, "invalid JSON", "zone config"),
    ("conflict", "image/dts/zone0.dts", 12, "merge-conflict marker", "zone root-linux devicetree"),
])
def test_one_unreadable_input_is_an_input_problem_not_a_lost_board(board: str, file: str, line: int, what: str,
                                                                    subject: str) -> None:
    s = load_hvisor_board(BROKEN / "platform/aarch64" / board)
    assert len(s.input_problems) == 1
    p = s.input_problems[0]
    assert (p.path, p.line) == (str(BROKEN / "platform/aarch64" / board / file), line)
    assert what in p.message and p.subject.startswith(subject)
    assert s.hypervisor is not None and s.root is not None and s.root.regions


def test_missing_pieces_are_input_errors(tmp_path: Path) -> None:
    b = tmp_path / "repo"
    shutil.copytree(REPO, b)
    (b / "platform/aarch64/clean/linker.ld").unlink()
    s = load_hvisor_board(b / "platform/aarch64/clean")   # the extent is unknown, the zones are not
    assert s.hypervisor is None and [p.subject for p in s.input_problems] == ["hypervisor"]
    assert "no linker.ld" in s.input_problems[0].message and "M001" in s.input_problems[0].checks_not_run
    assert s.root is not None and s.root.regions
    with pytest.raises(InputError, match="not an hvisor board"):
        load_hvisor_board(tmp_path)
    (b / "src/consts.rs").write_text("pub const PER_CPU_SIZE: usize = 0x1000;\n")
    s = load_hvisor_board(b / "platform/aarch64/stomp")
    assert s.hypervisor is None and "MAX_CPU_NUM not found" in s.input_problems[0].message


def test_earlier_layout_linker_script_from_cargo_config_and_arch_without_max_cpu(tmp_path: Path) -> None:
    repo = tmp_path / "old"
    shutil.copytree(OLD, repo)
    # a second aarch64 script and a board without its own: .cargo/config's -T decides
    (repo / "scripts/zcu102-aarch64.ld").write_text("BASE_ADDRESS = 0x7000000;\n")
    (repo / ".cargo").mkdir()
    (repo / ".cargo/config").write_text('[target.aarch64-unknown-none]\nrustflags = [\n'
                                        '    "-Clink-arg=-Tscripts/qemu-aarch64.ld",\n]\n')
    shutil.copy(repo / "src/platform/qemu_aarch64.rs", repo / "src/platform/imx8mp_aarch64.rs")
    s = load_hvisor_board(repo / "src/platform/imx8mp_aarch64.rs")
    assert s.hypervisor.start == 0x40400000 and s.hypervisor.source.path.endswith("qemu-aarch64.ld")
    assert any(".cargo/config" in n for n in s.notes)
    # src/consts.rs defines MAX_CPU_NUM only for other targets: say so, with the line
    shutil.copy(repo / "src/platform/qemu_aarch64.rs", repo / "src/platform/qemu_x86_64.rs")
    (repo / "scripts/qemu-x86_64.ld").write_text("BASE_ADDRESS = 0xffffff8000200000;\n")
    s = load_hvisor_board(repo / "src/platform/qemu_x86_64.rs")
    [problem] = s.input_problems
    assert 'no definition of MAX_CPU_NUM applies to target_arch = "x86_64"' in problem.message
    assert "this commit has no src/arch/x86_64: hvisor does not build for this board here" in problem.message
    assert problem.path.endswith("src/consts.rs") and problem.line == _line(repo / "src/consts.rs",
                                                                            "MAX_CPU_NUM: usize = 4")
