"""x86 virtual CPU checks: XCR0/XSAVE rules (X001/X002), CPUID consistency (X003-X006) and KVM ioctl
decoding and trace analysis (X010).

Modules: ``xsave`` (state components, XCR0 rules), ``cpuid_model`` (dumps, readers, checks),
``kvm_ioctls`` (generated numbers + fd-class table), ``ioctl_trace`` (bpftrace/strace readers).
"""
