"""`hvcheck riscv ELF...`: trap-vector writes (R001-R004) and reachable reserved encodings (R005).

pyelftools is imported only when the command runs (hvcheck.riscv.image imports it lazily)."""

from __future__ import annotations

import click

from hvcheck.cli import AreaCommand, collect_per_input, common_options, finish
from hvcheck.errors import InputError


@click.command("riscv", cls=AreaCommand, area="riscv")
@click.argument("elfs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@common_options
def riscv(elfs: tuple[str, ...], fmt: str, output: str | None, fail_on: str) -> int:
    """Check RISC-V ELF images ({rules}): resolve every write to mtvec/stvec/vstvec and check its
    target; report reserved or illegal encodings reachable from the entry point, function symbols
    and trap vectors. The ISA comes from the ELF's .riscv.attributes."""
    from hvcheck.catalogue import rule_range
    from hvcheck.riscv.check import check_path, summary_text, writes_json

    texts: list[str] = []
    images: list[dict[str, object]] = []

    def check_one(path: str) -> list:
        report = check_path(path)
        texts.append(summary_text(report))
        images.append({"path": path, "profile": report.image.profile.name(),
                       "isa": report.image.isa_string, "reachable_instructions": len(report.image.starts),
                       "trap_vector_writes": writes_json(report)})
        return report.findings

    if len(elfs) == 1:
        findings = check_one(elfs[0])  # a single unreadable input is exit 2, not a finding
    else:
        findings, checked = collect_per_input(elfs, check_one, rule_range("riscv"))
        if checked == 0:
            raise InputError(findings[0].locations[0].path, f"nothing could be checked: {findings[0].data['what']}")
    return finish(findings, fmt=fmt, output=output, fail_on=fail_on, title="hvcheck riscv", inputs=list(elfs),
                  preamble="\n".join(texts), extra={"images": images})
