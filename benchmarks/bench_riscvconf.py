"""`hvcheck riscv-conformance`: the full 49152-halfword run under qemu-riscv64 (goal <= 10 s)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from benchmarks.harness import Row, Section, hvcheck_argv, time_callable, time_command


def run() -> list[Section]:
    sec = Section("RISC-V emulator conformance (riscv-conformance)")
    qemu = shutil.which("qemu-riscv64")
    if qemu is None:
        sec.notes.append("qemu-riscv64 is not installed: nothing measured (install qemu-user).")
        return [sec]
    from hvcheck.riscv import conformance as conf

    whole = time_command(hvcheck_argv("riscv-conformance", "--qemu-user", qemu), repeat=5)
    alone = time_command([qemu, str(conf.HARNESS_USER)], repeat=5)
    verdict = "yes" if whole.median <= 10.0 else "NO"
    sec.rows.append(Row("full run: 49152 halfwords in one qemu-riscv64 process, compared with the spec",
                        whole, goal="≤ 10 s", verdict=verdict,
                        anchor="the harness alone under QEMU (no hvcheck)", anchor_timing=alone,
                        note=conf.tool_version(qemu)))
    system = shutil.which("qemu-system-riscv64")
    if system is not None:
        bare = time_command(hvcheck_argv("riscv-conformance", "--qemu-system", system), repeat=5)
        with tempfile.TemporaryDirectory(prefix="hvcheck-bench-") as scratch:  # gets rvc_system.out
            alone_bare = time_command([system, "-M", "virt", "-bios", "none", "-nographic", "-semihosting-config",
                                       "enable=on,target=native", "-kernel", str(conf.HARNESS_SYSTEM)],
                                      repeat=5, cwd=Path(scratch))
        sec.rows.append(Row("full run bare-metal: qemu-system-riscv64 -M virt -bios none (M-mode handler, "
                            "U-mode tests)", bare, goal="≤ 10 s", verdict="yes" if bare.median <= 10.0 else "NO",
                            anchor="the harness alone under QEMU (no hvcheck)", anchor_timing=alone_bare))
    else:
        sec.notes.append("qemu-system-riscv64 is not installed: the bare-metal run was not measured.")
    recorded = conf.run_user(qemu)
    compare = time_callable(lambda: conf.compare(recorded), repeat=5)
    sec.rows.append(Row("compare 49152 recorded outcomes with the spec classifier", compare,
                        note="in-process, no emulator"))
    sec.notes.append("The harness writes its records once at the end (786 KiB); hvcheck's share of the "
                     "full run is Python start-up, classification of every halfword and reporting.")
    return [sec]
