"""`hvcheck riscv ELF...`: trap-vector writes (R001-R004) and reachable reserved encodings (R005).

pyelftools is imported only when the command runs (hvcheck.riscv.image imports it lazily)."""

from __future__ import annotations

import click

from hvcheck.cli import common_options, finish
from hvcheck.errors import InputError


@click.command("riscv")
@click.argument("elfs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@common_options
def riscv(elfs: tuple[str, ...], fmt: str, output: str | None, fail_on: str) -> None:
    """Check RISC-V ELF images: resolve every write to mtvec/stvec/vstvec and check its target
    (R001-R004); report reserved or illegal encodings reachable from the entry point, function
    symbols and trap vectors (R005). The ISA comes from the ELF's .riscv.attributes."""
    from hvcheck.findings import input_error_finding
    from hvcheck.riscv.check import check_path, summary_text, writes_json

    findings = []
    texts = []
    images = []
    errors: list[InputError] = []
    for path in elfs:
        try:
            report = check_path(path)
        except InputError as exc:
            if len(elfs) == 1:
                raise
            errors.append(exc)
            findings.append(input_error_finding(exc.path, exc.line, exc.message, "R001-R005"))
            continue
        findings += report.findings
        texts.append(summary_text(report))
        images.append({"path": path, "profile": report.image.profile.name(),
                       "isa": report.image.isa_string, "reachable_instructions": len(report.image.starts),
                       "trap_vector_writes": writes_json(report)})
    if errors and len(errors) == len(elfs):
        raise errors[0]  # nothing at all could be checked
    finish(findings, fmt=fmt, output=output, fail_on=fail_on, title="hvcheck riscv",
           preamble="\n".join(texts), extra={"images": images})
