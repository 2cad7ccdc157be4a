"""x86 virtual CPU checks: XCR0/XSAVE rules (X001/X002), CPUID consistency (X003-X006) and KVM ioctl
decoding and trace analysis (X010).

Model / readers / rules: ``xsave`` (the XSAVE component table and the XCR0 rules over it),
``cpuid_dump`` (model) / ``cpuid_readers`` / ``cpuid_rules``, ``kvm_ioctls`` + ``kvm_fd_classes``
(the ioctl table), ``trace_readers`` / ``trace_rules``. ``cpuid_model`` and ``ioctl_trace`` keep
the older public names.
"""
