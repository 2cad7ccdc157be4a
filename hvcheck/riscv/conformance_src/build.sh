#!/bin/sh
# Rebuild the prebuilt conformance harnesses committed next to this script, from their sources,
# with Debian's riscv64 cross toolchain (gcc-riscv64-linux-gnu / binutils-riscv64-linux-gnu).
# The output is deterministic (no build-id, no notes): rerunning this must leave `git status` clean.
set -eu
cd "$(dirname "$0")"
CC=${CC:-riscv64-linux-gnu-gcc}
# -mno-relax/--no-relax: the harness must never address memory through gp, which tests clobber.
COMMON="-march=rv64gc -mabi=lp64d -mno-relax -nostdlib -static -Wl,--no-relax -Wl,--build-id=none"

# qemu-user: a static Linux program; the test area is the only writable+executable segment.
# Assemble to a fixed object name first: the linker records the object's name in the symbol table.
$CC $COMMON -c -o rvc_user.o rvc_user.S
$CC $COMMON -Wl,--no-warn-rwx-segments -T rvc_user.ld -o rvc_user.elf rvc_user.o
rm -f rvc_user.o
echo "built $(pwd)/rvc_user.elf"

# The same source for qemu-riscv32 (RV32GC: the RV32-only reserved/custom classes differ).
RV32="-march=rv32gc -mabi=ilp32d -mno-relax -nostdlib -static -Wl,--no-relax -Wl,--build-id=none"
$CC $RV32 -c -o rvc_user32.o rvc_user.S
$CC $RV32 -Wl,--no-warn-rwx-segments -T rvc_user.ld -o rvc_user32.elf rvc_user32.o
rm -f rvc_user32.o
echo "built $(pwd)/rvc_user32.elf"

# qemu-system (-M virt -bios none): bare-metal, M-mode harness running each test in U-mode.
$CC $COMMON -c -o rvc_system.o rvc_system.S
$CC $COMMON -Wl,--no-warn-rwx-segments -T rvc_system.ld -o rvc_system.elf rvc_system.o
rm -f rvc_system.o
echo "built $(pwd)/rvc_system.elf"
