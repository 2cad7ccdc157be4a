"""Run every static RISC-V image check: trap-vector writes (R001-R004, R006) and reachable
reserved/illegal encodings (R005). The CLI, the demo and crash triage call :func:`check_image`.

The steps pass their results along as values: the walker's ``CodeMap`` and the trap-vector
sites each walk returns go into :func:`hvcheck.riscv.tvec.check_writes`, whose handler
addresses become the next walk's roots.
"""

from __future__ import annotations

import os

from hvcheck.findings import Finding, Location, Severity, declare_rule, input_error_finding
from hvcheck.riscv.address import AddressInfo, describe, inspect
from hvcheck.riscv.elf import load_image
from hvcheck.riscv.model import RiscvImage
from hvcheck.riscv.tvec import TvecWrite, check_writes
from hvcheck.riscv.walker import CodeMap, Walker

# The rules this module emits (hvcheck.findings registry; docs in hvcheck/docs/rules/).
declare_rule("R005", "a reserved or illegal encoding is reachable in executable code", Severity.ERROR, "riscv")

MAX_ROUNDS = 4  # handlers reached through a resolved vector may themselves write a vector


class ImageReport:
    def __init__(self, image: RiscvImage, code: CodeMap) -> None:
        self.image = image
        self.code = code
        self.findings: list[Finding] = []
        self.writes: list[TvecWrite] = []

    def inspect(self, addr: int) -> AddressInfo:
        return inspect(self.image, self.code, addr)

    def describe_address(self, addr: int) -> str:
        """What the hart fetches at ``addr`` (reachable decode first): for crash triage."""
        return describe(self.image, self.code, addr)


def check_image(img: RiscvImage) -> ImageReport:
    walker = Walker(img)
    report = ImageReport(img, walker.code)
    sites = walker.walk() + walker.settle()
    linear = walker.sweep()  # linear decode of what the walk did not reach (instruction boundaries there)
    done: set[int] = set()
    for _ in range(MAX_ROUNDS):
        fresh = sorted(set(sites) - done)
        if not fresh:
            break
        done |= set(fresh)
        result = check_writes(img, walker.code, fresh)
        report.findings += result.findings
        report.writes += result.writes
        sites = walker.walk(result.roots) + walker.settle()
    # trap-vector writes in code the walk did not reach are checked too
    unreached = sorted(set(linear) - done)
    if unreached:
        result = check_writes(img, walker.code, unreached, reached=False)
        report.findings += result.findings
        report.writes += result.writes
        walker.walk(result.roots)
        walker.settle()
    report.findings += reserved_findings(img, walker.code)
    for problem in img.problems:
        report.findings.append(input_error_finding(img.path, None, problem, "the RISC-V image rules for the unreadable part"))
    report.findings.sort(key=lambda f: (f.rule, f.data.get("write_pc", f.data.get("addr", 0))))
    return report


def check_path(path: str | os.PathLike[str]) -> ImageReport:
    return check_image(load_image(path))


def reserved_findings(img: RiscvImage, code: CodeMap) -> list[Finding]:
    """R005: every reserved or illegal halfword the walk reached, with the root it came from."""
    out = []
    for bad in sorted(code.bad, key=lambda b: b.addr):
        kind = "illegal" if bad.cls == "illegal" else "reserved"
        how = f"; {bad.how}" if bad.how else ""
        data: dict[str, object] = {"addr": bad.addr, "halfword": bad.halfword, "class": bad.cls,
                                   "reason": bad.reason, "reached_from": bad.root, "profile": img.profile.name()}
        if bad.how:
            data["how"] = bad.how
        out.append(Finding(
            "R005",
            f"{kind} halfword 0x{bad.halfword:04x} is reachable at {img.where(bad.addr)} "
            f"(reached from {img.where(bad.root)}{how}): {bad.reason}",
            [Location(img.path, None, symbol=img.nearest_symbol(bad.addr), detail=f"0x{bad.addr:x}")],
            data,
            fix="remove the constant from the instruction stream, or assemble for the profile that defines it",
        ))
    return out


def summary_text(report: ImageReport) -> str:
    """Context printed before the findings (text output only)."""
    img = report.image
    code = report.code
    lines = [
        f"image: {img.path} ({img.elf_type}, RV{img.xlen}, entry 0x{img.entry:x})",
        f"profile: {img.profile.name()} from {img.isa_source}",
        f"code: {len(code.starts)} reachable instructions in "
        + ", ".join(f"{r.name} [0x{r.start:x}, 0x{r.end:x})" for r in img.regions[:6])
        + (" ..." if len(img.regions) > 6 else ""),
    ]
    if not img.has_symtab:
        lines.append("symbols: no .symtab (stripped): walking from the entry point and dynamic symbols only; "
                     "R003 (vector target not a symbol) is not checked")
    if report.writes:
        lines.append(f"trap-vector writes: {len(report.writes)}")
        for w in report.writes[:40]:
            for v in w.values:
                if isinstance(v.v, int):
                    val = f"0x{v.v:x}"
                elif v.v is not None:
                    val = f"restores the value read at 0x{v.v.pc:x}"
                else:
                    val = "unresolved"
                mark = "" if w.reached else " (linear sweep)"
                lines.append(f"  {img.where(w.pc)}: {w.insn_text} -> {val}{mark}")
        if len(report.writes) > 40:
            lines.append(f"  ... {len(report.writes) - 40} more (see --format json)")
    else:
        lines.append("trap-vector writes: none reachable")
    if code.padding:
        undecided = (f" ({len(code.undecided_padding)} after a call whose callee could not be followed)"
                     if code.undecided_padding else "")
        lines.append(f"padding: {len(code.padding)} zero run(s) after code treated as alignment fill, not "
                     f"code{undecided}")
    return "\n".join(lines) + "\n"


def writes_json(report: ImageReport) -> list[dict[str, object]]:
    img = report.image
    out = []
    for w in report.writes:
        for v in w.values:
            entry: dict[str, object] = {"csr": w.csr_name, "write_pc": w.pc, "instruction": w.insn_text,
                                        "symbol": img.nearest_symbol(w.pc), "chain": list(v.chain),
                                        "reached": w.reached}
            if isinstance(v.v, int):
                entry["value"] = v.v
                entry["status"] = "resolved"
            elif v.v is not None:
                entry["status"] = "restore"
                entry["restores_read_at"] = v.v.pc
            else:
                entry["status"] = "unresolved"
                entry["reason"] = v.note
            out.append(entry)
    return out
