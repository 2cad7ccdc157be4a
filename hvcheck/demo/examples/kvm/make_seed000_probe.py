"""Regenerate seed000-uos-5.10-probe.json: what `hvcheck kvm --save` would have recorded on the
seed-000 host. A reconstruction, not a capture — nobody ran hvcheck there. Each answer's evidence:

* kernel 5.10.0-46.31.uelc20.x86_64, Intel (SPR-class, AMX) host: the seed write-up (`uosinfo`) [V];
* KVM_CHECK_EXTENSION: an x86 5.10 host's capabilities (those a 6.x x86 host advertises with a
  number <= 190, the last one 5.10 knows), plus the two the Anolis AMX/attribute backports added:
  KVM_CAP_SYS_ATTRIBUTES = 1 (the check-extension hunk landed correctly — consistent with QEMU
  reaching the ioctl [H]) and KVM_CAP_XSAVE2 = 11008 (XSAVE area with AMX tiles [H]);
  KVM_CAP_VCPU_ATTRIBUTES = 0 (the 5.16 vCPU attributes were not backported [H]);
* KVM_GET_SUPPORTED_CPUID = the seed guest's CPUID (examples/x86/guest-cpuid-202e7.txt, which QEMU
  copied from it with `-cpu host`) minus the guest-only runtime bits; leaf 0xD = 0x202e7 because
  the kernel lacks 55cd57b596e8 and AMX permission was never requested [V code, H for this kernel];
* KVM_HAS/GET_DEVICE_ATTR(group 0, KVM_X86_XCOMP_GUEST_SUPP) on /dev/kvm = -EINVAL: the case is
  missing from kvm_arch_dev_ioctl() [V: the seed's bpftrace and the fix];
* the same on the vCPU fd answers 0 with 0x602e7: the backport put the case in kvm_arch_vcpu_ioctl()
  [V: the seed's diff; the value is kvm_caps.supported_xcr0 of an SPR host [H]];
* KVM_SET_XCRS(XCR0 0x202e7) = -EINVAL: __kvm_set_xcr() of a kernel with the AMX XCR0 support
  (86aff7a47992) refuses half the AMX pair — the same check that made the guest's XSETBV #GP [V code].

No XSETBV run is included: the proof in a real vCPU is run live by the demo where /dev/kvm exists.
Run: python3 make_seed000_probe.py
"""

from __future__ import annotations

import errno
from pathlib import Path

from hvcheck.kvm.abi import capability_names
from hvcheck.kvm.probe import entries_from_leaves
from hvcheck.kvm.record import Answer, Probe
from hvcheck.x86.cpuid_model import read_cpuid_dump

HERE = Path(__file__).resolve().parent
GUEST = HERE.parent / "x86" / "guest-cpuid-202e7.txt"
OUT = HERE / "seed000-uos-5.10-probe.json"

CAPS_5_10 = {
    "KVM_CAP_IRQCHIP": 1, "KVM_CAP_HLT": 1, "KVM_CAP_MMU_SHADOW_CACHE_CONTROL": 1, "KVM_CAP_USER_MEMORY": 1,
    "KVM_CAP_SET_TSS_ADDR": 1, "KVM_CAP_VAPIC": 1, "KVM_CAP_EXT_CPUID": 1, "KVM_CAP_CLOCKSOURCE": 1,
    "KVM_CAP_NR_VCPUS": 240, "KVM_CAP_NR_MEMSLOTS": 32764, "KVM_CAP_PIT": 1, "KVM_CAP_NOP_IO_DELAY": 1,
    "KVM_CAP_MP_STATE": 1, "KVM_CAP_COALESCED_MMIO": 2, "KVM_CAP_SYNC_MMU": 1,
    "KVM_CAP_DESTROY_MEMORY_REGION_WORKS": 1, "KVM_CAP_USER_NMI": 1, "KVM_CAP_SET_GUEST_DEBUG": 1,
    "KVM_CAP_REINJECT_CONTROL": 1, "KVM_CAP_IRQ_ROUTING": 4096, "KVM_CAP_IRQ_INJECT_STATUS": 1,
    "KVM_CAP_JOIN_MEMORY_REGIONS_WORKS": 1, "KVM_CAP_MCE": 32, "KVM_CAP_IRQFD": 1, "KVM_CAP_PIT2": 1,
    "KVM_CAP_SET_BOOT_CPU_ID": 1, "KVM_CAP_PIT_STATE2": 1, "KVM_CAP_IOEVENTFD": 1,
    "KVM_CAP_SET_IDENTITY_MAP_ADDR": 1, "KVM_CAP_ADJUST_CLOCK": 2, "KVM_CAP_INTERNAL_ERROR_DATA": 1,
    "KVM_CAP_VCPU_EVENTS": 1, "KVM_CAP_PCI_SEGMENT": 1, "KVM_CAP_DEBUGREGS": 1,
    "KVM_CAP_X86_ROBUST_SINGLESTEP": 1, "KVM_CAP_ENABLE_CAP": 1, "KVM_CAP_XSAVE": 1, "KVM_CAP_XCRS": 1,
    "KVM_CAP_ASYNC_PF": 1, "KVM_CAP_GET_TSC_KHZ": 1, "KVM_CAP_TSC_CONTROL": 1, "KVM_CAP_MAX_VCPUS": 1024,
    "KVM_CAP_ONE_REG": 1, "KVM_CAP_TSC_DEADLINE_TIMER": 1, "KVM_CAP_SYNC_REGS": 7, "KVM_CAP_KVMCLOCK_CTRL": 1,
    "KVM_CAP_SIGNAL_MSI": 1, "KVM_CAP_READONLY_MEM": 1, "KVM_CAP_IRQFD_RESAMPLE": 1, "KVM_CAP_DEVICE_CTRL": 1,
    "KVM_CAP_EXT_EMUL_CPUID": 1, "KVM_CAP_IOAPIC_POLARITY_IGNORED": 1, "KVM_CAP_ENABLE_CAP_VM": 1,
    "KVM_CAP_IOEVENTFD_NO_LENGTH": 1, "KVM_CAP_CHECK_EXTENSION_VM": 1, "KVM_CAP_DISABLE_QUIRKS": 1,
    "KVM_CAP_SPLIT_IRQCHIP": 1, "KVM_CAP_IOEVENTFD_ANY_LENGTH": 1, "KVM_CAP_HYPERV_CPUID": 1,
    "KVM_CAP_MAX_VCPU_ID": 1023, "KVM_CAP_X2APIC_API": 3, "KVM_CAP_IMMEDIATE_EXIT": 1,
    "KVM_CAP_X86_DISABLE_EXITS": 15, "KVM_CAP_GET_MSR_FEATURES": 1, "KVM_CAP_MSR_PLATFORM_INFO": 1,
    "KVM_CAP_NESTED_STATE": 8192, "KVM_CAP_COALESCED_PIO": 1, "KVM_CAP_EXCEPTION_PAYLOAD": 1,
    "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2": 3, "KVM_CAP_PMU_EVENT_FILTER": 1, "KVM_CAP_HALT_POLL": 1,
    "KVM_CAP_ASYNC_PF_INT": 1, "KVM_CAP_LAST_CPU": 1, "KVM_CAP_SMALLER_MAXPHYADDR": 1, "KVM_CAP_STEAL_TIME": 1,
    "KVM_CAP_X86_USER_SPACE_MSR": 1, "KVM_CAP_X86_MSR_FILTER": 1, "KVM_CAP_ENFORCE_PV_FEATURE_CPUID": 1,
    # the Anolis backports of the AMX series and of dd6e63122018
    "KVM_CAP_SYS_ATTRIBUTES": 1, "KVM_CAP_XSAVE2": 11008,
}
RUNTIME = {(1, 0): (0, 0xFF000000, 1 << 27, 0)}  # leaf 1: initial APIC ID, OSXSAVE belong to the guest


def build() -> Probe:
    probe = Probe(device="/dev/kvm", kernel="5.10.0-46.31.uelc20.x86_64", machine="x86_64",
                  modules=["kvm", "kvm_intel"], under_hypervisor=False,
                  recorded_by="reconstruction of the seed-000 host (hvcheck/demo/examples/kvm/"
                              "make_seed000_probe.py; evidence per answer in its docstring), not a capture",
                  table="<linux/kvm.h> 6.1.187 (linux-libc-dev 6.1.187-1, x86_64)")

    def add(fd: str, ioctl: str, ret: int | None, err: int | None = None, **kw: object) -> None:
        arg = kw.pop("arg", {})
        out = kw.pop("out", {})
        assert isinstance(arg, dict) and isinstance(out, dict)
        probe.answers.append(Answer(len(probe.answers), fd, ioctl, ret, err, arg, out))

    add("dev", "KVM_GET_API_VERSION", 12)
    for name in capability_names():
        add("dev", "KVM_CHECK_EXTENSION", CAPS_5_10.get(name, 0), arg={"cap": name})
    add("dev", "KVM_GET_VCPU_MMAP_SIZE", 12288)
    leaves = dict(read_cpuid_dump(GUEST).leaves())
    for key, masks in RUNTIME.items():
        leaves[key] = tuple(r & ~m for r, m in zip(leaves[key], masks, strict=True))  # type: ignore[assignment]
    supported = entries_from_leaves(leaves)
    add("dev", "KVM_GET_SUPPORTED_CPUID", 0, arg={"nent": 256}, out={"entries": [list(e) for e in supported]})
    attr = {"group": 0, "attr": 0, "attr_name": "KVM_X86_XCOMP_GUEST_SUPP"}
    add("dev", "KVM_HAS_DEVICE_ATTR", None, errno.EINVAL, arg=attr)
    add("dev", "KVM_GET_DEVICE_ATTR", None, errno.EINVAL, arg=attr)
    add("dev", "KVM_CREATE_VM", 4)
    add("vm", "KVM_HAS_DEVICE_ATTR", None, errno.ENOTTY, arg=attr)
    add("vm", "KVM_GET_DEVICE_ATTR", None, errno.ENOTTY, arg=attr)
    add("vm", "KVM_SET_USER_MEMORY_REGION", 0, arg={"slot": 0, "gpa": 0, "size": 65536})
    add("vm", "KVM_CREATE_VCPU", 5, arg={"id": 0})
    add("vcpu", "KVM_SET_CPUID2", 0, arg={"cpuid": "KVM_GET_SUPPORTED_CPUID", "nent": len(supported)})
    add("vcpu", "KVM_GET_CPUID2", 0, arg={"nent": 256}, out={"entries": [list(e) for e in supported]})
    add("vcpu", "KVM_GET_XCRS", 0, out={"xcrs": {"0": 1}})
    add("vcpu", "KVM_SET_XCRS", None, errno.EINVAL, arg={"xcr0": 0x202E7})
    add("vcpu", "KVM_GET_XCRS", 0, out={"xcrs": {"0": 1}})
    tsc = {"group": 0, "attr": 0, "attr_name": "KVM_VCPU_TSC_OFFSET"}
    add("vcpu", "KVM_HAS_DEVICE_ATTR", 0, arg=tsc)
    add("vcpu", "KVM_GET_DEVICE_ATTR", 0, arg=tsc, out={"value": 0x602E7})
    return probe


if __name__ == "__main__":
    OUT.write_text(build().to_json_text(), encoding="utf-8")
