"""Run every static RISC-V image check: trap-vector writes (R001-R004) and reachable
reserved/illegal encodings (R005). The CLI and the demo call :func:`check_image`."""

from __future__ import annotations

from dataclasses import dataclass, field

from hvcheck.findings import Finding, Location, Severity, declare_rule, input_error_finding
from hvcheck.riscv.image import RiscvImage, load_image
from hvcheck.riscv.tvec import TvecWrite, check_writes

# The rules this module emits (hvcheck.findings registry; docs in hvcheck/docs/rules/).
declare_rule("R005", "a reserved or illegal encoding is reachable in executable code", Severity.ERROR, "riscv")

MAX_ROUNDS = 4  # handlers reached through a resolved vector may themselves write a vector


@dataclass
class ImageReport:
    image: RiscvImage
    findings: list[Finding] = field(default_factory=list)
    writes: list[TvecWrite] = field(default_factory=list)


def check_image(img: RiscvImage) -> ImageReport:
    report = ImageReport(img)
    img.walk()
    img.sweep()  # linear decode of what the walk did not reach (instruction boundaries there)
    done: set[int] = set()
    for _ in range(MAX_ROUNDS):
        fresh = sorted(set(img.tvec_sites) - done)
        if not fresh:
            break
        done |= set(fresh)
        saved = img.tvec_sites
        img.tvec_sites = fresh
        findings, writes, roots = check_writes(img)
        img.tvec_sites = saved
        report.findings += findings
        report.writes += writes
        img.walk(roots)
    # trap-vector writes in code the walk did not reach are checked too
    linear = sorted(set(img.linear_tvec_sites) - done)
    if linear:
        img.tvec_sites, saved = linear, img.tvec_sites
        findings, writes, roots = check_writes(img, reached=False)
        img.tvec_sites = saved + linear
        report.findings += findings
        report.writes += writes
        img.walk(roots)
    report.findings += reserved_findings(img)
    for problem in img.problems:
        report.findings.append(input_error_finding(img.path, None, problem, "the RISC-V image rules for the unreadable part"))
    report.findings.sort(key=lambda f: (f.rule, f.data.get("write_pc", f.data.get("addr", 0))))
    return report


def check_path(path: str) -> ImageReport:
    return check_image(load_image(path))


def reserved_findings(img: RiscvImage) -> list[Finding]:
    """R005: every reserved or illegal halfword the walk reached, with the root it came from."""
    out = []
    for bad in sorted(img.bad, key=lambda b: b.addr):
        kind = "illegal" if bad.cls == "illegal" else "reserved"
        out.append(Finding(
            "R005",
            f"{kind} halfword 0x{bad.halfword:04x} is reachable at {img.where(bad.addr)} "
            f"(reached from {img.where(bad.root)}): {bad.reason}",
            [Location(img.path, None, symbol=img.nearest_symbol(bad.addr), detail=f"0x{bad.addr:x}")],
            {"addr": bad.addr, "halfword": bad.halfword, "class": bad.cls, "reason": bad.reason,
             "reached_from": bad.root, "profile": img.profile.name()},
            fix="remove the constant from the instruction stream, or assemble for the profile that defines it",
        ))
    return out


def summary_text(report: ImageReport) -> str:
    """Context printed before the findings (text output only)."""
    img = report.image
    lines = [
        f"image: {img.path} ({img.elf_type}, RV{img.xlen}, entry 0x{img.entry:x})",
        f"profile: {img.profile.name()} from {img.isa_source}",
        f"code: {len(img.starts)} reachable instructions in "
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
    if img.padding:
        lines.append(f"padding: {len(img.padding)} zero run(s) after code treated as alignment fill, not code")
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
