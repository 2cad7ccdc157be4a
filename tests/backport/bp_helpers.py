"""Build small C trees and patches in a temporary directory for the backport tests.

Patches are made with `git diff --no-index` (real `@@` function headers, like format-patch) so the
tests exercise the same input users feed in. Everything here is our own C.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from hvcheck.backport.check import Result
from hvcheck.backport.cli import run_backport


def dispatcher(name: str, cases: list[str], extra: str = "", tail_call: str = "handle_hv_cpuid(argp)") -> str:
    """An ioctl dispatcher ending in the same `case KVM_GET_SUPPORTED_HV_CPUID:` arm as every other."""
    arms = "".join(f"\tcase {c}:\n\t\tr = do_{c.lower()}(argp);\n\t\tbreak;\n" for c in cases)
    return (f"long {name}(struct file *filp, unsigned int ioctl, unsigned long arg)\n{{\n"
            f"\tvoid __user *argp = (void __user *)arg;\n\tlong r;\n{extra}\n"
            f"\tswitch (ioctl) {{\n{arms}"
            f"\tcase KVM_GET_SUPPORTED_HV_CPUID:\n\t\tr = {tail_call};\n\t\tbreak;\n"
            "\tdefault:\n\t\tr = -EINVAL;\n\t\tbreak;\n\t}\n\treturn r;\n}\n")


SYS_CASES = ["KVM_GET_MSR_INDEX_LIST", "KVM_GET_SUPPORTED_CPUID", "KVM_X86_GET_MCE_CAP_SUPPORTED"]
VCPU_CASES = ["KVM_GET_LAPIC", "KVM_SET_LAPIC", "KVM_GET_XSAVE", "KVM_SET_XSAVE", "KVM_GET_CPUID2"]
NEW_CASE = ("\tcase KVM_GET_DEVICE_ATTR:\n\t\tr = kvm_x86_dev_get_attr(argp);\n\t\tbreak;\n")
ANCHOR = "\t\tr = handle_hv_cpuid(argp);\n\t\tbreak;\n"


def kvm_file(sys_extra: str = "", vcpu_extra: str = "") -> str:
    return ("#include \"kvm.h\"\n\n" + dispatcher("kvm_arch_dev_ioctl", SYS_CASES, sys_extra) + "\n"
            + dispatcher("kvm_arch_vcpu_ioctl", VCPU_CASES, vcpu_extra))


def insert_after_nth(text: str, anchor: str, addition: str, n: int) -> str:
    """Insert ``addition`` after the n-th (0-based) occurrence of ``anchor``."""
    pos = -1
    for _ in range(n + 1):
        pos = text.index(anchor, pos + 1)
    cut = pos + len(anchor)
    return text[:cut] + addition + text[cut:]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_patch(tmp: Path, name: str, before: dict[str, str], after: dict[str, str]) -> Path:
    """A git-style patch turning the ``before`` files into the ``after`` files (paths relative)."""
    a = tmp / f"{name}.a"
    b = tmp / f"{name}.b"
    for rel, text in before.items():
        write(a / rel, text)
    for rel, text in after.items():
        write(b / rel, text)
    a.mkdir(exist_ok=True)
    b.mkdir(exist_ok=True)
    proc = subprocess.run(["git", "diff", "--no-index", "--no-color", "-M", f"{name}.a", f"{name}.b"],
                          cwd=tmp, capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr
    text = proc.stdout.replace(f"a/{name}.a/", "a/").replace(f"b/{name}.b/", "b/")
    return write(tmp / f"{name}.patch", text)


def scenario(tmp: Path, up_before: dict[str, str], up_after: dict[str, str], bp_before: dict[str, str],
             bp_after: dict[str, str], trees: bool = True) -> Result:
    """Write both patches (and the pre-image trees) and run the check."""
    up = make_patch(tmp, "up", up_before, up_after)
    bp = make_patch(tmp, "bp", bp_before, bp_after)
    if not trees:
        return run_backport(str(up), str(bp))
    return run_backport(str(up), str(bp), upstream_tree=str(tmp / "up.a"), backport_tree=str(tmp / "bp.a"))


def rules(result: Result) -> list[str]:
    return sorted(f.rule for f in result.findings)
