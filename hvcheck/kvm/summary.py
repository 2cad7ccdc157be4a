"""The report around the findings: who the host is, what it promised, and the XSETBV proof table
(text lines for the preamble, and the same facts as JSON for ``--format json``)."""

from __future__ import annotations

from typing import Any

from hvcheck.kvm.checks import (
    capability_findings,
    host_xcr0,
    mask_of,
    run_prediction,
    supported_entries,
)
from hvcheck.kvm.record import Probe, XsetbvRun, entries_of
from hvcheck.x86 import xsave


def _mask_text(mask: int | None) -> str:
    return "none" if mask is None else f"{mask:#x} ({xsave.bit_names(mask)})"


def emulated_features(probe: Probe) -> list[str]:
    """The feature bits KVM_GET_EMULATED_CPUID offers (emulated in software, never mixed into the
    supported CPUID checks)."""
    from hvcheck.x86.cpuid_features import FEATURE_WORDS, leaf_name

    a = probe.first("KVM_GET_EMULATED_CPUID", "dev")
    if a is None or not a.ok or "entries" not in a.out:
        return []
    out = []
    for e in entries_of(probe.source, a.line, a.out["entries"]):
        for i, reg in enumerate(("eax", "ebx", "ecx", "edx")):
            if (e[0], e[1], reg) not in FEATURE_WORDS:
                continue
            out += [leaf_name(e[0], e[1], reg, b) for b in range(32) if e[3 + i] >> b & 1]
    return out


def run_line(probe: Probe, run: XsetbvRun) -> str:
    pred = run_prediction(probe, run)
    got = run.verdict()
    if run.outcome == "exception" and run.at:
        got += f" at {run.at}" + (f" (EIP {run.rip:#x})" if run.rip is not None else "")
    elif run.outcome == "accepted" and run.xcr0_after is not None:
        got += f", XCR0 now {run.xcr0_after:#x}"
    if run.outcome == "error":
        agree = "not run to the end"
    elif run.at == "mov cr4":
        agree = "XSETBV not reached"
    else:
        agree = "agrees" if (run.outcome == "accepted") == (pred.xsetbv == "accepted") else "DISAGREES (X011)"
    isolated = ""
    if pred.violations and not pred.isolated():
        isolated = f"; rule not isolated: this vCPU does not enable {xsave.bit_names(pred.unsupported)}"
    return (f"  XSETBV({run.value:#x}) → {got}; predicted {pred.xsetbv}: {agree} "
            f"[guest CPUID: {run.cpuid}; leaf 0xD as the vCPU sees it {_mask_text(pred.guest_mask)}{isolated}]")


def text_lines(probe: Probe) -> list[str]:
    origin = f"replayed from {probe.source}" if probe.source else "live"
    host = [f"KVM host ({origin}): {probe.device}, Linux {probe.kernel}, {probe.machine}"
            + (f"; modules {', '.join(probe.modules)}" if probe.modules else "")
            + ("; this host itself runs under a hypervisor" if probe.under_hypervisor else "")]
    api = probe.first("KVM_GET_API_VERSION", "dev")
    caps = probe.find("KVM_CHECK_EXTENSION", "dev")
    yes = sum(1 for c in caps if c.ok and (c.ret or 0) > 0)
    host.append(f"API version {api.ret if api is not None else '?'}; {yes} of {len(caps)} capabilities advertised "
                f"on /dev/kvm; {len(probe.answers)} answers recorded"
                + (f"; request numbers from {probe.table}" if probe.table else ""))
    sup = supported_entries(probe)
    if sup is not None:
        value, source = host_xcr0(probe)
        line = f"supported XCR0: KVM_GET_SUPPORTED_CPUID leaf 0xD {_mask_text(mask_of(sup[1]))}"
        if source == "KVM_X86_XCOMP_GUEST_SUPP":
            line += f"; KVM_X86_XCOMP_GUEST_SUPP {_mask_text(value)}"
        host.append(line)
    emulated = emulated_features(probe)
    if emulated:
        host.append("emulated CPUID (KVM_GET_EMULATED_CPUID; reported, not part of the checks): "
                    + ", ".join(emulated))
    ioctls = [a for a in probe.answers if a.ioctl not in ("KVM_CHECK_EXTENSION", "KVM_RUN")]
    answered = sum(1 for a in ioctls if a.ok)
    x010 = sum(1 for f in capability_findings(probe) if f.rule == "X010")
    host.append(f"capability ↔ ioctl: {len(ioctls)} other ioctls issued, {answered} answered, "
                f"{len(ioctls) - answered} refused; {x010} inconsistent with the capabilities or fd classes (X010)")
    xcrs = probe.find("KVM_SET_XCRS", "vcpu")
    if sup is not None and xcrs:
        mask = mask_of(sup[1])
        first = next((a for a in xcrs if a.arg.get("xcr0") == mask), None)
        if first is not None:
            back = [a for a in probe.find("KVM_GET_XCRS", "vcpu") if a.n > first.n]
            read = back[0].out.get("xcrs", {}).get("0") if back and back[0].ok else None
            host.append(f"vCPU: KVM_SET_XCRS(XCR0 {mask:#x}) {first.result_text()}"
                        + (f", KVM_GET_XCRS reads back {int(read):#x}" if read is not None and first.ok else ""))
    if probe.runs:
        host.append("XSETBV in a real vCPU (flat 32-bit protected mode through the KVM API; no QEMU, no kernel):")
        host += [run_line(probe, r) for r in probe.runs]
    return host


def json_facts(probe: Probe) -> dict[str, Any]:
    sup = supported_entries(probe)
    value, source = host_xcr0(probe)
    runs = []
    for r in probe.runs:
        pred = run_prediction(probe, r)
        runs.append({"xcr0": r.value, "vcpu": r.verdict(), "at": r.at, "rip": r.rip, "xcr0_after": r.xcr0_after,
                     "predicted": pred.xsetbv, "guest_cpuid": r.cpuid, "guest_xcr0_mask": pred.guest_mask,
                     "rule_isolated": pred.isolated() if pred.violations else None, "exits": r.exits, "detail": r.detail})
    return {"device": probe.device, "kernel": probe.kernel, "machine": probe.machine, "modules": probe.modules,
            "under_hypervisor": probe.under_hypervisor, "replayed_from": probe.source,
            "answers": len(probe.answers),
            "supported_cpuid_xcr0": mask_of(sup[1]) if sup is not None else None,
            "host_xcr0": value, "host_xcr0_source": source, "emulated_cpuid": emulated_features(probe),
            "xsetbv_runs": runs}
