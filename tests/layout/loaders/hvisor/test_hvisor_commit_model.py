"""The hvisor loader models what each commit of hvisor has (issue 15): the root device tree the
build boots, the CPU count its code sizes per-CPU areas by, the e820 map only when boot.rs builds
it, only the src/platform files mod.rs compiles, ROOT_ENTRY and DMW load addresses, the root DTB
mapped at DTB_IPA; and one unreadable input never hides the checks that do not need it.

The trees are written here in the shape of hvisor's 2024-2025 files (our own text)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rulecheck import clean, fires

from hvcheck.layout.loaders.hvisor import discover_boards, load_hvisor_board
from hvcheck.layout.model import ImageKind
from hvcheck.layout.rules import run_rules
from tests.conftest import FIXTURES, run_hvcheck

REPO = FIXTURES / "hvisor" / "repo"

CONSTS_2024 = """\
pub const HV_MEM_POOL_SIZE: usize = 16 * 1024 * 1024; // 16 MB
pub const PER_CPU_SIZE: usize = 512 * 1024; // 512KB
pub const DTB_IPA: usize = 0xfff00000;
#[cfg(target_arch = "aarch64")]
pub const MAX_CPU_NUM: usize = 4;
pub fn mem_pool_start() -> VirtAddr {
    core_end() + MAX_CPU_NUM * PER_CPU_SIZE
}
"""

QEMU_DUMP = """\
/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	memory@40000000 { reg = <0x00 0x40000000 0x00 0x80000000>; device_type = "memory"; };
};
"""

LINUX1 = """\
/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	cpus { #address-cells = <1>; #size-cells = <0>;
		cpu@0 { device_type = "cpu"; reg = <0>; };
		cpu@1 { device_type = "cpu"; reg = <1>; };
	};
	memory@50000000 { device_type = "memory"; reg = <0x0 0x50000000 0x0 0x30000000>; };
};
"""


def era_2024(root: Path, *, makefile: bool = True) -> Path:
    """A 2024-layout checkout: no ROOT_ZONE_MEMORY_REGIONS (the root's RAM is its device tree's),
    the DTB mapped at DTB_IPA, the build picking the root device tree in scripts/qemu-aarch64.mk."""
    files = {
        "src/consts.rs": CONSTS_2024,
        "src/platform/mod.rs": "#[cfg(target_arch = \"aarch64\")]\npub mod qemu_aarch64;\n",
        "src/platform/qemu_aarch64.rs": "pub const ROOT_ZONE_DTB_ADDR: usize = 0x90000000;\n"
                                        "pub const ROOT_ENTRY: usize = 0x50000000;\n",
        "scripts/qemu-aarch64.ld": "ENTRY(arch_entry)\nBASE_ADDRESS = 0x40400000;\n",
        "images/aarch64/devicetree/qemu-aarch64.dts": QEMU_DUMP,
        "images/aarch64/devicetree/linux1.dts": LINUX1,
    }
    if makefile:
        files["Makefile"] = ("ARCH ?= aarch64\nimage_dir  := images/$(ARCH)\n\nelf:\n\tcargo build\n\n"
                             "include scripts/qemu-$(ARCH).mk\n")
        files["scripts/qemu-aarch64.mk"] = ("QEMU := qemu-system-aarch64\n\n"
                                            "zone0_kernel := $(image_dir)/kernel/Image\n"
                                            "zone0_dtb    := $(image_dir)/devicetree/linux1.dtb\n"
                                            "QEMU_ARGS := -machine virt\nQEMU_ARGS += -smp 4\n")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root / "src/platform/qemu_aarch64.rs"


def test_root_device_tree_is_the_one_the_build_boots(tmp_path: Path) -> None:
    board = era_2024(tmp_path)
    s = load_hvisor_board(board)
    assert s.root is not None and s.root.devicetree is not None
    assert s.root.devicetree.path.endswith("linux1.dts")
    assert [(r.start, r.end) for r in s.root.regions] == [(0x50000000, 0x80000000)]
    note = next(n for n in s.notes if n.startswith("root device tree:"))
    assert "zone0_dtb := $(image_dir)/devicetree/linux1.dtb at scripts/qemu-aarch64.mk:4" in note
    assert "image_dir := images/$(ARCH) at Makefile:2" in note
    found = run_rules(s)
    clean(found, "M001")
    clean(found, "M002")


def test_without_the_build_the_machine_dump_is_taken_and_says_why(tmp_path: Path) -> None:
    """The false alarm of issue 15: the QEMU machine dump matched by name puts hvisor in root RAM."""
    s = load_hvisor_board(era_2024(tmp_path, makefile=False))
    assert s.root is not None and s.root.devicetree is not None
    assert s.root.devicetree.path.endswith("qemu-aarch64.dts")
    assert any("matched by name" in n for n in s.notes)
    fires(run_rules(s), "M001")


def test_rom_entry_and_dtb_mapped_at_dtb_ipa(tmp_path: Path) -> None:
    s = load_hvisor_board(era_2024(tmp_path))
    assert s.root is not None
    images = {i.kind: i for i in s.root.images}
    assert images[ImageKind.KERNEL].address == 0x50000000          # ROOT_ENTRY: no ROOT_ZONE_KERNEL_ADDR yet
    dtb = images[ImageKind.DTB]
    assert dtb.address == 0x90000000 and not dtb.in_zone_ram and "DTB_IPA" in (dtb.source.detail or "")
    clean(run_rules(s), "M008")   # outside the root's RAM, but hvisor maps it at DTB_IPA


def test_loongarch_dmw_load_addresses_are_physical(tmp_path: Path) -> None:
    era_2024(tmp_path)
    (tmp_path / "src/platform/mod.rs").write_text("pub mod qemu_aarch64;\npub mod ls3a5000_loongarch64;\n")
    (tmp_path / "src/consts.rs").write_text(CONSTS_2024.replace('"aarch64"', '"loongarch64"'))
    (tmp_path / "src/platform/ls3a5000_loongarch64.rs").write_text(
        "pub const ROOT_ZONE_DTB_ADDR: usize = 0x9000000090000000;\n"
        "pub const ROOT_ENTRY: usize = 0x9000_0000_0020_0000; // vmlinux load addr in HPA space\n")
    (tmp_path / "scripts/ls3a5000-loongarch64.ld").write_text("BASE_ADDRESS = 0x9000000100010000;\n")
    dts = tmp_path / "images/loongarch64/devicetree/loongson3_ls7a.dts"
    dts.parent.mkdir(parents=True)
    dts.write_text('/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>;\n memory { device_type = "memory";'
                   ' reg = <0 0x00200000 0 0x0ee00000 0 0x90000000 0 0x10000000>; }; };\n')
    s = load_hvisor_board(tmp_path / "src/platform/ls3a5000_loongarch64.rs")
    assert s.root is not None and s.hypervisor is not None
    kernel = next(i for i in s.root.images if i.kind is ImageKind.KERNEL)
    assert kernel.address == 0x200000 and "DMW" in (kernel.source.detail or "")
    assert s.hypervisor.start == 0x100010000
    clean(run_rules(s), "M008")


def test_only_src_platform_files_mod_rs_compiles_are_boards(tmp_path: Path) -> None:
    shutil.copytree(REPO, tmp_path / "repo")
    plat = tmp_path / "repo/src/platform"
    plat.mkdir()
    (plat / "mod.rs").write_text("pub mod __board; // build.rs copies platform/<arch>/<board>/board.rs here\n")
    (plat / "qemu_x86_64.rs").write_text("pub const ROOT_ZONE_DTB_ADDR: u64 = 0;\n")   # left over
    names = [b.name for b in discover_boards(tmp_path / "repo")]
    assert "x86_64/qemu (src/platform)" not in names and "aarch64/stomp" in names
    (plat / "mod.rs").write_text("#[cfg(target_arch = \"x86_64\")]\npub mod qemu_x86_64;\n")
    assert "x86_64/qemu (src/platform)" in [b.name for b in discover_boards(tmp_path / "repo")]


def test_e820_only_when_boot_rs_builds_it(tmp_path: Path) -> None:
    shutil.copytree(REPO, tmp_path / "repo")
    with_e820 = load_hvisor_board(tmp_path / "repo/platform/x86_64/highhalf")
    assert with_e820.root is not None and with_e820.root.devicetree is not None
    assert "e820" in with_e820.root.devicetree.path
    (tmp_path / "repo/src/arch/x86_64/boot.rs").unlink()
    without = load_hvisor_board(tmp_path / "repo/platform/x86_64/highhalf")
    assert without.root is not None and without.root.devicetree is None
    assert any("builds no e820 map" in n for n in without.notes)


# -- the CPU count -------------------------------------------------------------------------------

CONSTS_NCPU = """\
pub const HV_MEM_POOL_SIZE: usize = 16 * 1024 * 1024;
pub const PER_CPU_SIZE: usize = 512 * 1024;
pub const MAX_CPU_NUM: usize = 32;
pub static mut NCPU: usize = MAX_CPU_NUM;
pub fn mem_pool_start() -> VirtAddr {
    core_end() + unsafe { NCPU } * PER_CPU_SIZE
}
"""

MAIN_NCPU = """\
fn rust_main(cpuid: usize, host_dtb: usize) {
    let mut ncpu: usize = 0;
    #[cfg(target_arch = "aarch64")]
    {
        let devtree = unsafe { DevTree::from_raw_pointer(host_dtb as *const u8).unwrap() };
        while let Some(node) = node_iter.next().unwrap() {
            if node.name().unwrap().starts_with("cpu@") {
                ncpu += 1;
            }
        }
    }
    if ncpu == 0 {
        ncpu = MAX_CPU_NUM;
    } else if ncpu > MAX_CPU_NUM {
        ncpu = MAX_CPU_NUM;
    }
}
"""


@pytest.fixture
def ncpu_repo(tmp_path: Path) -> Path:
    """The stomp board in a commit that sizes per-CPU areas by the CPUs counted at boot."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo)
    (repo / "src/consts.rs").write_text(CONSTS_NCPU)
    (repo / "src/main.rs").write_text(MAIN_NCPU)
    return repo


def test_cpu_count_from_the_boot_time_detection(ncpu_repo: Path) -> None:
    board = ncpu_repo / "platform/aarch64/stomp"
    s = load_hvisor_board(board)
    est = s.hypervisor.estimate if s.hypervisor else None
    # zones use CPUs 0-3, the root device tree lists none, the build names no -smp: 4 to MAX_CPU_NUM 32,
    # the checks use 32
    assert est is not None and est.cpus == (4, 32)
    assert "src/main.rs:7" in est.cpus_source and "src/consts.rs:5" in est.cpus_source
    assert "no CPU count found in the build or the root device tree" in est.cpus_source
    assert est.end_max - est.end_min == (8 << 20) - (2 << 20) + 28 * 512 * 1024
    pinned = load_hvisor_board(board, cpus=2)
    assert pinned.hypervisor is not None and pinned.hypervisor.estimate is not None
    assert pinned.hypervisor.estimate.cpus == (2, 2) and "--cpus 2" in pinned.hypervisor.estimate.cpus_source
    many = load_hvisor_board(board, cpus=64)
    assert many.hypervisor is not None and many.hypervisor.estimate is not None
    assert many.hypervisor.estimate.cpus == (32, 32)   # hvisor uses at most MAX_CPU_NUM
    assert many.hypervisor.end - pinned.hypervisor.end == 30 * 512 * 1024


def test_qemu_smp_in_the_build_sets_the_count(ncpu_repo: Path) -> None:
    board = ncpu_repo / "platform/aarch64/stomp"
    (ncpu_repo / "Makefile").write_text("include platform/$(ARCH)/$(BOARD)/platform.mk\n")
    (board / "platform.mk").write_text("QEMU_ARGS := -machine virt\nQEMU_ARGS += -smp 6\n")
    s = load_hvisor_board(board)
    assert s.hypervisor is not None and s.hypervisor.estimate is not None
    assert s.hypervisor.estimate.cpus is not None and s.hypervisor.estimate.cpus[1] == 6
    assert "QEMU -smp 6 at platform/aarch64/stomp/platform.mk:2" in s.hypervisor.estimate.cpus_source


def test_not_counted_on_other_targets_and_cpus_option_said_not_to_apply(ncpu_repo: Path) -> None:
    s = load_hvisor_board(ncpu_repo / "platform/riscv64/variants")   # the count is aarch64-only
    assert s.hypervisor is not None and s.hypervisor.estimate is not None
    assert s.hypervisor.estimate.cpus is None
    assert "NCPU = MAX_CPU_NUM" in s.hypervisor.estimate.formula or "MAX_CPU_NUM 32" in s.hypervisor.estimate.formula
    static = load_hvisor_board(REPO / "platform/aarch64/stomp", cpus=2)
    assert any("--cpus 2 does not change the extent" in n for n in static.notes)


def test_cli_cpus_and_depends_on_estimate_in_json(ncpu_repo: Path) -> None:
    board = ncpu_repo / "platform/aarch64/stomp"
    proc = run_hvcheck("layout", str(board), "--cpus", "2", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    m014 = fires(doc["findings"], "M014")[0]
    assert "--cpus 2" in m014["message"]
    bad = run_hvcheck("layout", str(board), "--cpus", "0")
    assert bad.returncode == 2 and "--cpus" in bad.stderr
    neutral = run_hvcheck("layout", str(FIXTURES / "layout" / "seed001-stomp.json"), "--cpus", "2")
    assert neutral.returncode == 2 and "--cpus do(es) not apply to a neutral layout file" in neutral.stderr


# -- one bad input ---------------------------------------------------------------------------------

def test_conflict_marker_in_a_non_root_device_tree_does_not_hide_m001(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo)
    board = repo / "platform/aarch64/stomp"
    before = run_rules(load_hvisor_board(board))
    zone1 = board / "image/dts/zone1.dts"
    text = zone1.read_text().splitlines()
    zone1.write_text("\n".join(text[:3] + ["<<<<<<< HEAD", "=======", ">>>>>>> dev"] + text[3:]) + "\n")
    s = load_hvisor_board(board)
    after = run_rules(s)
    e001 = fires(after, "E001")
    assert len(e001) == 1 and e001[0].locations[0].path == str(zone1) and e001[0].locations[0].line == 4
    assert "M002, M003" in e001[0].data["checks_not_run"]
    assert len(fires(after, "M001")) == len(fires(before, "M001"))
    clean(after, "E003")   # the E001 already says what was not checked for that zone
