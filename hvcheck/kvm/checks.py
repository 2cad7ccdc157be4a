"""What a probe's answers mean: pure functions from a :class:`~hvcheck.kvm.record.Probe` to findings.

Nothing here touches /dev/kvm, so the same checks run on a live probe and on a saved one
(``hvcheck kvm --from probe.json``): a recorded broken host is judged exactly like a live host.

* X010 — a capability says yes and the ioctl it advertises has no handler on the fd class the
  capability describes (-EINVAL/-ENOTTY: seed 000), or an ioctl is answered on a class upstream
  never implements it on, or despite its capability saying no;
* X003/X004 — the host's own promise, KVM_GET_SUPPORTED_CPUID, under the CPUID rules
  (hvcheck.x86.cpuid_model), and KVM_X86_XCOMP_GUEST_SUPP under the XCR0 rules;
* X012 — those two answers for the supported XCR0 disagree;
* X013/X016 — the vCPU refuses or rewrites state it was given (KVM_SET_CPUID2, KVM_SET_XCRS);
* X011/X014 — the micro-guest's XSETBV / CR4.OSXSAVE verdicts against the X001/X002 prediction;
* X015 — a check that could not run, and why (not x86, no VM, a documented nested limit).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

from hvcheck.findings import Finding, Severity, declare_rule
from hvcheck.kvm.record import CLASS_LABEL, Answer, CpuidEntry, Probe, XsetbvRun, entries_of
from hvcheck.x86 import xsave
from hvcheck.x86.cpuid_model import CpuidDump, cpuid_findings

# X010 is also emitted by the trace analysis (hvcheck.x86.ioctl_trace), which declares it with these
# exact words; the registry refuses a declaration that differs, so the two cannot drift apart.
declare_rule("X010", "a KVM ioctl reached a file-descriptor class that does not implement it", Severity.ERROR, "x86")

declare_rule("X011", "a real vCPU's verdict on an XCR0 value disagrees with the X001/X002 prediction",
             Severity.ERROR, "x86")
declare_rule("X012", "KVM_GET_SUPPORTED_CPUID and KVM_X86_XCOMP_GUEST_SUPP disagree on the supported XCR0",
             Severity.WARNING, "x86")
declare_rule("X013", "a vCPU refuses or loses XCR0/CPUID state that KVM itself reports as supported",
             Severity.ERROR, "x86")
declare_rule("X014", "a vCPU's CR4.OSXSAVE behaviour disagrees with its CPUID XSAVE flag", Severity.WARNING, "x86")
declare_rule("X015", "a KVM host check could not run, and why", Severity.NOTE, "x86")
declare_rule("X016", "KVM_GET_CPUID2 differs from the CPUID KVM_SET_CPUID2 was given", Severity.WARNING, "x86")

EINVAL, ENOTTY, ENXIO, E2BIG = errno.EINVAL, errno.ENOTTY, errno.ENXIO, errno.E2BIG
# Errnos that mean "this handler has no case for the request" (x86: /dev/kvm and vCPU -EINVAL,
# VM fd -ENOTTY; reference note kvm-ioctls.md §2) — for requests whose arguments the probe built
# correctly, so that no argument check can have produced them.
DISPATCH_ERRNOS = {EINVAL, ENOTTY}
# Answers that prove a handler exists although the call did not succeed.
HANDLER_ERRNOS = {ENXIO: "unknown attribute", E2BIG: "buffer too small"}

# (ioctl, fd class) pairs whose capability exactly gates the handler (added in one commit with it,
# or computed from the same condition): an answer while the capability says 0 is a misplaced or
# half-applied backport. Capabilities that describe a *setting* (KVM_CAP_VM_TSC_CONTROL: KVM_GET_TSC_KHZ
# always answers on the VM fd) or are constant (KVM_CAP_MCE) are not gates.
CAP_GATES = {
    ("KVM_GET_DEVICE_ATTR", "dev"), ("KVM_HAS_DEVICE_ATTR", "dev"),
    ("KVM_GET_DEVICE_ATTR", "vcpu"), ("KVM_HAS_DEVICE_ATTR", "vcpu"),
    ("KVM_GET_XSAVE2", "vcpu"), ("KVM_GET_MSR_FEATURE_INDEX_LIST", "dev"), ("KVM_GET_MSRS", "dev"),
    ("KVM_GET_EMULATED_CPUID", "dev"), ("KVM_GET_SUPPORTED_HV_CPUID", "dev"),
    ("KVM_GET_SUPPORTED_HV_CPUID", "vcpu"), ("KVM_GET_SREGS2", "vcpu"), ("KVM_GET_NESTED_STATE", "vcpu"),
    ("KVM_GET_STATS_FD", "vm"), ("KVM_GET_STATS_FD", "vcpu"),
}


# Capabilities that advertise an ioctl on a class the x86 fd-class table says it never reaches
# (KVM_CAP_VM_ATTRIBUTES is s390/arm64 upstream): when such a capability says yes, the class must
# answer, and an answer there is vouched for.
CAP_ELSEWHERE: dict[tuple[str, str], str] = {
    ("KVM_HAS_DEVICE_ATTR", "vm"): "KVM_CAP_VM_ATTRIBUTES",
    ("KVM_GET_DEVICE_ATTR", "vm"): "KVM_CAP_VM_ATTRIBUTES",
}
# Ioctls of the generic kvm_main.c handlers, judged on every architecture; the rest of the table
# is x86's (on arm64 the attribute ioctls do live on the VM fd).
GENERIC_IOCTLS = frozenset({"KVM_CHECK_EXTENSION", "KVM_GET_STATS_FD", "KVM_GET_API_VERSION", "KVM_CREATE_VM",
                            "KVM_GET_VCPU_MMAP_SIZE", "KVM_CREATE_VCPU"})


@dataclass(frozen=True)
class Limit:
    """A failure with a documented cause: a note (X015), not X010."""

    ioctl: str
    fd: str
    errno: int
    applies: Callable[[Probe], bool]
    reason: str


DOCUMENTED_LIMITS = (
    Limit("KVM_GET_NESTED_STATE", "vcpu", EINVAL, lambda p: bool(p.under_hypervisor),
          "this host is itself a guest: nested state needs VMX/SVM exposed by the outer hypervisor, and KVM "
          "answers -EINVAL when its vendor module has no nested state (api.rst 4.114, KVM_CAP_NESTED_STATE)"),
    Limit("KVM_GET_SUPPORTED_HV_CPUID", "vcpu", EINVAL, lambda p: "kvm_pvm" in p.modules,
          "PVM (kvm_pvm) offers no Hyper-V enlightenments"),
)


# --------------------------------------------------------------------------------------------
# Entry point

def check_probe(probe: Probe) -> list[Finding]:
    """Every check over one probe, in the order a reader follows the story."""
    from hvcheck.kvm.abi import is_x86

    findings = [_note(probe, n) for n in probe.notes]
    findings += capability_findings(probe)
    if not is_x86(probe.machine):
        findings.append(Finding(
            "X015", f"{probe.machine} is not x86: the CPUID (X003/X004), supported-XCR0 (X012), vCPU state "
                    "(X013/X016) and XSETBV (X011/X014) checks do not apply; the capability checks (X010) ran",
            locations=[probe.where()], data={"machine": probe.machine}))
        return findings
    findings += supported_cpuid_findings(probe)
    findings += vcpu_state_findings(probe)
    for run in probe.runs:
        findings += run_findings(probe, run)
    return findings


def _note(probe: Probe, text: str) -> Finding:
    return Finding("X015", text, locations=[probe.where()], data={"note": text})


# --------------------------------------------------------------------------------------------
# X010: capabilities against the ioctls they advertise

def cap_value(probe: Probe, cap: str, cls: str) -> Answer | None:
    """KVM_CHECK_EXTENSION(cap) as it applies to ``cls``: the VM fd's answer for VM and vCPU ioctls
    (api.rst: the VM form is authoritative), /dev/kvm's otherwise."""
    if cls != "dev":
        vm = probe.cap(cap, "vm")
        if vm is not None and vm.ok:
            return vm
    return probe.cap(cap, "dev")


def capability_findings(probe: Probe) -> list[Finding]:
    """X010 (and documented-limit X015) for every answer; HAS/GET of one attribute family on one fd
    that fail the same way are one finding naming both."""
    from hvcheck.kvm.abi import is_x86
    from hvcheck.x86.kvm_ioctls import by_name

    table = by_name()
    x86 = is_x86(probe.machine)
    out: list[Finding] = []
    merged: dict[tuple[str, str, str, object], Finding] = {}
    seen: set[tuple[str, str]] = set()
    for a in probe.answers:
        if a.ioctl == "KVM_RUN" or (a.ioctl, a.fd) == ("KVM_CHECK_EXTENSION", "dev") or (a.ioctl, a.fd) in seen:
            continue
        info = table.get(a.ioctl)
        if info is None or info.classes is None or not (x86 or a.ioctl in GENERIC_IOCTLS):
            continue
        seen.add((a.ioctl, a.fd))  # the first answer per ioctl and class is judged
        finding = _judge(probe, a, info.classes)
        if finding is None:
            continue
        family = a.ioctl.replace("KVM_HAS_", "KVM_GET_")
        key = (finding.rule, a.fd, family, (a.ok, a.errno))
        first = merged.get(key)
        if first is not None:
            first.data["ioctls"].append(a.ioctl)
            first.message = first.message.replace(first.data["ioctls"][0],
                                                  " and ".join(first.data["ioctls"]), 1)
            first.locations.insert(len(first.data["ioctls"]) - 1, probe.where(a))
            continue
        finding.data["ioctls"] = [a.ioctl]
        merged[key] = finding
        out.append(finding)
    return out


def _query(ioctl: str) -> bool:
    """Read-only queries: with the arguments the probe builds, -EINVAL can only mean "no case"."""
    return ioctl.startswith(("KVM_GET_", "KVM_HAS_", "KVM_X86_GET_"))


def _kernel_older(kernel: str, since: str) -> bool:
    from hvcheck.x86.kvm_fd_classes import version_key

    if since == "basic" or since.startswith("~"):
        return False
    have = version_key(kernel.split("-")[0])
    return bool(have) and have < version_key(since)


def _judge(probe: Probe, a: Answer, classes: object) -> Finding | None:
    from hvcheck.x86.kvm_fd_classes import CLASSES as ALL_CLASSES
    from hvcheck.x86.kvm_fd_classes import UNKNOWN_ERRNO, FdClasses

    assert isinstance(classes, FdClasses)
    label = {"dev": "/dev/kvm", "vm": "the VM fd", "vcpu": "the vCPU fd"}[a.fd]
    since = classes.since(a.fd)
    where = probe.where(a)
    accepted = [f"{c if c != 'dev' else '/dev/kvm'} (since {classes.since(c)})" for c in ALL_CLASSES
                if classes.since(c)]
    data = {"ioctl": a.ioctl, "fd_class": a.fd, "ret": a.ret, "errno": a.errno, "kernel": probe.kernel}
    if since is None:
        elsewhere = CAP_ELSEWHERE.get((a.ioctl, a.fd))
        vouch = cap_value(probe, elsewhere, a.fd) if elsewhere else None
        if vouch is not None and vouch.ok and (vouch.ret or 0) > 0:
            if a.ok or a.errno not in DISPATCH_ERRNOS:
                return None  # the capability vouches for it (a kernel newer than the table)
            return Finding(
                "X010", f"{a.ioctl} on {label} failed with -{errno.errorcode.get(a.errno or 0, a.errno)} although "
                        f"KVM_CHECK_EXTENSION({elsewhere}) = {vouch.ret} advertises it there",
                locations=[where, probe.where(vouch)], data={**data, "capability": elsewhere},
                fix="make the capability and the handler agree")
        if a.ok:
            return Finding(
                "X010", f"{a.ioctl} answered ({a.ret}) on {label}, a class upstream x86 KVM never implements "
                        f"it on (it belongs to {', '.join(accepted) or 'no x86 fd'}; unknown requests there return "
                        f"-{UNKNOWN_ERRNO[a.fd]}): a backport put the case in the wrong handler",
                locations=[where], data=data, fix="move the case to the handler of the class the API documents "
                                                  "(compare with upstream: hvcheck backport)")
        return None
    cap = classes.caps.get(a.fd)
    capa = cap_value(probe, cap, a.fd) if cap else None
    advertised = capa is not None and capa.ok and (capa.ret or 0) > 0
    if a.ok:
        if cap and capa is not None and capa.ok and capa.ret == 0 and (a.ioctl, a.fd) in CAP_GATES:
            older = _kernel_older(probe.kernel, since)
            return Finding(
                "X010", f"{a.ioctl} answered ({a.ret}) on {label} although KVM_CHECK_EXTENSION({cap}) = 0"
                        + (f"; upstream has it there only since Linux {since}, and this is {probe.kernel}"
                           if older else "")
                        + ": a backport added the case without its capability, or to the wrong handler (the AMX XSETBV incident: "
                          "the /dev/kvm attribute of dd6e63122018 landed in kvm_arch_vcpu_ioctl)",
                locations=[where, probe.where(capa)], data={**data, "capability": cap, "since": since},
                fix="compare the handler's case list with upstream (hvcheck backport)")
        return None
    if a.errno in HANDLER_ERRNOS or a.errno not in DISPATCH_ERRNOS:
        return None
    if a.errno == EINVAL and not (classes.einval_is_dispatch or _query(a.ioctl)):
        return None  # a setter's -EINVAL is its validator refusing the value (X013 judges those)
    if not cap:
        return None
    if not advertised:
        return None  # not offered, and not answered: consistent
    assert capa is not None
    for limit in DOCUMENTED_LIMITS:
        if (limit.ioctl, limit.fd, limit.errno) == (a.ioctl, a.fd, a.errno) and limit.applies(probe):
            return Finding("X015", f"{a.ioctl} on {label} failed with -{errno.errorcode[a.errno]} although "
                                   f"{cap} = {capa.ret}: {limit.reason}", locations=[where, probe.where(capa)],
                           data={**data, "capability": cap, "documented_limit": limit.reason})
    return Finding(
        "X010", f"{a.ioctl} on {label} failed with -{errno.errorcode.get(a.errno or 0, a.errno)} although "
                f"KVM_CHECK_EXTENSION({cap}) = {capa.ret}: the {CLASS_LABEL[a.fd]} handler advertises the capability but has no "
                f"case for the ioctl (x86 answers -{UNKNOWN_ERRNO[a.fd]} for requests it does not know) — the AMX XSETBV incident: "
                "QEMU's KVM_GET_DEVICE_ATTR(KVM_X86_XCOMP_GUEST_SUPP) failed this way and the guest got 0x202e7",
        locations=[where, probe.where(capa)], data={**data, "capability": cap, "capability_value": capa.ret},
        fix="add the case to the handler the capability describes (compare with upstream: hvcheck backport)")


# --------------------------------------------------------------------------------------------
# X003/X004/X012: the supported CPUID and the supported XCR0

def cpuid_dump(probe: Probe, answer: Answer, entries: list[CpuidEntry], label: str) -> CpuidDump:
    """KVM's entries as a CpuidDump, each leaf citing the answer that carried it."""
    dump = CpuidDump(probe.source or probe.device, label)
    dump.cpus[0] = {(e[0], e[1]): (e[3], e[4], e[5], e[6]) for e in entries}
    if answer.line is not None:
        dump.lines = {(0, e[0], e[1]): answer.line for e in entries}
    return dump


def supported_entries(probe: Probe) -> tuple[Answer, list[CpuidEntry]] | None:
    a = probe.first("KVM_GET_SUPPORTED_CPUID", "dev")
    if a is None or not a.ok or "entries" not in a.out:
        return None
    return a, entries_of(probe.source, a.line, a.out["entries"])


def mask_of(entries: list[CpuidEntry]) -> int | None:
    for e in entries:
        if e[0] == 0xD and e[1] == 0:
            return e[6] << 32 | e[3]
    return None


def host_xcr0(probe: Probe) -> tuple[int | None, str]:
    """KVM's supported XCR0 (kvm_caps.supported_xcr0): the /dev/kvm attribute when it answered,
    else KVM_GET_SUPPORTED_CPUID's leaf 0xD (which hides dynamic features not yet permitted)."""
    attr = probe.first("KVM_GET_DEVICE_ATTR", "dev", attr=0)
    if attr is not None and attr.ok and "value" in attr.out:
        return int(attr.out["value"]), "KVM_X86_XCOMP_GUEST_SUPP"
    sup = supported_entries(probe)
    if sup is not None:
        return mask_of(sup[1]), "KVM_GET_SUPPORTED_CPUID leaf 0xD"
    return None, "unknown"


def supported_cpuid_findings(probe: Probe) -> list[Finding]:
    out: list[Finding] = []
    sup = supported_entries(probe)
    if sup is None:
        a = probe.first("KVM_GET_SUPPORTED_CPUID", "dev")
        why = "was not issued" if a is None else f"failed ({a.result_text()})"
        out.append(Finding("X015", f"KVM_GET_SUPPORTED_CPUID on /dev/kvm {why}: the host's CPUID promise "
                                   "(X003/X004) and the supported-XCR0 comparison (X012) were not checked",
                           locations=[probe.where(a)]))
        return out
    answer, entries = sup
    dump = cpuid_dump(probe, answer, entries, "KVM_GET_SUPPORTED_CPUID")
    for f in cpuid_findings(dump):
        f.message = "KVM_GET_SUPPORTED_CPUID: " + f.message
        out.append(f)
    mask = mask_of(entries)
    attr = probe.first("KVM_GET_DEVICE_ATTR", "dev", attr=0)
    if attr is not None and attr.ok and "value" in attr.out:
        value = int(attr.out["value"])
        viol = xsave.xcr0_violations(value)
        if viol:
            out.append(Finding(
                "X003", f"KVM_X86_XCOMP_GUEST_SUPP = {value:#x} ({xsave.bit_names(value)}) is not a valid XCR0: "
                        + "; ".join(e for _, e in viol) + ". QEMU builds the guest's leaf 0xD from it",
                locations=[probe.where(attr)], data={"xcr0_mask": value, "violations": [r for r, _ in viol]}))
        if mask is not None:
            out += _x012(probe, answer, attr, mask, value)
    else:
        why = "was not issued" if attr is None else f"failed ({attr.result_text()})"
        out.append(Finding("X015", f"KVM_GET_DEVICE_ATTR(KVM_X86_XCOMP_GUEST_SUPP) on /dev/kvm {why}: "
                                   "KVM_GET_SUPPORTED_CPUID's XCR0 mask could not be compared with it (X012)",
                           locations=[probe.where(attr or answer)]))
    return out


# Dynamic XSAVE features (arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM) first): KVM_GET_SUPPORTED_CPUID hides
# XTILEDATA without permission (445ecdf79be0, 5.17) and XTILECFG with it (55cd57b596e8, 6.4).
PERMISSION_FILTERED = (1 << 17) | (1 << 18)


def _x012(probe: Probe, answer: Answer, attr: Answer, mask: int, value: int) -> list[Finding]:
    locs = [probe.where(answer), probe.where(attr)]
    data = {"supported_cpuid_xcr0": mask, "xcomp_guest_supp": value}
    extra = mask & ~value
    if extra:
        return [Finding(
            "X012", f"KVM_GET_SUPPORTED_CPUID's leaf 0xD ({mask:#x}) enumerates {xsave.bit_names(extra)} "
                    f"({extra:#x}), which KVM_X86_XCOMP_GUEST_SUPP ({value:#x}) does not support: a guest given "
                    "this CPUID is refused those components (KVM: guest CPUID ∩ kvm_caps.supported_xcr0) and "
                    "takes #GP writing its CPUID's mask to XCR0",
            locations=locs, data={**data, "cpuid_only": extra}, severity=Severity.ERROR,
            fix="report only components kvm_caps.supported_xcr0 has")]
    hidden = value & ~mask & ~PERMISSION_FILTERED
    if hidden:
        return [Finding(
            "X012", f"KVM_X86_XCOMP_GUEST_SUPP ({value:#x}) supports {xsave.bit_names(hidden)} ({hidden:#x}) that "
                    f"KVM_GET_SUPPORTED_CPUID's leaf 0xD ({mask:#x}) hides; only dynamic features awaiting "
                    "ARCH_REQ_XCOMP_GUEST_PERM (bits 17/18) may differ",
            locations=locs, data={**data, "attribute_only": hidden})]
    return []


# --------------------------------------------------------------------------------------------
# X013/X016: state the vCPU was given

# CPUID bits KVM rewrites at run time (kvm_update_cpuid_runtime): OSXSAVE, MONITOR (MISC_ENABLE),
# APIC (APIC_BASE), the initial APIC ID, OSPKE, and leaf 0xD's sizes for the enabled XCR0/XSS.
RUNTIME_BITS: dict[tuple[int, int, int], int] = {
    (1, 0, 1): 0xFF000000, (1, 0, 2): (1 << 27) | (1 << 3), (1, 0, 3): 1 << 9,
    (7, 0, 2): 1 << 4, (0xD, 0, 1): 0xFFFFFFFF, (0xD, 1, 1): 0xFFFFFFFF,
}
REGS = ("EAX", "EBX", "ECX", "EDX")


def vcpu_state_findings(probe: Probe) -> list[Finding]:
    out: list[Finding] = []
    sup = supported_entries(probe)
    set_sup = probe.first("KVM_SET_CPUID2", "vcpu", cpuid="KVM_GET_SUPPORTED_CPUID")
    if sup is not None and set_sup is not None and not set_sup.ok:
        out.append(Finding(
            "X013", f"KVM_SET_CPUID2 with the host's own KVM_GET_SUPPORTED_CPUID failed ({set_sup.result_text()}): "
                    "KVM refuses the CPUID it reports as supported",
            locations=[probe.where(set_sup), probe.where(sup[0])], data={"errno": set_sup.errno}))
    out += _xcrs_round_trip(probe)
    out += _cpuid_round_trips(probe)
    out += guest_cpuid_findings(probe)
    return out


def guest_cpuid_findings(probe: Probe) -> list[Finding]:
    """X003-X005 on a CPUID the user gave the micro-guest (``--cpuid``), against the host's promise."""
    out: list[Finding] = []
    sup = supported_entries(probe)
    host = cpuid_dump(probe, sup[0], sup[1], "KVM_GET_SUPPORTED_CPUID") if sup is not None else None
    for s in probe.find("KVM_SET_CPUID2", "vcpu"):
        if "entries" not in s.arg:
            continue
        label = str(s.arg.get("cpuid", "guest CPUID"))
        dump = cpuid_dump(probe, s, entries_of(probe.source, s.line, s.arg["entries"]), label)
        for f in cpuid_findings(dump, host):
            f.message = f"guest CPUID {label}: " + f.message
            out.append(f)
    return out


def _xcrs_round_trip(probe: Probe) -> list[Finding]:
    sup = supported_entries(probe)
    mask = mask_of(sup[1]) if sup is not None else None
    if mask is None:
        return []
    set_a = probe.first("KVM_SET_XCRS", "vcpu", xcr0=mask)
    if set_a is None:
        return []
    viol = xsave.xcr0_violations(mask)
    locs = [probe.where(set_a)]
    if set_a.ok and viol:
        return [Finding(
            "X011", f"KVM_SET_XCRS accepted XCR0 {mask:#x}, which breaks " + "; ".join(e for _, e in viol)
                    + ": KVM's __kvm_set_xcr() should refuse it (the XSETBV rules are enforced for KVM_SET_XCRS too)",
            locations=locs, data={"xcr0": mask, "violations": [r for r, _ in viol], "step": "KVM_SET_XCRS"})]
    if not set_a.ok:
        because = ("as X003 predicts: the mask itself is invalid (" + "; ".join(r for r, _ in viol) + ")"
                   if viol else "although the mask obeys every XCR0 rule")
        return [Finding(
            "X013", f"KVM_SET_XCRS with the host's own supported XCR0 {mask:#x} failed ({set_a.result_text()}), "
                    f"{because}: a guest whose kernel enables what CPUID enumerates cannot be restored or "
                    "migrated, and XSETBV of the same value in the guest takes #GP",
            locations=locs + [probe.where(sup[0])] if sup else locs,
            data={"xcr0": mask, "errno": set_a.errno, "violations": [r for r, _ in viol]})]
    after = [a for a in probe.find("KVM_GET_XCRS", "vcpu") if a.n > set_a.n]
    if after and after[0].ok:
        got = after[0].out.get("xcrs", {}).get("0")
        if got is not None and int(got) != mask:
            return [Finding(
                "X013", f"KVM_SET_XCRS set XCR0 {mask:#x} but KVM_GET_XCRS reads back {int(got):#x}: the vCPU loses "
                        "XCR0 state (a migrated guest would resume with other components enabled)",
                locations=[probe.where(set_a), probe.where(after[0])], data={"xcr0": mask, "read_back": int(got)})]
    return []


def _cpuid_round_trips(probe: Probe) -> list[Finding]:
    out: list[Finding] = []
    sets = [a for a in probe.find("KVM_SET_CPUID2", "vcpu") if a.ok]
    sup = supported_entries(probe)
    for s in sets:
        given = _given_entries(probe, s, sup)
        got = effective_cpuid(probe, s)
        if given is None or got is None:
            continue
        diffs = cpuid_differences(given, got[1])
        if diffs:
            shown = "; ".join(diffs[:6]) + (f"; and {len(diffs) - 6} more" if len(diffs) > 6 else "")
            out.append(Finding(
                "X016", f"the vCPU's CPUID (KVM_GET_CPUID2) is not the one KVM_SET_CPUID2 gave it "
                        f"({s.arg.get('cpuid')}): {shown}. The guest sees these values, not its VMM's choice "
                        "(feature masking for migration does not hold), and KVM enforces XCR0 against them",
                locations=[probe.where(s), probe.where(got[0])], data={"cpuid": s.arg.get("cpuid"),
                                                                     "differences": diffs}))
    return out


def _given_entries(probe: Probe, s: Answer, sup: tuple[Answer, list[CpuidEntry]] | None) -> list[CpuidEntry] | None:
    if "entries" in s.arg:
        return entries_of(probe.source, s.line, s.arg["entries"])
    if s.arg.get("cpuid") == "KVM_GET_SUPPORTED_CPUID" and sup is not None:
        return sup[1]
    return None


def effective_cpuid(probe: Probe, set_answer: Answer) -> tuple[Answer, list[CpuidEntry]] | None:
    """The KVM_GET_CPUID2 answer that follows a KVM_SET_CPUID2 on the same vCPU (the next one)."""
    later = [a for a in probe.find("KVM_GET_CPUID2", "vcpu") if a.n > set_answer.n]
    if not later or not later[0].ok or "entries" not in later[0].out:
        return None
    return later[0], entries_of(probe.source, later[0].line, later[0].out["entries"])


def cpuid_differences(given: list[CpuidEntry], got: list[CpuidEntry]) -> list[str]:
    from hvcheck.x86.cpuid_features import FEATURE_WORDS, leaf_name

    have = {(e[0], e[1]): e[3:] for e in got}
    out: list[str] = []
    for e in given:
        leaf, sub = e[0], e[1]
        regs = have.get((leaf, sub))
        if regs is None:
            out.append(f"CPUID.({leaf:#x},{sub}) is missing")
            continue
        for i in range(4):
            mask = ~RUNTIME_BITS.get((leaf, sub, i), 0) & 0xFFFFFFFF
            a, b = e[3 + i] & mask, regs[i] & mask
            if a == b:
                continue
            word = (leaf, sub, REGS[i].lower())
            if word in FEATURE_WORDS:
                gained = [leaf_name(leaf, sub, REGS[i].lower(), bit).split(" ", 1)[-1]
                          for bit in range(32) if b >> bit & 1 and not a >> bit & 1]
                lost = [leaf_name(leaf, sub, REGS[i].lower(), bit).split(" ", 1)[-1]
                        for bit in range(32) if a >> bit & 1 and not b >> bit & 1]
                what = ", ".join(p for p in (("gains " + " ".join(gained)) if gained else "",
                                             ("loses " + " ".join(lost)) if lost else "") if p)
                out.append(f"{leaf_name(leaf, sub, REGS[i].lower())} {e[3 + i]:#x} -> {regs[i]:#x} ({what})")
            else:
                out.append(f"CPUID.({leaf:#x},{sub}).{REGS[i]} {e[3 + i]:#x} -> {regs[i]:#x}")
    return out


# --------------------------------------------------------------------------------------------
# X011/X014: the micro-guest against the prediction

@dataclass
class Prediction:
    xsave: bool                  # the vCPU's effective CPUID.1:ECX.XSAVE
    guest_mask: int | None       # the vCPU's effective CPUID.(0DH,0):EDX:EAX
    host_mask: int | None        # kvm_caps.supported_xcr0 (or the supported CPUID's mask)
    allowed: int                 # what KVM lets this guest enable: guest ∩ host, plus x87
    violations: list[tuple[str, str]]
    unsupported: int             # bits outside ``allowed`` that X001 does not already name

    @property
    def cr4(self) -> str:
        return "ok" if self.xsave else "#GP(0)"

    @property
    def xsetbv(self) -> str:
        return "#GP(0)" if self.violations or self.unsupported else "accepted"

    def isolated(self) -> bool:
        """True when the guest may enable every component the value names, so a #GP can only come
        from the X001 rules, not from enumeration (X002)."""
        return not self.unsupported


def predict(value: int, xsave_flag: bool, guest_mask: int | None, host_mask: int | None) -> Prediction:
    """What the SDM rules (X001) and the vCPU's enumeration (X002, against guest CPUID ∩ KVM's
    supported XCR0, as KVM's __kvm_set_xcr() computes guest_supported_xcr0) say XSETBV does."""
    allowed = (guest_mask or 0) & (host_mask if host_mask is not None else xsave.U64) | 1
    viol = xsave.xcr0_violations(value)
    unsupported = value & ~allowed & ~xsave.SUPERVISOR_MASK & ~xsave.RESERVED_MASK
    return Prediction(xsave_flag, guest_mask, host_mask, allowed, viol, unsupported)


def run_prediction(probe: Probe, run: XsetbvRun) -> Prediction:
    eff = _run_effective(probe, run)
    mask, flag = (mask_of(eff), _xsave_of(eff)) if eff is not None else (run.cpuid_xcr0, run.cpuid_xsave)
    return predict(run.value, flag, mask, host_xcr0(probe)[0])


def _xsave_of(entries: list[CpuidEntry]) -> bool:
    return any(e[0] == 1 and e[1] == 0 and e[5] >> 26 & 1 for e in entries)


def _run_effective(probe: Probe, run: XsetbvRun) -> list[CpuidEntry] | None:
    """The vCPU's CPUID as KVM_GET_CPUID2 reported it after the CPUID this run used was set."""
    for s in probe.find("KVM_SET_CPUID2", "vcpu", cpuid=run.cpuid):
        got = effective_cpuid(probe, s)
        if got is not None:
            return got[1]
    return None


def run_findings(probe: Probe, run: XsetbvRun) -> list[Finding]:
    pred = run_prediction(probe, run)
    where = probe.where(run=run)
    verdict = run.verdict()
    data = {"xcr0": run.value, "vcpu": verdict, "predicted": pred.xsetbv, "guest_cpuid": run.cpuid,
            "guest_xcr0_mask": pred.guest_mask, "host_xcr0": pred.host_mask, "at": run.at, "rip": run.rip}
    if run.outcome == "error":
        limited = bool(probe.under_hypervisor) or "kvm_pvm" in probe.modules
        return [Finding("X015", f"the micro-guest for XSETBV({run.value:#x}) did not finish: {run.detail}"
                                + ("; this host runs KVM nested or as PVM, whose instruction emulator may not "
                                   "support every step" if limited else ""),
                        locations=[where], data=data)]
    out: list[Finding] = []
    cr4_faulted = run.outcome == "exception" and run.at == "mov cr4"
    if pred.xsave and cr4_faulted:
        out.append(Finding("X014", f"the vCPU refused CR4.OSXSAVE ({verdict} at mov cr4) although its CPUID "
                                   "enumerates XSAVE: no guest can enable XSAVE on it",
                           locations=[where], data=data, severity=Severity.ERROR))
        return out
    if not pred.xsave and not cr4_faulted:
        out.append(Finding("X014", "the vCPU accepted CR4.OSXSAVE although its CPUID.1:ECX[26] XSAVE is clear "
                                   "(SDM: CR4.OSXSAVE is reserved then, MOV to CR4 #GP; KVM: __cr4_reserved_bits)",
                           locations=[where], data=data))
    if cr4_faulted:
        return out  # XSETBV was never reached (and the CPUID said so)
    observed = "accepted" if run.outcome == "accepted" else verdict
    if (observed == "accepted") != (pred.xsetbv == "accepted"):
        why = ("; ".join(e for _, e in pred.violations) if pred.violations else
               f"bit(s) {xsave.bit_names(pred.unsupported)} are not enabled for this guest "
               f"(CPUID {pred.guest_mask or 0:#x} ∩ KVM {pred.host_mask if pred.host_mask is not None else 0:#x})"
               if pred.unsupported else "the value obeys every rule and the vCPU enumerates all its components")
        out.append(Finding(
            "X011", f"XSETBV({run.value:#x}) in a real vCPU → {observed}, but the XCR0 rules predict {pred.xsetbv}: "
                    f"{why}. Either the rules or this KVM is wrong",
            locations=[where], data=data))
    if pred.violations or pred.unsupported:
        proven = (f" — in a real vCPU: XSETBV({run.value:#x}) → {verdict}"
                  + (f" at the {run.at} (guest EIP {run.rip:#x})" if run.at and run.rip is not None else ""))
        not_isolated = ""
        if pred.violations and not pred.isolated():
            not_isolated = (f"; this vCPU does not enable {xsave.bit_names(pred.unsupported)} at all, so here "
                            "the #GP does not isolate the rule")
        enumerated = pred.guest_mask if pred.guest_mask is not None else pred.allowed
        for f in xsave.xcr0_findings(run.value, enumerated, where):
            f.message += proven + (not_isolated if f.rule == "X001" else " (the vCPU's CPUID as KVM_GET_CPUID2 "
                                                                          "reports it)")
            f.data.update({"vcpu": verdict, "predicted": pred.xsetbv})
            out.append(f)
        if pred.unsupported and not any(f.rule == "X002" for f in out):
            for f in xsave.xcr0_findings(run.value, pred.allowed, where):
                if f.rule == "X002":
                    f.message += proven + " (the bits are in the guest CPUID but not in KVM's supported XCR0)"
                    f.data.update({"vcpu": verdict, "predicted": pred.xsetbv})
                    out.append(f)
    return out
