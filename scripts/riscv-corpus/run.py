#!/usr/bin/env python3
"""Run `hvcheck riscv` over the real corpus and compare with the verdicts written down first.

    python3 scripts/riscv-corpus/run.py /tmp/corpus [--debian]

Checks every *.elf in the directory (build.sh makes them) and, with --debian, the Debian images
(OpenSBI, U-Boot, riscv-pk-free libraries from the riscv64 cross packages). expected.txt holds,
per image, the findings read from the disassembly and the source before running hvcheck
(docs/riscv-real-firmware.md explains each); the script prints one markdown row per image and
exits 1 when an image's findings differ from what is expected (or an expected image is missing).
"""

from __future__ import annotations

import collections
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from hvcheck.riscv.check import check_path  # noqa: E402

DEBIAN = [
    "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf",
    "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.elf",
    "/usr/lib/u-boot/qemu-riscv64/uboot.elf",
    "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf",
    "/usr/riscv64-linux-gnu/lib/ld-linux-riscv64-lp64d.so.1",
    "/usr/riscv64-linux-gnu/lib/libc.so.6",
    "/usr/riscv64-linux-gnu/lib/libm.so.6",
    "/usr/riscv64-linux-gnu/lib/libgcc_s.so.1",
    "/usr/riscv64-linux-gnu/lib/libgomp.so.1",
    "/usr/riscv64-linux-gnu/lib/libatomic.so.1",
    "/usr/riscv64-linux-gnu/lib/libasan.so.8",
    "/usr/riscv64-linux-gnu/lib/libgphobos.so.3",
    "/usr/riscv64-linux-gnu/lib/libgo.so.21",
]


def expected() -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for line in (HERE / "expected.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, *counts = line.split()
        out[name] = {k: int(v) for k, v in (c.split("=") for c in counts)}
    return out


def label(path: str) -> str:
    """The name an image goes by in expected.txt: Debian files by their last two path parts,
    corpus files by file name."""
    p = Path(path)
    return f"debian:{p.parent.name}/{p.name}" if path in DEBIAN else p.name


def main(argv: list[str]) -> int:
    corpus = Path(argv[0]) if argv and not argv[0].startswith("--") else None
    paths = sorted(str(p) for p in corpus.glob("*.elf")) if corpus else []
    if "--debian" in argv:
        paths += [p for p in DEBIAN if os.path.exists(p)]
    want = expected()
    bad = 0
    print("| image | reachable insns | tvec writes resolved / restore / unresolved | findings | expected | ok |")
    print("|---|---:|---|---|---|---|")
    seen = set()
    for path in paths:
        name = label(path)
        seen.add(name)
        t0 = time.perf_counter()
        report = check_path(path)
        secs = time.perf_counter() - t0
        got = collections.Counter(f"{f.rule}/{f.sev.label}" for f in report.findings)
        values = [v for w in report.writes for v in w.values]
        resolved = sum(isinstance(v.v, int) for v in values)
        unresolved = sum(v.v is None for v in values)
        exp = want.get(name)
        ok = exp is not None and dict(got) == exp
        bad += not ok
        fmt = ", ".join(f"{k} {n}" for k, n in sorted(got.items())) or "none"
        efmt = "not written down" if exp is None else (", ".join(f"{k} {n}" for k, n in sorted(exp.items())) or "none")
        print(f"| `{name}` | {len(report.code.starts):,} | {resolved} / {len(values) - resolved - unresolved} / "
              f"{unresolved} | {fmt} | {efmt} | {'yes' if ok else '**NO**'} ({secs:.1f} s in-process) |")
    missing = [n for n in want if n not in seen and (corpus is not None or n.startswith("debian:"))]
    for name in missing:
        print(f"| `{name}` | - | - | image missing | | **NO** |")
    return 1 if bad or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
