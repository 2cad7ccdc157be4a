#!/bin/sh
# Rebuild the RISC-V fixture ELFs from their .S sources with Debian's riscv64-linux-gnu binutils.
# Linker relaxation stays ON (the default): seed_mtvec's layout depends on it. The sources need
# no preprocessor, so `as` + `ld` are run directly (reproducible: no temporary file names).
set -eu
cd "$(dirname "$0")"
AS=${AS:-riscv64-linux-gnu-as}
LD=${LD:-riscv64-linux-gnu-ld}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for src in *.S; do
    name=${src%.S}
    case $name in
        *_rv32) asflags="-march=rv32gc -mabi=ilp32d"; emul="-m elf32lriscv" ;;
        *) asflags="-march=rv64gc -mabi=lp64d"; emul="" ;;
    esac
    $AS $asflags -o "$tmp/$name.o" "$src"
    $LD $emul -T link.ld --no-warn-rwx-segments --build-id=none -o "$name.elf" "$tmp/$name.o"
done
