"""Diagnoses T001-T005: from recognised faults to the invariant that explains them.

Each diagnosis states a confidence — ``established`` (the evidence proves it), ``probable``
(consistent with it, one link unconfirmed), ``unknown`` (the facts, no claim) — and lists the
log lines it relied on as locations. A root cause is never claimed without evidence: when the
input that would decide it (a layout, an ELF, a CPUID dump) or the module that reads it is
missing, the finding says which.
"""

from __future__ import annotations

from typing import Any

from hvcheck.findings import Finding, Location, Severity, declare_rule
from hvcheck.triage.context import Context
from hvcheck.triage.facts import Address, Fault
from hvcheck.triage.ownership import t006
from hvcheck.triage.qemu_trace import STORM_RUN
from hvcheck.triage.riscv_causes import ILLEGAL_INSTRUCTION
from hvcheck.triage.scan import ScanResult
from hvcheck.units import hex_range

# The rules this module emits (hvcheck.findings registry; docs in hvcheck/docs/rules/).
declare_rule("T001", "a fault address lies in the hypervisor's memory", Severity.ERROR, "triage")
declare_rule("T002", "a fault address lies in zone RAM that is not mapped at stage 2", Severity.ERROR, "triage")
declare_rule("T003", "#GP on XSETBV: the XCR0 value breaks an architectural rule", Severity.ERROR, "triage")
declare_rule("T004", "illegal-instruction trap at a trap vector, mid-instruction or on a reserved encoding", Severity.ERROR, "triage")
declare_rule("T005", "recognised fault: extracted facts and address owners", Severity.NOTE, "triage")

ESTABLISHED, PROBABLE, UNKNOWN = "established", "probable", "unknown"
PHYSICAL = ("GPA", "HPA")


def xcr0_bit_names(value: int) -> list[str]:
    """The x86 area's names of the XCR0 bits set in ``value`` (one table for the whole tool)."""
    from hvcheck.x86.xsave import bit_names

    return [] if value == 0 else bit_names(value).split("|")


def diagnose(results: list[ScanResult], ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    cited: list[Finding] = []
    for result in results:
        per_log: list[Finding] = []
        for fault in result.faults:
            finding, related = diagnose_fault(fault, ctx)
            if finding is not None:
                per_log.append(finding)
            for rel in related:
                if not any(rel is c for c in cited):
                    cited.append(rel)
        if not result.faults:
            per_log.append(nothing_found(result, ctx))
        findings.extend(_merge(per_log))
    return findings + cited


def _merge(findings: list[Finding]) -> list[Finding]:
    """One finding per (rule, fault address): hvisor prints the same fault several ways."""
    out: list[Finding] = []
    seen: dict[tuple[str, Any], Finding] = {}
    for f in findings:
        addr = f.data.get("fault_address")
        key = (f.rule, addr)
        if addr is not None and key in seen:
            first = seen[key]
            first.locations.extend(loc for loc in f.locations if loc not in first.locations)
            continue
        seen[key] = f
        out.append(f)
    return out


def _base(fault: Fault, confidence: str, ctx: Context) -> dict[str, Any]:
    data: dict[str, Any] = {"confidence": confidence, "fault": fault.kind, "reader": fault.reader,
                            "arch": fault.arch}
    if fault.cpu is not None:
        data["cpu"] = fault.cpu
    if fault.zone_id is not None:
        data["zone_id"] = fault.zone_id
    if fault.count > 1:
        data["occurrences"] = fault.count
    if fault.truncated:
        data["truncated_record"] = True
    for name, addr in fault.addresses.items():
        data[f"address_{name}"] = addr.value
        data[f"address_{name}_is"] = f"{addr.what} ({addr.space})"
    if fault.registers:
        data["registers"] = dict(fault.registers)
    facts = {k: v for k, v in fault.facts.items() if not k.startswith("printed_")}
    if facts:
        data["facts"] = facts
    data["log_lines"] = [f"{e.path}:{e.line}: {e.quote()}" for e in fault.evidence]
    return data


def _missing(ctx: Context, *keys: str) -> list[str]:
    return [f"{k}: {ctx.missing[k]}" for k in keys if k in ctx.missing]


def _fault_where(fault: Fault) -> str:
    first = fault.evidence[0] if fault.evidence else None
    return f" ({first.path}:{first.line})" if first else ""


# -- dispatch ------------------------------------------------------------------------------------
def diagnose_fault(fault: Fault, ctx: Context) -> tuple[Finding | None, list[Finding]]:
    if fault.kind == "x86-gp" and (fault.facts.get("instruction") == "xsetbv" or (
            fault.facts.get("function") == "fpu__init_cpu_xstate" and "instruction" not in fault.facts)):
        return t003(fault, ctx)
    if _is_illegal_instruction(fault):
        result = t004(fault, ctx)
        if result[0] is not None:
            return result
    addr = _physical_fault_address(fault)
    if addr is not None:
        if ctx.hv is not None and ctx.hv.start <= addr.value < ctx.hv.end:
            return t001(fault, addr, ctx)
        if fault.kind == "hvisor-fault-in-hv-memory" and ctx.hv is None:
            return t001(fault, addr, ctx)
        hyp = _hyp_virtual_in_hv(fault, addr, ctx)
        if hyp is not None:
            return t001(fault, hyp, ctx)
        t2 = t002(fault, addr, ctx)
        if t2 is not None:
            return t2
        if ctx.system is not None:
            t6 = t006(fault, addr, ctx.system, _base(fault, UNKNOWN, ctx), _fault_where(fault))
            if t6 is not None:
                return t6, []
    return t005(fault, ctx), []


HYP_FAULTS = ("jailhouse-hyp-fault", "hvisor-el2-abort")


def _hyp_virtual_in_hv(fault: Fault, addr: Address, ctx: Context) -> Address | None:
    """A fault of the hypervisor itself at a hypervisor-virtual address: Jailhouse runs at a fixed virtual
    base printed at start ("Code location: 0xf0000040"); an address within that window of the size of the
    hypervisor's memory is in its own memory, at the same offset from its physical start."""
    code_location = fault.facts.get("hv_code_location")
    if fault.kind not in HYP_FAULTS or ctx.hv is None or not isinstance(code_location, int):
        return None
    base = code_location & ~0xFFF
    size = ctx.hv.end - ctx.hv.start
    if not base <= addr.value < base + size:
        return None
    physical = ctx.hv.start + (addr.value - base)
    return Address(physical, "HPA", f"{addr.what} {addr.value:#x} = hypervisor virtual, physical {physical:#x} "
                                    f"(estimated: virtual base {base:#x} from 'Code location' rounded down to a "
                                    "page, at the hypervisor's physical start)")


def _physical_fault_address(fault: Fault) -> Address | None:
    for key in ("fault", "fault_gpa", "fault_pa"):
        addr = fault.addresses.get(key)
        if addr is not None and addr.space in PHYSICAL:
            return addr
    return None


def _is_illegal_instruction(fault: Fault) -> bool:
    if fault.arch != "riscv64":
        return False
    if fault.facts.get("cause") == ILLEGAL_INSTRUCTION and not fault.facts.get("interrupt"):
        return True
    text = " ".join(str(fault.facts.get(k, "")) for k in ("cause", "cause_name", "reason")).lower()
    return "illegal" in text and "instruction" in text


# -- T001 ----------------------------------------------------------------------------------------
def _hv_part(ctx: Context, address: int) -> str | None:
    assert ctx.hv is not None
    for name, start, end in ctx.hv.parts:
        if start <= address < end:
            return f"{name} {hex_range(start, end)}"
    return None


def _related(ctx: Context, rules: set[str], zone: str | None = None) -> list[Finding]:
    if ctx.layout_findings is None:
        return []
    out = [f for f in ctx.layout_findings if f.rule in rules]
    if zone is not None:
        narrowed = [f for f in out if zone in f.message or zone in str(f.data)]
        out = narrowed or out
    return out


def t001(fault: Fault, addr: Address, ctx: Context) -> tuple[Finding, list[Finding]]:
    hv = ctx.hv
    reported = fault.facts.get("hv_range_reported")
    if hv is None:
        # Only hvisor's own diagnostic says so: probable, and what would confirm it.
        confidence = PROBABLE
        where = ("hvisor's own range check says so"
                 + (f" (it printed the range {hex_range(*reported)})" if reported else ""))
        explain = ("hvisor's physical memory was reachable by a guest: the root zone's kernel treats hvisor's "
                   "pages as RAM (M001/M002). Confirm with --layout or --elf.")
        related: list[Finding] = []
    else:
        # An estimated extent (no ELF) still proves membership below its smallest possible end.
        estimated = "estimated" in hv.how and not (hv.end_min is not None and addr.value < hv.end_min)
        confidence = PROBABLE if estimated else ESTABLISHED
        part = _hv_part(ctx, addr.value)
        owner = hv.name if hv.name.startswith("the ") else f"{hv.name}'s"
        where = (f"inside {owner} {part}" if part else f"inside {owner} range {hex_range(hv.start, hv.end)}") + \
            f" (from {hv.how})"
        if estimated and hv.end_min is not None:
            where += (f"; the extent is estimated and the address lies beyond its smallest possible end "
                      f"{hv.end_min:#x}, so this holds only for a large image: pass --elf to decide")
        related = _related(ctx, {"M001", "M002"})
        if related:
            explain = (f"the layout lets a zone's kernel reach {owner} memory: " +
                       "; ".join(f"{f.rule}: {f.message}" for f in related[:3]))
        elif ctx.layout_findings is not None:
            confidence = PROBABLE
            explain = ("the layout given does not map the hypervisor's range into a zone (no M001/M002): the "
                       "running configuration may differ from this one, or a stray pointer reached its memory")
        else:
            explain = "layout rules not run (" + "; ".join(_missing(ctx, "layout", "layout rules")) + ")"
    if fault.kind in HYP_FAULTS:
        explain = ("the hypervisor faulted on its own memory (page tables, heap or per-CPU data): memory a guest "
                   "could write (see M001/M002), or a hypervisor bug") + (
                       "; " + "; ".join(f"{f.rule}: {f.message}" for f in related[:2]) if related else "")
    zone = _zone_of(ctx, fault)
    mapped = zone is not None and any(r.gstart <= addr.value < r.gend for r in zone.regions if r.kind.is_mapped)
    if mapped and fault.kind == "hvisor-unhandled-mmio":
        explain += (f"; zone {zone.name}'s configuration maps this address as RAM, so a stage-2 fault on it means "
                    "hvisor's own stage-2 tables no longer say so — consistent with the zone having overwritten "
                    "hvisor's memory (page tables live in its pool)")
    message = (f"[{confidence}] {addr.what} {addr.value:#x}{_fault_where(fault)} lies in the hypervisor's memory: "
               f"{where}; {explain}")
    data = _base(fault, confidence, ctx)
    data.update(fault_address=addr.value, related_rules=sorted({f.rule for f in related}))
    if hv is not None:
        data.update(hv_start=hv.start, hv_end=hv.end, hv_range_from=hv.how)
    missing = _missing(ctx, "layout", "layout rules")
    if missing:
        data["missing_inputs"] = missing
    locations = fault.locations() + (hv.locations if hv is not None else [])
    locations = list(dict.fromkeys(locations))      # start and end often come from the same line
    return Finding("T001", message, locations=locations, data=data,
                   fix="keep the zone's kernel off the hypervisor's memory ([skernel, __hv_end) for hvisor): remove "
                       "it from the zone's RAM regions and reserve it (no-map) in the zone device tree — see "
                       "`hvcheck layout` / `hvcheck fix`"), related


# -- T002 ----------------------------------------------------------------------------------------
def _zone_of(ctx: Context, fault: Fault) -> Any:
    system = ctx.system
    if system is None:
        return None
    from hvcheck.triage.ownership import faulting_zone

    zone = faulting_zone(system, fault)
    if zone is not None:
        return zone
    return system.root if fault.reader == "hvisor" else None


def t002(fault: Fault, addr: Address, ctx: Context) -> tuple[Finding, list[Finding]] | None:
    zone = _zone_of(ctx, fault)
    if zone is None or addr.space != "GPA":
        return None
    gpa = addr.value
    if any(r.gstart <= gpa < r.gend for r in zone.regions if r.kind.is_mapped):
        return None     # mapped: not a stage-2 hole (the fault has another cause)
    dt = zone.devicetree
    in_dt_ram = dt is not None and any(s.start <= gpa < s.end for s in dt.memory)
    reserved = dt is not None and any(r.start <= gpa < r.end and r.no_map for r in dt.reserved)
    assert ctx.system is not None
    board_ram = any(b.start <= gpa < b.end for b in ctx.system.board.memory)
    if in_dt_ram and not reserved:
        confidence = ESTABLISHED
        why = f"zone {zone.name}'s device tree ({dt.path}) gives it to the kernel as RAM, but no region maps it"
    elif dt is None and board_ram:
        confidence = PROBABLE
        why = (f"it is board RAM with no region of zone {zone.name} mapping it; the zone's device tree was not "
               "available to confirm the kernel was told it is RAM")
    else:
        return None
    related = _related(ctx, {"M003"}, zone.name)
    message = (f"[{confidence}] {addr.what} {gpa:#x}{_fault_where(fault)} is zone RAM that is not mapped at "
               f"stage 2: {why}" + ("; " + "; ".join(f"{f.rule}: {f.message}" for f in related[:2]) if related else ""))
    data = _base(fault, confidence, ctx)
    data.update(fault_address=gpa, zone=zone.name, related_rules=sorted({f.rule for f in related}))
    return Finding("T002", message, locations=fault.locations(), data=data,
                   fix="map the whole of the zone's /memory at stage 2 (add or grow a RAM region), or shrink "
                       "/memory in its device tree to what is mapped"), related


# -- T003 ----------------------------------------------------------------------------------------
def t003(fault: Fault, ctx: Context) -> tuple[Finding, list[Finding]]:
    regs = fault.registers
    decoded = fault.facts.get("instruction") == "xsetbv"
    related: list[Finding] = []
    data = _base(fault, UNKNOWN, ctx)
    reg_line = next((ev for ev in fault.evidence if "RAX" in ev.text), None)
    source = Location(reg_line.path, reg_line.line, detail="XCR0 = EDX:EAX from the register dump") \
        if reg_line else None
    if "RAX" not in regs or "RDX" not in regs:
        confidence = PROBABLE if decoded else UNKNOWN
        data["confidence"] = confidence
        message = (f"[{confidence}] #GP in {fault.facts.get('rip_symbol', '?')}{_fault_where(fault)} "
                   f"{'on XSETBV (decoded from the Code bytes)' if decoded else 'in the function that runs XSETBV'}"
                   "; the register dump (RAX/RDX) is missing, so the XCR0 value cannot be computed")
        return Finding("T003", message, locations=fault.locations(), data=data), related
    xcr0 = (regs["RDX"] & 0xFFFFFFFF) << 32 | (regs["RAX"] & 0xFFFFFFFF)
    ecx = regs.get("RCX", 0) & 0xFFFFFFFF
    data.update(xcr0=xcr0, xcr0_bits=xcr0_bit_names(xcr0), xcr_index=ecx, fault_address=None)
    parts = [f"XCR0 = EDX:EAX = {xcr0:#x} ({'|'.join(xcr0_bit_names(xcr0))})"]
    confidence = ESTABLISHED if decoded else PROBABLE
    if not decoded:
        parts.append("the instruction is inferred from the function (no Code bytes with a <..> marker)")
    if ecx != 0:
        parts.append(f"ECX = {ecx:#x}: only XCR0 (ECX=0) exists, so XSETBV #GPs on the index alone")
    elif fault.facts.get("cs") not in (None, 0x10):
        parts.append("CS is not the kernel's 0010: XSETBV at CPL>0 #GPs regardless of the value")
    from hvcheck.x86.xsave import xcr0_findings

    supported = ctx.cpuid_dump.xcr0_mask() if ctx.cpuid_dump is not None else None
    related.extend(xcr0_findings(xcr0, supported, source))
    if related:
        parts.append("broken rule(s): " + "; ".join(f"{f.rule}: {f.message}" for f in related))
    elif ecx == 0:
        confidence = PROBABLE
        parts.append("the x86 rules find nothing wrong with this value: an unsupported bit (needs --cpuid) "
                     "or a hypervisor that rejects it")
    if ctx.cpuid_findings is not None:
        x3 = [f for f in ctx.cpuid_findings if f.rule in ("X002", "X003", "X004", "X005")]
        related.extend(x3)
        if x3:
            parts.append("the guest CPUID explains where the value came from: " +
                         "; ".join(f"{f.rule}: {f.message}" for f in x3[:3]))
    else:
        parts.extend(_missing(ctx, "cpuid"))
    data["confidence"] = confidence
    data["related_rules"] = sorted({f.rule for f in related})
    del data["fault_address"]
    message = (f"[{confidence}] #GP on XSETBV in {fault.facts.get('rip_symbol', '?')}{_fault_where(fault)}: "
               + "; ".join(parts))
    return Finding("T003", message, locations=fault.locations(), data=data,
                   fix="make the guest's CPUID leaf 0xD XCR0 mask architecturally valid (e.g. AMX bits 17 and 18 "
                       "together) — check it with `hvcheck cpuid`"), related


# -- T004 ----------------------------------------------------------------------------------------
def t004(fault: Fault, ctx: Context) -> tuple[Finding | None, list[Finding]]:
    pc = fault.addresses.get("pc")
    storm = fault.facts.get("longest_back_to_back_run", 0) >= STORM_RUN
    bits = fault.facts.get("instruction_bits")
    data = _base(fault, UNKNOWN, ctx)
    parts: list[str] = []
    related: list[Finding] = []
    confidence = UNKNOWN
    if storm and pc is not None:
        confidence = PROBABLE
        parts.append(f"{fault.facts.get('longest_back_to_back_run')} back-to-back illegal-instruction traps at "
                     f"the same pc {pc.value:#x}: the trap handler re-traps on its own first instruction, i.e. the "
                     f"trap vector points at {pc.value:#x} and what is there does not decode")
    if isinstance(bits, int):
        if bits == 0:
            parts.append("tval/mtval 0x0: the halfword 0x0000 is the defined-illegal c.unimp (or the hart "
                         "does not report instruction bits) — the pattern of a vector landing in padding or "
                         "mid-instruction")
        else:
            if bits & 3 != 3:
                from hvcheck.riscv.rvc import classify16

                parts.append(f"instruction bits {bits:#06x}: {classify16(bits & 0xFFFF)}")
            else:
                parts.append(f"instruction bits {bits:#x}")
    if ctx.riscv_image is not None and pc is not None:
        try:
            described = ctx.riscv_image.describe_address(pc.value)
        except Exception as exc:  # noqa: BLE001 - another area's code; report, don't crash
            described = f"could not describe ({type(exc).__name__}: {exc})"
        data["image_says"] = str(described)
        parts.append(f"{ctx.riscv_path} at {pc.value:#x}: {described}")
        hits = [f for f in (ctx.riscv_findings or []) if f.rule in ("R001", "R002", "R003", "R005")
                and _mentions(f, pc.value)]
        related.extend(hits)
        if hits:
            confidence = ESTABLISHED
            parts.append("; ".join(f"{f.rule}: {f.message}" for f in hits[:3]))
        elif ctx.riscv_findings is not None:
            parts.append("the image checks report nothing at this address")
    else:
        parts.extend(_missing(ctx, "riscv image", "riscv rules"))
    if confidence == UNKNOWN and not storm:
        return None, []     # a single illegal-instruction trap with no decisive evidence: T005
    data["confidence"] = confidence
    data["related_rules"] = sorted({f.rule for f in related})
    where = f" at {pc.value:#x}" if pc is not None else ""
    message = f"[{confidence}] illegal-instruction trap{where}{_fault_where(fault)}: " + "; ".join(parts)
    return Finding("T004", message, locations=fault.locations(), data=data,
                   fix="make the trap-vector CSR point at the handler's first instruction (check with "
                       "`hvcheck riscv IMAGE.elf`)"), related


def _mentions(finding: Finding, address: int) -> bool:
    def walk(value: Any) -> bool:
        if isinstance(value, int) and not isinstance(value, bool):
            return value == address
        if isinstance(value, dict):
            return any(walk(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return any(walk(v) for v in value)
        return False
    return walk(finding.data) or f"{address:#x}" in finding.message


# -- T005 ----------------------------------------------------------------------------------------
def t005(fault: Fault, ctx: Context) -> Finding:
    data = _base(fault, UNKNOWN, ctx)
    parts = [fault.summary + _fault_where(fault)]
    owners_out: dict[str, list[str]] = {}
    for name, addr in fault.addresses.items():
        if addr.space not in PHYSICAL:
            continue
        if ctx.owner_index is None:
            continue
        owners = ctx.owners(addr.value)
        owners_out[name] = [o.describe() for o in owners] or ["no owner: unmapped in the layout"]
        parts.append(f"{addr.what} {addr.value:#x} belongs to: " + "; ".join(owners_out[name]))
    if owners_out:
        data["owners"] = owners_out
    elif any(a.space in PHYSICAL for a in fault.addresses.values()):
        parts.extend(_missing(ctx, "layout"))
    hint = _hint(fault)
    if hint:
        parts.append(hint)
        data["interpretation"] = hint
    message = f"[unknown] {'; '.join(parts)}"
    return Finding("T005", message, locations=fault.locations(), data=data)


def _hint(fault: Fault) -> str | None:
    """What the fault class usually means, said as such (never as the root cause)."""
    f = fault.facts
    if fault.kind in ("hvisor-unhandled-mmio", "bao-unhandled-mmio", "jailhouse-unhandled-mmio", "hvisor-iabt"):
        return ("the guest touched an address neither mapped at stage 2 nor emulated: a zone-config hole or a "
                "stray guest pointer (pass --layout to resolve it)")
    if f.get("injected_by_hypervisor"):
        return ("synchronous external abort in a guest (" + str(f.get("guest_evidence", "guest")) + "): under a "
                "partitioning hypervisor this is usually the hypervisor injecting an abort for an IPA its stage-2 "
                "map lacks")
    if f.get("serror"):
        return ("asynchronous SError: the system reported an error for an earlier access (a device that is "
                "powered off or unclocked, a bus error, uncorrected ECC); the pc is where it was noticed, not "
                "where the access was made. Nothing in the log shows a hypervisor injecting it")
    if f.get("external_abort"):
        return "synchronous external abort: the bus or device refused the access (not a translation fault)"
    if f.get("instruction") == "wrmsr":
        return (f"WRMSR to {f.get('msr_name', '?')} ({f.get('msr', 0):#x}) was rejected: the (virtual) CPU does "
                "not implement or accept this MSR/value")
    if f.get("instruction") == "rdmsr":
        return f"RDMSR of {f.get('msr_name', '?')} ({f.get('msr', 0):#x}) was rejected by the (virtual) CPU"
    if fault.kind == "qemu-trap-storm":
        return "the same synchronous trap repeats back-to-back: the handler never makes progress"
    if fault.kind in HYP_FAULTS:
        return ("an exception inside the hypervisor itself: a hypervisor bug, or its memory was corrupted (pass "
                "--layout with the system config to check the address against the hypervisor's memory, T001)")
    if f.get("xen_pv_guest"):
        return f"the faulting kernel is a {f.get('xen_pv')}: its page tables and MMIO are mediated by Xen"
    if f.get("pc_owner"):
        return str(f["pc_owner"])
    if f.get("at_kernel_entry"):
        return str(f.get("interpretation"))
    if f.get("rip_region"):
        return str(f["rip_region"])
    if f.get("mprv") and f.get("mpp") == "M":
        return "OpenSBI faulted while accessing memory on behalf of a lower mode (MPRV=1)"
    return None


# What each format's crash records look like, for a log in which none was found.
RECORD_FORMS = {
    "hvisor": "'[ERROR n] (hvisor::...)' fault records, 'panic occurred: PanicInfo {...}', 'EL2 Exception'. A "
              "build without LOG= prints nothing, not even its panic (src/logging.rs)",
    "Linux kernel": "an oops or panic ('BUG: unable to handle', 'general protection fault', 'Unable to handle "
                    "kernel ...', 'Internal error: Oops', 'Kernel panic - not syncing')",
    "OpenSBI": "'sbi_trap_error: hartN: ...' dumps",
    "RustSBI": "'[rustsbi-panic] hart N panicked at ...'",
    "U-Boot": "nothing of U-Boot's own (its 'data abort' dumps are not read); the OS it started is",
    "Xen": "'(XEN) ----[ Xen-... ]----' register dumps, '(XEN) Panic on CPU n:'",
    "Jailhouse": "'Unhandled data read/write at ...', 'FATAL: ...', 'Parking CPU n (Cell: ...)'",
    "Bao": "'BAO ERROR: ...' lines",
    "ACRN": "'Assertion failed in file ...', 'Unhandled exception: n (...)'",
    "seL4": "'Caught cap fault ...' / 'vm fault on ...', 'MON|ERROR', 'LDR|ERROR'",
}
ALL_FORMATS = ("hvisor, Jailhouse, Bao, Xen, ACRN and seL4/Microkit consoles; Linux oopses and panics (x86, ARM, "
               "arm64, RISC-V); OpenSBI and RustSBI dumps; QEMU 'KVM internal error' dumps and -d int traces; "
               "EDK2 exception dumps")


def nothing_found(result: ScanResult, ctx: Context) -> Finding:
    """An honest "unknown": what the log looks like (by its banners and lines), what a crash record of that
    format would look like, and no advice for a format the log is not in."""
    stats = result.stats
    seen = dict(stats.formats_seen)
    if stats.hvisor_records:
        seen["hvisor"] = seen.get("hvisor", 0) + stats.hvisor_records
    parts = []
    if seen:
        parts.append("it looks like " + ", ".join(f"{name} ({count} line(s))" for name, count in seen.items()))
        needs = [f"{name}: {RECORD_FORMS[name]}" for name in seen if name in RECORD_FORMS]
        if needs:
            parts.append("no crash record of that format is in it; hvcheck reads " + "; ".join(needs))
    else:
        parts.append(f"no banner or line of a format hvcheck reads ({ALL_FORMATS})")
    top = result.qemu.top_patterns(3)
    if top:
        parts.append("most frequent QEMU trace patterns: " + ", ".join(f"{p.name} x{p.count}" for p in top))
    message = (f"[unknown] no fault record recognised in {stats.path} ({stats.lines} lines read): this is "
               f"'unknown', not 'no fault'; " + "; ".join(parts))
    return Finding("T005", message, locations=[Location(stats.path, None)],
                   data={"confidence": UNKNOWN, "lines": stats.lines, "hvisor_records": stats.hvisor_records,
                         "trace_records": stats.trace_records, "formats_seen": seen})
