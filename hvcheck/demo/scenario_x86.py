"""Seed 000: a KVM guest panics in fpu__init_cpu_xstate on XSETBV with XCR0 = 0x202e7.

The chain, one hvcheck command per link (bundled files under examples/x86/, written by us in the
formats the real tools print):
1. the guest's CPUID (`cpuid -r` inside the guest) enumerates 0x202e7 in leaf 0xD -> X003 (+ X004:
   AMX-TILE is advertised without XTILEDATA);
2. the value the guest kernel wrote to XCR0 -> X001 (AMX pair), nearest valid 0x602e7 / 0x2e7;
3. QEMU's KVM_GET_DEVICE_ATTR on /dev/kvm fails with -EINVAL although KVM_CAP_SYS_ATTRIBUTES = 1
   (strace) -> X010: the host kernel's /dev/kvm handler lacks the case;
4. the seed's bpftrace on kvm_arch_vcpu_ioctl on the 5.10 host sees 0x4018AEE2 there -> X010: the
   backport put the case in the vCPU handler.
"""

from __future__ import annotations

from hvcheck.demo import EXAMPLES, DemoStep
from hvcheck.findings import Finding, Location

SEED = "000"
ORDER = 10  # position within the seed: problem, then diagnosis detail, then fix
TITLE = "guest #GP on XSETBV 0x202e7: invalid CPUID leaf 0xD from a misplaced KVM_GET_DEVICE_ATTR backport"
DIR = EXAMPLES / "x86"
GUEST = DIR / "guest-cpuid-202e7.txt"
STRACE = DIR / "strace-qemu-dev-kvm.txt"
BPFTRACE = DIR / "bpftrace-vcpu-ioctl.txt"


def _cpuid() -> list[Finding]:
    from hvcheck.x86.cpuid_model import cpuid_findings, read_cpuid_dump

    return cpuid_findings(read_cpuid_dump(str(GUEST)))


def _xcr0() -> list[Finding]:
    from hvcheck.x86.xsave import xcr0_findings

    return xcr0_findings(0x202E7, source=Location(detail="XSETBV EDX:EAX at fpu__init_cpu_xstate+0x63 (the AMX XSETBV panic)"))


def _xcr0_table() -> str:
    from hvcheck.x86.xsave import bit_names, component_table

    return f"XCR0 0x202e7 = {bit_names(0x202E7)}\n{component_table(0x202E7)}"


def _trace(path) -> list[Finding]:
    from hvcheck.x86.ioctl_trace import analyse_trace, read_trace

    return analyse_trace(read_trace(str(path)))


def steps() -> list[DemoStep]:
    rel = "hvcheck/demo/examples/x86/"
    return [
        DemoStep(f"hvcheck cpuid {rel}{GUEST.name}", _cpuid, {"X003", "X004"},
                 "The guest's CPUID leaf 0xD advertises XTILECFG without XTILEDATA; the guest kernel will "
                 "write that mask to XCR0."),
        DemoStep("hvcheck xcr0 0x202e7", _xcr0, {"X001"},
                 "The value XSETBV was given in the panic (EDX:EAX = 0:0x202e7).", preamble=_xcr0_table),
        DemoStep(f"hvcheck ioctl --trace {rel}{STRACE.name}", lambda: _trace(STRACE), {"X010"},
                 "Why leaf 0xD was wrong: QEMU's KVM_GET_DEVICE_ATTR(KVM_X86_XCOMP_GUEST_SUPP) on /dev/kvm fails "
                 "although the capability is advertised, so QEMU fell back to KVM_GET_SUPPORTED_CPUID (0x202e7)."),
        DemoStep(f"hvcheck ioctl --trace {rel}{BPFTRACE.name}", lambda: _trace(BPFTRACE), {"X010"},
                 "Where the case went: 0x4018AEE2 arrives at kvm_arch_vcpu_ioctl on the 5.10 host."),
    ]
