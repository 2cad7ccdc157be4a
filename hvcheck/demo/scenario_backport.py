"""Seed 000, root cause: a vendor backport put `case KVM_GET_DEVICE_ATTR` into the vCPU ioctl
switch instead of the /dev/kvm one (backport rules P001/P002).

The example is our own miniature of arch/x86/kvm/x86.c: two dispatchers that both end with a
`case KVM_GET_SUPPORTED_HV_CPUID:` arm, an upstream patch that adds the new cases to the system
dispatcher, a backport that adds the identical lines to the vCPU dispatcher, and the fixed backport.
"""

from __future__ import annotations

from hvcheck.demo import EXAMPLES, DemoStep
from hvcheck.findings import Finding

SEED = "000"
ORDER = 20  # position within the seed: problem, then diagnosis detail, then fix
TITLE = "KVM_GET_DEVICE_ATTR backported into kvm_arch_vcpu_ioctl() instead of kvm_arch_dev_ioctl()"

DIR = EXAMPLES / "backport"
UPSTREAM = DIR / "upstream.patch"
MISPLACED = DIR / "backport.patch"
FIXED = DIR / "backport-fixed.patch"
UPSTREAM_TREE = DIR / "upstream-pre"
STABLE_TREE = DIR / "stable-pre"

_last: dict[str, str] = {}


def _check(backport: object) -> list[Finding]:
    from hvcheck.backport.cli import run_backport

    result = run_backport(str(UPSTREAM), str(backport), upstream_tree=str(UPSTREAM_TREE),
                          backport_tree=str(STABLE_TREE))
    _last[str(backport)] = result.preamble()
    return result.findings


def _cmd(backport: object) -> str:
    return (f"hvcheck backport upstream.patch {backport} --upstream-tree upstream-pre "
            "--backport-tree stable-pre")


def steps() -> list[DemoStep]:
    return [
        DemoStep(
            command=_cmd(MISPLACED.name),
            run=lambda: _check(MISPLACED),
            expect={"P001", "P002"},
            explain="The backport's lines are identical to upstream's (git patch-id agrees), but they sit in "
                    "the vCPU dispatcher:",
            preamble=lambda: _last.get(str(MISPLACED), ""),
        ),
        DemoStep(
            command=_cmd(FIXED.name),
            run=lambda: _check(FIXED),
            expect=set(),
            explain="Fixed: the cases are in kvm_arch_dev_ioctl(), as upstream (/dev/kvm answers the ioctl):",
            preamble=lambda: _last.get(str(FIXED), ""),
        ),
    ]
