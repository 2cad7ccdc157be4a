"""Which file-descriptor classes accept each x86 KVM ioctl, and since which upstream kernel.

Hand-written from kernel source reading (reference note kvm-ioctls.md §2-§4: the case lists of
``kvm_arch_dev_ioctl()``, ``kvm_arch_vm_ioctl()``, ``kvm_arch_vcpu_ioctl()`` and the generic
handlers in virt/kvm/kvm_main.c, Documentation/virt/kvm/api.rst). The request *numbers* are not
here: they are generated from <linux/kvm.h> into data/kvm_ioctls.json.

Version strings: "basic" = the stable API (<= 2.6.22); "5.17" = first release; "~4.4" = approximate
(derived from the capability / series, not a tag lookup); None = never on x86 for that class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CLASSES = ("dev", "vm", "vcpu", "device")
CLASS_LABEL = {"dev": "/dev/kvm", "vm": "VM fd", "vcpu": "vCPU fd", "device": "device fd"}
# The arch fallback each class dispatches to: the function a kprobe sees (reference note §5.5).
HANDLERS = {
    "kvm_dev_ioctl": "dev", "kvm_arch_dev_ioctl": "dev",
    "kvm_vm_ioctl": "vm", "kvm_arch_vm_ioctl": "vm", "kvm_vm_compat_ioctl": "vm",
    "kvm_arch_vm_compat_ioctl": "vm",
    "kvm_vcpu_ioctl": "vcpu", "kvm_arch_vcpu_ioctl": "vcpu", "kvm_vcpu_compat_ioctl": "vcpu",
    "kvm_device_ioctl": "device",
}
# x86 return value for a request the class does not implement.
UNKNOWN_ERRNO = {"dev": "EINVAL", "vm": "ENOTTY", "vcpu": "EINVAL", "device": "ENOTTY"}


@dataclass(frozen=True)
class FdClasses:
    dev: str | None = None
    vm: str | None = None
    vcpu: str | None = None
    device: str | None = None
    caps: dict[str, str] = field(default_factory=dict)  # class -> KVM_CAP_* that advertises it
    removed: str | None = None  # upstream release that dropped the ioctl
    note: str = ""
    # -EINVAL from this ioctl can only mean "no such case" (arguments errors are -ENXIO/-EFAULT).
    einval_is_dispatch: bool = False
    approximate: bool = False

    def since(self, cls: str) -> str | None:
        return getattr(self, cls)


def _r(**kw) -> FdClasses:
    kw["approximate"] = any(isinstance(v, str) and v.startswith("~") for v in kw.values())
    return FdClasses(**kw)


ATTR_NOTE = ("/dev/kvm: group 0 attr KVM_X86_XCOMP_GUEST_SUPP (dd6e63122018, 5.17); vCPU fd: group "
             "KVM_VCPU_TSC_CTRL (828ca89628bf, 5.16); never on the x86 VM fd (KVM_CAP_VM_ATTRIBUTES is s390/arm64)")

X86: dict[str, FdClasses] = {
    # System (/dev/kvm)
    "KVM_GET_API_VERSION": _r(dev="basic"),
    "KVM_CREATE_VM": _r(dev="basic"),
    "KVM_GET_MSR_INDEX_LIST": _r(dev="basic"),
    "KVM_CHECK_EXTENSION": _r(dev="basic", vm="3.17", caps={"vm": "KVM_CAP_CHECK_EXTENSION_VM"}),
    "KVM_GET_VCPU_MMAP_SIZE": _r(dev="basic"),
    "KVM_GET_SUPPORTED_CPUID": _r(dev="~2.6.25", caps={"dev": "KVM_CAP_EXT_CPUID"}),
    "KVM_GET_EMULATED_CPUID": _r(dev="~3.13", caps={"dev": "KVM_CAP_EXT_EMUL_CPUID"}),
    "KVM_GET_MSR_FEATURE_INDEX_LIST": _r(dev="~4.17", caps={"dev": "KVM_CAP_GET_MSR_FEATURES"}),
    "KVM_X86_GET_MCE_CAP_SUPPORTED": _r(dev="~2.6.32", caps={"dev": "KVM_CAP_MCE"}),
    "KVM_GET_SUPPORTED_HV_CPUID": _r(dev="5.11", vcpu="~5.0",
                                     caps={"dev": "KVM_CAP_SYS_HYPERV_CPUID", "vcpu": "KVM_CAP_HYPERV_CPUID"}),
    "KVM_GET_MSRS": _r(dev="~4.17", vcpu="basic", caps={"dev": "KVM_CAP_GET_MSR_FEATURES"}),
    "KVM_SET_DEVICE_ATTR": _r(vcpu="5.16", device="~3.10",
                              caps={"vcpu": "KVM_CAP_VCPU_ATTRIBUTES", "device": "KVM_CAP_DEVICE_CTRL"},
                              note="never on /dev/kvm (\"no set\") nor the x86 VM fd", einval_is_dispatch=True),
    "KVM_GET_DEVICE_ATTR": _r(dev="5.17", vcpu="5.16", device="~3.10",
                              caps={"dev": "KVM_CAP_SYS_ATTRIBUTES", "vcpu": "KVM_CAP_VCPU_ATTRIBUTES",
                                    "device": "KVM_CAP_DEVICE_CTRL"}, note=ATTR_NOTE, einval_is_dispatch=True),
    "KVM_HAS_DEVICE_ATTR": _r(dev="5.17", vcpu="5.16", device="~3.10",
                              caps={"dev": "KVM_CAP_SYS_ATTRIBUTES", "vcpu": "KVM_CAP_VCPU_ATTRIBUTES",
                                    "device": "KVM_CAP_DEVICE_CTRL"}, note=ATTR_NOTE, einval_is_dispatch=True),
    # VM fd
    "KVM_CREATE_VCPU": _r(vm="basic"),
    "KVM_GET_DIRTY_LOG": _r(vm="basic"),
    "KVM_SET_MEMORY_REGION": _r(vm="basic", note="deprecated; use KVM_SET_USER_MEMORY_REGION"),
    "KVM_SET_MEMORY_ALIAS": _r(vm="basic", removed="~2.6.36", note="memory aliases were removed"),
    "KVM_SET_NR_MMU_PAGES": _r(vm="basic"),
    "KVM_GET_NR_MMU_PAGES": _r(vm="basic", removed="6.4"),
    "KVM_SET_USER_MEMORY_REGION": _r(vm="basic"),
    "KVM_SET_USER_MEMORY_REGION2": _r(vm="6.8", caps={"vm": "KVM_CAP_USER_MEMORY2"}),
    "KVM_SET_TSS_ADDR": _r(vm="basic"),
    "KVM_SET_IDENTITY_MAP_ADDR": _r(vm="~2.6.32", caps={"vm": "KVM_CAP_SET_IDENTITY_MAP_ADDR"}),
    "KVM_CREATE_IRQCHIP": _r(vm="basic"),
    "KVM_IRQ_LINE": _r(vm="basic"),
    "KVM_GET_IRQCHIP": _r(vm="basic"),
    "KVM_SET_IRQCHIP": _r(vm="basic"),
    "KVM_CREATE_PIT": _r(vm="basic"),
    "KVM_GET_PIT": _r(vm="basic"),
    "KVM_SET_PIT": _r(vm="basic"),
    "KVM_IRQ_LINE_STATUS": _r(vm="~2.6.32", caps={"vm": "KVM_CAP_IRQ_INJECT_STATUS"}),
    "KVM_REGISTER_COALESCED_MMIO": _r(vm="basic", caps={"vm": "KVM_CAP_COALESCED_MMIO"}),
    "KVM_UNREGISTER_COALESCED_MMIO": _r(vm="basic", caps={"vm": "KVM_CAP_COALESCED_MMIO"}),
    "KVM_SET_GSI_ROUTING": _r(vm="~2.6.30", caps={"vm": "KVM_CAP_IRQ_ROUTING"}),
    "KVM_REINJECT_CONTROL": _r(vm="~2.6.27", caps={"vm": "KVM_CAP_REINJECT_CONTROL"}),
    "KVM_IRQFD": _r(vm="~2.6.32", caps={"vm": "KVM_CAP_IRQFD"}),
    "KVM_CREATE_PIT2": _r(vm="~2.6.31", caps={"vm": "KVM_CAP_PIT2"}),
    "KVM_SET_BOOT_CPU_ID": _r(vm="~2.6.31", caps={"vm": "KVM_CAP_SET_BOOT_CPU_ID"}),
    "KVM_IOEVENTFD": _r(vm="~2.6.32", caps={"vm": "KVM_CAP_IOEVENTFD"}),
    "KVM_XEN_HVM_CONFIG": _r(vm="~2.6.33", caps={"vm": "KVM_CAP_XEN_HVM"}),
    "KVM_SET_CLOCK": _r(vm="~2.6.33", caps={"vm": "KVM_CAP_ADJUST_CLOCK"}),
    "KVM_GET_CLOCK": _r(vm="~2.6.33", caps={"vm": "KVM_CAP_ADJUST_CLOCK"}),
    "KVM_GET_PIT2": _r(vm="~2.6.33", caps={"vm": "KVM_CAP_PIT_STATE2"}),
    "KVM_SET_PIT2": _r(vm="~2.6.33", caps={"vm": "KVM_CAP_PIT_STATE2"}),
    "KVM_SIGNAL_MSI": _r(vm="3.5", caps={"vm": "KVM_CAP_SIGNAL_MSI"}),
    "KVM_SET_PMU_EVENT_FILTER": _r(vm="5.3", caps={"vm": "KVM_CAP_PMU_EVENT_FILTER"}),
    "KVM_MEMORY_ENCRYPT_OP": _r(vm="4.16", vcpu="~6.16", note="vCPU form for TDX only"),
    "KVM_MEMORY_ENCRYPT_REG_REGION": _r(vm="4.16"),
    "KVM_MEMORY_ENCRYPT_UNREG_REGION": _r(vm="4.16"),
    "KVM_HYPERV_EVENTFD": _r(vm="4.17", caps={"vm": "KVM_CAP_HYPERV_EVENTFD"}),
    "KVM_CLEAR_DIRTY_LOG": _r(vm="5.0", caps={"vm": "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2"}),
    "KVM_X86_SET_MSR_FILTER": _r(vm="5.10", caps={"vm": "KVM_CAP_X86_MSR_FILTER"}),
    "KVM_RESET_DIRTY_RINGS": _r(vm="5.11", caps={"vm": "KVM_CAP_DIRTY_LOG_RING"}),
    "KVM_XEN_HVM_GET_ATTR": _r(vm="5.12", caps={"vm": "KVM_CAP_XEN_HVM"}),
    "KVM_XEN_HVM_SET_ATTR": _r(vm="5.12", caps={"vm": "KVM_CAP_XEN_HVM"}),
    "KVM_XEN_HVM_EVTCHN_SEND": _r(vm="6.0", caps={"vm": "KVM_CAP_XEN_HVM"}),
    "KVM_GET_STATS_FD": _r(vm="5.14", vcpu="5.14", caps={"vm": "KVM_CAP_BINARY_STATS_FD",
                                                         "vcpu": "KVM_CAP_BINARY_STATS_FD"}),
    "KVM_SET_MEMORY_ATTRIBUTES": _r(vm="6.8", caps={"vm": "KVM_CAP_MEMORY_ATTRIBUTES"}),
    "KVM_CREATE_GUEST_MEMFD": _r(vm="6.8", caps={"vm": "KVM_CAP_GUEST_MEMFD"}),
    "KVM_CREATE_DEVICE": _r(vm="~3.10", caps={"vm": "KVM_CAP_DEVICE_CTRL"}),
    "KVM_ENABLE_CAP": _r(vm="~4.4", vcpu="~4.5", caps={"vm": "KVM_CAP_ENABLE_CAP_VM", "vcpu": "KVM_CAP_ENABLE_CAP"}),
    "KVM_SET_TSC_KHZ": _r(vm="~5.19", vcpu="~2.6.39",
                          caps={"vm": "KVM_CAP_VM_TSC_CONTROL", "vcpu": "KVM_CAP_TSC_CONTROL"}),
    "KVM_GET_TSC_KHZ": _r(vm="~5.19", vcpu="~2.6.39",
                          caps={"vm": "KVM_CAP_VM_TSC_CONTROL", "vcpu": "KVM_CAP_GET_TSC_KHZ"}),
    "KVM_ASSIGN_PCI_DEVICE": _r(vm="~2.6.26", removed="4.12", note="legacy PCI device assignment"),
    "KVM_ASSIGN_DEV_IRQ": _r(vm="~2.6.30", removed="4.12", note="legacy PCI device assignment"),
    "KVM_DEASSIGN_PCI_DEVICE": _r(vm="~2.6.30", removed="4.12", note="legacy PCI device assignment"),
    "KVM_DEASSIGN_DEV_IRQ": _r(vm="~2.6.30", removed="4.12", note="legacy PCI device assignment"),
    "KVM_ASSIGN_SET_MSIX_NR": _r(vm="~2.6.32", removed="4.12", note="legacy PCI device assignment"),
    "KVM_ASSIGN_SET_MSIX_ENTRY": _r(vm="~2.6.32", removed="4.12", note="legacy PCI device assignment"),
    "KVM_ASSIGN_SET_INTX_MASK": _r(vm="~3.4", removed="4.12", note="legacy PCI device assignment"),
    # vCPU fd
    "KVM_RUN": _r(vcpu="basic"),
    "KVM_GET_REGS": _r(vcpu="basic"),
    "KVM_SET_REGS": _r(vcpu="basic"),
    "KVM_GET_SREGS": _r(vcpu="basic"),
    "KVM_SET_SREGS": _r(vcpu="basic"),
    "KVM_TRANSLATE": _r(vcpu="basic"),
    "KVM_INTERRUPT": _r(vcpu="basic"),
    "KVM_SET_MSRS": _r(vcpu="basic"),
    "KVM_SET_CPUID": _r(vcpu="basic"),
    "KVM_SET_SIGNAL_MASK": _r(vcpu="basic"),
    "KVM_GET_FPU": _r(vcpu="basic"),
    "KVM_SET_FPU": _r(vcpu="basic"),
    "KVM_GET_LAPIC": _r(vcpu="basic"),
    "KVM_SET_LAPIC": _r(vcpu="basic"),
    "KVM_SET_CPUID2": _r(vcpu="~2.6.25", caps={"vcpu": "KVM_CAP_EXT_CPUID"}),
    "KVM_GET_CPUID2": _r(vcpu="~2.6.25", caps={"vcpu": "KVM_CAP_EXT_CPUID"}),
    "KVM_TPR_ACCESS_REPORTING": _r(vcpu="~2.6.25", caps={"vcpu": "KVM_CAP_VAPIC"}),
    "KVM_SET_VAPIC_ADDR": _r(vcpu="~2.6.25", caps={"vcpu": "KVM_CAP_VAPIC"}),
    "KVM_GET_MP_STATE": _r(vcpu="~2.6.26", caps={"vcpu": "KVM_CAP_MP_STATE"}),
    "KVM_SET_MP_STATE": _r(vcpu="~2.6.26", caps={"vcpu": "KVM_CAP_MP_STATE"}),
    "KVM_NMI": _r(vcpu="~2.6.27", caps={"vcpu": "KVM_CAP_USER_NMI"}),
    "KVM_SET_GUEST_DEBUG": _r(vcpu="~2.6.29", caps={"vcpu": "KVM_CAP_SET_GUEST_DEBUG"}),
    "KVM_X86_SETUP_MCE": _r(vcpu="~2.6.32", caps={"vcpu": "KVM_CAP_MCE"}),
    "KVM_X86_SET_MCE": _r(vcpu="~2.6.32", caps={"vcpu": "KVM_CAP_MCE"}),
    "KVM_GET_VCPU_EVENTS": _r(vcpu="~2.6.33", caps={"vcpu": "KVM_CAP_VCPU_EVENTS"}),
    "KVM_SET_VCPU_EVENTS": _r(vcpu="~2.6.33", caps={"vcpu": "KVM_CAP_VCPU_EVENTS"}),
    "KVM_GET_DEBUGREGS": _r(vcpu="2.6.35", caps={"vcpu": "KVM_CAP_DEBUGREGS"}),
    "KVM_SET_DEBUGREGS": _r(vcpu="2.6.35", caps={"vcpu": "KVM_CAP_DEBUGREGS"}),
    "KVM_GET_XSAVE": _r(vcpu="2.6.36", caps={"vcpu": "KVM_CAP_XSAVE"}),
    "KVM_SET_XSAVE": _r(vcpu="2.6.36", caps={"vcpu": "KVM_CAP_XSAVE"}),
    "KVM_GET_XCRS": _r(vcpu="2.6.36", caps={"vcpu": "KVM_CAP_XCRS"}),
    "KVM_SET_XCRS": _r(vcpu="2.6.36", caps={"vcpu": "KVM_CAP_XCRS"}),
    "KVM_GET_ONE_REG": _r(vcpu="~6.18", note="x86 support is recent; other architectures since 3.x"),
    "KVM_SET_ONE_REG": _r(vcpu="~6.18", note="x86 support is recent; other architectures since 3.x"),
    "KVM_GET_REG_LIST": _r(vcpu="~6.18", note="x86 support is recent; other architectures since 3.x"),
    "KVM_KVMCLOCK_CTRL": _r(vcpu="3.5", caps={"vcpu": "KVM_CAP_KVMCLOCK_CTRL"}),
    "KVM_SMI": _r(vcpu="4.13", caps={"vcpu": "KVM_CAP_X86_SMM"}),
    "KVM_GET_NESTED_STATE": _r(vcpu="4.19", caps={"vcpu": "KVM_CAP_NESTED_STATE"}),
    "KVM_SET_NESTED_STATE": _r(vcpu="4.19", caps={"vcpu": "KVM_CAP_NESTED_STATE"}),
    "KVM_XEN_VCPU_GET_ATTR": _r(vcpu="5.12", caps={"vcpu": "KVM_CAP_XEN_HVM"}),
    "KVM_XEN_VCPU_SET_ATTR": _r(vcpu="5.12", caps={"vcpu": "KVM_CAP_XEN_HVM"}),
    "KVM_GET_SREGS2": _r(vcpu="5.14", caps={"vcpu": "KVM_CAP_SREGS2"}),
    "KVM_SET_SREGS2": _r(vcpu="5.14", caps={"vcpu": "KVM_CAP_SREGS2"}),
    "KVM_GET_XSAVE2": _r(vcpu="5.17", caps={"vcpu": "KVM_CAP_XSAVE2"}),
    "KVM_PRE_FAULT_MEMORY": _r(vcpu="6.11", caps={"vcpu": "KVM_CAP_PRE_FAULT_MEMORY"}),
}

# Ioctls newer than the header the table was generated from (linux-libc-dev 6.1): value, macro,
# nr, size and type from their uapi definitions (struct sizes as in reference note kvm-ioctls.md,
# computed from QEMU's linux-headers @ 050b3d363005). Marked "supplement" in every output.
SUPPLEMENT: dict[str, tuple[int, str, int, int, str]] = {
    "KVM_SET_USER_MEMORY_REGION2": (0x40A0AE49, "_IOW", 0x49, 160, "struct kvm_userspace_memory_region2"),
    "KVM_SET_MEMORY_ATTRIBUTES": (0x4020AED2, "_IOW", 0xD2, 32, "struct kvm_memory_attributes"),
    "KVM_CREATE_GUEST_MEMFD": (0xC040AED4, "_IOWR", 0xD4, 64, "struct kvm_create_guest_memfd"),
    "KVM_PRE_FAULT_MEMORY": (0xC040AED5, "_IOWR", 0xD5, 64, "struct kvm_pre_fault_memory"),
}

# Prefixes/names of ioctls other architectures implement (present in the generic header).
OTHER_ARCH_PREFIXES = ("KVM_S390_", "KVM_PPC_", "KVM_ARM_", "KVM_RISCV_", "KVM_LOONGARCH_")
OTHER_ARCH_NAMES = {"KVM_DIRTY_TLB": "PowerPC BookE", "KVM_ALLOCATE_RMA": "PowerPC",
                    "KVM_CREATE_SPAPR_TCE": "PowerPC", "KVM_CREATE_SPAPR_TCE_64": "PowerPC"}


def other_arch(name: str) -> str | None:
    for p in OTHER_ARCH_PREFIXES:
        if name.startswith(p):
            return {"KVM_S390_": "s390", "KVM_PPC_": "PowerPC", "KVM_ARM_": "arm64", "KVM_RISCV_": "RISC-V",
                    "KVM_LOONGARCH_": "LoongArch"}[p]
    return OTHER_ARCH_NAMES.get(name)


def version_key(text: str) -> tuple[int, ...]:
    """'basic' -> (2, 6, 22); '~5.19' -> (5, 19); '2.6.36' -> (2, 6, 36)."""
    if text == "basic":
        return (2, 6, 22)
    parts = [p for p in text.lstrip("~").split(".") if p.isdigit()]
    if any(len(p) > 9 for p in parts):
        return ()  # not a release number (and int() refuses over 4,300 digits): the version is unknown
    return tuple(int(p) for p in parts)
