"""The make variables hvisor's build sets for a board, read the way `make ARCH=.. BOARD=..` reads them."""

from __future__ import annotations

from pathlib import Path

from hvcheck.layout.loaders.hvisor.build import board_make_vars, qemu_smp
from hvcheck.layout.loaders.hvisor.tree import BoardTree

MAKEFILE = """\
ARCH ?= riscv64
BOARD ?= qemu-plic
LOG ?= info
image_dir  := platform/$(ARCH)/$(BOARD)/image
# a comment: zone0_dtb := nope
ifeq ($(ARCH),aarch64)
    GDB_ARCH := aarch64
else ifeq ($(ARCH),riscv64)
    GDB_ARCH := riscv:rv64
else
    GDB_ARCH := unknown
endif
build_args := --features "$(FEATURES)" \\
	--target x
elf:
	cargo build $(build_args)

include platform/$(ARCH)/$(BOARD)/platform.mk
"""

PLATFORM_MK = """\
QEMU := qemu-system-aarch64
ifeq ($(findstring gicv3, $(FEATURES)),gicv3)
    zone0_dtb := $(image_dir)/devicetree/linux1.dtb
else
    zone0_dtb := $(image_dir)/devicetree/linux1-v2.dtb
endif
QEMU_ARGS := -machine virt
QEMU_ARGS += -smp 2
QEMU_ARGS += -m 2G
ifdef NEVER_SET
    QEMU_ARGS += -smp 16
endif
"""


def _tree(root: Path, features: frozenset[str]) -> BoardTree:
    board = root / "platform/aarch64/imx8mp"
    board.mkdir(parents=True)
    (root / "Makefile").write_text(MAKEFILE)
    (board / "platform.mk").write_text(PLATFORM_MK)
    return BoardTree(board / "board.rs", "imx8mp", "aarch64", "platform", root, board, features)


def test_command_line_conditionals_functions_and_includes(tmp_path: Path) -> None:
    make = board_make_vars(_tree(tmp_path, frozenset({"gicv3", "pci"})))
    assert make is not None
    assert make.files == ["Makefile", "platform/aarch64/imx8mp/platform.mk"]
    assert make.get("ARCH").value == "aarch64"            # the command line beats `?=`
    assert make.get("GDB_ARCH").value == "aarch64"        # the first branch of ifeq/else ifeq/else
    dtb = make.get("zone0_dtb")
    assert dtb.value == "platform/aarch64/imx8mp/image/devicetree/linux1.dtb"
    assert dtb.where == "platform/aarch64/imx8mp/platform.mk:3"
    assert make.explain("zone0_dtb") == ("zone0_dtb := $(image_dir)/devicetree/linux1.dtb at "
                                         "platform/aarch64/imx8mp/platform.mk:3; image_dir := "
                                         "platform/$(ARCH)/$(BOARD)/image at Makefile:4")
    assert make.get("build_args").value.endswith("--target x")   # continuation lines joined
    assert qemu_smp(make) == (2, "platform/aarch64/imx8mp/platform.mk:8")


def test_the_other_branch_and_no_makefile(tmp_path: Path) -> None:
    make = board_make_vars(_tree(tmp_path, frozenset({"gicv2"})))
    assert make is not None and make.get("zone0_dtb").value.endswith("linux1-v2.dtb")
    assert make.get("zone0_dtb").where.endswith("platform.mk:5")
    (tmp_path / "Makefile").unlink()
    assert board_make_vars(_tree(tmp_path / "x", frozenset())) is not None   # its own Makefile
    tree = BoardTree(tmp_path / "b.rs", "b", "aarch64", "platform", tmp_path / "nothing", None, frozenset())
    assert board_make_vars(tree) is None


def test_include_cycles_and_unknown_functions_end(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text("A := $(shell echo hi)x\ninclude Makefile\nB := $(A)y\n")
    tree = BoardTree(tmp_path / "b.rs", "b", "aarch64", "platform", tmp_path, None, frozenset())
    make = board_make_vars(tree)
    assert make is not None and make.get("A").value == "x" and make.get("B").value == "xy"
    assert len(make.files) == 17   # the Makefile and 16 levels of including itself, then it stops
