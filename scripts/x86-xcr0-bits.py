"""Every XCR0 bit on its own (0x1 | 1<<bit), three answers side by side:

- expected: written down from the SDM (Vol.1 §13.3, Vol.2 XSETBV, Vol.3A §2.6) and AMD's APM
  (LWP, bit 62) before hvcheck ran — the rule(s) the value breaks, or "valid";
- hvcheck: the X001 rules `hvcheck xcr0` reports (no CPUID mask);
- vCPU: what XSETBV does in a real vCPU on this host (`hvcheck kvm --xsetbv`'s micro-guest), with
  hvcheck's prediction for that vCPU's CPUID (X001 + X002) beside it.

    python3 scripts/x86-xcr0-bits.py          # needs /dev/kvm for the vCPU column; exit 1 on any difference
"""

from __future__ import annotations

import os
import sys

from hvcheck.x86.xsave import xcr0_violations

SUPERVISOR = {8, 10, 11, 12, 13, 14, 15, 16}


def expected(bit: int) -> set[str]:
    """From the manuals, not from hvcheck."""
    if bit in (0, 1, 9, 19):  # x87; SSE; PKRU; APX (alone: no MPX)
        return set()
    if bit == 2:
        return {"avx-needs-sse"}
    if bit in (3, 4):
        return {"mpx-pair"}
    if bit in (5, 6, 7):
        return {"avx512-group", "avx512-needs-avx"}
    if bit in SUPERVISOR:
        return {"supervisor"}
    if bit in (17, 18):
        return {"amx-pair"}
    if bit == 62:
        return {"lwp"}
    return {"reserved"}  # 20-61, 63


def main() -> int:
    values = [1 | (1 << b) for b in range(64)]
    rows = []
    bad = 0
    for bit, value in enumerate(values):
        got = {r for r, _ in xcr0_violations(value)}
        ok = got == expected(bit)
        bad += not ok
        rows.append([bit, value, ",".join(sorted(expected(bit))) or "valid", ",".join(sorted(got)) or "valid", ok])
    if os.path.exists("/dev/kvm"):
        from hvcheck.kvm.checks import run_prediction
        from hvcheck.kvm.probe import probe_host

        probe = probe_host("/dev/kvm", values, None)
        for row, run in zip(rows, probe.runs, strict=True):
            pred = run_prediction(probe, run).xsetbv
            row += [run.verdict(), pred, run.verdict() == pred]
            bad += run.verdict() != pred
    print("| bit | value | expected (manuals) | hvcheck X001 | ok | vCPU XSETBV | predicted | agree |")
    print("|---:|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [str(r[0]), f"`{r[1]:#x}`", r[2], r[3], "yes" if r[4] else "NO"]
        if len(r) > 5:
            cells += [r[5], r[6], "yes" if r[7] else "NO"]
        print("| " + " | ".join(cells) + " |")
    print(f"\n{64 - sum(not r[4] for r in rows)}/64 rule sets as expected"
          + (f"; {sum(bool(r[7]) for r in rows)}/64 vCPU answers as predicted" if len(rows[0]) > 5 else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
