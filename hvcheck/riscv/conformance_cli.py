"""`hvcheck riscv-conformance`: run every 16-bit encoding in an emulator, compare with the spec (R010)."""

from __future__ import annotations

import click

from hvcheck.cli import common_options, finish


@click.command("riscv-conformance")
@click.option("--qemu-user", "--qemu", "qemu_user", metavar="PATH",
              help="QEMU Linux user-mode emulator to test (default: qemu-riscv64 on PATH when "
                   "neither --qemu-system nor --results is given).")
@click.option("--qemu-system", "qemu_system", metavar="PATH",
              help="QEMU system emulator to test bare-metal (-M virt -bios none; M-mode trap handler, "
                   "tests in U-mode), e.g. qemu-system-riscv64.")
@click.option("--results", "results", metavar="FILE", type=click.Path(dir_okay=False),
              help="Check a saved harness output instead of running an emulator (e.g. rvc_user.elf "
                   "run natively on a riscv64 board; raw or gzip).")
@click.option("--cpu", metavar="MODEL", help="Passed to QEMU as -cpu MODEL.")
@click.option("--xlen", type=click.Choice(["32", "64"]), default=None,
              help="XLEN of the --qemu-user emulator (default: 32 when its name says riscv32, else 64).")
@click.option("--extensions", default="", metavar="LIST",
              help="Comma-separated extensions the emulated CPU implements that reuse compressed "
                   "space (zcb, zcmop, ...); their encodings are then expected to execute.")
@click.option("--reserved-must-trap", is_flag=True,
              help="The platform requires reserved encodings to trap: executing one is an error, not a "
                   "warning (the ISA itself leaves them UNSPECIFIED).")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds before a run is abandoned.")
@common_options
def riscv_conformance(qemu_user: str | None, qemu_system: str | None, results: str | None, cpu: str | None,
                      xlen: str | None,
                      extensions: str, reserved_must_trap: bool, timeout: float, fmt: str, output: str | None,
                      fail_on: str) -> int:
    """Execute all 49152 compressed halfwords once in one emulator process and report (R010)
    every class of divergence between "trapped as illegal" and the spec: 0x0000 and reserved
    encodings must trap, valid instructions and HINTs must not.

    Without QEMU nothing can be checked: that is an error (exit 2), never a silent pass.
    """
    from hvcheck.riscv import conformance as conf

    exts = [e.strip() for e in extensions.split(",") if e.strip()]
    runs = []
    if results:
        runs.append(conf.load_results(results))
    if qemu_user or not (results or qemu_system):
        runs.append(conf.run_user(qemu_user or "qemu-riscv64", cpu=cpu, xlen=int(xlen) if xlen else None,
                                  timeout=timeout))
    if qemu_system:
        runs.append(conf.run_system(qemu_system, cpu=cpu, timeout=timeout))
    findings = []
    preambles = []
    extra_runs = []
    for run in runs:
        found, counts = conf.compare(run, extensions=exts, reserved_must_trap=reserved_must_trap)
        findings.extend(found)
        preambles.append(conf.summary_table(run, counts, len(found)))
        extra_runs.append(conf.extra_json(run, counts))
    return finish(findings, fmt=fmt, output=output, fail_on=fail_on, title="hvcheck riscv-conformance",
                  preamble="\n\n".join(preambles), extra={"conformance": extra_runs})
