"""Crash triage: log readers (hvisor, Linux x86/arm64/riscv oops, OpenSBI, KVM, QEMU traces)
and diagnoses T001-T005 that tie a crash to the invariant that explains it."""
