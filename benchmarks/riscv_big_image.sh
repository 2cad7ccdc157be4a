#!/bin/sh
# Link a >= 10 MB-of-code RISC-V image from Debian's riscv64 cross runtime archives (libgo,
# libgphobos/libgdruntime, libstdc++, libgfortran, libasan, libgomp, libc, libm; packages
# libgo-12-dev-riscv64-cross, libgphobos-12-dev-riscv64-cross, libstdc++-12-dev-riscv64-cross,
# libgfortran-12-dev-riscv64-cross, libc6-dev-riscv64-cross). Real compiler output, every object
# kept (--whole-archive), unresolved references left unresolved: no single Debian RISC-V binary
# has 10 MB of code (libgo.so.21, the largest, has 4.65 MB). Used by benchmarks/bench_riscv.py.
#   sh benchmarks/riscv_big_image.sh OUT.elf
set -eu
out=${1:?output file}
G=/usr/lib/gcc-cross/riscv64-linux-gnu/12
L=/usr/riscv64-linux-gnu/lib
riscv64-linux-gnu-gcc -static -nostdlib -o "$out" -Wl,-e,0 -Wl,--whole-archive \
    "$G/libgo.a" "$G/libgphobos.a" "$G/libgdruntime.a" "$G/libstdc++.a" "$G/libgfortran.a" \
    "$G/libasan.a" "$G/libgomp.a" "$L/libc.a" "$L/libm.a" \
    -Wl,--no-whole-archive -Wl,--allow-multiple-definition -Wl,--unresolved-symbols=ignore-all \
    -Wl,--no-warn-rwx-segments 2>/dev/null
