#!/bin/sh
# Rebuild the real RISC-V corpus of docs/riscv-real-firmware.md from public sources with
# Debian's riscv64-linux-gnu cross toolchain. Nothing fetched is kept in this repository: give
# clones of the upstream repositories (any location) and an output directory.
#
#   SRC=/tmp/src OUT=/tmp/corpus sh scripts/riscv-corpus/build.sh
#
# $SRC must hold: opensbi (github.com/riscv-software-src/opensbi), riscv-pk
# (github.com/riscv-software-src/riscv-pk), u-boot (github.com/u-boot/u-boot), bao
# (github.com/bao-project/bao-hypervisor). Host packages: gcc-riscv64-linux-gnu,
# libc6-dev-riscv64-cross (riscv-pk's configure links a test program), make, bison, flex, bc,
# libssl-dev, libgnutls28-dev, uuid-dev, python3-setuptools, swig, device-tree-compiler. Each
# image is built in a worktree of its own (git worktree add --detach), so the clones are never
# modified. STEPS (default "opensbi pk uboot bao head") picks the parts to (re)build.
set -eu
SRC=${SRC:?set SRC to the directory holding the clones}
OUT=${OUT:?set OUT to the output directory}
CROSS=${CROSS_COMPILE:-riscv64-linux-gnu-}
JOBS=${JOBS:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'for w in "$WORK"/*; do [ -d "$w" ] && git -C "$w" worktree remove --force "$w" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

checkout() {  # repo rev name -> path of a detached worktree
    git -C "$SRC/$1" worktree add -q --detach "$WORK/$3" "$2" >/dev/null 2>&1
    echo "$WORK/$3"
}

log() { echo "== $*" >&2; }
STEPS=${STEPS:-opensbi pk uboot bao head}
want() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# ---- OpenSBI: three releases x generic, the vendor platform (nuclei/ux600), no-relax
if want opensbi; then
for ver in v1.4 v1.6 v1.9; do
    d=$(checkout opensbi "$ver" "opensbi-$ver")
    log "opensbi $ver generic"
    make -s -C "$d" CROSS_COMPILE="$CROSS" PLATFORM=generic -j"$JOBS" >/dev/null
    for fw in fw_jump fw_dynamic fw_payload; do
        cp "$d/build/platform/generic/firmware/$fw.elf" "$OUT/opensbi-$ver-generic-$fw.elf"
    done
    log "opensbi $ver nuclei/ux600"
    make -s -C "$d" CROSS_COMPILE="$CROSS" PLATFORM=nuclei/ux600 -j"$JOBS" >/dev/null
    cp "$d/build/platform/nuclei/ux600/firmware/fw_jump.elf" "$OUT/opensbi-$ver-ux600-fw_jump.elf"
done
d="$WORK/opensbi-v1.9"
log "opensbi v1.9 generic without linker relaxation"
rm -rf "$d/build"
make -s -C "$d" CROSS_COMPILE="$CROSS" PLATFORM=generic RELAX_FLAG=-mno-relax -j"$JOBS" >/dev/null
cp "$d/build/platform/generic/firmware/fw_jump.elf" "$OUT/opensbi-v1.9-generic-norelax-fw_jump.elf"
fi

# ---- riscv-pk: bbl and pk (newlib-free, --host riscv64-linux-gnu)
if want pk; then
d=$(checkout riscv-pk HEAD riscv-pk)
log "riscv-pk"
mkdir -p "$d/build"
(cd "$d/build" && ../configure --host="${CROSS%-}" >/dev/null && make -s -j"$JOBS" >/dev/null)
cp "$d/build/bbl" "$OUT/riscv-pk-bbl.elf"
cp "$d/build/pk" "$OUT/riscv-pk-pk.elf"
fi

# ---- U-Boot: QEMU virt (M-mode and S-mode) and a vendor board (PolarFire SoC Icicle)
want uboot && for cfg in qemu-riscv64 qemu-riscv64_smode microchip_mpfs_icicle; do
    d=$(checkout u-boot v2024.01 "u-boot-$cfg")
    log "u-boot v2024.01 $cfg"
    make -s -C "$d" CROSS_COMPILE="$CROSS" "${cfg}_defconfig" >/dev/null
    make -s -C "$d" CROSS_COMPILE="$CROSS" -j"$JOBS" u-boot >/dev/null
    cp "$d/u-boot" "$OUT/u-boot-v2024.01-$cfg.elf"
done

# ---- Bao hypervisor (C, RISC-V H extension) for QEMU virt, with its in-tree test config "null"
# (v2.x builds for the soft-float lp64 ABI, which needs riscv64-unknown-elf: not built here)
want bao && for ver in v1.0.0; do
    d=$(checkout bao "$ver" "bao-$ver")
    log "bao $ver qemu-riscv64-virt"
    mkdir -p "$d/ci" && [ -f "$d/ci/ci.mk" ] || : > "$d/ci/ci.mk"  # the bao-ci submodule: lint targets only
    make -s -C "$d" CROSS_COMPILE="$CROSS" PLATFORM=qemu-riscv64-virt CONFIG=null -j"$JOBS" >/dev/null
    cp "$(find "$d/bin" -name bao.elf | head -n 1)" "$OUT/bao-$ver-qemu-riscv64-virt.elf"
done

# ---- our own Linux head.S-style entry code (tests/fixtures/riscv/head_shape.S, here linked -static -fPIE: la goes through the GOT)
want head && log "head.S" && ${CROSS}gcc -march=rv64gc -mabi=lp64d -nostdlib -static -Wl,-Ttext=0x80200000 -Wl,--build-id=none \
    -o "$OUT/head-linux-shape.elf" "$HERE/../../tests/fixtures/riscv/head_shape.S"

ls -l "$OUT"
