"""Seed 000 on the host: the whole chain from one recorded probe, then XSETBV in a real vCPU.

1. `hvcheck kvm --from` the seed-000 host's probe (examples/kvm/seed000-uos-5.10-probe.json, a
   reconstruction — make_seed000_probe.py gives the evidence for each answer): X010 (the /dev/kvm
   attribute is advertised but missing; the vCPU handler answers it), X003/X004 (the supported
   CPUID's 0x202e7), X013 (the host's own vCPU refuses that XCR0), X015 (the attribute could not
   be compared with the CPUID).
2. Where /dev/kvm is usable: the seed guest's CPUID and XCR0 0x202e7 in a real vCPU of this
   machine — XSETBV takes #GP(0), as X001 predicts (no X011). Elsewhere the step is skipped, and
   says so.
"""

from __future__ import annotations

import os
from pathlib import Path

from hvcheck.demo import EXAMPLES, DemoStep
from hvcheck.findings import Finding

SEED = "000"
ORDER = 20  # after the CPUID/XCR0/trace diagnosis of scenario_x86
TITLE = "the broken host's KVM answers replayed, and the guest's XSETBV proven in a real vCPU"
PROBE = EXAMPLES / "kvm" / "seed000-uos-5.10-probe.json"
GUEST = EXAMPLES / "x86" / "guest-cpuid-202e7.txt"
DEVICE = "/dev/kvm"


def _shown(path: Path) -> str:
    """The path as a user in the current directory would type it (relative when inside it)."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def _replay() -> list[Finding]:
    from hvcheck.kvm.checks import check_probe
    from hvcheck.kvm.record import read_probe

    return check_probe(read_probe(_shown(PROBE)))


def _replay_preamble() -> str:
    from hvcheck.kvm.record import read_probe
    from hvcheck.kvm.summary import text_lines

    return "\n".join(text_lines(read_probe(_shown(PROBE))))


_proof: dict[str, str] = {}


def _prove() -> list[Finding]:
    """The XSETBV run's own verdict: X001 for the value, X011 if the vCPU disagreed."""
    from hvcheck.kvm.checks import run_findings
    from hvcheck.kvm.probe import GuestCpuid, entries_from_leaves, probe_host
    from hvcheck.kvm.summary import run_line
    from hvcheck.x86.cpuid_model import read_cpuid_dump

    guest = GuestCpuid(_shown(GUEST), entries_from_leaves(read_cpuid_dump(str(GUEST)).leaves()))
    probe = probe_host(DEVICE, [0x202E7], guest)
    _proof["line"] = "\n".join(run_line(probe, r) for r in probe.runs)
    out: list[Finding] = []
    for run in probe.runs:
        out += [f for f in run_findings(probe, run) if f.rule in ("X001", "X011", "X015")]
    return out


def _unusable() -> str:
    try:
        fd = os.open(DEVICE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        return f"{DEVICE} is not usable here ({exc.strerror}); `hvcheck kvm` needs a KVM host for the live proof"
    os.close(fd)
    return ""


def steps() -> list[DemoStep]:
    rel = "hvcheck/demo/examples/"
    return [
        DemoStep(f"hvcheck kvm --from {rel}kvm/{PROBE.name}", _replay, {"X003", "X004", "X010", "X013", "X015"},
                 "The host as hvcheck would have recorded it: KVM_CAP_SYS_ATTRIBUTES says yes, KVM_GET_DEVICE_ATTR on "
                 "/dev/kvm says -EINVAL, the vCPU fd answers it instead, the supported CPUID is 0x202e7 and the "
                 "host's own vCPU refuses that XCR0.", preamble=_replay_preamble),
        DemoStep(f"hvcheck kvm --xsetbv 0x202e7 --cpuid {rel}x86/{GUEST.name}", _prove, {"X001"},
                 "The guest kernel's XSETBV, run in a real vCPU of this machine through the KVM API (no QEMU): "
                 "#GP(0) as X001 predicts; no X011, so the rules and this KVM agree.",
                 preamble=lambda: _proof.get("line", ""), skip=_unusable()),
    ]
