"""RISC-V static checker (issues 6 and 20).

- classify all 65536 halfwords from scratch (the 65536-entry class table, cache cleared), with
  capstone disassembling the same 65536 halfwords as the anchor;
- whole-process `hvcheck riscv --format json` on firmware-size images (Debian's OpenSBI,
  U-Boot, ld.so) and on libraries up to Debian's largest RISC-V binary (libgo.so.21, 4.65 MB
  of code) and a >= 10 MB-of-code image linked from the cross runtime archives
  (benchmarks/riscv_big_image.sh), each side by side with `riscv64-linux-gnu-objdump -d` on
  the same file in the same run.

Goals (issue 20): no slower than objdump -d on any image with >= 64 KB of code; under 0.3 s on
firmware-size images on an idle machine. This machine is shared (2 cores, several jobs): each run
records wall time and the child's CPU time (user + system, from GNU time) together, and the
verdicts are given on both tables; CPU time is what the command itself costs.

The package is byte-compiled first (``compileall``): an installed wheel ships bytecode, while this
environment may set PYTHONDONTWRITEBYTECODE, which would charge every run for compiling hvcheck.
"""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import tempfile

from benchmarks.harness import GNU_TIME, ROOT, Row, Section, Timing, hvcheck_argv, time_callable

LIB = "/usr/riscv64-linux-gnu/lib"
FIRMWARE = [
    "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf",
    "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf",
    f"{LIB}/ld-linux-riscv64-lp64d.so.1",
]
LIBRARIES = [f"{LIB}/libc.so.6", f"{LIB}/libasan.so.8", f"{LIB}/libgphobos.so.3", f"{LIB}/libgo.so.21"]
FIRMWARE_GOAL = 0.3
MIN_CODE = 64 << 10


def _text_size(path: str) -> int:
    from hvcheck.riscv.elf import load_image

    return sum(len(r.data) for r in load_image(path).regions)


def _classify_all() -> None:
    from hvcheck.riscv import rvc

    rvc.class_table.cache_clear()
    table = rvc.class_table(rvc.RV64GC)
    assert table.count(0) == 46349


def _capstone_all() -> None:
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
    for hw in range(65536):
        for _ in md.disasm_lite(hw.to_bytes(2, "little"), 0):
            pass


def _timed(argv: list[str], repeat: int, warmup: int) -> tuple[Timing, Timing]:
    """(wall time with peak RSS, CPU time) of a whole process, both from the same runs under GNU time."""
    for _ in range(warmup):
        subprocess.run(argv, capture_output=True)
    wall: list[float] = []
    cpu: list[float] = []
    peak = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "time")
        for _ in range(repeat):
            proc = subprocess.run([GNU_TIME, "-f", "%e %U %S %M", "-o", out, *argv], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
            if proc.returncode not in (0, 1):
                raise RuntimeError(f"{argv} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-500:]}")
            e, u, s, m = open(out).read().split()[-4:]
            wall.append(float(e))
            cpu.append(float(u) + float(s))
            peak = max(peak, int(m) / 1024.0)
    return Timing(wall, peak_rss_mib=peak), Timing(cpu)


def _image_rows(path: str, objdump: str | None, firmware: bool, repeat: int) -> tuple[Row, Row]:
    """The same runs as a wall-time row and a CPU-time row."""
    size = _text_size(path)
    warm = 1 if repeat >= 5 else 0
    ours = _timed(hvcheck_argv("riscv", path, "--format", "json"), repeat, warm)
    theirs = _timed([objdump, "-d", path], repeat, warm) if objdump else None
    goal = " and ".join(g for g, on in ((f"≤ {FIRMWARE_GOAL} s", firmware),
                                         ("≤ objdump -d", size >= MIN_CODE)) if on)
    what = (f"hvcheck riscv {os.path.basename(path)} ({os.path.getsize(path) / 2**20:.1f} MiB file, "
            f"{size / 2**20:.2f} MiB code)")
    rows = []
    for kind in (0, 1):
        mine = ours[kind]
        other = theirs[kind] if theirs else None
        checks = []
        if firmware:
            checks.append(mine.median <= FIRMWARE_GOAL)
        if size >= MIN_CODE and other is not None:
            checks.append(mine.median <= other.median)
        ratio = f"{mine.median / other.median:.2f}× objdump" if other else ""
        rows.append(Row(what, mine, goal, "yes" if all(checks) else "NO",
                        "riscv64-linux-gnu-objdump -d" if other else "", other, ratio))
    return rows[0], rows[1]


def _repeat(path: str) -> int:
    """5 runs of firmware-size images, 3 of libraries, 1 of the >= 1 MiB-of-code ones (objdump -d
    needs minutes of CPU for each on this shared machine; the single figure is the run's own)."""
    if path in FIRMWARE:
        return 5
    return 1 if _text_size(path) >= 1 << 20 else 3


def run() -> list[Section]:
    compileall.compile_dir(str(ROOT / "hvcheck"), quiet=1)
    sec = Section("RISC-V: 16-bit classifier and `hvcheck riscv` (whole process, wall time)")
    cpu = Section("RISC-V: `hvcheck riscv` and objdump -d, CPU time (user + system) of the same runs")
    classify = time_callable(_classify_all, repeat=7)
    anchor = None
    note = ""
    try:
        anchor = time_callable(_capstone_all, repeat=5)
        note = "capstone decodes (it does not classify: 346 RV64 disagreements with the spec)"
    except ImportError:
        note = "capstone not installed: no anchor"
    sec.rows.append(Row("classify all 65536 halfwords (RV64GC table from scratch)", classify, "≤ 0.2 s",
                        "yes" if classify.median <= 0.2 else "NO", "capstone disasm of the same 65536",
                        anchor, note))
    objdump = shutil.which("riscv64-linux-gnu-objdump")
    for path in FIRMWARE + LIBRARIES:
        if not os.path.exists(path):
            sec.notes.append(f"{path} not installed: not measured")
            continue
        wall, used = _image_rows(path, objdump, path in FIRMWARE, _repeat(path))
        sec.rows.append(wall)
        cpu.rows.append(used)
    with tempfile.TemporaryDirectory() as tmp:
        big_image = os.path.join(tmp, "big-riscv.elf")
        built = subprocess.run(["sh", str(ROOT / "benchmarks" / "riscv_big_image.sh"), big_image],
                               capture_output=True)
        if built.returncode == 0 and os.path.exists(big_image):
            wall, used = _image_rows(big_image, objdump, False, 1)
            sec.rows.append(wall)
            cpu.rows.append(used)
        else:
            sec.notes.append("the >= 10 MB-of-code image was not built (benchmarks/riscv_big_image.sh needs the "
                             "riscv64 cross runtime archives): not measured")
    sec.notes.append("objdump -d prints every instruction; hvcheck decodes every reachable one (recursive "
                     "descent plus a linear sweep of the rest) and checks trap vectors and reserved encodings. "
                     "Both sides are whole processes: hvcheck pays ~0.1 s of Python start-up and imports, "
                     "which is what separates it from objdump on images of 100 KB of code.")
    cpu.notes.append("images with >= 1 MiB of code (libgphobos, libgo, the linked image) were run once on "
                     "each side: the range is that one run")
    load = os.getloadavg()
    cpu.notes.append(f"load average when measured: {load[0]:.1f} (1 min), {load[2]:.1f} (15 min) on "
                     f"{os.cpu_count()} CPUs; wall time on a loaded machine mostly measures the other jobs")
    return [sec, cpu]
