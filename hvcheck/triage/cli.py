"""`hvcheck triage LOG...`: read crash logs and name the violated invariant (the triage rules)."""

from __future__ import annotations

from typing import Any

import click

from hvcheck.cli import AreaCommand, collect_per_input, common_options, finish


@click.command(cls=AreaCommand, area="triage")
@click.argument("logs", nargs=-1, required=True)
@click.option("--layout", metavar="PATH", type=click.Path(), help="System layout (neutral YAML/JSON or an hvisor board "
              "directory): resolves every address to its owner and runs the layout rules (T001/T002/T006).")
@click.option("--board", metavar="BOARD", help="Board name when --layout is an hvisor checkout with several boards.")
@click.option("--elf", metavar="ELF", type=click.Path(dir_okay=False),
              help="hvisor ELF: exact [skernel, __hv_end) for T001.")
@click.option("--cpuid", metavar="DUMP", type=click.Path(dir_okay=False),
              help="The guest's CPUID dump (`cpuid -r` or JSON): checks its XSAVE mask for T003 (X003).")
@click.option("--riscv-elf", type=click.Path(exists=True, dir_okay=False),
              help="RISC-V image that trapped: resolves trap pcs (trap vector? mid-instruction?) for T004.")
@common_options
def triage(logs: tuple[str, ...], layout: str | None, board: str | None, elf: str | None, cpuid: str | None, riscv_elf: str | None,
           fmt: str, output: str | None, fail_on: str) -> int:
    """Read console/crash LOGs (files, '-' for stdin, plain or .gz) and diagnose them ({rules}).

    Recognises hvisor, Jailhouse, Bao, Xen and ACRN consoles; Linux oopses on x86-64, ARM,
    arm64 and RISC-V; OpenSBI, RustSBI, EDK2 and seL4/Microkit fault reports; KVM internal
    errors and QEMU -d int traces; also as pasted into mail (quoted-printable, '> ' quoting).
    Each diagnosis has a confidence (established / probable / unknown), the architecture the
    log proves (or unknown), and cites the log lines it used.
    """
    from hvcheck.catalogue import rule_range
    from hvcheck.errors import InputError
    from hvcheck.findings import Finding
    from hvcheck.triage.context import load_context
    from hvcheck.triage.diagnose import diagnose
    from hvcheck.triage.scan import ScanResult, scan

    ctx = load_context(layout=layout, elf=elf, cpuid=cpuid, riscv_elf=riscv_elf, board=board)
    results: list[ScanResult] = []

    def scan_one(log: str) -> list[Finding]:
        results.append(scan(log))
        return []

    if len(logs) == 1:
        scan_one(logs[0])  # a single unreadable log is exit 2, not a finding
        unreadable: list[Finding] = []
    else:
        unreadable, checked = collect_per_input(logs, scan_one, f"{rule_range('triage')} for this log")
        if checked == 0:
            first = unreadable[0]
            raise InputError(first.locations[0].path, first.data["what"], first.locations[0].line)
    findings = unreadable + diagnose(results, ctx)
    return finish(findings, fmt=fmt, output=output, fail_on=fail_on, title="hvcheck triage", inputs=list(logs),
                  preamble=preamble(results, ctx), extra=extra(results, ctx))


def preamble(results: list[Any], ctx: Any) -> str:
    lines = []
    for r in results:
        s = r.stats
        lines.append(f"{s.path}: {s.lines} lines, {s.hvisor_records} hvisor records, "
                     f"{s.trace_records} QEMU trace records, {len(r.faults)} fault record(s)")
        for p in r.qemu.top_patterns(5):
            where = f" pc {p.pc:#x}" if p.pc is not None else ""
            lines.append(f"  trace pattern x{p.count}: {p.name}{where} (longest run {p.max_run})")
    for key, why in ctx.missing.items():
        lines.append(f"not available: {key} ({why})")
    return "\n".join(lines)


def extra(results: list[Any], ctx: Any) -> dict[str, Any]:
    return {"logs": [{"path": r.stats.path, "lines": r.stats.lines, "hvisor_records": r.stats.hvisor_records,
                      "trace_records": r.stats.trace_records, "faults": len(r.faults)} for r in results],
            "missing_inputs": dict(ctx.missing)}
